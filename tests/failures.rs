//! Nothing silent: a diverging or poisoned training run stops with an error naming the epoch
//! and batch and keeps finite weights; NaN propagates through activations, losses and
//! clipping as in Keras and PyTorch; optimizers that cannot train are refused.

use rnn::loss::Loss;
use rnn::optim::{Adam, Clip, Optimizer, Sgd};
use rnn::train::{fit, Dataset, FitConfig, TrainError};
use rnn::{rnn_model, Activation, Model, Rng};

rnn_model! {
    struct Tiny { gru(1, 6) -> dense(1) }
    struct Relu { dense(2, 2, activation = relu) }
    struct RnnRelu { rnn(2, 3, activation = relu) }
    struct Sig { dense(2, 1, activation = sigmoid) }
}

fn data(n: usize, seed: u64) -> (Vec<[[f32; 1]; 20]>, Vec<[f32; 1]>) {
    let mut raw = vec![0.0f32; n * 21];
    rnn::data::generate_time_series(&mut Rng::new(seed), n, 21, &mut raw);
    let xs = raw
        .chunks(21)
        .map(|s| core::array::from_fn(|t| [s[t]]))
        .collect();
    let ys = raw.chunks(21).map(|s| [s[20]]).collect();
    (xs, ys)
}

fn quiet(epochs: usize, patience: Option<usize>) -> FitConfig {
    FitConfig {
        epochs,
        batch_size: 16,
        threads: 1,
        verbose: false,
        patience,
        ..FitConfig::default()
    }
}

fn finite(m: &Tiny) -> bool {
    (0..Tiny::TENSORS).all(|k| m.tensor(k).iter().all(|v| v.is_finite()))
}

fn same(a: &Tiny, b: &Tiny) -> bool {
    (0..Tiny::TENSORS).all(|k| a.tensor(k) == b.tensor(k))
}

#[test]
fn a_diverging_run_stops_with_the_last_finite_weights() {
    let (xs, ys) = data(256, 1);
    let train = Dataset::<Tiny, 20> {
        inputs: &xs,
        targets: &ys,
    };
    let mut m = Tiny::init(5);
    let e = fit(&mut m, &mut Sgd::new(1e3), train, None, &quiet(5, None)).unwrap_err();
    let TrainError::NonFinite { epoch, batch, .. } = e else {
        panic!("expected NonFinite, got {e:?}");
    };
    assert!(epoch >= 1 && batch.is_some(), "{e}");
    assert!(finite(&m), "the model keeps finite weights");
    assert!(e
        .to_string()
        .starts_with(&format!("training stopped in epoch {epoch}, batch ")));
}

#[test]
fn a_nan_in_the_data_stops_at_its_batch_and_keeps_the_weights_before_it() {
    let (mut xs, ys) = data(64, 2);
    xs[3][7][0] = f32::NAN;
    let train = Dataset::<Tiny, 20> {
        inputs: &xs,
        targets: &ys,
    };
    let mut cfg = quiet(3, None);
    cfg.batch_size = 64; // one batch: the NaN is in batch 1 of epoch 1
    let mut m = Tiny::init(5);
    let e = fit(&mut m, &mut Adam::new(1e-2), train, None, &cfg).unwrap_err();
    assert!(
        matches!(
            e,
            TrainError::NonFinite {
                epoch: 1,
                batch: Some(1),
                what: "training loss",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(same(&m, &Tiny::init(5)), "no step was applied");
}

#[test]
fn a_nan_validation_loss_is_never_best_and_is_an_error() {
    let (xs, ys) = data(128, 3);
    let (mut vx, vy) = data(32, 4);
    let train = Dataset::<Tiny, 20> {
        inputs: &xs,
        targets: &ys,
    };
    // First two epochs with clean validation data, so there is a best epoch...
    let valid = Dataset::<Tiny, 20> {
        inputs: &vx,
        targets: &vy,
    };
    let mut m = Tiny::init(5);
    fit(
        &mut m,
        &mut Adam::new(1e-2),
        train,
        Some(valid),
        &quiet(2, Some(3)),
    )
    .unwrap();
    assert!(!same(&m, &Tiny::init(5)));
    // ...then a NaN in the validation inputs: an error, never an `Ok` with zero weights.
    vx[0][0][0] = f32::NAN;
    let valid = Dataset::<Tiny, 20> {
        inputs: &vx,
        targets: &vy,
    };
    let mut m = Tiny::init(5);
    let e = fit(
        &mut m,
        &mut Adam::new(1e-2),
        train,
        Some(valid),
        &quiet(4, Some(1)),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            TrainError::NonFinite {
                epoch: 1,
                batch: None,
                what: "validation loss",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(finite(&m));
    assert!((0..Tiny::TENSORS).any(|k| m.tensor(k).iter().any(|&v| v != 0.0)));
}

#[test]
fn nan_propagates_through_relu_losses_and_clipping() {
    let mut v = [f32::NAN, -1.0, 2.0];
    Activation::Relu.apply::<rnn::Fast, f32>(&mut v);
    assert!(v[0].is_nan() && v[1] == 0.0 && v[2] == 2.0);
    let mut d = Relu::zeros();
    d.tensor_mut(0).copy_from_slice(&[1.0, 0.0, 0.0, 1.0]);
    // (NaN * 0 is NaN: both outputs see the NaN input; relu must not turn it into 0.)
    let y = d.step(&mut Relu::zero_state(), &[f32::NAN, 1.0]);
    assert!(y.iter().all(|v| v.is_nan()), "{y:?}");
    assert_eq!(d.step(&mut Relu::zero_state(), &[-1.0, 1.0]), [0.0, 1.0]);
    let mut r = RnnRelu::init(1);
    r.tensor_mut(0).iter_mut().for_each(|w| *w = 1.0);
    let y = r.step(&mut RnnRelu::zero_state(), &[f32::NAN, 0.0]);
    assert!(y.iter().all(|v| v.is_nan()), "{y:?}");
    // Cross-entropy from probabilities and from logits: a NaN prediction is a NaN loss.
    for (loss, act) in [
        (Loss::BinaryCrossentropy, None),
        (Loss::BinaryCrossentropy, Some(Activation::Sigmoid)),
        (Loss::CategoricalCrossentropy, None),
        (Loss::CategoricalCrossentropy, Some(Activation::Softmax)),
    ] {
        let mut g = [0.0f32; 2];
        let l = loss.eval(
            act,
            &[f32::NAN, 0.5],
            &[f32::NAN, 0.0],
            &[1.0, 0.0],
            1.0,
            &mut g,
        );
        assert!(l.is_nan(), "{loss:?} {act:?}: {l}");
    }
    // clipvalue keeps a NaN gradient NaN (it used to become -0.5).
    let clip = Clip {
        clipvalue: Some(0.5),
        ..Clip::default()
    };
    let mut p = Sig::zeros();
    let mut g = Sig::zeros();
    g.tensor_mut(0)[0] = f32::NAN;
    Sgd::new(0.1).clip(clip).step(&mut p, &g);
    assert!(p.tensor(0)[0].is_nan());
    assert_eq!(p.tensor(0)[1], 0.0);
}

#[test]
fn optimizers_that_cannot_train_are_refused() {
    assert!(Adam::<Tiny>::try_new(1e-3, 1.0, 0.999, 1e-7).is_err());
    let e = Adam::<Tiny>::try_new(1e-3, 0.9, 0.999, 0.0).err().unwrap();
    assert_eq!(
        e.to_string(),
        "epsilon = 0 is refused: it must be a finite number above 0"
    );
    assert!(Adam::<Tiny>::try_new(1e-3, 0.9, 0.999, 1e-7).is_ok());
    let (xs, ys) = data(16, 5);
    let train = Dataset::<Tiny, 20> {
        inputs: &xs,
        targets: &ys,
    };
    let mut adam = Adam::new(1e-3);
    adam.beta_1 = 1.0;
    let mut m = Tiny::init(1);
    let e = fit(&mut m, &mut adam, train, None, &quiet(1, None)).unwrap_err();
    assert!(matches!(e, TrainError::Optimizer(_)), "{e:?}");
    assert!(same(&m, &Tiny::init(1)));
}
