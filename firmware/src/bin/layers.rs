//! The newer layers on the device: `embedding(16, 8) -> bidirectional(lstm(8, peephole =
//! true, dropout = 0.1), merge = sum) -> ln_rnn(8) -> dropout(0.2) -> layer_norm(8) -> dense(2,
//! activation = softmax)` (dropout is the identity at inference), built with `Tokens::init(77)` on the
//! device (Keras's initializers, the orthogonal one in f64), run over a fixed sequence of 40
//! tokens through `forward_tokens`; prints every output as f32 bits (compared bit for bit with
//! the host by `tests/firmware_reference.rs`), a checksum and the peak stack of the forward
//! pass. A token outside the vocabulary must be refused, not read.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use rnn::{rnn_model, Model, TokenError};
use rnn_firmware::reference::{checksum, reference_tokens, LAYERS_SEED, TOKENS, VOCAB};
use rnn_firmware::stack;

rnn_model! {
    pub struct Tokens {
        embedding(16, 8) -> bidirectional(lstm(8, peephole = true, dropout = 0.1), merge = sum) -> ln_rnn(8) -> dropout(0.2) -> layer_norm(8)
            -> dense(2, activation = softmax)
    }
}

#[inline(never)]
fn run_forward(model: &Tokens, toks: &[u32; TOKENS]) -> Result<[[f32; 2]; TOKENS], TokenError> {
    model.forward_tokens(toks)
}

#[entry]
fn main() -> ! {
    hprintln!(
        "layers: {} embedding(16, 8) -> bidirectional(lstm(8, peephole = true, dropout = 0.1), merge = sum) -> ln_rnn(8) -> dropout(0.2) -> layer_norm(8) -> dense(2, softmax), {} parameters, init seed {}, {} tokens",
        Tokens::NAME,
        Tokens::PARAM_COUNT,
        LAYERS_SEED,
        TOKENS
    );
    let model = Tokens::init(LAYERS_SEED);
    let mut toks = [0u32; TOKENS];
    reference_tokens(&mut toks);

    let painted = stack::paint();
    let ys = match run_forward(black_box(&model), black_box(&toks)) {
        Ok(ys) => ys,
        Err(_) => {
            hprintln!("the reference tokens were refused");
            debug::exit(debug::EXIT_FAILURE);
            loop {
                cortex_m::asm::wfi();
            }
        }
    };
    let fwd_stack = painted.used_below_caller();
    let mut bad = toks;
    bad[5] = VOCAB;
    let refused = matches!(
        model.forward_tokens(&bad),
        Err(TokenError::OutOfVocabulary { position: 5, .. })
    );
    for (t, y) in ys.iter().enumerate() {
        hprintln!("z[{:02}] {:08x} {:08x}", t, y[0].to_bits(), y[1].to_bits());
    }
    hprintln!("checksum fnv1a32 {:08x}", checksum(&ys));
    hprintln!("out-of-vocabulary token refused: {}", refused);
    hprintln!("peak stack forward {} B", fwd_stack);
    let finite = ys.iter().all(|y| y[0].is_finite() && y[1].is_finite());
    debug::exit(if finite && refused {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}
