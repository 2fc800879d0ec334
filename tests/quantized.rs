//! The quantized card model the firmware bakes in (`firmware/src/bin/qinfer.rs`):
//! `firmware/weights/card_q8.safetensors` is exactly what post-training quantization of
//! `Card::init(2024)` writes today (calibrated on the reference input), the baked constant is
//! that quantization, it follows the f32 model, and (given the QEMU logs through
//! `RNN_FIRMWARE_QINFER_M0_OUTPUT` / `RNN_FIRMWARE_QINFER_M3_OUTPUT`, which `firmware/run.sh`
//! passes) the Cortex-M0 and Cortex-M3 print the host's integer outputs bit for bit.
//!
//! `RNN_WRITE_QUANTIZED=1 cargo test --test quantized` rewrites the file (after a change to
//! the quantization rules).

use rnn::quant::{dequantize, quantize, QCell, QTensors};
use rnn::rnn_model;

mod reference {
    #![allow(dead_code)]
    include!("../firmware/src/reference.rs");
}
use reference::{checksum_q, reference_input_q, INPUTS, SEED, STEPS};

rnn_model! {
    pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    pub struct CardQ {
        quantize = int8;
        weights = "firmware/weights/card_q8.safetensors";
        lstm(32, 16) -> gru(16) -> dense(1)
    }
}

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/firmware/weights/card_q8.safetensors"
);

fn inputs() -> Box<[[i16; INPUTS]; STEPS]> {
    let mut xs = Box::new([[0i16; INPUTS]; STEPS]);
    reference_input_q(&mut xs);
    xs
}

/// The reference input's real values for an input exponent.
fn real(xs: &[[i16; INPUTS]; STEPS], exp: i32) -> Vec<[f32; INPUTS]> {
    xs.iter()
        .map(|r| core::array::from_fn(|i| (r[i] as f64 * 2f64.powi(exp)) as f32))
        .collect()
}

#[test]
fn the_baked_weights_are_todays_quantization_and_follow_the_f32_model() {
    let card = Card::init(SEED);
    // Calibrated on the reference input read as values in [-1, 1).
    let xs = inputs();
    let calib = real(&xs, -15);
    let (q, exp) = quantize(&card, &calib).unwrap();
    let tmp = std::env::temp_dir().join(format!("card_q8_{}.safetensors", std::process::id()));
    rnn::files::save_quantized::<Card, _>(&q, exp, &tmp).unwrap();
    let fresh = std::fs::read(&tmp).unwrap();
    std::fs::remove_file(&tmp).ok();
    if std::env::var_os("RNN_WRITE_QUANTIZED").is_some() {
        std::fs::write(FILE, &fresh).unwrap();
    }
    let committed = std::fs::read(FILE).unwrap();
    assert!(
        committed == fresh,
        "firmware/weights/card_q8.safetensors is not what quantizing Card::init(2024) gives \
         today; rerun with RNN_WRITE_QUANTIZED=1"
    );
    assert_eq!(CardQ::INPUT_EXPONENT, exp);
    // The baked constant holds the same integers.
    let mut a = Vec::new();
    let mut b = Vec::new();
    q.tensors(0, &mut |l, n, s, d| a.push(format!("{l} {n} {s:?} {d:?}")));
    CardQ::BAKED
        .chain()
        .tensors(0, &mut |l, n, s, d| b.push(format!("{l} {n} {s:?} {d:?}")));
    assert_eq!(a, b);
    // Weight bytes: int8 kernels and shifts, int16 gate biases, int32 dense bias.
    let mut bytes = 0;
    q.tensors(0, &mut |_, _, _, d| {
        bytes += match d {
            rnn::quant::QData::I8(v) => v.len(),
            rnn::quant::QData::I16(v) => 2 * v.len(),
            rnn::quant::QData::I32(v) => 4 * v.len(),
        }
    });
    println!(
        "quantized weights: {bytes} bytes, f32: {}",
        4 * Card::PARAM_COUNT
    );
    assert!(
        bytes as f64 <= 4.0 * Card::PARAM_COUNT as f64 / 3.5,
        "{bytes} bytes"
    );
    // The integer path against f32 on the reference input.
    let real_xs = real(&xs, exp);
    let mut s = Card::zero_state();
    let mut qs = CardQ::zero_state();
    let mut worst = 0.0f64;
    for (x, xq) in real_xs.iter().zip(xs.iter()) {
        let y = card.step(&mut s, x)[0] as f64;
        let yq = dequantize(CardQ::BAKED.step(&mut qs, xq)[0]);
        worst = worst.max((y - yq).abs());
    }
    println!("worst |int - f32| over the reference input: {worst:.5}");
    assert!(worst < 0.01, "{worst}");
    let _ = q.new_state();
}

#[test]
fn the_firmware_prints_the_hosts_integer_outputs() {
    let xs = inputs();
    let model = CardQ::BAKED;
    let mut s = CardQ::zero_state();
    let ys: Vec<[i32; 1]> = xs.iter().map(|x| model.step(&mut s, x)).collect();
    let lines: Vec<String> = ys
        .iter()
        .enumerate()
        .map(|(t, y)| format!("q[{t:02}] {:08x}", y[0] as u32))
        .collect();
    let sum = format!("checksum fnv1a32 {:08x}", checksum_q(&ys));
    lines.iter().for_each(|l| println!("{l}"));
    println!("{sum}");
    let mut compared = 0;
    for var in [
        "RNN_FIRMWARE_QINFER_M0_OUTPUT",
        "RNN_FIRMWARE_QINFER_M3_OUTPUT",
    ] {
        let Some(path) = std::env::var_os(var) else {
            println!("{var} not set: host computation only");
            continue;
        };
        let log = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.to_string_lossy()));
        let fw: Vec<&str> = log.lines().filter(|l| l.starts_with("q[")).collect();
        assert_eq!(
            fw, lines,
            "{var}: the firmware's outputs differ from the host's"
        );
        assert!(log.lines().any(|l| l == sum), "{var}: checksum differs");
        compared += 1;
        println!("{var}: the firmware's integer outputs match the host's bit for bit");
    }
    println!("compared {compared} firmware logs");
}
