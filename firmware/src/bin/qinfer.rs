//! The card model in integers (`quantize = int8`: int8 weights, int16 activations and state,
//! table sigmoid and tanh) on a Cortex-M0 (`thumbv6m-none-eabi`, QEMU `-machine microbit`) or
//! a Cortex-M3 (`thumbv7m-none-eabi`, `-machine mps2-an385`), no FPU needed: the weights the
//! host quantized from `Card::init(2024)` (`firmware/weights/card_q8.safetensors`, checked by
//! `tests/quantized.rs`), baked into flash, run over the 50-step integer reference input.
//! Prints every output's bits (compared with the host's integer path by `tests/quantized.rs`),
//! a checksum and the peak stack of the 50 steps. No float operation is linked (`run.sh`
//! checks the ELF for software floating-point routines).
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use rnn::rnn_model;
use rnn_firmware::reference::{checksum_q, reference_input_q, INPUTS, STEPS};
use rnn_firmware::stack;

rnn_model! {
    pub struct CardQ {
        quantize = int8;
        weights = "weights/card_q8.safetensors";
        lstm(32, 16) -> gru(16) -> dense(1)
    }
}

static MODEL: CardQ = CardQ::BAKED;

#[inline(never)]
fn run(model: &CardQ, xs: &[[i16; INPUTS]; STEPS]) -> [[i32; 1]; STEPS] {
    let mut s = CardQ::zero_state();
    let mut ys = [[0i32; 1]; STEPS];
    for (y, x) in ys.iter_mut().zip(xs) {
        *y = model.step(&mut s, x);
    }
    ys
}

#[entry]
fn main() -> ! {
    hprintln!(
        "qinfer: {} lstm(32, 16) -> gru(16) -> dense(1), int8 weights, input exponent {}, {} steps",
        CardQ::NAME,
        CardQ::INPUT_EXPONENT,
        STEPS
    );
    let mut xs = [[0i16; INPUTS]; STEPS];
    reference_input_q(&mut xs);
    let painted = stack::paint();
    let ys = run(black_box(&MODEL), black_box(&xs));
    let used = painted.used_below_caller();
    for (t, y) in ys.iter().enumerate() {
        hprintln!("q[{:02}] {:08x}", t, y[0] as u32);
    }
    hprintln!("checksum fnv1a32 {:08x}", checksum_q(&ys));
    hprintln!("peak stack forward {} B", used);
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}
