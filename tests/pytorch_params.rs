//! `params = pytorch`: PyTorch's two biases per recurrent layer as parameters, so that training
//! follows `torch.optim` step for step.
//!
//! The trajectories are torch's own (`tests/fixtures/generate.py`, section `train`): a model of
//! every recurrent layer, `nn.LSTM -> nn.RNN -> nn.GRU -> nn.Linear` (289 parameters), the MSE
//! loss over a batch of 4 sequences of 6 steps, and three steps of SGD, SGD with momentum,
//! Adam, RMSprop, and SGD and Adam after `clip_grad_norm_`. Each step's loss and every
//! parameter after it are compared, numpy's `allclose`: `rtol` 1e-5 / `atol` 1e-6 in f32,
//! 1e-9 / 1e-12 in f64.

mod common;

use common::{model_from, tensor, tol_used, Fixture, JsonSource};
use rnn::optim::{Adam, Clip, Flavor, Optimizer, RmsProp, Sgd};
use rnn::{rnn_model, Layout, Model, Real, Tape};

rnn_model! {
    struct Mix32 { params = pytorch; lstm(3, 4) -> rnn(3) -> gru(4) -> dense(2) }
    struct Mix64 { scalar = f64; params = pytorch; lstm(3, 4) -> rnn(3) -> gru(4) -> dense(2) }
    struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    struct TorchCard { params = pytorch; lstm(32, 16) -> gru(16) -> dense(1) }
    struct TorchRnn { params = pytorch; rnn(2, 3) }
    struct KerasMix { lstm(3, 4) -> rnn(3) -> gru(4) -> dense(2) }
}

const T: usize = 6;

/// The optimizer a fixture config names, in PyTorch's flavour.
fn optimizer<M: Model + 'static>(name: &str) -> Box<dyn Optimizer<M>> {
    let clip = Clip::grad_norm(0.05);
    match name {
        "sgd" => Box::new(Sgd::new(0.1).flavor(Flavor::PyTorch)),
        "sgd_momentum" => Box::new(Sgd::new(0.1).momentum(0.9, false).flavor(Flavor::PyTorch)),
        "adam" => Box::new(Adam::pytorch(0.01)),
        "rmsprop" => Box::new(RmsProp::pytorch(0.01)),
        "sgd_clip_grad_norm" => Box::new(Sgd::new(0.1).flavor(Flavor::PyTorch).clip(clip)),
        "adam_clip_grad_norm" => Box::new(Adam::pytorch(0.01).clip(clip)),
        other => panic!("no optimizer for config {other}"),
    }
}

/// The MSE loss of a batch and the gradient of every parameter (summed over the batch).
fn loss_and_grads<M: Model>(model: &M, x: &[f64], target: &[f64], b: usize) -> (f64, M) {
    let (i, o) = (M::INPUT, M::OUTPUT);
    let n = (b * T * o) as f64;
    let mut grads = M::zeros();
    let mut tape = Tape::<M, T>::new();
    let mut loss = 0.0;
    for s in 0..b {
        let mut xs = [M::zero_input(); T];
        for (t, xt) in xs.iter_mut().enumerate() {
            for (j, v) in xt.as_mut().iter_mut().enumerate() {
                *v = M::Scalar::from_f64(x[(s * T + t) * i + j]);
            }
        }
        let ys = model.forward_train(&xs, &mut tape);
        let mut dys = [M::zero_output(); T];
        for t in 0..T {
            for j in 0..o {
                let y = ys[t].as_ref()[j];
                let d = y - M::Scalar::from_f64(target[(s * T + t) * o + j]);
                loss += d.to_f64() * d.to_f64();
                dys[t].as_mut()[j] = M::Scalar::from_f64(2.0 / n) * d;
            }
        }
        model.backward(&tape, &dys, false, &mut grads, None);
    }
    (loss / n, grads)
}

fn trajectories<M: Model + 'static>(file: &str) {
    let fx = Fixture::load(file);
    assert_eq!(fx.layout(), Layout::PyTorch);
    let f64_case = M::Scalar::NAME == "f64";
    let (rtol, atol) = if f64_case {
        (1e-9, 1e-12)
    } else {
        (1e-5, 1e-6)
    };
    let (_, x) = tensor(&fx.v["x"]);
    let (_, target) = tensor(&fx.v["target"]);
    let b = fx.batch();
    assert_eq!(fx.v["steps"].as_u64(), Some(T as u64));
    let configs = fx.v["configs"].as_object().unwrap();
    assert_eq!(configs.len(), 6);
    for (name, cfg) in configs {
        let mut model: M = model_from(&fx);
        let mut opt = optimizer::<M>(name);
        let mut worst: f64 = 0.0;
        for (k, want_step) in cfg["steps"].as_array().unwrap().iter().enumerate() {
            let (loss, grads) = loss_and_grads(&model, &x, &target, b);
            let want_loss = cfg["losses"][k].as_f64().unwrap();
            let e = tol_used(&[loss], &[want_loss], rtol, atol);
            assert!(
                e <= 1.0,
                "{file} {name}: loss before step {k}: {loss} vs torch {want_loss}"
            );
            opt.step(&mut model, &grads);
            // Every parameter after the step, in PyTorch's names and layout.
            let want = JsonSource::<f64>::layers_of(want_step);
            let mut compared = 0;
            for l in 0..M::LAYERS.len() {
                let prefix = format!("L{l}/");
                model
                    .export_layer(
                        l,
                        Layout::PyTorch,
                        &prefix,
                        "_l0",
                        &mut |n, shape, value| {
                            let got: Vec<f64> =
                                (0..shape.numel()).map(|i| value(i).to_f64()).collect();
                            let e = tol_used(&got, want.get(n.as_str()), rtol, atol);
                            assert!(
                                e <= 1.0,
                                "{file} {name}: {n} after step {k}: {e:.2} of the tolerance"
                            );
                            worst = worst.max(e);
                            compared += 1;
                        },
                    )
                    .unwrap();
            }
            assert_eq!(
                compared,
                want.tensors.len(),
                "{file} {name}: every tensor compared"
            );
        }
        eprintln!("{file} {name:20} 3 steps, worst element uses {worst:.1e} of the tolerance");
    }
}

#[test]
fn torch_optim_trajectories_f32() {
    trajectories::<Mix32>("torch_train_mix_f32");
}

#[test]
fn torch_optim_trajectories_f64() {
    trajectories::<Mix64>("torch_train_mix_f64");
}

#[test]
fn parameter_counts_are_pytorchs() {
    // The fixture's model is torch's: the sum of its tensors' sizes is torch's count.
    let count = |file: &str| -> usize {
        let fx = Fixture::load(file);
        fx.v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|l| l["tensors"].as_object().unwrap().values())
            .map(|t| tensor(t).1.len())
            .sum()
    };
    assert_eq!(count("torch_card_f32"), 4849);
    assert_eq!(TorchCard::PARAM_COUNT, 4849);
    assert_eq!(count("torch_train_mix_f32"), 289);
    assert_eq!(Mix32::PARAM_COUNT, 289);
    // Keras's count of the same line: one bias per LSTM.
    assert_eq!(Card::PARAM_COUNT, 4785);
    assert_eq!(TorchRnn::PARAM_COUNT, 3 * (2 + 3 + 2));
}

/// Both biases survive a load and an export in either layout: `bias_hh` is not summed into
/// `bias_ih` and comes back as it went in.
#[test]
fn both_biases_round_trip() {
    let fx = Fixture::load("torch_card_f32");
    let model: TorchCard = model_from(&fx);
    let src = JsonSource::<f32>::layers(&fx, "layers");
    let mut exported = Vec::new();
    for l in 0..TorchCard::LAYERS.len() {
        let prefix = format!("L{l}/");
        model
            .export_layer(
                l,
                Layout::PyTorch,
                &prefix,
                "_l0",
                &mut |n, shape, value| {
                    let got: Vec<f32> = (0..shape.numel()).map(&value).collect();
                    assert_eq!(got, src.get(n.as_str()), "{n}");
                    exported.push(n.as_str().to_string());
                },
            )
            .unwrap();
    }
    assert_eq!(exported.len(), src.tensors.len());
    assert!(src.get("L0/bias_hh_l0").iter().any(|v| *v != 0.0));
    // Keras layout: the LSTM's bias is `[2, 64]`, input bias then recurrent bias (as the GRU's).
    let info = (0..TorchCard::TENSORS)
        .map(TorchCard::tensor_info)
        .find(|t| t.layer == 0 && t.name == "bias")
        .unwrap();
    assert_eq!(info.shape.dims(), &[2, 64]);
    let keras = rnn::files::to_bytes(&model, Layout::Keras, None).unwrap();
    let mut back = TorchCard::zeros();
    rnn::files::load_bytes(
        &mut back,
        &keras,
        &rnn::files::LoadOptions::new(Layout::Keras),
    )
    .unwrap();
    for k in 0..TorchCard::TENSORS {
        assert_eq!(
            back.tensor(k),
            model.tensor(k),
            "{:?}",
            TorchCard::tensor_info(k)
        );
    }
}

/// The two-bias model computes what the one-bias model computes with the biases summed.
#[test]
fn same_function_as_the_summed_bias() {
    let fx = Fixture::load("torch_card_f32");
    let two: TorchCard = model_from(&fx);
    let one: Card = model_from(&fx);
    let (_, x) = tensor(&fx.v["x"]);
    let (mut s2, mut s1) = (TorchCard::zero_state(), Card::zero_state());
    for t in 0..10 {
        let mut xt = [0f32; 32];
        for (j, v) in xt.iter_mut().enumerate() {
            *v = x[t * 32 + j] as f32;
        }
        let (a, b) = (two.step(&mut s2, &xt), one.step(&mut s1, &xt));
        assert!(
            (a[0] - b[0]).abs() <= 1e-6 * (1.0 + b[0].abs()),
            "step {t}: {a:?} vs {b:?}"
        );
    }
}

/// What `params = pytorch` fixes: with one summed bias, one SGD step moves PyTorch's effective
/// LSTM bias `b_ih + b_hh` half as far as `torch.optim.SGD` does (which moves each of the two).
#[test]
fn one_summed_bias_does_not_follow_torch() {
    let fx = Fixture::load("torch_train_mix_f64");
    let (_, x) = tensor(&fx.v["x"]);
    let (_, target) = tensor(&fx.v["target"]);
    let step = &fx.v["configs"]["sgd"]["steps"][0];
    let want = JsonSource::<f64>::layers_of(step);
    let torch_sum: Vec<f64> = want
        .get("L0/bias_ih_l0")
        .iter()
        .zip(want.get("L0/bias_hh_l0"))
        .map(|(a, b)| a + b)
        .collect();
    let mut one: KerasMix = model_from(&fx);
    let (_, grads) = loss_and_grads(&one, &x, &target, fx.batch());
    Sgd::new(0.1).flavor(Flavor::PyTorch).step(&mut one, &grads);
    let mut ours = Vec::new();
    one.export_layer(0, Layout::PyTorch, "L0/", "_l0", &mut |n, shape, value| {
        if n.as_str() == "L0/bias_ih_l0" {
            ours = (0..shape.numel()).map(|i| value(i) as f64).collect();
        }
    })
    .unwrap();
    assert!(tol_used(&ours, &torch_sum, 1e-5, 1e-6) > 100.0);
    // The two-bias model lands on torch's sum.
    let mut two: Mix64 = model_from(&fx);
    let (_, grads) = loss_and_grads(&two, &x, &target, fx.batch());
    Sgd::new(0.1).flavor(Flavor::PyTorch).step(&mut two, &grads);
    let b = two.tensor(2);
    let sum: Vec<f64> = (0..16).map(|r| b[r] + b[16 + r]).collect();
    // (Keras gate order i, f, c, o equals PyTorch's for the LSTM.)
    assert!(tol_used(&sum, &torch_sum, 1e-9, 1e-12) <= 1.0);
}
