//! Baked weights: `weights = "..."` reads a safetensors file at compile time; the constant
//! model equals the same file loaded at run time, bit for bit, in both layouts.

use rnn::{files, rnn_model, Layout, Model};

rnn_model! {
    /// From the committed PyTorch-layout file.
    pub struct CardTorch {
        weights = "tests/fixtures/data/ours_card_torch.safetensors";
        layout = pytorch;
        lstm(32, 16) -> gru(16) -> dense(1)
    }
    /// From the committed Keras-layout file.
    pub struct CardKeras {
        weights = "tests/fixtures/data/ours_card_keras.safetensors";
        lstm(32, 16) -> gru(16) -> dense(1)
    }
    /// The same model with run-time loading.
    pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    /// PyTorch's own file, with PyTorch's two biases kept (`params = pytorch`).
    pub struct TorchParams {
        weights = "tests/fixtures/data/torch_card.safetensors";
        layout = pytorch;
        params = pytorch;
        lstm(32, 16) -> gru(16) -> dense(1)
    }
    pub struct TorchParamsRuntime { params = pytorch; lstm(32, 16) -> gru(16) -> dense(1) }
}

#[test]
fn baked_two_biases_equal_runtime_loading() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/data");
    let mut m = TorchParamsRuntime::zeros();
    files::load(
        &mut m,
        format!("{dir}/torch_card.safetensors"),
        Layout::PyTorch,
    )
    .unwrap();
    same(&TorchParams::BAKED, &m);
    assert_eq!(TorchParams::PARAM_COUNT, 4849);
    // bias_hh is kept, not summed away.
    assert!(m.tensor(2)[64..].iter().any(|v| *v != 0.0));
}

/// In flash: no initialization code at run time.
static MODEL: CardTorch = CardTorch::BAKED;

fn same<A: Model<Scalar = f32>, B: Model<Scalar = f32>>(a: &A, b: &B) {
    assert_eq!(A::TENSORS, B::TENSORS);
    for k in 0..A::TENSORS {
        let (x, y) = (a.tensor(k), b.tensor(k));
        assert!(
            x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()),
            "tensor {k} differs"
        );
    }
}

#[test]
fn baked_equals_runtime_loading_in_both_layouts() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/data");
    let mut torch = Card::zeros();
    files::load(
        &mut torch,
        format!("{dir}/ours_card_torch.safetensors"),
        Layout::PyTorch,
    )
    .unwrap();
    same(&MODEL, &torch);
    let mut keras = Card::zeros();
    files::load(
        &mut keras,
        format!("{dir}/ours_card_keras.safetensors"),
        Layout::Keras,
    )
    .unwrap();
    same(&CardKeras::BAKED, &keras);
    // And both files hold the model that wrote them (examples/export_fixtures.rs).
    same(&keras, &Card::init(2024));
    let xs = [[0.3f32; 32]; 10];
    assert_eq!(MODEL.forward(&xs), Card::init(2024).forward(&xs));
}
