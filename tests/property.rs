//! Property tests with a time budget (stable Rust, no fuzzing engine): seeded random inputs
//! for the safetensors loader, the CSV reader and `Model::load` through a `WeightSource`.
//! Each input must give `Ok` or an error, never a panic, and loading is all or nothing.
//!
//! Budget: `RNN_PROPERTY_SECS` seconds per target (default 3, so CI stays fast); each target
//! prints how many inputs it tried, the panics (asserted 0) and the process's peak memory.

use rnn::csv::parse_csv;
use rnn::files::{self, LoadOptions};
use rnn::weights::SliceSource;
use rnn::{rnn_model, Layout, Model, Rng};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

rnn_model! {
    struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    struct Small { rnn(3, 4) -> gru(4, reset_after = false) -> dense(2, activation = softmax) }
}

fn budget() -> Duration {
    let secs = std::env::var("RNN_PROPERTY_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

/// Peak resident memory of this process (Linux), for the record.
fn peak_mib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.0} MiB", kib / 1024.0))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Runs `f` on fresh seeds until the budget is spent; returns (inputs, panics).
fn run(name: &str, mut f: impl FnMut(&mut Rng)) {
    let (start, limit) = (Instant::now(), budget());
    let (mut tried, mut panics) = (0u64, 0u64);
    let mut rng = Rng::new(0xC0FFEE ^ name.len() as u64);
    while start.elapsed() < limit || tried < 100 {
        tried += 1;
        if catch_unwind(AssertUnwindSafe(|| f(&mut rng))).is_err() {
            panics += 1;
        }
    }
    println!(
        "property {name}: {tried} inputs, {panics} panics, {:.1} s, peak memory {}",
        start.elapsed().as_secs_f64(),
        peak_mib()
    );
    assert_eq!(panics, 0, "{name}: {panics} of {tried} inputs panicked");
}

/// A few random edits of `good`: bit flips, bytes, JSON punctuation, cuts, insertions,
/// header lengths that lie.
fn mutate(good: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = good.to_vec();
    let header_end = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    for _ in 0..1 + rng.below(4) {
        let pos = if rng.below(4) == 0 {
            rng.below(b.len().max(1))
        } else {
            rng.below(header_end.min(b.len()).max(1))
        };
        match rng.below(7) {
            0 | 1 if pos < b.len() => b[pos] ^= 1 << rng.below(8),
            2 if pos < b.len() => b[pos] = rng.below(256) as u8,
            3 if pos < b.len() => b[pos] = b"0123456789[]{},:\"-. eFI"[rng.below(23)],
            4 => b.truncate(pos),
            5 if b.len() >= 8 => {
                let n = u64::from_le_bytes(b[..8].try_into().unwrap());
                let n = n.wrapping_add(rng.below(17) as u64).wrapping_sub(8);
                b[..8].copy_from_slice(&n.to_le_bytes());
            }
            _ => b.insert(pos.min(b.len()), rng.below(256) as u8),
        }
    }
    b
}

#[test]
fn safetensors_loader_never_panics_and_is_all_or_nothing() {
    let keras = files::to_bytes(&Card::init(1), Layout::Keras, None).unwrap();
    let torch = files::to_bytes(&Card::init(2), Layout::PyTorch, None).unwrap();
    let small = files::to_bytes(&Small::init(3), Layout::Keras, None).unwrap();
    let before = Card::init(9);
    run("safetensors", |rng| {
        let (good, layout) = match rng.below(3) {
            0 => (&keras, Layout::Keras),
            1 => (&torch, Layout::PyTorch),
            _ => (&small, Layout::Keras),
        };
        let bytes = mutate(good, rng);
        let mut o = LoadOptions::new(layout);
        o.allow_extra = rng.below(2) == 0;
        let mut m = Card::init(9);
        if files::load_bytes(&mut m, &bytes, &o).is_err() {
            for k in 0..Card::TENSORS {
                assert_eq!(
                    m.tensor(k),
                    before.tensor(k),
                    "a failed load changed tensor {k}"
                );
            }
        }
        let mut s = Small::init(4);
        let _ = files::load_bytes(&mut s, &bytes, &LoadOptions::new(Layout::Keras));
    });
}

#[test]
fn csv_reader_never_panics() {
    let alphabet = [
        "1", "2.5", "-", ".", "e", "E", "+", ",", ",", "\"", "\"\"", " ", "\t", "\n", "\r\n", "\r",
        "#", "a", "é", "nan", "inf", "1e999", "\u{feff}", "0x1",
    ];
    run("csv", |rng| {
        let mut text = String::new();
        for _ in 0..rng.below(40) {
            text.push_str(alphabet[rng.below(alphabet.len())]);
        }
        for has_header in [false, true] {
            match parse_csv(&text, has_header) {
                Ok(t) => {
                    let w = t.width();
                    assert!(t
                        .rows
                        .iter()
                        .all(|r| r.len() == w && r.iter().all(|v| v.is_finite())));
                }
                Err(rnn::csv::CsvError::Row { line, column, .. }) => {
                    assert!(line >= 1 && column >= 1);
                }
                Err(_) => {}
            }
        }
    });
}

#[test]
fn model_load_through_a_weight_source_never_panics() {
    let names = [
        "simple_rnn/kernel",
        "simple_rnn/recurrent_kernel",
        "simple_rnn/bias",
        "gru/kernel",
        "gru/recurrent_kernel",
        "gru/bias",
        "dense/kernel",
        "dense/bias",
        "simple_rnn.weight_ih_l0",
        "dense.weight",
    ];
    let before = Small::init(5);
    run("weight source", |rng| {
        let n = rng.below(names.len() + 1);
        let shapes: Vec<Vec<usize>> = (0..n)
            .map(|_| (0..rng.below(4)).map(|_| rng.below(14)).collect())
            .collect();
        let data: Vec<Vec<f32>> = shapes
            .iter()
            .map(|s| {
                let len = (s.iter().product::<usize>() + rng.below(2))
                    .saturating_sub(usize::from(rng.below(3) == 0));
                (0..len)
                    .map(|_| match rng.below(50) {
                        0 => f32::NAN,
                        1 => f32::INFINITY,
                        _ => rng.uniform_in(-1.0, 1.0) as f32,
                    })
                    .collect()
            })
            .collect();
        let tensors: Vec<(&str, &[usize], &[f32])> = (0..n)
            .map(|i| (names[rng.below(names.len())], &shapes[i][..], &data[i][..]))
            .collect();
        let src = SliceSource { tensors: &tensors };
        let mut m = Small::init(5);
        let layout = if rng.below(2) == 0 {
            Layout::Keras
        } else {
            Layout::PyTorch
        };
        if m.load(layout, &src).is_err() {
            for k in 0..Small::TENSORS {
                assert_eq!(m.tensor(k), before.tensor(k));
            }
        }
    });
}
