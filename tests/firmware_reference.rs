//! The host side of the firmware check: the same card model (`Card::init(2024)`, the weights the firmware bakes in), the same
//! 50-step input and the same output lines as `firmware/src/bin/infer.rs`, computed on the host.
//!
//! The seed, the input formula and the checksum are in `firmware/src/reference.rs`, which the
//! firmware and this test both include, so they cannot drift apart.
//!
//! With `RNN_FIRMWARE_OUTPUT=<file>` (what `firmware/run.sh` passes: the firmware's captured
//! QEMU output), every `y[t] <hex>` line and the checksum must equal the host's bit for bit.
//! Without it, the test checks that the computation is finite and deterministic, and prints the
//! lines (`cargo test --test firmware_reference -- --nocapture`).

use rnn::{rnn_model, Model};

rnn_model! {
    pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    /// `firmware/src/bin/layers.rs`'s model.
    pub struct Tokens {
        embedding(16, 8) -> bidirectional(lstm(8, peephole = true, dropout = 0.1), merge = sum) -> ln_rnn(8) -> dropout(0.2) -> layer_norm(8)
            -> dense(2, activation = softmax)
    }
}

mod reference {
    #![allow(dead_code)]
    include!("../firmware/src/reference.rs");
}
use reference::{
    checksum, reference_input, reference_tokens, INPUTS, LAYERS_SEED, SEED, STEPS, TOKENS,
};

fn compute() -> [[f32; 1]; STEPS] {
    let model = Card::init(SEED);
    let mut xs = [[0.0f32; INPUTS]; STEPS];
    reference_input(&mut xs);
    model.forward(&xs)
}

/// `(index, hex bits)` of every `y[..]` line and the checksum of a firmware log.
fn parse(log: &str) -> (Vec<(usize, String)>, Option<String>) {
    let mut ys = Vec::new();
    let mut sum = None;
    for line in log.lines() {
        let mut tok = line.split_whitespace();
        match tok.next() {
            Some(y) if y.starts_with("y[") && y.ends_with(']') => {
                let t = y[2..y.len() - 1].parse().expect("index in a y[..] line");
                ys.push((t, tok.next().expect("hex bits").to_string()));
            }
            Some("checksum") => {
                tok.next(); // "fnv1a32"
                sum = tok.next().map(str::to_string);
            }
            _ => {}
        }
    }
    (ys, sum)
}

#[test]
fn card_outputs_match_the_firmware_bit_for_bit() {
    let ys = compute();
    let again = compute();
    for t in 0..STEPS {
        assert!(ys[t][0].is_finite(), "y[{t}] = {}", ys[t][0]);
        assert_eq!(
            ys[t][0].to_bits(),
            again[t][0].to_bits(),
            "y[{t}] not deterministic"
        );
    }
    let sum = format!("{:08x}", checksum(&ys));
    for (t, y) in ys.iter().enumerate() {
        println!("y[{:02}] {:08x} {}", t, y[0].to_bits(), y[0]);
    }
    println!("checksum fnv1a32 {sum}");

    let Some(path) = std::env::var_os("RNN_FIRMWARE_OUTPUT") else {
        println!("RNN_FIRMWARE_OUTPUT not set: host computation only (finite, deterministic)");
        return;
    };
    let log = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.to_string_lossy()));
    let (fw, fw_sum) = parse(&log);
    assert_eq!(
        fw.len(),
        STEPS,
        "the firmware log has {} y[..] lines, expected {STEPS}",
        fw.len()
    );
    let mut bad = Vec::new();
    for (t, hex) in &fw {
        let host = format!("{:08x}", ys[*t][0].to_bits());
        if *hex != host {
            bad.push(format!("y[{t:02}]: firmware {hex}, host {host}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {STEPS} outputs differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert_eq!(fw_sum.as_deref(), Some(sum.as_str()), "checksum differs");
    println!("firmware output matches the host bit for bit: {STEPS} outputs, checksum {sum}");
}

/// The newer layers (embedding, bidirectional peephole LSTM, LN-SimpleRNN, layer
/// normalization, softmax)
/// against `firmware/src/bin/layers.rs`'s output (`RNN_FIRMWARE_LAYERS_OUTPUT`, passed by
/// `firmware/run.sh`): every `z[t]` line and the checksum, bit for bit.
#[test]
fn newer_layers_match_the_firmware_bit_for_bit() {
    let model = Tokens::init(LAYERS_SEED);
    let mut toks = [0u32; TOKENS];
    reference_tokens(&mut toks);
    let ys = model
        .forward_tokens(&toks)
        .expect("the reference tokens are in the vocabulary");
    assert!(ys.iter().flatten().all(|v| v.is_finite()));
    let lines: Vec<String> = ys
        .iter()
        .enumerate()
        .map(|(t, y)| format!("z[{t:02}] {:08x} {:08x}", y[0].to_bits(), y[1].to_bits()))
        .collect();
    let sum = format!("checksum fnv1a32 {:08x}", checksum(&ys));
    lines.iter().for_each(|l| println!("{l}"));
    println!("{sum}");
    let Some(path) = std::env::var_os("RNN_FIRMWARE_LAYERS_OUTPUT") else {
        println!("RNN_FIRMWARE_LAYERS_OUTPUT not set: host computation only");
        return;
    };
    let log = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.to_string_lossy()));
    let fw: Vec<&str> = log.lines().filter(|l| l.starts_with("z[")).collect();
    assert_eq!(fw, lines, "the firmware's outputs differ from the host's");
    assert!(log.lines().any(|l| l == sum), "checksum differs");
    assert!(log.contains("out-of-vocabulary token refused: true"));
    println!("newer layers: firmware output matches the host bit for bit: {TOKENS} outputs");
}

rnn_model! {
    /// `firmware/src/bin/translate.rs`'s translator, baked from the same file.
    pub struct Translator {
        weights = "firmware/weights/translator.safetensors";
        source_len = 8; target_len = 11; start = 1; end = 0;
        embedding(65, 16) -> lstm(32) => embedding(13, 8) -> lstm(32) -> attention(32) -> dense(13, activation = softmax)
    }
}

mod dates {
    include!("../firmware/src/dates.rs");
}

/// The trained translator (the example's weights, baked) against
/// `firmware/src/bin/translate.rs`'s output (`RNN_FIRMWARE_TRANSLATE_OUTPUT`, passed by
/// `firmware/run.sh`): the same tokens and the same log-probability bits for every reference
/// phrase; and every phrase (a held-out date) translated right.
#[test]
fn the_translator_matches_the_firmware() {
    let model = Translator::BAKED;
    // The baked constant holds what the file holds.
    let mut loaded = Translator::zeros();
    rnn::files::load_seq2seq(
        &mut loaded,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/firmware/weights/translator.safetensors"
        ),
        rnn::Layout::Keras,
    )
    .expect("the weights file loads");
    use rnn::optim::Params;
    for k in 0..Translator::PARAM_TENSORS {
        assert_eq!(model.param_tensor(k), loaded.param_tensor(k), "tensor {k}");
    }
    let mut lines = Vec::new();
    for (i, (words, iso)) in dates::PHRASES.iter().enumerate() {
        let ids = dates::source(words).expect("known words");
        let d = model.translate(&Translator::source(&ids).unwrap());
        let text: String = d
            .tokens()
            .iter()
            .map(|&t| dates::character(t) as char)
            .collect();
        assert_eq!((text.as_str(), d.ended), (*iso, true), "{words}");
        lines.push(format!(
            "t[{i}] {text} tokens {:?} ended {} logp {:016x}",
            d.tokens(),
            d.ended,
            d.log_prob.to_bits()
        ));
    }
    lines.iter().for_each(|l| println!("{l}"));
    let Some(path) = std::env::var_os("RNN_FIRMWARE_TRANSLATE_OUTPUT") else {
        println!("RNN_FIRMWARE_TRANSLATE_OUTPUT not set: host computation only");
        return;
    };
    let log = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.to_string_lossy()));
    let fw: Vec<&str> = log.lines().filter(|l| l.starts_with("t[")).collect();
    assert_eq!(
        fw, lines,
        "the firmware's translations differ from the host's"
    );
    println!(
        "translator: firmware output matches the host: {} phrases, tokens and log-probability bits",
        lines.len()
    );
}
