//! The forecasting model (`examples/forecast.rs`'s trained card model, baked in) as a wasm
//! module for `index.html`: no allocator, no wasm-bindgen; the page writes four parameters,
//! calls `compute`, and reads the series and the forecast from the module's memory.
#![no_std]

use rnn::rnn_model;

rnn_model! {
    pub struct Forecaster {
        weights = "weights/forecast.safetensors";
        lstm(1, 16) -> gru(16) -> dense(1)
    }
}

include!("shared.rs");

static MODEL: Forecaster = Forecaster::BAKED;
static mut SERIES: [f32; STEPS + AHEAD] = [0.0; STEPS + AHEAD];
static mut FORECAST: [f32; AHEAD] = [0.0; AHEAD];

/// Computes the series for the parameters and its forecast; returns the forecast's length.
#[no_mangle]
pub extern "C" fn compute(f1: f32, f2: f32, o1: f32, o2: f32) -> usize {
    // SAFETY: wasm32 here is single-threaded and the page calls one export at a time.
    let (series_buf, out) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(SERIES),
            &mut *core::ptr::addr_of_mut!(FORECAST),
        )
    };
    series([f1, f2, o1, o2], series_buf);
    forecast(&MODEL, series_buf, out);
    AHEAD
}

/// The series (`STEPS + AHEAD` f32 values).
#[no_mangle]
pub extern "C" fn series_ptr() -> *const f32 {
    core::ptr::addr_of!(SERIES).cast()
}

/// The forecast (`AHEAD` f32 values).
#[no_mangle]
pub extern "C" fn forecast_ptr() -> *const f32 {
    core::ptr::addr_of!(FORECAST).cast()
}

/// `STEPS`.
#[no_mangle]
pub extern "C" fn steps() -> usize {
    STEPS
}

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
