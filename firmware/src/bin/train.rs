//! Training on the device: `gru(1, 8) -> dense(1)` learns to predict the next value of a sine
//! from the previous 16, with BPTT on a fixed-size `Tape`, MSE on the last step, and Keras's
//! Adam, full batch, 30 steps. No heap: the model, its gradients, Adam's moments and the tape
//! are plain values. Exits 0 only if the final loss is below a quarter of the first.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use rnn::loss::{accumulate, Loss, Steps};
use rnn::optim::{Adam, Optimizer};
use rnn::{Model, Tape};
use rnn_firmware::stack;

rnn::rnn_model! {
    /// A tiny next-value predictor.
    pub struct Tiny {
        gru(1, 8) -> dense(1)
    }
}

/// Window length (time steps per sequence).
const T: usize = 16;
/// Windows in the dataset (one full batch).
const B: usize = 12;
/// Distance between window starts.
const STRIDE: usize = 2;
/// Samples of the series.
const LEN: usize = STRIDE * (B - 1) + T + 1;
/// Optimizer steps.
const EPOCHS: usize = 30;

/// `0.8 sin(2 pi k / 20)` for `k < LEN`, by rotating a unit vector by a fixed angle: only
/// multiplications and additions, no libm.
fn series() -> [f32; LEN] {
    const COS: f32 = 0.951_056_5; // cos(2 pi / 20)
    const SIN: f32 = 0.309_017; // sin(2 pi / 20)
    let (mut c, mut s) = (1.0f32, 0.0f32);
    let mut out = [0.0f32; LEN];
    for v in out.iter_mut() {
        *v = 0.8 * s;
        (c, s) = (c * COS - s * SIN, s * COS + c * SIN);
    }
    out
}

#[inline(never)]
fn train() -> (f32, f32) {
    let ser = series();
    let mut xs = [[[0.0f32; 1]; T]; B];
    let mut ys = [[0.0f32; 1]; B];
    for (i, (x, y)) in xs.iter_mut().zip(ys.iter_mut()).enumerate() {
        let s = i * STRIDE;
        for t in 0..T {
            x[t][0] = ser[s + t];
        }
        y[0] = ser[s + T];
    }

    let mut model = Tiny::init(7);
    let mut grads = Tiny::zeros();
    let mut opt = Adam::<Tiny>::new(0.02);
    let mut tape = Tape::<Tiny, T>::new();
    let mut dys = [[0.0f32; 1]; T];
    let scale = 1.0 / B as f32;

    let (mut first, mut last) = (0.0, 0.0);
    for epoch in 0..=EPOCHS {
        grads.set_zero();
        let mut loss = 0.0f32;
        for (x, y) in xs.iter().zip(&ys) {
            loss += scale
                * accumulate(
                    &model,
                    x,
                    core::slice::from_ref(y),
                    Steps::Last,
                    Loss::Mse,
                    scale,
                    &mut tape,
                    &mut dys,
                    &mut grads,
                );
        }
        if epoch == 0 {
            first = loss;
        }
        last = loss;
        if epoch % 5 == 0 || epoch == EPOCHS {
            hprintln!("step {:2} loss {:.6} ({:08x})", epoch, loss, loss.to_bits());
        }
        // The loss printed at step k is before the k-th update; the last one is not applied.
        if epoch < EPOCHS {
            opt.step(&mut model, &grads);
        }
    }
    (first, last)
}

#[entry]
fn main() -> ! {
    hprintln!(
        "train: {} gru(1, 8) -> dense(1), {} parameters; {} windows of {} steps, Adam lr 0.02, MSE on the last step",
        Tiny::NAME,
        Tiny::PARAM_COUNT,
        B,
        T
    );
    let painted = stack::paint();
    let (first, last) = train();
    hprintln!(
        "stack: train {} B below main's frame (model, grads, Adam, tape and data included)",
        painted.used_below_caller()
    );
    let ok = last.is_finite() && last < 0.25 * first;
    hprintln!(
        "loss {} -> {}: {}",
        first,
        last,
        if ok { "ok" } else { "FAILED" }
    );
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Without a debugger attached, `exit` returns: wait forever.
    loop {
        cortex_m::asm::wfi();
    }
}
