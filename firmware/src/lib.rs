//! Support for the firmware binaries (`src/bin/infer.rs`, `src/bin/train.rs`): the card
//! model's reference input and checksum (shared with the host test
//! `tests/firmware_reference.rs`), stack painting for the peak-stack figure, and output lines.
//!
//! `no_std`, no `alloc`, no allocator: nothing here can allocate, and the binaries link no
//! `#[global_allocator]`, so any `alloc` use anywhere fails the build.
#![no_std]

/// The card model's seed, reference input and output checksum (shared with the host test).
pub mod reference {
    include!("reference.rs");
}

/// The translator's words and reference phrases (shared with the example and the host test).
pub mod dates {
    include!("dates.rs");
}

pub mod stack;

use cortex_m_semihosting::hprintln;

/// Prints one output line, `y[07] 3d8f5c29 0.07` (index, f32 bits in hex, decimal value); with
/// the `no-float-print` feature only the index and the bits, so no float formatting is linked.
/// The host test compares the hex fields bit for bit.
pub fn print_output(t: usize, v: f32) {
    #[cfg(not(feature = "no-float-print"))]
    hprintln!("y[{:02}] {:08x} {}", t, v.to_bits(), v);
    #[cfg(feature = "no-float-print")]
    hprintln!("y[{:02}] {:08x}", t, v.to_bits());
}
