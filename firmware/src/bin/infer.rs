//! Inference on the device: the card model `lstm(32, 16) -> gru(16) -> dense(1)` with weights
//! baked in at compile time from `tests/fixtures/data/ours_card_torch.safetensors` (PyTorch
//! layout; they are `Card::init(2024)`), run over a fixed 50-step input; prints every output as f32 bits
//! (compared bit for bit with the host by `tests/firmware_reference.rs`), a checksum, and the
//! peak stack use measured by painting.
//!
//! The model is a `static` initialised from the `BAKED` constant: it lives in flash (`.rodata`),
//! with no initialization code at run time. The input lives in RAM. Peak stack is measured for
//! `forward`, below `main`'s frame and as the total depth.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::mem::size_of;
use core::ptr::addr_of_mut;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use rnn::{rnn_model, Model};
use rnn_firmware::reference::{checksum, reference_input, INPUTS, SEED, STEPS};
use rnn_firmware::{print_output, stack};

rnn_model! {
    pub struct Card {
        weights = "../tests/fixtures/data/ours_card_torch.safetensors";
        layout = pytorch;
        lstm(32, 16) -> gru(16) -> dense(1)
    }
}

/// In flash.
static MODEL: Card = Card::BAKED;
static mut XS: [[f32; INPUTS]; STEPS] = [[0.0; INPUTS]; STEPS];

/// Fills the input static, once.
#[inline(never)]
fn init_input() -> &'static [[f32; INPUTS]; STEPS] {
    // SAFETY: called once, before any other access to XS.
    let xs = unsafe { &mut *addr_of_mut!(XS) };
    reference_input(xs);
    xs
}

/// Starts SysTick as a free-running 24-bit down-counter on the core clock.
fn systick_start() -> u32 {
    // SAFETY: nothing else uses SysTick.
    let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
    syst.set_clock_source(cortex_m::peripheral::syst::SystClkSource::Core);
    syst.set_reload(0x00FF_FFFF);
    syst.clear_current();
    syst.enable_counter();
    cortex_m::peripheral::SYST::get_current()
}

/// SysTick ticks since `start` (wraps after 2^24).
fn systick_elapsed(start: u32) -> u32 {
    start.wrapping_sub(cortex_m::peripheral::SYST::get_current()) & 0x00FF_FFFF
}

/// `forward` in a frame of its own, below `main`'s, so that painting sees all of its stack
/// (inlined into `main`, its locals would sit in `main`'s frame, above the painted area).
#[inline(never)]
fn run_forward(model: &Card, xs: &[[f32; INPUTS]; STEPS]) -> [[f32; 1]; STEPS] {
    model.forward(xs)
}

#[entry]
fn main() -> ! {
    hprintln!(
        "infer: {} lstm(32, 16) -> gru(16) -> dense(1), {} parameters, baked weights (init seed {}), {} steps",
        Card::NAME,
        Card::PARAM_COUNT,
        SEED,
        STEPS
    );
    hprintln!(
        "sizes: model {} B, state {} B, input sequence {} B",
        size_of::<Card>(),
        size_of::<<Card as Model>::State>(),
        size_of::<[[f32; INPUTS]; STEPS]>()
    );

    let model = &MODEL;
    let xs = init_input();

    let painted = stack::paint();
    let t0 = systick_start();
    let ys = run_forward(black_box(model), black_box(xs));
    let ticks = systick_elapsed(t0);
    let fwd_stack = painted.used_below_caller();
    let fwd_depth = painted.peak_depth();

    // Streaming `step` from the zero state must give the same bits as `forward`.
    let mut state = Card::zero_state();
    for (t, x) in xs.iter().enumerate() {
        let y = black_box(model).step(&mut state, x);
        if y[0].to_bits() != ys[t][0].to_bits() {
            hprintln!("step and forward differ at t = {}", t);
            debug::exit(debug::EXIT_FAILURE);
        }
    }

    for (t, y) in ys.iter().enumerate() {
        print_output(t, y[0]);
    }
    hprintln!("checksum fnv1a32 {:08x}", checksum(&ys));
    let finite = ys.iter().all(|y| y[0].is_finite());
    hprintln!(
        "stack: forward {} B below main's frame; peak depth from the top {} B; {} B available",
        fwd_stack,
        fwd_depth,
        stack::Painted::capacity()
    );
    hprintln!("peak stack forward {} B", fwd_stack);
    hprintln!(
        "forward: {} SysTick ticks for {} steps (core clock; under QEMU only meaningful with -icount)",
        ticks,
        STEPS
    );
    debug::exit(if finite {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Without a debugger attached, `exit` returns: wait forever.
    loop {
        cortex_m::asm::wfi();
    }
}
