//! `bidirectional(layer, merge = ...)`: Keras's `Bidirectional`, PyTorch's `bidirectional=True`.

use rnn::{rnn_model, Model, Tape};

rnn_model! {
    struct Bi { bidirectional(gru(3, 4)) -> dense(2) }
    struct BiSum { bidirectional(lstm(3, 4), merge = sum) }
}

#[test]
fn smoke() {
    let m = Bi::init(1);
    let xs = [[0.5f32, -0.25, 1.0]; 5];
    let ys = m.forward(&xs);
    assert!(ys.iter().flatten().all(|v| v.is_finite()), "{ys:?}");
    assert_eq!(Bi::PARAM_COUNT, 2 * (3 * 4 * (3 + 4 + 2)) + 8 * 2 + 2);
    let mut tape = Tape::<Bi, 5>::new();
    let out = *m.forward_train(&xs, &mut tape);
    // Training fuses multiply-adds where the CPU has them: the same values to rounding.
    for (a, b) in out.iter().flatten().zip(ys.iter().flatten()) {
        assert!((a - b).abs() < 1e-6, "{a} {b}");
    }
    let mut g = Bi::zeros();
    m.backward(&tape, &[[1.0f32, 0.0]; 5], false, &mut g, None);
    assert!((0..Bi::TENSORS).all(|k| g.tensor(k).iter().any(|v| *v != 0.0)));
    let s = BiSum::init(2);
    assert!(s.forward_last(&xs).iter().all(|v| v.is_finite()));
}
