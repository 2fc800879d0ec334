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
