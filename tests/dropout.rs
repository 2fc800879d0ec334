//! `dropout(rate)`: identity at inference, Keras's inverted dropout in training (masks drawn
//! per sequence from a seeded stream, kept on the tape for the backward pass), Monte Carlo
//! dropout prediction, and gradients by finite differences with the masks held fixed.

mod common;

use rnn::loss::{sequence_loss, Loss, Steps};
use rnn::{rnn_model, Model, Rng, Tape};

rnn_model! {
    /// The recurrent layers' own options (Keras's `dropout=` / `recurrent_dropout=`).
    struct RecDrop64 { scalar = f64; rnn(3, 5, dropout = 0.3, recurrent_dropout = 0.4) -> lstm(4, dropout = 0.2) -> bidirectional(gru(3, dropout = 0.25), merge = sum) -> dense(2) }
    struct RecPlain64 { scalar = f64; rnn(3, 5) -> lstm(4) -> bidirectional(gru(3), merge = sum) -> dense(2) }
    /// Recurrent dropout on an LSTM and a GRU: one mask per gate (Keras's implementation 1).
    struct PerGate64 { scalar = f64; lstm(3, 4, dropout = 0.2, recurrent_dropout = 0.3, peephole = true) -> gru(3, recurrent_dropout = 0.4) -> gru(2, dropout = 0.1, recurrent_dropout = 0.2, reset_after = false) -> dense(2) }
    struct Drop { lstm(2, 6) -> dropout(0.3) -> gru(5) -> dropout(0.5) -> dense(2) }
    struct NoDrop { lstm(2, 6) -> gru(5) -> dense(2) }
    struct Wide { dense(3, 400) -> dropout(0.25) }
    struct Drop64 { scalar = f64; rnn(3, 5) -> dropout(0.4) -> ln_rnn(4) -> dropout(0.2) -> dense(2, activation = softmax) }
}

const N: usize = 8;

fn inputs<const I: usize>(seed: u64) -> [[f32; I]; N] {
    let mut rng = Rng::new(seed);
    core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform_in(-1.0, 1.0) as f32))
}

/// The same weights with and without the dropout layers (they have no parameters).
fn pair(seed: u64) -> (Drop, NoDrop) {
    let d = Drop::init(seed);
    let mut n = NoDrop::zeros();
    assert_eq!(Drop::TENSORS, NoDrop::TENSORS);
    for k in 0..Drop::TENSORS {
        n.tensor_mut(k).copy_from_slice(d.tensor(k));
    }
    (d, n)
}

#[test]
fn identity_at_inference_and_without_masks() {
    assert_eq!(Drop::PARAM_COUNT, NoDrop::PARAM_COUNT);
    let (d, n) = pair(1);
    let xs = inputs::<2>(2);
    assert_eq!(d.forward(&xs), n.forward(&xs));
    let mut s = Drop::zero_state();
    let mut t = NoDrop::zero_state();
    for x in &xs {
        assert_eq!(d.step(&mut s, x), n.step(&mut t, x));
    }
    // Training without dropout (`forward_train`) keeps every unit, even on a tape that held
    // masks before.
    let mut tape = Tape::<Drop, N>::new();
    d.forward_train_dropout(&xs, &mut tape, &mut Rng::new(3));
    let with = *d.forward_train(&xs, &mut tape);
    let mut tn = Tape::<NoDrop, N>::new();
    assert_eq!(with, *n.forward_train(&xs, &mut tn));
}

#[test]
fn inverted_scaling_and_the_rate() {
    let m = Wide::init(4);
    let xs = inputs::<3>(5);
    let mut tape = Tape::<Wide, N>::new();
    // (Training's own arithmetic: it may fuse multiply-adds where inference does not.)
    let plain = *m.forward_train(&xs, &mut tape);
    let ys = *m.forward_train_dropout(&xs, &mut tape, &mut Rng::new(6));
    let keep = 1.0f32 / 0.75;
    let (mut dropped, mut total) = (0usize, 0usize);
    for t in 0..N {
        for j in 0..400 {
            let (y, p) = (ys[t][j], plain[t][j]);
            total += 1;
            if y == 0.0 && p != 0.0 {
                dropped += 1;
            } else {
                assert_eq!(y, p * keep, "kept units are scaled by 1 / (1 - rate)");
            }
        }
    }
    // 3,200 units, p = 0.25: 800 expected, standard deviation 24.5; 5 sigma either way.
    let f = dropped as f64 / total as f64;
    assert!(
        (dropped as i64 - 800).abs() < 123,
        "{dropped} of {total} dropped ({f})"
    );
    // Each step draws its own mask (Keras's Dropout on a sequence has no noise_shape).
    let zeros = |t: usize| (0..400).filter(|&j| ys[t][j] == 0.0).collect::<Vec<_>>();
    assert_ne!(zeros(0), zeros(1));
}

#[test]
fn seeded_and_reproducible() {
    let (d, _) = pair(7);
    let xs = inputs::<2>(8);
    let mut tape = Tape::<Drop, N>::new();
    let a = *d.forward_train_dropout(&xs, &mut tape, &mut Rng::new(9));
    let b = *d.forward_train_dropout(&xs, &mut tape, &mut Rng::new(9));
    let c = *d.forward_train_dropout(&xs, &mut tape, &mut Rng::new(10));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn monte_carlo_dropout() {
    let (d, n) = pair(11);
    let xs = inputs::<2>(12);
    let mut tape = Tape::<Drop, N>::new();
    let (mean, sd) = d.predict_mc(&xs, 200, &mut Rng::new(13), &mut tape);
    let (mean2, sd2) = d.predict_mc(&xs, 200, &mut Rng::new(13), &mut tape);
    assert_eq!((mean, sd), (mean2, sd2), "seeded");
    assert!(sd.iter().flatten().all(|s| *s > 0.0), "{sd:?}");
    // The mean of 200 passes is near the deterministic output (within a few standard errors).
    let plain = n.forward(&xs);
    for t in 0..N {
        for j in 0..2 {
            let se = sd[t][j] / (200f32).sqrt();
            assert!((mean[t][j] - plain[t][j]).abs() < 6.0 * se + 0.05, "t {t}");
        }
    }
    // Without dropout layers: the plain output and no spread.
    let mut tn = Tape::<NoDrop, N>::new();
    let (m0, s0) = n.predict_mc(&xs, 5, &mut Rng::new(1), &mut tn);
    let mut tr = Tape::<NoDrop, N>::new();
    assert_eq!(m0, *n.forward_train(&xs, &mut tr));
    assert!(s0.iter().flatten().all(|s| *s == 0.0));
}

/// Central finite differences in f64 with one sequence's masks held fixed on the tape.
#[test]
fn finite_differences_with_fixed_masks() {
    const T: usize = 6;
    let mut m = Drop64::init(14);
    let mut rng = Rng::new(15);
    let xs: [[f64; 3]; T] =
        core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform_in(-1.0, 1.0)));
    let ys = [[0.0f64, 1.0]; T];
    let mut tape = Tape::<Drop64, T>::new();
    m.forward_train_dropout(&xs, &mut tape, &mut Rng::new(16));
    let masks = tape.caches;
    let loss = |m: &Drop64, tape: &mut Tape<Drop64, T>| {
        tape.caches = masks;
        m.forward_train_with_masks(&xs, tape);
        let mut dys = [[0.0f64; 2]; T];
        let (l, _) = sequence_loss(
            tape,
            &ys,
            Steps::All,
            Loss::CategoricalCrossentropy,
            1.0,
            &mut dys,
        );
        l
    };
    let l0 = loss(&m, &mut tape);
    let mut dys = [[0.0f64; 2]; T];
    let (_, logits) = sequence_loss(
        &tape,
        &ys,
        Steps::All,
        Loss::CategoricalCrossentropy,
        1.0,
        &mut dys,
    );
    let mut grads = Drop64::zeros();
    m.backward(&tape, &dys, logits, &mut grads, None);
    assert!(l0.is_finite());
    let checked = common::finite_differences(&mut m, &grads, |m| loss(m, &mut tape));
    assert_eq!(checked, Drop64::PARAM_COUNT);
}

#[test]
fn fit_uses_dropout_and_stays_reproducible() {
    use rnn::train::{fit, Dataset, FitConfig};
    let xs: Vec<[[f32; 2]; N]> = (0..64).map(|s| inputs::<2>(100 + s)).collect();
    let ys: Vec<[f32; 2]> = xs.iter().map(|x| [x[N - 1][0], x[0][1]]).collect();
    let data = Dataset::<Drop, N> {
        inputs: &xs,
        targets: &ys,
    };
    let run = |threads: usize| {
        let mut m = Drop::init(20);
        let cfg = FitConfig {
            epochs: 3,
            batch_size: 16,
            threads,
            verbose: false,
            ..FitConfig::default()
        };
        let h = fit(&mut m, &mut rnn::optim::Adam::new(0.01), data, None, &cfg).unwrap();
        (m, h.loss)
    };
    let (a, la) = run(2);
    let (b, lb) = run(2);
    assert_eq!(la, lb, "reproducible");
    for k in 0..Drop::TENSORS {
        assert_eq!(a.tensor(k), b.tensor(k));
    }
    // Each sample's masks come from its own seeded stream, so one thread draws the same masks
    // as two: the runs agree but for the order of the batch sums.
    let (_, l1) = run(1);
    for (x, y) in l1.iter().zip(&la) {
        assert!((x - y).abs() <= 1e-6 * y.abs(), "{l1:?} vs {la:?}");
    }
    // With dropout the training loss differs from the same run without it.
    let nd: Vec<[[f32; 2]; N]> = xs.clone();
    let ndata = Dataset::<NoDrop, N> {
        inputs: &nd,
        targets: &ys,
    };
    let mut n = pair(20).1;
    let cfg = FitConfig {
        epochs: 3,
        batch_size: 16,
        threads: 1,
        verbose: false,
        ..FitConfig::default()
    };
    let hn = fit(&mut n, &mut rnn::optim::Adam::new(0.01), ndata, None, &cfg).unwrap();
    assert_ne!(hn.loss, la);
}

/// Keras's `Dropout(0.4)` in training (`training=True`, TensorFlow's `x * float(1 / 0.6)` for
/// kept units) and torch's `nn.Dropout` (`x * (k / 0.6)`), each with the mask it drew recorded
/// in the fixture (`dropout_masks`, the factor per unit): our training pass with those masks on
/// the tape gives their outputs, input gradients and parameter gradients, f32 and f64.
#[test]
fn keras_and_torch_with_their_masks() {
    rnn_model! {
        struct K32 { rnn(3, 5) -> dropout(0.4) -> dense(2) }
        struct K64 { scalar = f64; rnn(3, 5) -> dropout(0.4) -> dense(2) }
    }
    // The dropout layer's factor for sequence `s`, step `t`: `dropout_masks[1]`, [B, T, 5].
    let at = |fx: &common::Fixture, s: usize, t: usize| -> Vec<f64> {
        let (shape, m) = common::tensor(&fx.v["dropout_masks"][1]);
        let (steps, units) = (shape[1], shape[2]);
        m[(s * steps + t) * units..(s * steps + t + 1) * units].to_vec()
    };
    let set32 = |c: &mut <K32 as Model>::Cache, fx: &common::Fixture, s: usize, t: usize| {
        for (d, v) in c.1 .0.mask.iter_mut().zip(at(fx, s, t)) {
            *d = v as f32;
        }
    };
    let set64 = |c: &mut <K64 as Model>::Cache, fx: &common::Fixture, s: usize, t: usize| {
        c.1 .0.mask.copy_from_slice(&at(fx, s, t))
    };
    for fw in ["keras", "torch"] {
        check_with_masks::<K32, 6>(&format!("{fw}_dropout_f32"), set32);
        check_with_masks::<K64, 6>(&format!("{fw}_dropout_f64"), set64);
    }
}

/// A recurrent layer's `recurrent_dropout_masks` entry for sequence `s`: its input and
/// (if any) recurrent factors, the same at every step.
fn rec_masks(fx: &common::Fixture, layer: usize, s: usize) -> (Vec<f64>, Option<Vec<f64>>) {
    let e = &fx.v["recurrent_dropout_masks"][layer];
    let row = |v: &serde_json::Value| {
        let (shape, m) = common::tensor(v);
        m[s * shape[1]..(s + 1) * shape[1]].to_vec()
    };
    let rec = (!e["recurrent"].is_null()).then(|| row(&e["recurrent"]));
    (row(&e["input"]), rec)
}

/// Keras's `SimpleRNN(dropout=0.3, recurrent_dropout=0.4)` and `LSTM` / `GRU(dropout=0.3)` in
/// training, with the masks Keras multiplied by (injected in the fixture script, checked there
/// against Keras's own): our training pass with them on the tape gives Keras's outputs and
/// gradients, f32 and f64.
#[test]
fn keras_recurrent_dropout_with_its_masks() {
    rnn_model! {
        struct R32 { rnn(3, 5, dropout = 0.3, recurrent_dropout = 0.4) -> dense(2) }
        struct R64 { scalar = f64; rnn(3, 5, dropout = 0.3, recurrent_dropout = 0.4) -> dense(2) }
        struct L32 { lstm(4, 3, dropout = 0.3) }
        struct L64 { scalar = f64; lstm(4, 3, dropout = 0.3) }
        struct G32 { gru(4, 3, dropout = 0.3) }
        struct G64 { scalar = f64; gru(4, 3, dropout = 0.3) }
    }
    fn put<T: rnn::Real, const I: usize, const H: usize>(
        m: &mut ([[T; I]; 4], [[T; H]; 4]),
        (x, h): (Vec<f64>, Option<Vec<f64>>),
    ) {
        for (d, v) in m.0[0].iter_mut().zip(x) {
            *d = T::from_f64(v);
        }
        for (d, v) in m.1[0].iter_mut().zip(h.unwrap_or(vec![1.0; H])) {
            *d = T::from_f64(v);
        }
    }
    check_with_masks::<R32, 6>("keras_rnn_dropout_f32", |c, fx, s, _| {
        put(&mut c.0 .1, rec_masks(fx, 0, s))
    });
    check_with_masks::<R64, 6>("keras_rnn_dropout_f64", |c, fx, s, _| {
        put(&mut c.0 .1, rec_masks(fx, 0, s))
    });
    check_with_masks::<L32, 7>("keras_lstm_dropout_f32", |c, fx, s, _| {
        put(&mut c.1, rec_masks(fx, 0, s))
    });
    check_with_masks::<L64, 7>("keras_lstm_dropout_f64", |c, fx, s, _| {
        put(&mut c.1, rec_masks(fx, 0, s))
    });
    check_with_masks::<G32, 7>("keras_gru_dropout_f32", |c, fx, s, _| {
        put(&mut c.1, rec_masks(fx, 0, s))
    });
    check_with_masks::<G64, 7>("keras_gru_dropout_f64", |c, fx, s, _| {
        put(&mut c.1, rec_masks(fx, 0, s))
    });
}

/// `dropout = d` / `recurrent_dropout = r` on the recurrent layers: the same masks at every
/// step of a sequence (Keras's `DropoutRNNCell`), exactly the plain layers at inference and
/// without masks, and gradients by finite differences with the masks held fixed.
#[test]
fn recurrent_layers_own_dropout() {
    const T: usize = 6;
    let mut m = RecDrop64::init(30);
    let mut plain = RecPlain64::zeros();
    assert_eq!(RecDrop64::TENSORS, RecPlain64::TENSORS);
    for k in 0..RecDrop64::TENSORS {
        plain.tensor_mut(k).copy_from_slice(m.tensor(k));
    }
    assert_eq!(
        RecDrop64::LAYERS[0].source,
        "rnn(3, 5, dropout = 0.3, recurrent_dropout = 0.4)"
    );
    let mut rng = Rng::new(31);
    let xs: [[f64; 3]; T] =
        core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform_in(-1.0, 1.0)));
    assert_eq!(m.forward(&xs), plain.forward(&xs));
    let mut tape = Tape::<RecDrop64, T>::new();
    let mut tp = Tape::<RecPlain64, T>::new();
    assert_eq!(
        *m.forward_train(&xs, &mut tape),
        *plain.forward_train(&xs, &mut tp)
    );
    let with = *m.forward_train_dropout(&xs, &mut tape, &mut Rng::new(32));
    assert_ne!(with, *tp.outputs.as_ref());
    // One mask per sequence: step 0's masks at every step, and some units dropped.
    let first = tape.caches[0].0 .1;
    assert!(tape.caches.iter().all(|c| c.0 .1 == first));
    assert!(
        first.0[0].contains(&0.0) && first.1[0].contains(&0.0),
        "{first:?}"
    );
    let masks = tape.caches;
    let ys = [[0.5f64, -0.5]; T];
    let loss = |m: &RecDrop64, tape: &mut Tape<RecDrop64, T>| {
        tape.caches = masks;
        m.forward_train_with_masks(&xs, tape);
        let mut dys = [[0.0f64; 2]; T];
        sequence_loss(tape, &ys, Steps::All, Loss::Mse, 1.0, &mut dys).0
    };
    loss(&m, &mut tape);
    let mut dys = [[0.0f64; 2]; T];
    let (_, logits) = sequence_loss(&tape, &ys, Steps::All, Loss::Mse, 1.0, &mut dys);
    let mut grads = RecDrop64::zeros();
    let mut dxs = [[0.0f64; 3]; T];
    m.backward(&tape, &dys, logits, &mut grads, Some(&mut dxs));
    let checked = common::finite_differences(&mut m, &grads, |m| loss(m, &mut tape));
    assert_eq!(checked, RecDrop64::PARAM_COUNT);
    // The input gradient too (through the input masks).
    let mut xs2 = xs;
    for t in 0..T {
        for j in 0..3 {
            let h = 1e-6;
            let f = |xs2: &[[f64; 3]; T], tape: &mut Tape<RecDrop64, T>| {
                tape.caches = masks;
                m.forward_train_with_masks(xs2, tape);
                let mut d = [[0.0f64; 2]; T];
                sequence_loss(tape, &ys, Steps::All, Loss::Mse, 1.0, &mut d).0
            };
            let w = xs2[t][j];
            xs2[t][j] = w + h;
            let up = f(&xs2, &mut tape);
            xs2[t][j] = w - h;
            let down = f(&xs2, &mut tape);
            xs2[t][j] = w;
            let fd = (up - down) / (2.0 * h);
            assert!(
                (fd - dxs[t][j]).abs() <= 1e-7 + 1e-5 * fd.abs(),
                "dx[{t}][{j}]: {} vs {fd}",
                dxs[t][j]
            );
        }
    }
}

/// Our training pass, with the masks `set` writes on the tape for sequence `s` and step `t`,
/// against a fixture's outputs, input gradients and parameter gradients.
fn check_with_masks<M: Model, const T: usize>(
    name: &str,
    set: impl Fn(&mut M::Cache, &common::Fixture, usize, usize),
) {
    use common::{model_from, tensor, to_f64, tol_used, Fixture, JsonSource};
    use rnn::Real;
    let fx = Fixture::load(name);
    let f64_case = M::Scalar::NAME == "f64";
    let (fwd, grad, atol, gatol) = if f64_case {
        (1e-9, 1e-8, 1e-12, 1e-12)
    } else {
        (1e-5, 1e-4, 1e-7, 1e-6)
    };
    let model: M = model_from(&fx);
    let (_, x) = tensor(&fx.v["x"]);
    let (_, y) = tensor(&fx.v["y"]);
    let (_, dy) = tensor(&fx.v["dy"]);
    let (_, dx_want) = tensor(&fx.v["dx"]);
    let (i, o, b) = (M::INPUT, M::OUTPUT, fx.batch());
    let mut tape = Tape::<M, T>::new();
    let mut grads = M::zeros();
    for s in 0..b {
        let mut xs = [M::zero_input(); T];
        let mut dys = [M::zero_output(); T];
        for t in 0..T {
            for (j, v) in xs[t].as_mut().iter_mut().enumerate() {
                *v = M::Scalar::from_f64(x[(s * T + t) * i + j]);
            }
            for (j, v) in dys[t].as_mut().iter_mut().enumerate() {
                *v = M::Scalar::from_f64(dy[(s * T + t) * o + j]);
            }
            set(&mut tape.caches[t], &fx, s, t);
        }
        let got: Vec<f64> = model
            .forward_train_with_masks(&xs, &mut tape)
            .iter()
            .flat_map(|v| to_f64(v.as_ref()))
            .collect();
        let e = tol_used(&got, &y[s * T * o..(s + 1) * T * o], fwd, atol);
        assert!(
            e <= 1.0,
            "{name}: outputs of sequence {s}: {e:.2} of the tolerance"
        );
        let mut dxs = [M::zero_input(); T];
        model.backward(&tape, &dys, false, &mut grads, Some(&mut dxs));
        let got: Vec<f64> = dxs.iter().flat_map(|v| to_f64(v.as_ref())).collect();
        let e = tol_used(&got, &dx_want[s * T * i..(s + 1) * T * i], grad, gatol);
        assert!(
            e <= 1.0,
            "{name}: dx of sequence {s}: {e:.2} of the tolerance"
        );
    }
    let want = JsonSource::<f64>::layers(&fx, "grads");
    let mut ours: Vec<(String, Vec<f64>)> = Vec::new();
    for l in 0..M::LAYERS.len() {
        grads
            .export_layer(
                l,
                fx.layout(),
                &format!("L{l}/"),
                "_l0",
                &mut |n, shape, value| {
                    let v = (0..shape.numel()).map(|k| value(k).to_f64()).collect();
                    ours.push((n.as_str().to_string(), v));
                },
            )
            .unwrap();
    }
    for (n, got) in &ours {
        // PyTorch's bias_hh of our one-bias SimpleRNN gets its bias's gradient, which we
        // export as bias_ih (see fidelity.rs).
        let got = if n.contains("bias_hh") {
            let ih = n.replace("bias_hh", "bias_ih");
            &ours.iter().find(|(m, _)| *m == ih).unwrap().1
        } else {
            got
        };
        let e = tol_used(got, want.get(n), grad, gatol);
        assert!(e <= 1.0, "{name}: gradient of {n}: {e:.2} of the tolerance");
    }
    let compared = ours.len();
    assert_eq!(compared, want.tensors.len());
}

/// Recurrent dropout on LSTM and GRU layers: a mask per gate block for the inputs and for the
/// previous output (Keras's `implementation = 1`), the same at every step; exactly the plain
/// layers without masks; gradients by finite differences with the masks held fixed.
#[test]
fn per_gate_recurrent_dropout() {
    const T: usize = 5;
    let mut m = PerGate64::init(40);
    let mut rng = Rng::new(41);
    let xs: [[f64; 3]; T] =
        core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform_in(-1.0, 1.0)));
    let ys = [[0.5f64, -0.5]; T];
    let mut tape = Tape::<PerGate64, T>::new();
    let plain = *m.forward_train(&xs, &mut tape);
    let with = *m.forward_train_dropout(&xs, &mut tape, &mut Rng::new(42));
    assert_ne!(plain, with);
    // Different masks for the LSTM's four gates, the same at every step.
    let lstm_masks = tape.caches[0].0 .1;
    assert!(
        lstm_masks.1.windows(2).any(|w| w[0] != w[1]),
        "{lstm_masks:?}"
    );
    assert!(tape.caches.iter().all(|c| c.0 .1 == lstm_masks));
    let masks = tape.caches;
    let loss = |m: &PerGate64, tape: &mut Tape<PerGate64, T>| {
        tape.caches = masks;
        m.forward_train_with_masks(&xs, tape);
        let mut dys = [[0.0f64; 2]; T];
        sequence_loss(tape, &ys, Steps::All, Loss::Mse, 1.0, &mut dys).0
    };
    loss(&m, &mut tape);
    let mut dys = [[0.0f64; 2]; T];
    let (_, logits) = sequence_loss(&tape, &ys, Steps::All, Loss::Mse, 1.0, &mut dys);
    let mut grads = PerGate64::zeros();
    m.backward(&tape, &dys, logits, &mut grads, None);
    let checked = common::finite_differences(&mut m, &grads, |m| loss(m, &mut tape));
    assert_eq!(checked, PerGate64::PARAM_COUNT);
}

/// Keras's LSTM and GRU with `recurrent_dropout` (`implementation = 1`: a mask per gate for
/// the inputs and one for the state), with the masks Keras multiplied by: our per-gate mode
/// gives Keras's outputs and gradients, f32 and f64.
#[test]
fn keras_per_gate_recurrent_dropout_with_its_masks() {
    rnn_model! {
        struct L32 { lstm(4, 3, dropout = 0.3, recurrent_dropout = 0.4) }
        struct L64 { scalar = f64; lstm(4, 3, dropout = 0.3, recurrent_dropout = 0.4) }
        struct G32 { gru(4, 3, dropout = 0.3, recurrent_dropout = 0.4) }
        struct G64 { scalar = f64; gru(4, 3, dropout = 0.3, recurrent_dropout = 0.4) }
    }
    /// Gate `g`'s masks of sequence `s` ([G, B, n], gate-major) into the record.
    fn put<T: rnn::Real, const I: usize, const H: usize>(
        m: &mut ([[T; I]; 4], [[T; H]; 4]),
        fx: &common::Fixture,
        s: usize,
    ) {
        let e = &fx.v["recurrent_dropout_masks"][0];
        let (xs, x) = common::tensor(&e["input"]);
        let (_, h) = common::tensor(&e["recurrent"]);
        let b = xs[1];
        for g in 0..xs[0] {
            for j in 0..I {
                m.0[g][j] = T::from_f64(x[(g * b + s) * I + j]);
            }
            for k in 0..H {
                m.1[g][k] = T::from_f64(h[(g * b + s) * H + k]);
            }
        }
    }
    check_with_masks::<L32, 7>("keras_lstm_recurrent_dropout_f32", |c, fx, s, _| {
        put(&mut c.1, fx, s)
    });
    check_with_masks::<L64, 7>("keras_lstm_recurrent_dropout_f64", |c, fx, s, _| {
        put(&mut c.1, fx, s)
    });
    check_with_masks::<G32, 7>("keras_gru_recurrent_dropout_f32", |c, fx, s, _| {
        put(&mut c.1, fx, s)
    });
    check_with_masks::<G64, 7>("keras_gru_recurrent_dropout_f64", |c, fx, s, _| {
        put(&mut c.1, fx, s)
    });
}
