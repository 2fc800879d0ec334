//! Inference speed of the card model `lstm(32, 16) -> gru(16) -> dense(1)`, batch 1: one
//! streaming step and one 50-step sequence, against the same maths written with nalgebra's
//! dynamic `DMatrix` and std activations; `step_batch` / `step_batch_lanes` over B = 1 .. 32 streams; and the
//! integer (`rnn::quant`) step beside the f32 one. Peer libraries (candle-nn) are measured in `peers/`.
//!
//! `cargo bench --bench step` (default codegen) and
//! `RUSTFLAGS="-C target-cpu=native" cargo bench --bench step`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nalgebra::DVector;
use rnn::{rnn_model, Model};

#[path = "dyn_baseline.rs"]
mod dyn_baseline;

rnn_model! {
    /// The card model (fast f32 activations, the default).
    pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    /// The same with libm's exact activations.
    pub struct CardExact { math = exact; lstm(32, 16) -> gru(16) -> dense(1) }
}

fn input(t: usize) -> [f32; 32] {
    core::array::from_fn(|j| ((t * 7 + j * 3) % 17) as f32 / 8.5 - 1.0)
}

fn bench(c: &mut Criterion) {
    let model = Card::init(42);
    let mut exact = CardExact::zeros();
    for k in 0..Card::TENSORS {
        exact.tensor_mut(k).copy_from_slice(model.tensor(k));
    }
    let tensors: Vec<&[f32]> = (0..Card::TENSORS).map(|k| model.tensor(k)).collect();
    let dynm = dyn_baseline::DynCard::from_tensors(&tensors, 32, 16);
    let xs: [[f32; 32]; 50] = core::array::from_fn(input);
    let dxs: Vec<DVector<f32>> = xs.iter().map(|x| DVector::from_column_slice(x)).collect();

    // Same maths: the three implementations agree before anything is timed.
    let ours = model.forward(&xs);
    let ex = exact.forward(&xs);
    let mut ds = dynm.zero_state();
    for (t, x) in dxs.iter().enumerate() {
        let y = dynm.step(&mut ds, x)[0];
        assert!(
            (y - ex[t][0]).abs() < 1e-5,
            "step {t}: dynamic {y} vs exact {}",
            ex[t][0]
        );
        assert!(
            (y - ours[t][0]).abs() < 1e-4,
            "step {t}: dynamic {y} vs fast {}",
            ours[t][0]
        );
    }

    let mut g = c.benchmark_group("card_step");
    let mut s = Card::zero_state();
    g.bench_function("rnn (fast tanh)", |b| {
        b.iter(|| model.step(&mut s, black_box(&xs[3])))
    });
    let mut s = CardExact::zero_state();
    g.bench_function("rnn (exact libm)", |b| {
        b.iter(|| exact.step(&mut s, black_box(&xs[3])))
    });
    let mut s = dynm.zero_state();
    g.bench_function("nalgebra DMatrix", |b| {
        b.iter(|| dynm.step(&mut s, black_box(&dxs[3])))
    });
    g.finish();

    let mut g = c.benchmark_group("card_sequence_50");
    g.bench_function("rnn (fast tanh)", |b| {
        b.iter(|| model.forward(black_box(&xs)))
    });
    g.bench_function("rnn (exact libm)", |b| {
        b.iter(|| exact.forward(black_box(&xs)))
    });
    g.bench_function("nalgebra DMatrix", |b| {
        b.iter(|| dynm.forward_last(black_box(&dxs)))
    });
    g.finish();

    // Many streams: one `step_batch::<B>` call steps B streams; criterion reports the time
    // per stream-step (throughput in elements = streams).
    let mut g = c.benchmark_group("card_step_batch");
    batch::<1>(&mut g, &model, &xs);
    batch::<4>(&mut g, &model, &xs);
    batch::<8>(&mut g, &model, &xs);
    batch::<16>(&mut g, &model, &xs);
    batch::<32>(&mut g, &model, &xs);
    g.finish();
}

fn batch<const B: usize>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    model: &Card,
    xs: &[[f32; 32]; 50],
) {
    let inputs: [[f32; 32]; B] = core::array::from_fn(|b| xs[b % 50]);
    let mut states = [Card::zero_state(); B];
    g.throughput(criterion::Throughput::Elements(B as u64));
    g.bench_function(format!("step_batch B = {B}"), |b| {
        b.iter(|| model.step_batch(&mut states, black_box(&inputs)))
    });
    g.bench_function(format!("step_batch_lanes B = {B}"), |b| {
        b.iter(|| model.step_batch_lanes(&mut states, black_box(&inputs)))
    });
}

/// The card model in integers (`rnn::quant`, post-training quantization of the same weights,
/// calibrated on the bench's inputs) next to the f32 step: what the int8 path costs on x86-64.
fn quantized(c: &mut Criterion) {
    use rnn::quant::{quantize, quantize_input, QCell};
    let model = Card::init(42);
    let xs: Vec<[f32; 32]> = (0..50).map(input).collect();
    let (q, exp) = quantize(&model, &xs).expect("the card model quantizes");
    let xq: [i16; 32] = core::array::from_fn(|j| quantize_input(xs[3][j], exp));
    let mut g = c.benchmark_group("card_step_int8");
    let mut s = Card::zero_state();
    g.bench_function("f32 (fast tanh)", |b| {
        b.iter(|| model.step(&mut s, black_box(&xs[3])))
    });
    let mut qs = q.new_state();
    g.bench_function("int8 weights, int16 activations", |b| {
        b.iter(|| q.step(&mut qs, black_box(&xq)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench, quantized
}
criterion_main!(benches);
