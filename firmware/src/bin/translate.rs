//! The trained translator on the device: `examples/translate.rs`'s encoder-decoder with
//! attention (`embedding(65, 16) -> lstm(32) => embedding(13, 8) -> lstm(32) -> attention(32)
//! -> dense(13, softmax)`), its weights baked in at compile time from
//! `weights/translator.safetensors` (written by the example, in flash), reads the reference
//! phrases of `rnn_firmware::dates` (held-out dates) and prints each greedy translation, its
//! tokens and the bits of its log-probability, compared with the host by
//! `tests/firmware_reference.rs`; then the peak stack of one translation.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use rnn::rnn_model;
use rnn::seq2seq::Decoded;
use rnn_firmware::dates::{character, source, PHRASES};
use rnn_firmware::stack;

rnn_model! {
    pub struct Translator {
        weights = "weights/translator.safetensors";
        source_len = 8; target_len = 11; start = 1; end = 0;
        embedding(65, 16) -> lstm(32) => embedding(13, 8) -> lstm(32) -> attention(32) -> dense(13, activation = softmax)
    }
}

/// In flash: no copy at run time.
static MODEL: Translator = Translator::BAKED;

#[inline(never)]
fn translate(model: &Translator, ids: &[u32; 8]) -> Option<Decoded<11>> {
    let src = Translator::source(ids).ok()?;
    Some(model.translate(&src))
}

#[entry]
fn main() -> ! {
    hprintln!(
        "translate: {} parameters, {} phrases",
        Translator::PARAM_COUNT,
        PHRASES.len()
    );
    let mut right = 0;
    let mut peak = 0;
    for (i, (words, iso)) in PHRASES.iter().enumerate() {
        let Some(ids) = source(words) else {
            hprintln!("phrase {} has an unknown word", i);
            debug::exit(debug::EXIT_FAILURE);
            loop {
                cortex_m::asm::wfi();
            }
        };
        let painted = stack::paint();
        let d = translate(black_box(&MODEL), black_box(&ids));
        peak = peak.max(painted.used_below_caller());
        let Some(d) = d else {
            hprintln!("phrase {} refused", i);
            debug::exit(debug::EXIT_FAILURE);
            loop {
                cortex_m::asm::wfi();
            }
        };
        let mut text = [b' '; 11];
        for (c, &t) in text.iter_mut().zip(d.tokens()) {
            *c = character(t);
        }
        let text = core::str::from_utf8(&text[..d.len]).unwrap_or("?");
        right += usize::from(text == *iso && d.ended);
        hprintln!(
            "t[{}] {} tokens {:?} ended {} logp {:016x}",
            i,
            text,
            d.tokens(),
            d.ended,
            d.log_prob.to_bits()
        );
    }
    hprintln!("right {} of {}", right, PHRASES.len());
    hprintln!("peak stack forward {} B", peak);
    debug::exit(if right == PHRASES.len() {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}
