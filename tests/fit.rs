//! The training loop: it learns, threads do not change the maths, and early stopping keeps the
//! best epoch's weights.

use rnn::loss::{Loss, Steps};
use rnn::optim::{Adam, Sgd};
use rnn::train::{evaluate, fit, Dataset, FitConfig};
use rnn::{rnn_model, Model, Rng};

rnn_model! {
    #[derive(Debug, PartialEq)]
    struct Tiny { gru(1, 6) -> dense(1) }
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

fn quiet(epochs: usize, threads: usize) -> FitConfig {
    FitConfig {
        epochs,
        batch_size: 16,
        threads,
        verbose: false,
        seed: 3,
        ..FitConfig::default()
    }
}

#[test]
fn it_learns_and_threads_do_not_change_the_result() {
    let (xs, ys) = data(256, 1);
    let (vx, vy) = data(64, 2);
    let train = Dataset::<Tiny, 20> {
        inputs: &xs,
        targets: &ys,
    };
    let valid = Dataset::<Tiny, 20> {
        inputs: &vx,
        targets: &vy,
    };
    let before = evaluate(&Tiny::init(5), valid, Steps::Last, Loss::Mse, 1).unwrap();
    let mut one = Tiny::init(5);
    let h1 = fit(
        &mut one,
        &mut Adam::new(1e-2),
        train,
        Some(valid),
        &quiet(8, 1),
    )
    .unwrap();
    let mut two = Tiny::init(5);
    let h2 = fit(
        &mut two,
        &mut Adam::new(1e-2),
        train,
        Some(valid),
        &quiet(8, 2),
    )
    .unwrap();
    assert_eq!(h1.loss.len(), 8);
    assert!(
        h1.val_loss[7] < 0.5 * before,
        "validation MSE {before} -> {}",
        h1.val_loss[7]
    );
    // The batch gradient is a sum split across workers: only rounding may differ.
    for k in 0..Tiny::TENSORS {
        for (a, b) in one.tensor(k).iter().zip(two.tensor(k)) {
            assert!((a - b).abs() < 1e-4, "tensor {k}: {a} vs {b}");
        }
    }
    assert!((h1.val_loss[7] - h2.val_loss[7]).abs() < 1e-4);
}

#[test]
fn early_stopping_restores_the_best_weights() {
    let (xs, ys) = data(128, 3);
    let (vx, vy) = data(32, 4);
    let train = Dataset::<Tiny, 20> {
        inputs: &xs,
        targets: &ys,
    };
    let valid = Dataset::<Tiny, 20> {
        inputs: &vx,
        targets: &vy,
    };
    // A learning rate too large: the validation loss gets worse after the first epochs (5.0,
    // used before, now diverges to NaN, which stops training with an error: tests/failures.rs).
    let mut m = Tiny::init(9);
    let cfg = FitConfig {
        patience: Some(1),
        ..quiet(30, 1)
    };
    let h = fit(&mut m, &mut Sgd::new(1.0), train, Some(valid), &cfg).unwrap();
    assert!(
        h.loss.len() < 30,
        "early stopping never triggered: {:?}",
        h.val_loss
    );
    // Keras's rule: with patience 1, training stops right after the first epoch that does not
    // improve on the best.
    assert_eq!(h.loss.len(), h.best_epoch + 2, "{:?}", h.val_loss);
    let best = h.val_loss.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(h.val_loss[h.best_epoch], best);
    let now = evaluate(&m, valid, Steps::Last, Loss::Mse, 1).unwrap();
    assert!(
        (now - best).abs() <= 1e-9 * best.max(1.0),
        "restored {now}, best {best}"
    );
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    use rnn::train::TrainError;
    let (xs, ys) = data(8, 5);
    let mut m = Tiny::init(1);
    let good = Dataset::<Tiny, 20> {
        inputs: &xs,
        targets: &ys,
    };
    let short = Dataset::<Tiny, 20> {
        inputs: &xs,
        targets: &ys[..5],
    };
    let e = fit(&mut m, &mut Sgd::new(0.1), short, None, &quiet(1, 1)).unwrap_err();
    assert_eq!(
        e,
        TrainError::Targets {
            set: "training",
            samples: 8,
            expected: 8,
            found: 5
        }
    );
    let e = fit(&mut m, &mut Sgd::new(0.1), good, Some(short), &quiet(1, 1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the validation set has 8 samples and 5 targets; expected 8"
    );
    let cfg = FitConfig {
        batch_size: 0,
        ..quiet(1, 1)
    };
    assert_eq!(
        fit(&mut m, &mut Sgd::new(0.1), good, None, &cfg).unwrap_err(),
        TrainError::BatchSize
    );
    let cfg = FitConfig {
        steps: Steps::LastK(0),
        ..quiet(1, 1)
    };
    assert!(fit(&mut m, &mut Sgd::new(0.1), good, None, &cfg).is_err());
    assert_eq!(
        evaluate(&m, good, Steps::LastK(21), Loss::Mse, 1).unwrap_err(),
        TrainError::Steps { k: 21, steps: 20 }
    );
    let empty = Dataset::<Tiny, 20> {
        inputs: &[],
        targets: &[],
    };
    assert_eq!(
        evaluate(&m, empty, Steps::Last, Loss::Mse, 1).unwrap_err(),
        TrainError::Empty { set: "evaluation" }
    );
    assert_eq!(m, Tiny::init(1), "nothing trained on a refused call");
}

rnn_model! {
    struct Linear { dense(50, 1) }
    struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
}

/// `threads = 0` uses one thread where a batch is too small to gain (a 51-parameter linear
/// model) and every core for the card model; the pool lives for the whole `fit`.
#[test]
fn automatic_threads_follow_the_work_per_batch() {
    use rnn::train::auto_threads;
    assert_eq!(auto_threads::<Linear, 1>(32), 1);
    assert_eq!(auto_threads::<Tiny, 20>(16), 1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(auto_threads::<Card, 50>(32), cores);
    // The linear model trains with the automatic choice (one thread, no pool) and learns.
    let mut rng = Rng::new(9);
    let xs: Vec<[[f32; 50]; 1]> = (0..512)
        .map(|_| [core::array::from_fn(|_| rng.uniform_in(-1.0, 1.0) as f32)])
        .collect();
    let ys: Vec<[f32; 1]> = xs.iter().map(|x| [x[0][..5].iter().sum::<f32>()]).collect();
    let set = Dataset::<Linear, 1> {
        inputs: &xs,
        targets: &ys,
    };
    let mut m = Linear::init(1);
    let before = evaluate(&m, set, Steps::Last, Loss::Mse, 0).unwrap();
    let t0 = std::time::Instant::now();
    fit(&mut m, &mut Adam::new(1e-2), set, None, &quiet(20, 0)).unwrap();
    let after = evaluate(&m, set, Steps::Last, Loss::Mse, 0).unwrap();
    println!("20 epochs of 512 in {:?}", t0.elapsed());
    assert!(after < 0.1 * before, "MSE {before} -> {after}");
}
