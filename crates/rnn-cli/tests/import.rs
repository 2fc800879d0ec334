//! `rnn import` on state_dicts PyTorch saved (`tests/fixtures/generate_files.py`: torch's own
//! `safetensors.torch.save_file(model.state_dict())`): the printed model line, and the renamed
//! file loaded into the model that line declares reproduces PyTorch's outputs (`*_io.json`).

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
}

/// Imports `file`, checks the printed line, loads the renamed tensors into `M` and compares
/// every step's output with PyTorch's.
fn import_and_run<M: Model<Scalar = f32>>(file: &str, io: &str, line: &str) -> usize
where
    M::Chain: rnn::Streams,
{
    let bytes = std::fs::read(fixture(file)).unwrap();
    let p = plan(&tensors(&bytes).unwrap(), None, "tanh").unwrap();
    assert_eq!(model_line(&p, "tanh"), line, "{file}");
    let out = std::env::temp_dir().join(format!("rnn_import_{}_{file}", std::process::id()));
    std::fs::write(&out, renamed(&bytes, &p).unwrap()).unwrap();
    let mut m = M::zeros();
    rnn::files::load(&mut m, &out, Layout::PyTorch).unwrap();
    std::fs::remove_file(&out).ok();
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(&format!("{io}.json"))).unwrap())
            .unwrap();
    let shape = |k: &str| -> Vec<usize> {
        v[k]["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect()
    };
    let data = |k: &str| -> Vec<f64> {
        v[k]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_f64().unwrap())
            .collect()
    };
    let (xs, x, ys) = (shape("x"), data("x"), data("y"));
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
