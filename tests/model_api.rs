//! The generated API: parameter counts equal Keras's, the layer table and summary, Keras's
//! default initializers, streaming equals whole-sequence, and what passes through the macro.

use rnn::model::backward_steps;
use rnn::{rnn_model, Activation, Cell, Model, Summary};

rnn_model! {
    /// The card model; doc comments and attributes pass through.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    /// Several models in one invocation, any visibility.
    pub(crate) struct Lstm16 { lstm(32, 16) }
    struct GruAfter { gru(32, 16) }
    struct GruBefore { gru(32, 16, reset_after = false) }
    struct Simple { rnn(3, 16) }
    struct Stated { lstm(32, 16) -> gru(16, 16) -> dense(16, 1) }
    /// Keras `Dense(4, use_bias=False)` after an LSTM.
    struct NoBias { lstm(32, 16) -> dense(4, use_bias = false) }
    struct Wide { scalar = f64; math = exact; rnn(3, 8, activation = relu) -> lstm(5) -> lstm(4) -> dense(3, activation = softmax) }
}

#[test]
fn parameter_counts_equal_keras() {
    // Keras model.count_params() for the same layers (the figures the project's design notes list).
    assert_eq!(Card::PARAM_COUNT, 4785);
    assert_eq!(Lstm16::PARAM_COUNT, 3136);
    assert_eq!(GruAfter::PARAM_COUNT, 2400);
    assert_eq!(GruBefore::PARAM_COUNT, 2352);
    assert_eq!(Simple::PARAM_COUNT, 320);
    assert_eq!(Stated::PARAM_COUNT, Card::PARAM_COUNT);
    // Keras: LSTM(16) on 32 inputs (3136) + Dense(4, use_bias=False) (64).
    assert_eq!(NoBias::PARAM_COUNT, 3200);
    assert_eq!(NoBias::TENSORS, 4);
    let held: usize = (0..NoBias::TENSORS)
        .map(|k| NoBias::zeros().tensor(k).len())
        .sum();
    assert_eq!(held, 3200);
    // ... and equal the number of values the model actually holds.
    let held: usize = (0..Card::TENSORS)
        .map(|k| Card::zeros().tensor(k).len())
        .sum();
    assert_eq!(held, 4785);
    let held: usize = (0..GruBefore::TENSORS)
        .map(|k| GruBefore::zeros().tensor(k).len())
        .sum();
    assert_eq!(held, 2352);
}

#[test]
fn layer_table_and_summary() {
    let l = Card::LAYERS;
    assert_eq!(l.len(), 3);
    assert_eq!(
        (l[0].name, l[0].class, l[0].input, l[0].units, l[0].params),
        ("lstm", "LSTM", 32, 16, 3136)
    );
    assert_eq!(
        (l[1].name, l[1].class, l[1].input, l[1].units, l[1].params),
        ("gru", "GRU", 16, 16, 1632)
    );
    assert_eq!(
        (l[2].name, l[2].params, l[2].activation),
        ("dense", 17, Some(Activation::Linear))
    );
    assert_eq!(l[1].reset_after, Some(true));
    assert_eq!(Wide::LAYERS[1].name, "lstm");
    assert_eq!(Wide::LAYERS[2].name, "lstm_1");
    assert_eq!(Wide::LAYERS[2].source, "lstm(5, 4)");
    assert_eq!((Card::INPUT, Card::OUTPUT), (32, 1));
    let s = Card::summary();
    assert!(
        s.contains("lstm (LSTM)") && s.contains("3,136") && s.contains("Total params: 4,785"),
        "{s}"
    );
    println!("{s}");
}

#[test]
fn keras_default_initializers() {
    let m = Card::init(7);
    let (lstm, gru, dense) = (
        m.chain().first(),
        m.chain().rest().first(),
        m.chain().rest().rest(),
    );
    // unit_forget_bias: the LSTM's forget block of the bias is one, the rest zero.
    let b = lstm.bias.as_slice();
    assert!(
        b[16..32].iter().all(|&v| v == 1.0) && b[..16].iter().chain(&b[32..]).all(|&v| v == 0.0)
    );
    // glorot_uniform kernel [32, 64]: |w| <= sqrt(6 / 96).
    let lim = (6.0f32 / 96.0).sqrt();
    assert!(lstm.kernel.iter().all(|v| v.abs() <= lim));
    assert!(lstm.kernel.iter().any(|v| v.abs() > 0.9 * lim));
    // orthogonal recurrent kernel [16, 64]: its rows (our columns) are orthonormal.
    let u = &lstm.recurrent_kernel;
    let g = u.transpose() * u;
    assert!(
        (g - rnn::nalgebra::SMatrix::<f32, 16, 16>::identity())
            .abs()
            .max()
            < 1e-5
    );
    assert!(gru.bias.iter().all(|&v| v == 0.0) && dense.bias.iter().all(|&v| v == 0.0));
    // Seeded: equal seeds, equal models; other seeds differ.
    assert_eq!(Card::init(7), m.clone());
    assert_ne!(Card::init(8), m);
}

#[test]
fn streaming_equals_whole_sequences() {
    let m = Card::init(1);
    let xs: [[f32; 32]; 20] =
        core::array::from_fn(|t| core::array::from_fn(|j| ((t * 5 + j) % 7) as f32 / 7.0 - 0.5));
    let ys = m.forward(&xs);
    let mut s = Card::zero_state();
    for (t, x) in xs.iter().enumerate() {
        assert_eq!(m.step(&mut s, x), ys[t]);
    }
    assert_eq!(m.forward_last(&xs), ys[19]);
    // The state really is carried: restarting from zero changes the output.
    let mut fresh = Card::zero_state();
    assert_ne!(m.step(&mut fresh, &xs[19]), ys[19]);
    // f64 with exact maths and a softmax head: a distribution at every step.
    let w = Wide::init(2);
    for y in w.forward(&[[0.3, -0.2, 0.9]; 6]) {
        assert!((y.iter().sum::<f64>() - 1.0).abs() < 1e-12 && y.iter().all(|&p| p > 0.0));
    }
}

#[test]
fn loading_with_the_wrong_number_of_names_or_layers_is_an_error() {
    use rnn::weights::SliceSource;
    use rnn::{Layout, WeightError};
    let src = SliceSource::<f32> { tensors: &[] };
    let mut m = Card::zeros();
    let e = m
        .load_named(Layout::Keras, &src, &[("lstm/", ""), ("gru/", "")])
        .unwrap_err();
    assert_eq!(
        e,
        WeightError::NameCount {
            layers: 3,
            given: 2
        }
    );
    assert!(e
        .to_string()
        .contains("2 (prefix, suffix) name pair(s) given for a model of 3 layers"));
    let e = m.load_layer(3, Layout::Keras, &src, "", "").unwrap_err();
    assert_eq!(
        e,
        WeightError::NoLayer {
            layer: 3,
            layers: 3
        }
    );
    // A missing tensor names the layer, the tensor and the shape it needs.
    let e = m.load(Layout::PyTorch, &src).unwrap_err();
    assert_eq!(
        e.to_string(),
        "layer 0 (lstm): tensor `lstm.weight_ih_l0` is missing (expected shape [64, 32])"
    );
    assert_eq!(m, Card::zeros());
}

rnn_model! {
    /// Sizes that are not multiples of the vector width, and a block remainder (4 * 20 = 80 rows).
    struct Ragged { lstm(7, 20) -> gru(13, reset_after = false) -> rnn(5) -> dense(3, activation = softmax) }
}

/// The run-time SIMD dispatch (`rnn::simd`) changes speed, never values: `step` (which runs the
/// code compiled for AVX-512F or AVX2 when this CPU has them) equals, bit for bit, the same step
/// compiled for the build's baseline target (the chain's `Cell::step`, called directly). Training
/// (`forward_train`, `backward`) uses fused multiply-adds when the CPU has FMA: it equals, bit for
/// bit, the baseline build of the same maths with `Fused` (whose `mul_add` is then libm's
/// correctly rounded `fmaf`), or the plain maths on a CPU without FMA.
#[test]
fn simd_dispatch_is_bit_identical() {
    fn check<M: Model<Scalar = f32>>(seed: u64)
    where
        M::Chain: rnn::Streams,
    {
        let m = M::init(seed);
        let mut rng = rnn::Rng::new(seed + 1);
        let xs: [M::Input; 12] = core::array::from_fn(|_| {
            let mut x = M::zero_input();
            x.as_mut()
                .iter_mut()
                .for_each(|v| *v = rng.uniform_in(-2.0, 2.0) as f32);
            x
        });
        let (mut a, mut b) = (M::zero_state(), M::zero_state());
        for x in &xs {
            let ya = m.step(&mut a, x);
            let yb = m.chain().step::<M::Math>(&mut b, x);
            let bits = |y: &M::Output| y.as_ref().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&ya), bits(&yb), "{}: dispatched step differs", M::NAME);
        }
        // Training: dispatched forward_train and backward vs the baseline build of the same maths.
        let fused = has_fma();
        let mut tape = rnn::Tape::<M, 12>::new();
        m.forward_train(&xs, &mut tape);
        let mut s = M::zero_state();
        for (t, x) in xs.iter().enumerate() {
            let mut c = M::zero_cache();
            let y = if fused {
                m.chain()
                    .step_train::<rnn::Fused<M::Math>>(&mut s, x, &mut c)
            } else {
                m.chain().step_train::<M::Math>(&mut s, x, &mut c)
            };
            let bits = |y: &M::Output| y.as_ref().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&tape.outputs[t]),
                bits(&y),
                "{}: forward_train step {t}",
                M::NAME
            );
        }
        let dys: [M::Output; 12] = core::array::from_fn(|t| {
            let mut d = M::zero_output();
            d.as_mut()
                .iter_mut()
                .enumerate()
                .for_each(|(k, v)| *v = 0.1 * (t + k) as f32 - 0.5);
            d
        });
        let (mut ga, mut gb) = (M::zeros(), M::zeros());
        m.backward(&tape, &dys, false, &mut ga, None);
        let mut ds = M::zero_state();
        let tr = m.chain().transposed();
        if fused {
            let (c, g) = (&tape.caches, gb.chain_mut());
            backward_steps::<M, rnn::Fused<M::Math>>(
                m.chain(),
                &tr,
                c,
                &dys,
                false,
                &mut ds,
                g,
                None,
            );
        } else {
            let (c, g) = (&tape.caches, gb.chain_mut());
            backward_steps::<M, M::Math>(m.chain(), &tr, c, &dys, false, &mut ds, g, None);
        }
        for k in 0..M::TENSORS {
            let bits = |s: &[f32]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(ga.tensor(k)),
                bits(gb.tensor(k)),
                "{}: gradient {k}",
                M::NAME
            );
        }
    }
    println!(
        "dispatch on this machine: {}; FMA for training: {}",
        rnn::simd::widest_name(),
        has_fma()
    );
    // Where the CPU has AVX2 and the build does not already target AVX-512F, the dispatch must
    // actually happen (otherwise this test would compare the baseline code with itself).
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx512f")))]
    if std::arch::is_x86_feature_detected!("avx2") {
        assert!(rnn::simd::widest_name().contains("detected at run time"));
    }
    check::<Card>(5);
    check::<Lstm16>(6);
    check::<GruBefore>(7);
    check::<Ragged>(8);
}

/// Whether training runs with fused multiply-adds here (see `rnn::simd::widest_fused`).
fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        cfg!(target_feature = "fma")
            || (std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
