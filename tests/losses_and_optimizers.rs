//! Losses and optimizer updates against Keras 3 (and PyTorch's variants), step by step.
//!
//! `losses_{f32,f64}.json`: values and gradients from `tf.GradientTape` for MSE, MAE and the
//! cross-entropies with `from_logits=True` (which is what Keras computes after a sigmoid or
//! softmax output). `optim_{keras,torch}.json`: two variables `w [3, 2]` and `b [4]`, five
//! fixed gradient steps, and the parameters after every step for each optimizer config.

mod common;

use common::{tensor, tol_used, Fixture};
use rnn::activation::Activation;
use rnn::loss::Loss;
use rnn::optim::{Adam, Clip, Flavor, Optimizer, RmsProp, Sgd};
use rnn::{rnn_model, Model, Real};
use serde_json::Value;

fn losses<T: Real>(file: &str, rtol: f64) {
    let fx = Fixture::load(file);
    let cases = [
        ("mse", Loss::Mse, None, "y_pred"),
        ("mae", Loss::Mae, None, "y_pred"),
        (
            "bce_logits",
            Loss::BinaryCrossentropy,
            Some(Activation::Sigmoid),
            "logits",
        ),
        (
            "cce_logits",
            Loss::CategoricalCrossentropy,
            Some(Activation::Softmax),
            "logits",
        ),
    ];
    for (key, loss, act, input) in cases {
        let c = &fx.v[key];
        let (shape, x) = tensor(&c[input]);
        let (_, y) = tensor(&c["y_true"]);
        let (_, g_want) = tensor(&c["grad"]);
        let (b, k) = (shape[0], shape[1]);
        let probs = c
            .get("probs")
            .map(|p| tensor(p).1)
            .unwrap_or_else(|| x.clone());
        let x: Vec<T> = x.into_iter().map(T::from_f64).collect();
        let p: Vec<T> = probs.into_iter().map(T::from_f64).collect();
        let y: Vec<T> = y.into_iter().map(T::from_f64).collect();
        let mut g = vec![T::ZERO; b * k];
        let scale = T::ONE / T::from_f64(b as f64);
        let mut total = 0.0;
        for r in 0..b {
            let s = r * k..(r + 1) * k;
            total += loss
                .eval(
                    act,
                    &p[s.clone()],
                    &x[s.clone()],
                    &y[s.clone()],
                    scale,
                    &mut g[s],
                )
                .to_f64();
        }
        let value = total / b as f64;
        let want = c["value"].as_f64().unwrap();
        assert!(
            tol_used(&[value], &[want], rtol, 0.0) <= 1.0,
            "{file} {key}: value {value} vs Keras {want}"
        );
        let g: Vec<f64> = g.iter().map(|v| v.to_f64()).collect();
        let e = tol_used(&g, &g_want, rtol, rtol * 1e-3);
        assert!(
            e <= 1.0,
            "{file} {key}: gradient uses {e:.2} of the tolerance"
        );
        eprintln!("{file} {key}: value {value:.9} (Keras {want:.9}), gradient uses {e:.3} of the tolerance");
    }
}

#[test]
fn losses_match_keras_f32() {
    losses::<f32>("losses_f32", 1e-5);
}

#[test]
fn losses_match_keras_f64() {
    losses::<f64>("losses_f64", 1e-12);
}

rnn_model! {
    /// Tensor 0 is `w [3, 2]` and tensor 3 is `b [4]`; the other two get zero gradients, which
    /// leaves them (and the global norm) untouched under every rule tested.
    struct Holder { dense(3, 2) -> dense(2, 4) }
}

const W: usize = 0;
const B: usize = 3;

fn set(m: &mut Holder, v: &Value) {
    m.tensor_mut(W).copy_from_slice(
        &tensor(&v["w"])
            .1
            .iter()
            .map(|&x| x as f32)
            .collect::<Vec<_>>(),
    );
    m.tensor_mut(B).copy_from_slice(
        &tensor(&v["b"])
            .1
            .iter()
            .map(|&x| x as f32)
            .collect::<Vec<_>>(),
    );
}

fn run(file: &str, name: &str, opt: &mut dyn Optimizer<Holder>) {
    let fx = Fixture::load(file);
    let cfg = &fx.v["configs"][name];
    assert!(cfg.is_object(), "{file}: no config {name}");
    let mut p = Holder::zeros();
    set(&mut p, &fx.v["init"]);
    let mut worst: f64 = 0.0;
    let mut steps = 0;
    for (step, (g, want)) in fx.v["grads"]
        .as_array()
        .unwrap()
        .iter()
        .zip(cfg["steps"].as_array().unwrap())
        .enumerate()
    {
        let mut grads = Holder::zeros();
        set(&mut grads, g);
        opt.step(&mut p, &grads);
        for (k, key) in [(W, "w"), (B, "b")] {
            let got: Vec<f64> = p.tensor(k).iter().map(|&v| v as f64).collect();
            let e = tol_used(&got, &tensor(&want[key]).1, 1e-5, 1e-7);
            assert!(
                e <= 1.0,
                "{file} {name} step {}: {key} uses {e:.2} of the tolerance",
                step + 1
            );
            worst = worst.max(e);
        }
        assert!(p.tensor(1).iter().chain(p.tensor(2)).all(|&v| v == 0.0));
        steps += 1;
    }
    assert_eq!(steps, 5, "{file} {name}: every fixture step compared");
    eprintln!("{file} {name:22} 5 steps, worst element uses {worst:.3} of the tolerance");
}

fn clip(clipnorm: Option<f64>, global_clipnorm: Option<f64>, clipvalue: Option<f64>) -> Clip {
    Clip {
        clipnorm,
        global_clipnorm,
        clipvalue,
        grad_norm: None,
    }
}

#[test]
fn keras_optimizers_step_by_step() {
    let f = "optim_keras";
    run(f, "sgd", &mut Sgd::new(0.1));
    run(f, "sgd_momentum", &mut Sgd::new(0.1).momentum(0.9, false));
    run(f, "sgd_nesterov", &mut Sgd::new(0.1).momentum(0.9, true));
    run(f, "adam", &mut Adam::new(0.01));
    run(f, "rmsprop", &mut RmsProp::new(0.01));
    run(
        f,
        "adam_clipnorm",
        &mut Adam::new(0.01).clip(clip(Some(1.0), None, None)),
    );
    run(
        f,
        "adam_global_clipnorm",
        &mut Adam::new(0.01).clip(clip(None, Some(1.0), None)),
    );
    run(
        f,
        "sgd_clipvalue",
        &mut Sgd::new(0.1).clip(clip(None, None, Some(0.5))),
    );
}

#[test]
fn pytorch_optimizers_step_by_step() {
    let f = "optim_torch";
    run(
        f,
        "sgd_momentum",
        &mut Sgd::new(0.1).momentum(0.9, false).flavor(Flavor::PyTorch),
    );
    run(
        f,
        "sgd_nesterov",
        &mut Sgd::new(0.1).momentum(0.9, true).flavor(Flavor::PyTorch),
    );
    run(f, "adam", &mut Adam::pytorch(0.01));
    run(f, "rmsprop", &mut RmsProp::pytorch(0.01));
}

#[test]
fn flavors_really_differ() {
    // The PyTorch fixture must not pass with Keras's rule (eps placement and defaults differ),
    // or the comparison above would prove nothing about them.
    let r = std::panic::catch_unwind(|| run("optim_torch", "rmsprop", &mut RmsProp::new(0.01)));
    assert!(r.is_err());
}
