//! `embedding(vocab, width)`: a first layer over integer tokens. Tokens outside the vocabulary
//! are errors (never a panic or an out-of-bounds read), gradients touch only the rows of the
//! tokens seen, and finite differences agree with the backward pass.

mod common;

use rnn::loss::{accumulate, Loss, Steps};
use rnn::{rnn_model, Model, Tape, TokenError};

rnn_model! {
    struct Tok { embedding(11, 4) -> lstm(3) -> dense(2) }
    struct Tok64 { scalar = f64; embedding(7, 3) -> gru(4) -> ln_rnn(3) -> dense(2, activation = softmax) }
    struct Plain { lstm(1, 3) -> dense(1) }
}

#[test]
fn tokens_outside_the_vocabulary_are_errors() {
    let m = Tok::init(1);
    assert_eq!(Tok::VOCAB, 11);
    assert_eq!(Tok::INPUT, 1);
    let mut s = Tok::zero_state();
    assert!(m.step_token(&mut s, 10).is_ok());
    assert_eq!(
        m.step_token(&mut s, 11),
        Err(TokenError::OutOfVocabulary {
            position: 0,
            token: 11,
            vocab: 11
        })
    );
    let e = m.forward_tokens(&[1, 2, 3, u32::MAX, 4]).unwrap_err();
    assert_eq!(
        e,
        TokenError::OutOfVocabulary {
            position: 3,
            token: u32::MAX,
            vocab: 11
        }
    );
    assert_eq!(
        e.to_string(),
        "token 4294967295 at position 3 is outside the vocabulary (ids 0 to 10)"
    );
    // A model without an embedding does not read tokens.
    assert_eq!(Plain::token(0), Err(TokenError::NoEmbedding));
    assert_eq!(Plain::VOCAB, 0);
}

#[test]
fn tokens_and_their_float_ids_give_the_same_bits() {
    let m = Tok::init(2);
    let toks = [3u32, 0, 10, 3, 7];
    let ys = m.forward_tokens(&toks).unwrap();
    let xs = toks.map(|t| [t as f32]);
    assert_eq!(ys, m.forward(&xs));
    // The lookup is the table's row: the first step's LSTM input is token 3's vector.
    let row = m.chain().first().embeddings.column(3);
    let e = rnn::Cell::<f32>::step::<rnn::Fast>(m.chain().first(), &mut (), &[3.0]);
    assert_eq!(&e[..], row.as_slice());
}

#[test]
fn inputs_that_are_not_token_ids_give_nan_never_a_read_out_of_bounds() {
    let m = Tok::init(3);
    for bad in [-1.0f32, 11.0, 2.5, f32::NAN, f32::INFINITY, 1e30, -0.5] {
        let mut s = Tok::zero_state();
        let y = m.step(&mut s, &[bad]);
        assert!(y.iter().all(|v| v.is_nan()), "{bad}: {y:?}");
    }
    // -0.0 is token 0.
    let mut s = Tok::zero_state();
    assert!(m.step(&mut s, &[-0.0]).iter().all(|v| v.is_finite()));
}

#[test]
fn gradients_touch_only_the_rows_used() {
    let m = Tok::init(4);
    let xs = [[1.0f32], [5.0], [1.0], [9.0], [5.0], [2.0]];
    let ys = [[0.5f32, -0.5]];
    let mut grads = Tok::zeros();
    let mut tape = Tape::<Tok, 6>::new();
    let mut dys = [[0.0f32; 2]; 6];
    accumulate(
        &m,
        &xs,
        &ys,
        Steps::Last,
        Loss::Mse,
        1.0,
        &mut tape,
        &mut dys,
        &mut grads,
    );
    let table = grads.chain().first().embeddings;
    for v in 0..11 {
        let used = [1, 5, 9, 2].contains(&v);
        let nonzero = table.column(v).iter().any(|g| *g != 0.0);
        assert_eq!(nonzero, used, "row {v}");
    }
}

/// Central finite differences in f64 through the embedding table and every layer after it.
#[test]
fn finite_differences() {
    const N: usize = 6;
    let mut m = Tok64::init(5);
    let toks = [2u32, 6, 2, 0, 4, 1];
    let xs = Tok64::tokens(&toks).unwrap();
    let ys = [[0.0f64, 1.0]; 3];
    let loss = |m: &Tok64| {
        let mut tape = Tape::<Tok64, N>::new();
        let mut dys = [[0.0f64; 2]; N];
        let mut g = Tok64::zeros();
        accumulate(
            m,
            &xs,
            &ys,
            Steps::LastK(3),
            Loss::CategoricalCrossentropy,
            1.0,
            &mut tape,
            &mut dys,
            &mut g,
        )
    };
    let mut grads = Tok64::zeros();
    let mut tape = Tape::<Tok64, N>::new();
    let mut dys = [[0.0f64; 2]; N];
    accumulate(
        &m,
        &xs,
        &ys,
        Steps::LastK(3),
        Loss::CategoricalCrossentropy,
        1.0,
        &mut tape,
        &mut dys,
        &mut grads,
    );
    let checked = common::finite_differences(&mut m, &grads, loss);
    assert_eq!(checked, Tok64::PARAM_COUNT);
}

/// `PARAM_COUNT` equals the frameworks' own counts (`model.count_params()`, the "Total params"
/// of `model.summary()`; torch: the sum of `numel()`), from `tests/fixtures/data/param_counts.json`.
#[test]
fn parameter_counts_equal_the_frameworks() {
    rnn_model! {
        struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
        /// The seeds' exercise model on ECG-like input with one feature.
        struct Exercise { rnn(1, 20) -> gru(20) -> lstm(20) -> dense(1) }
        /// The seeds' sentiment model: vocabulary 15,000 x 32 -> LSTM(16) -> Dense(1, sigmoid).
        struct ImdbLstm { embedding(15000, 32) -> lstm(16) -> dense(1, activation = sigmoid) }
        /// Its GRU variant with return_sequences (a dense output at every step).
        struct ImdbGru { embedding(15000, 32) -> gru(16) -> dense(1, activation = sigmoid) }
        /// Géron's LNSimpleRNNCell model.
        struct LnBook { ln_rnn(1, 20) -> ln_rnn(20) -> dense(10) }
        struct LayerNormStack { rnn(3, 5) -> layer_norm(5) -> dense(2) }
        struct Peephole { lstm(8, 16, peephole = true) }
        struct TorchCard { params = pytorch; lstm(32, 16) -> gru(16) -> dense(1) }
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/data/param_counts.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ours = [
        ("card", Card::PARAM_COUNT),
        ("exercise", Exercise::PARAM_COUNT),
        ("imdb_lstm", ImdbLstm::PARAM_COUNT),
        ("imdb_gru_seq", ImdbGru::PARAM_COUNT),
        ("ln_rnn_book", LnBook::PARAM_COUNT),
        ("layer_norm_stack", LayerNormStack::PARAM_COUNT),
        ("peephole", Peephole::PARAM_COUNT),
        ("torch_card", TorchCard::PARAM_COUNT),
    ];
    assert_eq!(
        v.as_object().unwrap().len(),
        ours.len(),
        "every entry compared"
    );
    for (name, count) in ours {
        let want = v[name]["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(count as u64, want, "{name} ({})", v[name]["framework"]);
    }
}
