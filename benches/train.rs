//! Training throughput: BPTT over T = 50, batch 32, Adam, on the card model with one input
//! (`lstm(1, 16) -> gru(16) -> dense(1)`), in sequences per second: one thread, and all cores.
//! PyTorch's figure on the same machine comes from `benches/torch_train.py`.
//!
//! `cargo bench --bench train`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rnn::loss::{Loss, Steps};
use rnn::optim::Adam;
use rnn::train::{fit, Dataset, FitConfig};
use rnn::{rnn_model, Rng};

rnn_model! {
    /// The forecasting card model.
    pub struct Card { lstm(1, 16) -> gru(16) -> dense(1) }
}

fn bench(c: &mut Criterion) {
    let n = 1024;
    let mut raw = vec![0.0f32; n * 51];
    rnn::data::generate_time_series(&mut Rng::new(1), n, 51, &mut raw);
    let xs: Vec<[[f32; 1]; 50]> = raw
        .chunks(51)
        .map(|s| core::array::from_fn(|t| [s[t]]))
        .collect();
    let ys: Vec<[f32; 1]> = raw.chunks(51).map(|s| [s[50]]).collect();
    let data = Dataset::<Card, 50> {
        inputs: &xs,
        targets: &ys,
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut g = c.benchmark_group("train_bptt50_batch32_adam");
    g.throughput(Throughput::Elements(n as u64));
    for threads in [1, cores] {
        let mut model = Card::init(3);
        let mut opt = Adam::new(1e-3);
        let cfg = FitConfig {
            epochs: 1,
            batch_size: 32,
            steps: Steps::Last,
            loss: Loss::Mse,
            threads,
            verbose: false,
            ..FitConfig::default()
        };
        g.bench_function(format!("{threads} thread(s), 1024 sequences"), |b| {
            b.iter(|| fit(&mut model, &mut opt, data, None, &cfg).unwrap())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
