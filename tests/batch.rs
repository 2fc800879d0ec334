//! The batched steps (`Model::step_batch`, and `step_batch_lanes` with the streams side by side
//! in the vector lanes): `B` streams must give, bit for bit, what `B` single-stream steps give, for every layer kind, both scalars, both maths, and batch
//! sizes that fill whole groups of lanes, part of one, or leave streams over.

use rnn::{rnn_model, Model, Real, Rng};

rnn_model! {
    /// The card model.
    pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    /// The card model in f64.
    pub struct Card64 { scalar = f64; lstm(32, 16) -> gru(16) -> dense(1) }
    /// Exact maths (libm) instead of the fast activations.
    pub struct CardExact { math = exact; lstm(32, 16) -> gru(16) -> dense(1) }
    /// Every other layer kind and option, with widths that are not multiples of anything.
    pub struct Ragged { lstm(7, 20) -> gru(13, reset_after = false) -> rnn(5, activation = relu) -> dense(3, activation = softmax) }
    /// The same in f64.
    pub struct Ragged64 { scalar = f64; rnn(3, 5, activation = relu) -> gru(4, reset_after = false) -> dense(3, activation = softmax) }
    /// A wide layer: row blocks of 8 (32-register machines) and 4 both run.
    pub struct Wide { gru(64, 128) -> dense(10) }
    /// One input, as audio models have.
    pub struct Audio { lstm(1, 40) -> dense(1) }
    /// A stateless model.
    pub struct Plain { dense(5, 9, activation = tanh) -> dense(2, activation = sigmoid) }
    /// Peepholes, layer normalization, PyTorch's two biases.
    pub struct Newer { lstm(7, 9, peephole = true) -> ln_rnn(6, activation = relu) -> layer_norm(6) -> rnn(4) -> dense(3) }
    pub struct Newer64 { scalar = f64; params = pytorch; lstm(3, 5, peephole = true) -> ln_rnn(4) -> layer_norm(4) -> rnn(3) -> dense(2) }
}

/// Runs `steps` steps of `B` streams both ways and compares every output and state bit.
fn check<N: Model, const B: usize>(seed: u64, steps: usize)
where
    N::State: PartialEq + core::fmt::Debug,
    N::Chain: rnn::Streams,
{
    let model = N::init(seed);
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut batched = [N::zero_state(); B];
    let mut single = [N::zero_state(); B];
    let mut lanes = [N::zero_state(); B];
    let mut spread = 0.0f64;
    for t in 0..steps {
        let mut xs = [N::zero_input(); B];
        for x in xs.iter_mut() {
            for v in x.as_mut() {
                *v = N::Scalar::from_f64(rng.uniform_in(-2.0, 2.0));
            }
        }
        let ys = model.step_batch(&mut batched, &xs);
        let zs = model.step_batch_lanes(&mut lanes, &xs);
        for b in 0..B {
            let y = model.step(&mut single[b], &xs[b]);
            let (got, want) = (ys[b].as_ref(), y.as_ref());
            for (k, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(
                    g.to_f64().to_bits() == w.to_f64().to_bits(),
                    "{} B = {B}, step {t}, stream {b}, output {k}: batched {g} vs single {w}",
                    N::NAME
                );
            }
            for (k, (g, w)) in zs[b].as_ref().iter().zip(want).enumerate() {
                assert!(
                    g.to_f64().to_bits() == w.to_f64().to_bits(),
                    "{} B = {B}, step {t}, stream {b}, output {k}: lanes {g} vs single {w}",
                    N::NAME
                );
            }
            assert_eq!(batched[b], single[b], "{}: state of stream {b}", N::NAME);
            assert_eq!(
                lanes[b],
                single[b],
                "{}: lanes state of stream {b}",
                N::NAME
            );
            spread += (got[0].to_f64() - ys[0].as_ref()[0].to_f64()).abs();
        }
    }
    // The streams had different inputs, so their outputs differ: a batch that computed one
    // stream and copied it would fail here.
    if B > 1 {
        assert!(
            spread > 0.0,
            "{}: every stream gave the same output",
            N::NAME
        );
    }
}

fn every_batch<N: Model>(seed: u64, steps: usize)
where
    N::State: PartialEq + core::fmt::Debug,
    N::Chain: rnn::Streams,
{
    check::<N, 1>(seed, steps);
    check::<N, 3>(seed, steps);
    check::<N, 4>(seed, steps);
    check::<N, 8>(seed, steps);
    check::<N, 13>(seed, steps);
    check::<N, 16>(seed, steps);
    check::<N, 32>(seed, steps);
}

#[test]
fn card_model_batches_equal_single_steps() {
    every_batch::<Card>(1, 20);
}

#[test]
fn f64_and_exact_maths_batches_equal_single_steps() {
    every_batch::<Card64>(2, 10);
    every_batch::<CardExact>(3, 10);
}

#[test]
fn every_layer_kind_batches_equal_single_steps() {
    every_batch::<Ragged>(4, 15);
    every_batch::<Ragged64>(5, 15);
    every_batch::<Audio>(6, 15);
    every_batch::<Plain>(7, 5);
    every_batch::<Newer>(8, 12);
    every_batch::<Newer64>(9, 12);
}

#[test]
fn wide_layer_batches_equal_single_steps() {
    // An unoptimised build keeps every temporary of the inlined wide step (8 streams of 384
    // gate rows) in its own stack slot: more than a test thread's 2 MiB. Release builds need
    // a fraction of it.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            check::<Wide, 8>(8, 5);
            check::<Wide, 13>(8, 5);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn batched_states_carry_over_between_calls() {
    // A state that went through step_batch continues in single steps and the reverse.
    let model = Card::init(9);
    let xs: [[f32; 32]; 8] = core::array::from_fn(|b| [b as f32 * 0.1 - 0.3; 32]);
    let mut states = [Card::zero_state(); 8];
    model.step_batch_lanes(&mut states, &xs);
    let mut one = states[5];
    let y1 = model.step(&mut one, &xs[5]);
    let ys = model.step_batch_lanes(&mut states, &xs);
    assert_eq!(ys[5], y1);
    assert_eq!(states[5], one);
    let zs = model.step_batch(&mut states, &xs);
    model.step(&mut one, &xs[5]);
    assert_eq!(states[5], one);
    assert_ne!(zs[5], ys[5], "the state moved on, so the output changes");
}
