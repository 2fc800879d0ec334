//! Checkpoints: a run stopped after some epochs and resumed from its checkpoint ends with the
//! same weights and history, bit for bit, as a run that was never interrupted; checkpoints
//! are written atomically and refused when they do not fit.

use rnn::optim::{Adam, RmsProp, Sgd};
use rnn::train::{fit, Checkpoint, Dataset, FitConfig, SaveWhen, TrainError};
use rnn::{rnn_model, Model, Rng};
use std::path::PathBuf;

rnn_model! {
    struct Tiny { gru(1, 6) -> dense(1) }
    struct Other { lstm(1, 2) -> dense(1) }
}

fn data(n: usize, seed: u64) -> (Vec<[[f32; 1]; 12]>, Vec<[f32; 1]>) {
    let mut raw = vec![0.0f32; n * 13];
    rnn::data::generate_time_series(&mut Rng::new(seed), n, 13, &mut raw);
    let xs = raw
        .chunks(13)
        .map(|s| core::array::from_fn(|t| [s[t]]))
        .collect();
    let ys = raw.chunks(13).map(|s| [s[12]]).collect();
    (xs, ys)
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnn-ckpt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cfg(epochs: usize, path: &std::path::Path, when: SaveWhen) -> FitConfig {
    FitConfig {
        epochs,
        batch_size: 16,
        threads: 1,
        verbose: false,
        seed: 7,
        patience: Some(50),
        checkpoint: Some(Checkpoint {
            path: path.to_path_buf(),
            when,
        }),
        ..FitConfig::default()
    }
}

fn bits(m: &Tiny) -> Vec<u32> {
    (0..Tiny::TENSORS)
        .flat_map(|k| m.tensor(k).iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        .collect()
}

/// Runs 6 epochs straight, and 3 + 3 through a checkpoint, with optimizer `opt()`.
fn same_as_uninterrupted<O: rnn::optim::Optimizer<Tiny>>(name: &str, opt: impl Fn() -> O) {
    let (xs, ys) = data(96, 1);
    let (vx, vy) = data(32, 2);
    let train = Dataset::<Tiny, 12> {
        inputs: &xs,
        targets: &ys,
    };
    let valid = Dataset::<Tiny, 12> {
        inputs: &vx,
        targets: &vy,
    };
    let d = dir(name);
    let (a_path, b_path) = (d.join("a.safetensors"), d.join("b.safetensors"));
    let mut a = Tiny::init(3);
    let ha = fit(
        &mut a,
        &mut opt(),
        train,
        Some(valid),
        &cfg(6, &a_path, SaveWhen::EveryEpoch),
    )
    .unwrap();
    // Interrupted after 3 epochs ...
    let mut b = Tiny::init(3);
    fit(
        &mut b,
        &mut opt(),
        train,
        Some(valid),
        &cfg(3, &b_path, SaveWhen::EveryEpoch),
    )
    .unwrap();
    // ... and resumed into a fresh model and optimizer (whatever their weights).
    let mut c = Tiny::init(99);
    let resumed = FitConfig {
        resume: Some(b_path.clone()),
        ..cfg(6, &b_path, SaveWhen::EveryEpoch)
    };
    let hc = fit(&mut c, &mut opt(), train, Some(valid), &resumed).unwrap();
    assert_eq!(bits(&a), bits(&c), "{name}: resumed weights differ");
    assert_eq!(ha, hc, "{name}: resumed history differs");
    assert_eq!(hc.loss.len(), 6);
    // The last checkpoints of both runs hold the same weights.
    let (mut x, mut y) = (Tiny::zeros(), Tiny::zeros());
    let o = |p| {
        let mut o = rnn::files::LoadOptions::new(rnn::Layout::Keras);
        o.names = Some(
            Tiny::LAYERS
                .iter()
                .map(|l| (format!("model/{}/", l.name), String::new()))
                .collect(),
        );
        o.allow_extra = true;
        (std::fs::read(p).unwrap(), o)
    };
    let (ab, ao) = o(&a_path);
    let (bb, bo) = o(&b_path);
    rnn::files::load_bytes(&mut x, &ab, &ao).unwrap();
    rnn::files::load_bytes(&mut y, &bb, &bo).unwrap();
    assert_eq!(bits(&x), bits(&y));
    assert_eq!(bits(&x), bits(&a));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn resuming_adam_sgd_and_rmsprop_runs_equals_uninterrupted_runs_bit_for_bit() {
    same_as_uninterrupted("adam", || Adam::new(1e-2));
    same_as_uninterrupted("sgd", || Sgd::new(5e-2).momentum(0.9, true));
    same_as_uninterrupted("rmsprop", || RmsProp::new(1e-3));
}

#[test]
fn a_checkpoint_that_does_not_fit_is_refused() {
    let (xs, ys) = data(32, 1);
    let train = Dataset::<Tiny, 12> {
        inputs: &xs,
        targets: &ys,
    };
    let d = dir("refuse");
    let p = d.join("t.safetensors");
    let mut m = Tiny::init(1);
    fit(
        &mut m,
        &mut Adam::new(1e-2),
        train,
        None,
        &cfg(1, &p, SaveWhen::OnImprovement),
    )
    .unwrap();
    assert!(p.exists(), "saved without validation data");
    // Another seed: the shuffles would not continue.
    let mut wrong_seed = cfg(2, &p, SaveWhen::EveryEpoch);
    wrong_seed.resume = Some(p.clone());
    wrong_seed.seed = 8;
    let before = Tiny::init(5);
    let mut m = Tiny::init(5);
    let e = fit(&mut m, &mut Adam::new(1e-2), train, None, &wrong_seed).unwrap_err();
    assert!(matches!(e, TrainError::Checkpoint(_)), "{e:?}");
    assert!(e.to_string().contains("seed 7"), "{e}");
    // Another model.
    let (oxs, oys) = (xs.clone(), ys.clone());
    let other = Dataset::<Other, 12> {
        inputs: &oxs,
        targets: &oys,
    };
    let mut o = Other::init(1);
    let mut c = cfg(2, &p, SaveWhen::EveryEpoch);
    c.resume = Some(p.clone());
    let e = fit(&mut o, &mut Adam::new(1e-2), other, None, &c).unwrap_err();
    assert!(
        e.to_string().contains("it is of model `Tiny`, not `Other`"),
        "{e}"
    );
    // A model file that is no checkpoint.
    let plain = d.join("plain.safetensors");
    rnn::files::save(&Tiny::init(1), &plain, rnn::Layout::Keras).unwrap();
    let mut c = cfg(2, &p, SaveWhen::EveryEpoch);
    c.resume = Some(plain);
    let e = fit(&mut m, &mut Adam::new(1e-2), train, None, &c).unwrap_err();
    assert!(
        e.to_string().contains("no `rnn.checkpoint` in its header"),
        "{e}"
    );
    assert_eq!(
        bits(&m),
        bits(&before),
        "a refused resume changed the model"
    );
    std::fs::remove_dir_all(&d).unwrap();
}
