//! Integer inference (`rnn::quant`): the integer activations against f64 (every input), the
//! rescaling, and quantized models against their f32 originals.

use rnn::quant::{
    dequantize, quantize, quantize_input, shift_round, sigmoid_q15, tanh_q15, QCell, SIGMOID_TABLE,
    TANH_TABLE,
};
use rnn::{rnn_model, Model, Rng};

#[test]
fn the_tables_are_the_functions_rounded() {
    for k in 0..=256 {
        let x = k as f64 / 32.0;
        let s = ((1.0 / (1.0 + (-x).exp()) * 32768.0).round() as i32).min(32767);
        let t = ((x.tanh() * 32768.0).round() as i32).min(32767);
        assert_eq!(
            (SIGMOID_TABLE[k] as i32, TANH_TABLE[k] as i32),
            (s, t),
            "entry {k}"
        );
    }
}

/// The worst error of the integer activations over every Q3.12 input in [-8, 8), and beyond
/// (saturated).
#[test]
fn integer_activations_are_within_their_stated_error() {
    // [es, et] within [-8, 8), then over [-16, 16) (saturated beyond 8).
    let mut e = [[0.0f64; 2]; 2];
    for x in -(1 << 16)..(1 << 16) {
        let r = x as f64 / 4096.0;
        let s = sigmoid_q15(x) as f64 / 32768.0;
        let t = tanh_q15(x) as f64 / 32768.0;
        let inside = usize::from(!(-(8 << 12)..8 << 12).contains(&x));
        e[inside][0] = e[inside][0].max((s - 1.0 / (1.0 + (-r).exp())).abs());
        e[inside][1] = e[inside][1].max((t - r.tanh()).abs());
    }
    println!(
        "max error in [-8, 8): sigmoid {:.3e}, tanh {:.3e}; beyond: {:.3e}, {:.3e}",
        e[0][0], e[0][1], e[1][0], e[1][1]
    );
    assert!(e[0][0] <= 4.5e-5, "sigmoid {:?}", e[0]);
    assert!(e[0][1] <= 1.2e-4, "tanh {:?}", e[0]);
    // Saturated at 8: sigmoid(8) = 1 - 3.35e-4.
    assert!(e[1][0] <= 3.4e-4 && e[1][1] <= 3.1e-5, "{:?}", e[1]);
    // Any i32 is an input: beyond [-8, 8) the value at the edge.
    assert_eq!(sigmoid_q15(i32::MIN), sigmoid_q15(-(8 << 12)));
    assert_eq!(sigmoid_q15(i32::MAX), sigmoid_q15(8 << 12));
    assert_eq!(tanh_q15(i32::MIN), -32767);
}

#[test]
fn rescaling_is_a_rounding_shift() {
    let mut rng = Rng::new(5);
    for _ in 0..10_000 {
        let acc = (rng.uniform_in(-1.0, 1.0) * 2e9) as i32;
        let sh = rng.below(40) as i32 - 8;
        let want = (acc as f64 / 2f64.powi(sh)).round();
        let got = shift_round(acc, sh) as f64;
        // Halves round up (towards +infinity), as `(x + 2^(s-1)) >> s`.
        let ok = got == want.clamp(i32::MIN as f64, i32::MAX as f64)
            || (acc as f64 / 2f64.powi(sh)).fract().abs() == 0.5;
        assert!(ok, "{acc} >> {sh}: {got} vs {want}");
    }
    assert_eq!(shift_round(i32::MAX, -4), i32::MAX);
    assert_eq!(shift_round(-1, 40), 0);
}

rnn_model! {
    /// The card model.
    pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    pub struct Others { rnn(3, 12) -> gru(12, reset_after = false) -> lstm(10) -> dense(2) }
    /// Dense layers inside (linear, relu, tanh, sigmoid) and a squashing last one.
    pub struct Dense4 {
        dense(3, 8) -> lstm(8) -> dense(6, activation = relu) -> dense(6, activation = tanh)
            -> gru(8) -> dense(5, activation = sigmoid) -> dense(2, activation = tanh)
    }
    /// Ends in a recurrent layer: its Q0.15 output.
    pub struct EndsRecurrent { dense(3, 4) -> gru(4, 6) }
}

/// The worst difference between a model and its integer form over `seqs` random sequences of
/// `steps` steps, inputs uniform in [-1, 1] (the calibration set: the same distribution).
fn worst<M, const I: usize, const O: usize, Y: Copy + Into<f64>>(
    model: &M,
    seqs: usize,
    steps: usize,
    out_exp: i32,
) -> f64
where
    M: Model<Scalar = f32, Input = [f32; I], Output = [f32; O]>,
    M::Chain: rnn::quant::Quantize + rnn::Streams,
    <M::Chain as rnn::quant::Quantize>::Q: QCell<Input = [i16; I], Output = [Y; O]>,
{
    let mut rng = Rng::new(9);
    let calib: Vec<[f32; I]> = (0..500)
        .map(|_| core::array::from_fn(|_| rng.uniform_in(-1.0, 1.0) as f32))
        .collect();
    let (q, exp) = quantize(model, &calib).unwrap();
    let mut worst = 0.0f64;
    for _ in 0..seqs {
        let (mut s, mut qs) = (
            M::zero_state(),
            <<M::Chain as rnn::quant::Quantize>::Q as QCell>::zero_state(),
        );
        for _ in 0..steps {
            let x: [f32; I] = core::array::from_fn(|_| rng.uniform_in(-1.0, 1.0) as f32);
            let y = model.step(&mut s, &x);
            let xq: [i16; I] = core::array::from_fn(|i| quantize_input(x[i], exp));
            let yq = q.step(&mut qs, &xq);
            for o in 0..O {
                let v: f64 = yq[o].into();
                worst = worst.max((v * 2f64.powi(out_exp) - y[o] as f64).abs());
            }
        }
    }
    worst
}

#[test]
fn quantized_models_follow_their_f32_originals() {
    let w = worst::<_, 32, 1, i32>(&Card::init(1), 20, 50, -16);
    println!("card model: worst |int - f32| {w:.4}");
    assert!(w < 0.02, "card {w}");
    let w = worst::<_, 3, 2, i32>(&Others::init(2), 20, 50, -16);
    println!("rnn -> gru(reset_after = false) -> lstm -> dense(2): worst {w:.4}");
    assert!(w < 0.02, "others {w}");
    let w = worst::<_, 3, 2, i32>(&Dense4::init(3), 20, 50, -16);
    println!("dense layers inside, every integer activation: worst {w:.4}");
    assert!(w < 0.02, "dense4 {w}");
    let w = worst::<_, 3, 6, i16>(&EndsRecurrent::init(4), 20, 50, -15);
    println!("ends in a gru: worst {w:.4}");
    assert!(w < 0.02, "ends recurrent {w}");
    // dequantize reads Q15.16.
    assert_eq!(dequantize(3 << 15), 1.5);
}
