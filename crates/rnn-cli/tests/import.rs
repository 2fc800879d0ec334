//! `rnn import` on files the real tools wrote: PyTorch state_dicts (`tests/fixtures/
//! generate_files.py`: torch's own `safetensors.torch.save_file(model.state_dict())`) and a
//! Keras 3 `.keras` archive and `.weights.h5` (`tests/fixtures/generate_import.py`: Keras's
//! `model.save` and `save_weights`). The printed model line, and the renamed file loaded into
//! the model that line declares reproduces the framework's outputs (`*_io.json`).

use rnn::{rnn_model, Layout, Model};
use rnn_cli::{model_line, plan, renamed, tensors, ImportError};
use serde_json::Value;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/data")
        .join(name)
}

rnn_model! {
    // The lines `rnn import` prints for the two files (checked below as text).
    pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    pub struct Stacked { lstm(4, 6) -> lstm(6) -> dense(2) }
    pub struct FromKeras { lstm(3, 5) -> gru(4) -> dense(2, activation = tanh) }
    /// What a bare `.weights.h5` gives (no config: the dense layer's activation unknown).
    pub struct FromWeights { lstm(3, 5) -> gru(4) -> dense(2) }
}

/// A `*_io.json` fixture: the input's shape, the input and the framework's output, flat.
fn io_file(name: &str) -> (Vec<usize>, Vec<f64>, Vec<f64>) {
    let text = std::fs::read_to_string(fixture(&format!("{name}.json"))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let nums = |a: &Value| -> Vec<f64> {
        a.as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_f64().unwrap())
            .collect()
    };
    let shape = nums(&v["x"]["shape"]).iter().map(|&d| d as usize).collect();
    (shape, nums(&v["x"]["data"]), nums(&v["y"]["data"]))
}

/// Imports `file`, checks the printed line, loads the renamed tensors into `M` and compares
/// every step's output with PyTorch's.
fn import_and_run<M: Model<Scalar = f32>>(file: &str, io: &str, line: &str) -> usize
where
    M::Chain: rnn::Streams,
{
    let bytes = std::fs::read(fixture(file)).unwrap();
    let (got_line, out_bytes, layout) = if file.ends_with(".safetensors") {
        let p = plan(&tensors(&bytes).unwrap(), None, "tanh").unwrap();
        (
            model_line(&p, "tanh"),
            renamed(&bytes, &p).unwrap(),
            Layout::PyTorch,
        )
    } else if file.ends_with(".json") {
        let text = std::str::from_utf8(&bytes).unwrap();
        let (l, _, b, keras) = rnn_cli::rtneural::import(text).unwrap();
        (
            l,
            b,
            if keras {
                Layout::Keras
            } else {
                Layout::PyTorch
            },
        )
    } else {
        let (_, l, b) = rnn_cli::keras::import(&bytes).unwrap();
        (l, b, Layout::Keras)
    };
    assert_eq!(got_line, line, "{file}");
    let out = std::env::temp_dir().join(format!("rnn_import_{}_{file}", std::process::id()));
    std::fs::write(&out, out_bytes).unwrap();
    let mut m = M::zeros();
    rnn::files::load(&mut m, &out, layout).unwrap();
    std::fs::remove_file(&out).ok();
    let (xs, x, ys) = io_file(io);
    let (batch, steps, inputs) = (xs[0], xs[1], xs[2]);
    let mut compared = 0;
    for b in 0..batch {
        let mut s = M::zero_state();
        for t in 0..steps {
            let mut xin = M::zero_input();
            for i in 0..inputs {
                xin.as_mut()[i] = x[(b * steps + t) * inputs + i] as f32;
            }
            let y = m.step(&mut s, &xin);
            for (o, &got) in y.as_ref().iter().enumerate() {
                let want = ys[(b * steps + t) * M::OUTPUT + o];
                assert!(
                    (got as f64 - want).abs() <= 1e-5 + 1e-4 * want.abs(),
                    "{file}: batch {b} step {t} output {o}: ours {got}, PyTorch {want}"
                );
                compared += 1;
            }
        }
    }
    compared
}

#[test]
fn pytorch_state_dicts_import_and_reproduce_pytorch() {
    let n = import_and_run::<Card>(
        "torch_card.safetensors",
        "torch_card_io",
        "lstm(32, 16) -> gru(16) -> dense(1)",
    );
    assert!(n > 0);
    // A two-layer nn.LSTM becomes two layers; the modules are ordered by their widths.
    let n = import_and_run::<Stacked>(
        "torch_stacked.safetensors",
        "torch_stacked_io",
        "lstm(4, 6) -> lstm(6) -> dense(2)",
    );
    assert!(n > 0);
}

#[test]
fn keras_files_import_and_reproduce_keras() {
    // The archive's config gives the order, the classes and the dense layer's tanh.
    let n = import_and_run::<FromKeras>(
        "import_keras.keras",
        "import_keras_io",
        "lstm(3, 5) -> gru(4) -> dense(2, activation = tanh)",
    );
    assert_eq!(n, 2 * 7 * 2);
    // A bare weights file: the same weights, the layers from their shapes, the activation
    // unknown (said in a note): with tanh applied to its outputs, Keras's numbers.
    let bytes = std::fs::read(fixture("import_keras.weights.h5")).unwrap();
    let (plan, line, out) = rnn_cli::keras::import(&bytes).unwrap();
    assert_eq!(line, "lstm(3, 5) -> gru(4) -> dense(2)");
    assert!(
        plan.notes.iter().any(|n| n.contains("assumed linear")),
        "{:?}",
        plan.notes
    );
    let path = std::env::temp_dir().join(format!("rnn_import_{}_weights", std::process::id()));
    std::fs::write(&path, out).unwrap();
    let mut m = FromWeights::zeros();
    rnn::files::load(&mut m, &path, Layout::Keras).unwrap();
    std::fs::remove_file(&path).ok();
    let (_, x, y) = io_file("import_keras_io");
    let mut s = FromWeights::zero_state();
    for t in 0..7 {
        let xin = [x[t * 3] as f32, x[t * 3 + 1] as f32, x[t * 3 + 2] as f32];
        let out = m.step(&mut s, &xin);
        for o in 0..2 {
            let (got, want) = ((out[o] as f64).tanh(), y[t * 2 + o]);
            assert!(
                (got - want).abs() <= 1e-5 + 1e-4 * want.abs(),
                "step {t}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn rtneural_json_imports_and_reproduces_rtneural() {
    // The Keras export, against what RTNeural's own C++ loader computed from the same file.
    let n = import_and_run::<FromKeras>(
        "import_rtneural.json",
        "import_rtneural_io",
        "lstm(3, 5) -> gru(4) -> dense(2, activation = tanh)",
    );
    assert_eq!(n, 2 * 7 * 2);
    // The PyTorch workflow's state_dict JSON, against PyTorch's outputs.
    let n = import_and_run::<Card>(
        "import_rtneural_torch.json",
        "torch_card_io",
        "lstm(32, 16) -> gru(16) -> dense(1)",
    );
    assert!(n > 0);
    // A layer type rnn does not have is named.
    let e = rnn_cli::rtneural::import(
        r#"{"in_shape":[null,null,1],"layers":[{"type":"conv1d","shape":[null,null,2],"weights":[]}]}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("conv1d"), "{e}");
}

#[test]
fn what_cannot_be_imported_is_refused_with_a_reason() {
    let keras = std::fs::read(fixture("keras_card.safetensors")).unwrap();
    let e = plan(&tensors(&keras).unwrap(), None, "tanh").unwrap_err();
    assert!(e.to_string().contains("Keras-style names"), "{e}");
    assert!(matches!(
        tensors(b"not a file"),
        Err(ImportError::Format(_))
    ));
    // Two linear layers of the same width: more than one order; --order settles it.
    let t = |name: &str, shape: &[usize]| rnn_cli::Tensor {
        name: name.into(),
        shape: shape.to_vec(),
        dtype: "F32".into(),
    };
    let two = [
        t("a.weight", &[4, 4]),
        t("a.bias", &[4]),
        t("b.weight", &[4, 4]),
        t("b.bias", &[4]),
    ];
    let e = plan(&two, None, "tanh").unwrap_err();
    assert!(e.to_string().contains("--order"), "{e}");
    let order = ["b".to_string(), "a".to_string()];
    let p = plan(&two, Some(&order), "tanh").unwrap();
    assert_eq!(p.layers[0].module, "b");
    // A module of no known kind names itself.
    let odd = [t("conv.weight", &[4, 3, 3]), t("conv.bias", &[4])];
    let e = plan(&odd, None, "tanh").unwrap_err();
    assert!(e.to_string().starts_with("module `conv`"), "{e}");
    // Bidirectional recurrent modules are refused (not yet supported), not misread.
    let bi = [
        t("rnn.weight_ih_l0", &[12, 2]),
        t("rnn.weight_hh_l0", &[12, 3]),
        t("rnn.bias_ih_l0", &[12]),
        t("rnn.bias_hh_l0", &[12]),
        t("rnn.weight_ih_l0_reverse", &[12, 2]),
    ];
    assert!(plan(&bi, None, "tanh")
        .unwrap_err()
        .to_string()
        .contains("bidirectional"));
}
