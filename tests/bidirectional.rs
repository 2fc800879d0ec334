//! `bidirectional(layer, merge = ...)` against Keras's `Bidirectional` and PyTorch's
//! `bidirectional=True` (fixtures from `tests/fixtures/generate.py`: forward outputs, input
//! gradients and every parameter gradient of `L = sum(y * dy)`, f32 and f64, at the tolerances
//! of `tests/fidelity.rs`), and the sequence API of a model that cannot step.

mod common;

use common::{model_from, tensor, to_f64, tol_used, Fixture, JsonSource};
use rnn::{rnn_model, Layout, Model, Real, Tape};

fn check<M: Model, const N: usize>(fx_name: &str) {
    let fx = Fixture::load(fx_name);
    let f64_case = M::Scalar::NAME == "f64";
    let (fwd, grad, atol, grad_atol) = if f64_case {
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
    assert_eq!(fx.v["steps"].as_u64().unwrap() as usize, N);
    let mut grads = M::zeros();
    let mut tape = Tape::<M, N>::new();
    let mut worst = [0.0f64; 3];
    for s in 0..b {
        let mut xs = [M::zero_input(); N];
        let mut dys = [M::zero_output(); N];
        for t in 0..N {
            for (j, v) in xs[t].as_mut().iter_mut().enumerate() {
                *v = M::Scalar::from_f64(x[(s * N + t) * i + j]);
            }
            for (j, v) in dys[t].as_mut().iter_mut().enumerate() {
                *v = M::Scalar::from_f64(dy[(s * N + t) * o + j]);
            }
        }
        let got: Vec<f64> = model
            .forward(&xs)
            .iter()
            .flat_map(|v| to_f64(v.as_ref()))
            .collect();
        let e = tol_used(&got, &y[s * N * o..(s + 1) * N * o], fwd, atol);
        assert!(
            e <= 1.0,
            "{fx_name}: outputs of sequence {s}: {e:.2} of the tolerance"
        );
        worst[0] = worst[0].max(e);
        let last = model.forward_last(&xs);
        assert_eq!(to_f64(last.as_ref()), got[(N - 1) * o..].to_vec());
        model.forward_train(&xs, &mut tape);
        let mut dxs = [M::zero_input(); N];
        model.backward(&tape, &dys, false, &mut grads, Some(&mut dxs));
        let got: Vec<f64> = dxs.iter().flat_map(|v| to_f64(v.as_ref())).collect();
        let e = tol_used(&got, &dx_want[s * N * i..(s + 1) * N * i], grad, grad_atol);
        assert!(
            e <= 1.0,
            "{fx_name}: input gradient of sequence {s}: {e:.2} of the tolerance"
        );
        worst[1] = worst[1].max(e);
    }
    let want = JsonSource::<f64>::layers(&fx, "grads");
    let layout = fx.layout();
    let mut ours: Vec<(String, Vec<f64>)> = Vec::new();
    for l in 0..M::LAYERS.len() {
        let prefix = format!("L{l}/");
        grads
            .export_layer(l, layout, &prefix, "_l0", &mut |name, shape, value| {
                let v = (0..shape.numel()).map(|n| value(n).to_f64()).collect();
                ours.push((name.as_str().to_string(), v));
            })
            .unwrap();
    }
    for (name, got) in &ours {
        // PyTorch's two biases of a one-bias cell both receive our single bias's gradient,
        // which we export as `bias_ih` (a GRU keeps both).
        let one_bias = layout == Layout::PyTorch
            && name.contains("bias_hh")
            && fx.v["layers"][name[1..2].parse::<usize>().unwrap()]["wrapped"] != "gru";
        let got = if one_bias {
            let ih = name.replace("bias_hh", "bias_ih");
            &ours.iter().find(|(n, _)| *n == ih).unwrap().1
        } else {
            got
        };
        let e = tol_used(got, want.get(name), grad, grad_atol);
        assert!(
            e <= 1.0,
            "{fx_name}: gradient of {name}: {e:.2} of the tolerance"
        );
        worst[2] = worst[2].max(e);
    }
    assert_eq!(
        ours.len(),
        want.tensors.len(),
        "{fx_name}: every gradient compared"
    );
    eprintln!(
        "{fx_name:32} tolerance used: outputs {:.2}, dx {:.2}, dparams {:.2}",
        worst[0], worst[1], worst[2]
    );
}

macro_rules! case {
    ($test:ident, $steps:literal, $name:literal, { $($chain:tt)* }) => {
        #[test]
        fn $test() {
            rnn_model! {
                struct M32 { $($chain)* }
                struct E32 { math = exact; $($chain)* }
                struct M64 { scalar = f64; $($chain)* }
            }
            for fw in ["keras", "torch"] {
                check::<M32, $steps>(&format!("{fw}_{}_f32", $name));
                check::<E32, $steps>(&format!("{fw}_{}_f32", $name));
                check::<M64, $steps>(&format!("{fw}_{}_f64", $name));
            }
        }
    };
}

case!(gru_concat, 6, "bidirectional_gru", { bidirectional(gru(3, 4)) -> dense(2) });
case!(lstm_sum, 6, "bidirectional_lstm_sum", {
    bidirectional(lstm(3, 4), merge = sum)
});
case!(rnn_mul, 6, "bidirectional_rnn_mul", { bidirectional(rnn(3, 3), merge = mul) -> dense(2) });
case!(gru_ave, 6, "bidirectional_gru_ave", { bidirectional(gru(3, 4), merge = ave) -> dense(2) });

rnn_model! {
    struct Bi { bidirectional(gru(3, 4)) -> dense(2) }
}

#[test]
fn parameters_names_and_training_of_a_model_that_cannot_step() {
    assert_eq!(Bi::PARAM_COUNT, 2 * (3 * 4 * (3 + 4 + 2)) + 8 * 2 + 2);
    assert_eq!(Bi::LAYERS[0].class, "Bidirectional");
    assert_eq!(Bi::LAYERS[0].source, "bidirectional(gru(3, 4))");
    let names: Vec<&str> = (0..Bi::TENSORS).map(|k| Bi::tensor_info(k).name).collect();
    assert_eq!(
        names,
        [
            "forward_layer/kernel",
            "forward_layer/recurrent_kernel",
            "forward_layer/bias",
            "backward_layer/kernel",
            "backward_layer/recurrent_kernel",
            "backward_layer/bias",
            "kernel",
            "bias"
        ]
    );
    let m = Bi::init(1);
    // The two directions are initialized separately.
    assert_ne!(m.tensor(0), m.tensor(3));
    let xs = [[0.5f32, -0.25, 1.0]; 5];
    let ys = m.forward(&xs);
    let mut tape = Tape::<Bi, 5>::new();
    let out = *m.forward_train(&xs, &mut tape);
    // Training fuses multiply-adds where the CPU has them: the same values to rounding.
    for (a, b) in out.iter().flatten().zip(ys.iter().flatten()) {
        assert!((a - b).abs() < 1e-6, "{a} {b}");
    }
    let mut g = Bi::zeros();
    m.backward(&tape, &[[1.0f32, 0.0]; 5], false, &mut g, None);
    assert!((0..Bi::TENSORS).all(|k| g.tensor(k).iter().any(|v| *v != 0.0)));
    // Round trips through both layouts.
    for layout in [Layout::Keras, Layout::PyTorch] {
        let bytes = rnn::files::to_bytes(&m, layout, None).unwrap();
        let mut back = Bi::zeros();
        rnn::files::load_bytes(&mut back, &bytes, &rnn::files::LoadOptions::new(layout)).unwrap();
        for k in 0..Bi::TENSORS {
            assert_eq!(back.tensor(k), m.tensor(k), "{layout:?} tensor {k}");
        }
    }
}
