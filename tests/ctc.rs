//! CTC: the loss and its gradient against PyTorch's `ctc_loss` and TensorFlow's `tf.nn.ctc_loss`,
//! best-path decoding against `tf.nn.ctc_greedy_decoder`, finite differences, and every bad
//! input an error.

use rnn::ctc::{ctc_greedy, ctc_loss, CtcError};

#[test]
fn errors_never_panics() {
    let z = [[0.1f32, 0.2, -0.3]; 4];
    assert_eq!(
        ctc_loss::<f32, 4, 3, 9>(&z, &[1], 3, None),
        Err(CtcError::Blank {
            blank: 3,
            classes: 3
        })
    );
    assert_eq!(
        ctc_loss::<f32, 4, 3, 9>(&z, &[1, 0], 0, None),
        Err(CtcError::Label {
            position: 1,
            label: 0,
            classes: 3,
            blank: 0
        })
    );
    assert_eq!(
        ctc_loss::<f32, 4, 3, 9>(&z, &[1, 7], 0, None),
        Err(CtcError::Label {
            position: 1,
            label: 7,
            classes: 3,
            blank: 0
        })
    );
    assert_eq!(
        ctc_loss::<f32, 4, 3, 3>(&z, &[1, 2], 0, None),
        Err(CtcError::Capacity {
            len: 2,
            needed: 5,
            capacity: 3
        })
    );
    let e = ctc_loss::<f32, 4, 3, 9>(&z, &[1, 1, 1], 0, None).unwrap_err();
    assert_eq!(
        e,
        CtcError::Infeasible {
            len: 3,
            repeats: 2,
            steps: 4,
            needed: 5
        }
    );
    assert!(e.to_string().contains("cannot be aligned to 4 steps"));
    let none: [[f32; 3]; 0] = [];
    assert_eq!(ctc_loss::<f32, 0, 3, 1>(&none, &[], 0, None), Ok(0.0));
    // The empty target: every step a blank.
    let l = ctc_loss::<f64, 4, 3, 1>(&[[0.0f64; 3]; 4], &[], 0, None).unwrap();
    assert!((l - 4.0 * 3f64.ln()).abs() < 1e-12);
}

/// Central finite differences of the loss w.r.t. every logit, f64.
#[test]
fn gradient_by_finite_differences() {
    let mut rng = rnn::Rng::new(3);
    let mut z = [[0.0f64; 5]; 9];
    for row in z.iter_mut() {
        for v in row.iter_mut() {
            *v = 2.0 * rng.normal();
        }
    }
    for (target, blank) in [(&[1usize, 2, 2, 4][..], 0), (&[0, 3][..], 4), (&[][..], 2)] {
        let mut g = [[0.0f64; 5]; 9];
        ctc_loss::<f64, 9, 5, 9>(&z, target, blank, Some(&mut g)).unwrap();
        for t in 0..9 {
            for k in 0..5 {
                let h = 1e-6;
                let w = z[t][k];
                z[t][k] = w + h;
                let up = ctc_loss::<f64, 9, 5, 9>(&z, target, blank, None).unwrap();
                z[t][k] = w - h;
                let down = ctc_loss::<f64, 9, 5, 9>(&z, target, blank, None).unwrap();
                z[t][k] = w;
                let fd = (up - down) / (2.0 * h);
                assert!(
                    (fd - g[t][k]).abs() < 1e-7,
                    "{target:?} [{t}][{k}]: {} vs {fd}",
                    g[t][k]
                );
            }
        }
        // Each step's gradient sums to zero (softmax).
        for row in &g {
            assert!(row.iter().sum::<f64>().abs() < 1e-12);
        }
    }
}

#[test]
fn greedy_merges_repeats_and_drops_blanks() {
    let onehot = |k: usize| {
        let mut z = [0.0f32; 4];
        z[k] = 1.0;
        z
    };
    let z = [1, 1, 0, 1, 2, 2, 3, 0, 0, 3].map(onehot);
    let (labels, n) = ctc_greedy(&z, 0);
    assert_eq!(&labels[..n], &[1, 1, 2, 3, 3]);
}

/// Every labeling's probability by enumerating all `C^T` alignments (collapse repeats, drop
/// blanks, sum), sorted best first.
fn exhaustive<const T: usize, const C: usize>(
    z: &[[f64; C]; T],
    blank: usize,
) -> Vec<(Vec<usize>, f64)> {
    let lp: Vec<Vec<f64>> = z
        .iter()
        .map(|r| {
            let m = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let l = m + r.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            r.iter().map(|v| v - l).collect()
        })
        .collect();
    let mut sums: std::collections::BTreeMap<Vec<usize>, f64> = Default::default();
    let total = C.pow(T as u32);
    for code in 0..total {
        let mut c = code;
        let (mut labels, mut prev, mut logp) = (Vec::new(), usize::MAX, 0.0);
        for row in &lp {
            let k = c % C;
            c /= C;
            logp += row[k];
            if k != prev && k != blank {
                labels.push(k);
            }
            prev = k;
        }
        *sums.entry(labels).or_insert(0.0) += logp.exp();
    }
    let mut v: Vec<(Vec<usize>, f64)> = sums.into_iter().map(|(l, p)| (l, p.ln())).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v
}

/// With a beam wide enough to keep every prefix, prefix beam search is exact: its top 4 are
/// the exhaustive enumeration's, with the same log-probabilities; the CTC loss of each
/// labeling is minus that log-probability.
#[test]
fn wide_beam_search_equals_exhaustive_enumeration() {
    use rnn::ctc::ctc_beam_search;
    let mut rng = rnn::Rng::new(9);
    for trial in 0..5 {
        let mut z = [[0.0f64; 3]; 6];
        for row in z.iter_mut() {
            for v in row.iter_mut() {
                *v = 1.5 * rng.normal();
            }
        }
        let blank = trial % 3;
        let exact = exhaustive(&z, blank);
        let beams = ctc_beam_search::<f64, 6, 3, 128, 512>(&z, blank).unwrap();
        for (b, (labels, lp)) in beams.iter().zip(&exact).take(4) {
            assert_eq!(b.labels(), &labels[..], "trial {trial}");
            assert!(
                (b.log_prob - lp).abs() < 1e-12,
                "trial {trial}: {} vs {lp}",
                b.log_prob
            );
            let loss = ctc_loss::<f64, 6, 3, 13>(&z, labels, blank, None).unwrap();
            assert!(
                (loss + lp).abs() < 1e-12,
                "loss of {labels:?}: {loss} vs {}",
                -lp
            );
        }
        // A narrow beam still finds a good labeling, and never a better score than exact.
        let narrow = ctc_beam_search::<f64, 6, 3, 2, 8>(&z, blank).unwrap();
        assert!(narrow[0].log_prob <= exact[0].1 + 1e-12);
    }
}

/// The frameworks' numbers (`tests/fixtures/data/ctc_{f32,f64}.json`, from `generate.py ctc`):
/// our loss against `torch.nn.functional.ctc_loss` (sum) and `tf.nn.ctc_loss`, our gradient
/// against torch's (autograd w.r.t. the logits), best path against `tf.nn.ctc_greedy_decoder`,
/// and a beam wide enough to be exact against the fixture's exhaustive enumeration.
mod frameworks {
    use super::*;
    use serde_json::Value;

    fn data(v: &Value) -> Vec<f64> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    }

    fn labels(v: &Value) -> Vec<usize> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect()
    }

    fn case<const N: usize, const C: usize>(c: &Value, f64_file: bool) -> Vec<String> {
        let name = c["name"].as_str().unwrap();
        let blank = c["blank"].as_u64().unwrap() as usize;
        let target = labels(&c["target"]);
        let z = data(&c["logits"]);
        let logits: [[f64; C]; N] =
            core::array::from_fn(|t| core::array::from_fn(|k| z[t * C + k]));
        let (rtol, grad_rtol, atol) = if f64_file {
            (1e-9, 1e-8, 1e-12)
        } else {
            (1e-5, 1e-4, 1e-6)
        };
        let mut g = [[0.0f64; C]; N];
        let got = ctc_loss::<f64, N, C, 16>(&logits, &target, blank, Some(&mut g));
        let mut notes = Vec::new();
        match (&c["torch_loss"], got) {
            (Value::String(s), Err(CtcError::Infeasible { .. })) if s == "inf" => {
                notes.push(format!("{name}: infeasible, as torch's inf"));
            }
            (v, Ok(l)) => {
                let want = v
                    .as_f64()
                    .unwrap_or_else(|| panic!("{name}: torch gives {v}, we {l}"));
                assert!(
                    (l - want).abs() <= atol + rtol * want.abs(),
                    "{name}: loss {l} vs torch {want}"
                );
                let gw = data(&c["torch_grad_logits"]);
                for (i, (a, b)) in g.iter().flatten().zip(&gw).enumerate() {
                    assert!(
                        (a - b).abs() <= atol + grad_rtol * b.abs(),
                        "{name}: grad[{i}] {a} vs torch {b}"
                    );
                }
                if let Some(tf) = c["tf_loss"].as_f64() {
                    // TF's kernel adds log-probabilities with f32 functions even in f64.
                    assert!(
                        (l - tf).abs() <= 1e-6 * tf.abs(),
                        "{name}: loss {l} vs tf {tf}"
                    );
                }
            }
            (v, e) => panic!("{name}: torch {v}, ours {e:?}"),
        }
        let (best, n) = ctc_greedy(&logits, blank);
        assert_eq!(
            &best[..n],
            &labels(&c["greedy"]["labels"])[..],
            "{name}: greedy"
        );
        if let Some(top) = c["exhaustive_top"].as_array() {
            let beams = rnn::ctc::ctc_beam_search::<f64, N, C, 1024, 8192>(&logits, blank).unwrap();
            for (b, e) in beams.iter().zip(top) {
                assert_eq!(b.labels(), &labels(&e["labels"])[..], "{name}: exact beam");
                let lp = e["log_prob"].as_f64().unwrap();
                assert!(
                    (b.log_prob - lp).abs() <= atol + rtol * lp.abs(),
                    "{name}: {} vs {lp}",
                    b.log_prob
                );
            }
            notes.push(format!(
                "{name}: a beam of 1024 gives the exhaustive top {}",
                top.len()
            ));
        }
        if let Some(tf) = c["beam"].as_array() {
            // TF's decoder (blank last, 4 beams): `ctc_beam_search_tf` gives its beams in its
            // order with its scores (TF's kernel uses f32 log functions even in f64: 1e-6
            // relative there); no beam is above the exact value of its labeling.
            let ours = rnn::ctc::ctc_beam_search_tf::<f64, N, C, 4, 32>(&logits, blank).unwrap();
            let rt = if f64_file { 1e-6 } else { rtol };
            let mut worst: f64 = 0.0;
            for (o, b) in ours.iter().zip(tf) {
                assert_eq!(o.labels(), &labels(&b["labels"])[..], "{name}: beams");
                let (lp, exact) = (
                    b["log_prob"].as_f64().unwrap(),
                    b["exact_log_prob"].as_f64().unwrap(),
                );
                assert!(
                    o.log_prob <= exact + 1e-9,
                    "{name}: a beam above the exact value"
                );
                let e = (o.log_prob - lp).abs() / (atol + rt * lp.abs());
                assert!(
                    e <= 1.0,
                    "{name}: beam {:?} ours {} tf {lp}",
                    o.labels(),
                    o.log_prob
                );
                worst = worst.max(e);
            }
            assert_eq!(ours.len(), tf.len());
            // The plain prefix beam search keeps the K best candidates of every step: here
            // the same labelings (its scores may differ from TF's, see `ctc_beam_search_tf`).
            let plain = rnn::ctc::ctc_beam_search::<f64, N, C, 4, 32>(&logits, blank).unwrap();
            let same = plain
                .iter()
                .zip(tf)
                .all(|(o, b)| o.labels() == &labels(&b["labels"])[..]);
            notes.push(format!(
                "{name}: TensorFlow's 4 beams and scores (within {worst:.2} of the tolerance); the plain search: {}",
                if same { "the same labelings" } else { "other labelings" }
            ));
        }
        notes
    }

    fn file(name: &str, f64_file: bool) {
        let path = format!(
            "{}/tests/fixtures/data/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = v["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 11);
        for c in cases {
            let shape = labels(&c["logits"]["shape"]);
            let notes = match (shape[0], shape[1]) {
                (12, 5) => case::<12, 5>(c, f64_file),
                (10, 4) => case::<10, 4>(c, f64_file),
                (8, 5) => case::<8, 5>(c, f64_file),
                (15, 6) => case::<15, 6>(c, f64_file),
                (6, 4) => case::<6, 4>(c, f64_file),
                (3, 4) => case::<3, 4>(c, f64_file),
                (7, 4) => case::<7, 4>(c, f64_file),
                (8, 3) => case::<8, 3>(c, f64_file),
                s => panic!("no instance for shape {s:?}"),
            };
            for n in notes {
                eprintln!("{name} {n}");
            }
        }
    }

    #[test]
    fn against_torch_and_tensorflow() {
        // A beam of 1024 over 7 steps keeps its candidates on the stack: a roomy thread.
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(|| {
                file("ctc_f32", false);
                file("ctc_f64", true);
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
