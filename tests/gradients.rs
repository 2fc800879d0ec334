//! BPTT gradients checked by central finite differences in f64, on random models of several
//! sizes and every layer kind, through every loss (including the cross-entropies computed from
//! logits) and every `Steps` mode.

use approx::assert_relative_eq;
use rnn::loss::{accumulate, sequence_loss, Loss, Steps};
use rnn::{rnn_model, Model, Rng, Tape};

/// Loss of one sequence (for the finite differences).
fn loss_of<M: Model<Scalar = f64>, const N: usize>(
    m: &M,
    xs: &[M::Input; N],
    ys: &[M::Output],
    steps: Steps,
    loss: Loss,
) -> f64 {
    let mut tape = Tape::<M, N>::new();
    let mut dys = [M::zero_output(); N];
    m.forward_train(xs, &mut tape);
    sequence_loss(&tape, ys, steps, loss, 1.0, &mut dys).0
}

/// Compares every parameter's and input's analytic gradient with central differences.
fn check<M: Model<Scalar = f64>, const N: usize>(seed: u64, steps: Steps, loss: Loss) {
    let mut rng = Rng::new(seed);
    let mut model = M::init(seed);
    // Non-zero biases too, so every path is exercised.
    for k in 0..M::TENSORS {
        for v in model.tensor_mut(k) {
            *v += rng.uniform_in(-0.2, 0.2);
        }
    }
    let mut xs = [M::zero_input(); N];
    for x in xs.iter_mut() {
        x.as_mut()
            .iter_mut()
            .for_each(|v| *v = rng.uniform_in(-1.0, 1.0));
    }
    let n_targets = steps.count(N);
    let mut ys = vec![M::zero_output(); n_targets];
    for y in ys.iter_mut() {
        let o = y.as_mut();
        match loss {
            Loss::CategoricalCrossentropy => o[rng.below(o.len())] = 1.0,
            Loss::BinaryCrossentropy => o
                .iter_mut()
                .for_each(|v| *v = (rng.uniform() < 0.5) as u8 as f64),
            _ => o.iter_mut().for_each(|v| *v = rng.uniform_in(-1.0, 1.0)),
        }
    }
    let mut grads = M::zeros();
    let mut tape = Tape::<M, N>::new();
    let mut dys = [M::zero_output(); N];
    accumulate(
        &model, &xs, &ys, steps, loss, 1.0, &mut tape, &mut dys, &mut grads,
    );
    let (_, wrt_logits) = sequence_loss(&tape, &ys, steps, loss, 1.0, &mut dys);
    let mut dxs = [M::zero_input(); N];
    model.backward(&tape, &dys, wrt_logits, &mut M::zeros(), Some(&mut dxs));

    let h = 1e-6;
    let mut checked = 0;
    for k in 0..M::TENSORS {
        let len = model.tensor(k).len();
        // Every element of small tensors, a seeded sample of large ones.
        let picks: Vec<usize> = if len <= 64 {
            (0..len).collect()
        } else {
            (0..64).map(|_| rng.below(len)).collect()
        };
        for i in picks {
            let orig = model.tensor(k)[i];
            model.tensor_mut(k)[i] = orig + h;
            let lp = loss_of::<M, N>(&model, &xs, &ys, steps, loss);
            model.tensor_mut(k)[i] = orig - h;
            let lm = loss_of::<M, N>(&model, &xs, &ys, steps, loss);
            model.tensor_mut(k)[i] = orig;
            let fd = (lp - lm) / (2.0 * h);
            let an = grads.tensor(k)[i];
            assert_relative_eq!(an, fd, epsilon = 1e-8, max_relative = 1e-6);
            if an.abs() > 1e-7 {
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no non-zero gradient was checked");
    for t in 0..N {
        for j in 0..M::INPUT {
            let orig = xs[t].as_ref()[j];
            xs[t].as_mut()[j] = orig + h;
            let lp = loss_of::<M, N>(&model, &xs, &ys, steps, loss);
            xs[t].as_mut()[j] = orig - h;
            let lm = loss_of::<M, N>(&model, &xs, &ys, steps, loss);
            xs[t].as_mut()[j] = orig;
            assert_relative_eq!(
                dxs[t].as_ref()[j],
                (lp - lm) / (2.0 * h),
                epsilon = 1e-8,
                max_relative = 1e-6
            );
        }
    }
}

rnn_model! {
    struct Rnn1 { scalar = f64; rnn(2, 3) }
    struct Rnn2 { scalar = f64; rnn(5, 7, activation = relu) -> rnn(4) }
    struct Lstm1 { scalar = f64; lstm(1, 2) }
    struct Lstm2 { scalar = f64; lstm(6, 9) -> dense(2, activation = tanh) }
    struct Gru1 { scalar = f64; gru(3, 4) }
    struct Gru2 { scalar = f64; gru(3, 5, reset_after = false) -> gru(2) }
    struct Card { scalar = f64; lstm(4, 16) -> gru(16) -> dense(1) }
    struct Mixed { scalar = f64; dense(3, 6, activation = relu) -> gru(6, reset_after = false) -> lstm(5) -> rnn(4) -> dense(3, activation = sigmoid) }
    struct Soft { scalar = f64; lstm(3, 5) -> dense(4, activation = softmax) }
    struct Sig { scalar = f64; gru(2, 5) -> dense(3, activation = sigmoid) }
    /// Wide inputs and outputs: the transposed-weight input gradients (8 or more inputs, a dense
    /// layer with 8 or more outputs), a gate matrix taller than one 64-row block (lstm(.., 20):
    /// 80 rows) and more than 8 steps (the pending weight-gradient buffers flush mid-sequence).
    struct Wide { scalar = f64; lstm(9, 20) -> dense(8, activation = tanh) -> rnn(10) -> gru(8) -> dense(2) }
    /// PyTorch's two biases per recurrent layer.
    struct TorchParams { scalar = f64; params = pytorch; lstm(3, 5) -> rnn(4) -> gru(3) -> dense(2) }
    struct Peep { scalar = f64; lstm(3, 4, peephole = true) -> dense(2) }
    struct PeepTorch { scalar = f64; params = pytorch; lstm(2, 3, peephole = true) -> layer_norm(3) }
    struct LnStack { scalar = f64; ln_rnn(3, 5) -> layer_norm(5) -> ln_rnn(4, activation = relu) -> dense(2) }
    struct BiConcat { scalar = f64; bidirectional(gru(3, 4)) -> dense(2) }
    struct BiStack { scalar = f64; dense(2, 3, activation = tanh) -> bidirectional(lstm(4, peephole = true), merge = sum) -> bidirectional(rnn(3), merge = mul) -> bidirectional(ln_rnn(2), merge = ave) -> dense(2, activation = sigmoid) }
}

#[test]
fn bidirectional_every_merge() {
    for seed in 0..2 {
        check::<BiConcat, 5>(seed, Steps::All, Loss::Mse);
        check::<BiStack, 6>(seed, Steps::LastK(2), Loss::BinaryCrossentropy);
    }
}

#[test]
fn peephole_lstm() {
    for seed in 0..3 {
        check::<Peep, 7>(seed, Steps::All, Loss::Mse);
        check::<PeepTorch, 5>(seed, Steps::Last, Loss::Mse);
    }
}

#[test]
fn layer_normalization_inside_and_between_layers() {
    for seed in 0..3 {
        check::<LnStack, 6>(seed, Steps::All, Loss::Mse);
    }
}

#[test]
fn pytorch_parameters_two_biases() {
    for seed in 0..2 {
        check::<TorchParams, 6>(seed, Steps::All, Loss::Mse);
    }
}

#[test]
fn simple_rnn_across_sizes() {
    for seed in 0..3 {
        check::<Rnn1, 5>(seed, Steps::All, Loss::Mse);
        check::<Rnn2, 4>(seed, Steps::Last, Loss::Mse);
    }
}

#[test]
fn lstm_across_sizes() {
    for seed in 0..3 {
        check::<Lstm1, 9>(seed, Steps::All, Loss::Mse);
        check::<Lstm2, 6>(seed, Steps::LastK(3), Loss::Mae);
    }
}

#[test]
fn gru_both_variants_across_sizes() {
    for seed in 0..3 {
        check::<Gru1, 7>(seed, Steps::Last, Loss::Mse);
        check::<Gru2, 5>(seed, Steps::All, Loss::Mse);
    }
}

#[test]
fn card_model_and_a_deep_mixed_stack() {
    check::<Card, 12>(7, Steps::Last, Loss::Mse);
    check::<Mixed, 6>(8, Steps::LastK(2), Loss::Mse);
    check::<Mixed, 6>(9, Steps::All, Loss::BinaryCrossentropy);
}

#[test]
fn wide_layers_and_long_sequences() {
    check::<Wide, 11>(21, Steps::All, Loss::Mse);
    check::<Wide, 17>(22, Steps::LastK(5), Loss::Mae);
}

#[test]
fn cross_entropies_from_logits_and_from_probabilities() {
    for seed in 0..3 {
        check::<Soft, 5>(seed, Steps::All, Loss::CategoricalCrossentropy);
        check::<Sig, 5>(seed, Steps::LastK(2), Loss::BinaryCrossentropy);
        // The probability paths (Keras's from_logits=False): outputs that are not the matching
        // sigmoid/softmax are clipped probabilities, normalised for the categorical loss.
        check::<Sig, 4>(seed, Steps::Last, Loss::CategoricalCrossentropy);
        check::<Soft, 4>(seed, Steps::Last, Loss::BinaryCrossentropy);
    }
}
