//! Our generated model against candle-nn's `LSTM`/`GRU` layers, on the card model
//! `lstm(32, 16) -> gru(16) -> dense(1)`, batch 1, f32, CPU: one streaming step, and one
//! 50-step sequence. Both run the same weights (`Card::init(42)`, exported in PyTorch layout
//! into candle's `VarBuilder`), and their 50-step outputs are checked equal (1e-4) before
//! anything is timed. The nalgebra `DMatrix` baseline of `benches/step.rs` runs alongside as a
//! third reference (the same maths with std's exact activations).
//!
//! Group `card_step` and `card_sequence_50`, functions:
//! - `rnn`: our model (fast f32 activations, the default); `rnn_exact`: `math = exact`.
//! - `candle`: candle-nn 0.11 `lstm`/`gru`/`Linear`. For a step: `LSTM::step`, `GRU::step`,
//!   `Linear::forward` on `[1, features]` tensors. For a sequence: the layer-wise idiom,
//!   `lstm.seq([1, 50, 32])`, stack the hidden states, `gru.seq`, stack, one `Linear` over
//!   `[1, 50, 16]`.
//! - `candle_step_loop` (sequence only): 50 streaming steps through all three layers, as `rnn`
//!   does it.
//! - `candle_1thread`, `candle_step_loop_1thread`: the same with `RAYON_NUM_THREADS=1` set by
//!   the bench. Out of the box candle's CPU matmul asks gemm for `Parallelism::Rayon(cores)`,
//!   which for these 1-row products costs thread hand-offs (and is very sensitive to other load
//!   on the machine); our model and the nalgebra baseline are single-threaded.
//! - `nalgebra_dmatrix`: the dynamic baseline (`../benches/dyn_baseline.rs`).
//!
//! Commands (from `peers/`, one build at a time):
//!
//! ```text
//! cargo bench --bench peers -- --warm-up-time 1 --measurement-time 3
//! RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native \
//!     cargo bench --bench peers -- --warm-up-time 1 --measurement-time 3
//! ```

use std::collections::HashMap;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::rnn::{gru, lstm, GRUConfig, GRUState, LSTMConfig, LSTMState, GRU, LSTM, RNN};
use candle_nn::{Linear, VarBuilder};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nalgebra::DVector;
use rnn::{rnn_model, Layout, Model};

#[path = "../../benches/dyn_baseline.rs"]
mod dyn_baseline;

rnn_model! {
    /// The card model (fast f32 activations, the default).
    pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    /// The same with libm's exact activations.
    pub struct CardExact { math = exact; lstm(32, 16) -> gru(16) -> dense(1) }
}

const T: usize = 50;

fn input(t: usize) -> [f32; 32] {
    core::array::from_fn(|j| ((t * 7 + j * 3) % 17) as f32 / 8.5 - 1.0)
}

/// The card model in candle-nn.
struct CandleCard {
    lstm: LSTM,
    gru: GRU,
    dense: Linear,
}

type CandleState = (LSTMState, GRUState);

impl CandleCard {
    /// Our weights, exported layer by layer in PyTorch layout (`lstm.weight_ih_l0 [64, 32]`,
    /// gates i,f,g,o; `gru.weight_ih_l0 [48, 16]`, gates r,z,n; `dense.weight [1, 16]`), loaded
    /// through candle's `VarBuilder`.
    fn from_model(model: &Card, dev: &Device) -> Self {
        let mut map: HashMap<String, Tensor> = HashMap::new();
        let mut sink = |name: rnn::TensorName, shape: rnn::Shape, at: &dyn Fn(usize) -> f32| {
            let data: Vec<f32> = (0..shape.numel()).map(at).collect();
            let t = Tensor::from_vec(data, shape.dims(), dev).expect("tensor");
            map.insert(name.as_str().to_string(), t);
        };
        for (l, prefix) in ["lstm.", "gru.", "dense."].into_iter().enumerate() {
            model
                .export_layer(l, Layout::PyTorch, prefix, "_l0", &mut sink)
                .expect("export in PyTorch layout");
        }
        let mut names: Vec<_> = map
            .iter()
            .map(|(k, v)| format!("{k} {:?}", v.dims()))
            .collect();
        names.sort();
        eprintln!("candle tensors: {}", names.join(", "));
        let vb = VarBuilder::from_tensors(map, DType::F32, dev);
        CandleCard {
            lstm: lstm(32, 16, LSTMConfig::default(), vb.pp("lstm")).expect("lstm"),
            gru: gru(16, 16, GRUConfig::default(), vb.pp("gru")).expect("gru"),
            dense: candle_nn::linear(16, 1, vb.pp("dense")).expect("dense"),
        }
    }

    fn zero_state(&self) -> CandleState {
        (
            self.lstm.zero_state(1).expect("zero"),
            self.gru.zero_state(1).expect("zero"),
        )
    }

    /// One streaming step: `x [1, 32]` -> `y [1, 1]`.
    fn step(&self, s: &mut CandleState, x: &Tensor) -> candle_core::Result<Tensor> {
        let s1 = self.lstm.step(x, &s.0)?;
        let s2 = self.gru.step(&s1.h, &s.1)?;
        let y = self.dense.forward(&s2.h)?;
        *s = (s1, s2);
        Ok(y)
    }

    /// A whole sequence, layer by layer: `xs [1, T, 32]` -> `ys [1, T, 1]`.
    ///
    /// The hidden states are stacked by hand (`Tensor::stack(.., 1)`): `LSTM::states_to_tensor`
    /// does that, but `GRU::states_to_tensor` concatenates along dim 1 (`[1, T*16]`), so it is
    /// used for neither, to treat both layers the same.
    fn sequence(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let hs: Vec<Tensor> = self.lstm.seq(xs)?.into_iter().map(|s| s.h).collect();
        let h1 = Tensor::stack(&hs, 1)?;
        let hs: Vec<Tensor> = self.gru.seq(&h1)?.into_iter().map(|s| s.h).collect();
        let h2 = Tensor::stack(&hs, 1)?;
        self.dense.forward(&h2)
    }

    /// A whole sequence as `T` streaming steps through all layers: `ys` of `[1, 1]`.
    fn step_loop(&self, xs: &[Tensor]) -> candle_core::Result<Vec<Tensor>> {
        let mut s = self.zero_state();
        xs.iter().map(|x| self.step(&mut s, x)).collect()
    }
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("to_vec")
}

/// candle's CPU matmul reads `RAYON_NUM_THREADS` at every call (all cores when unset) and hands
/// gemm `Parallelism::Rayon(n)` when `n > 1`. `one`: force one thread; else restore the
/// caller's setting (`env`).
fn candle_threads(one: bool, env: &Option<String>) {
    match (one, env) {
        (true, _) => std::env::set_var("RAYON_NUM_THREADS", "1"),
        (false, Some(v)) => std::env::set_var("RAYON_NUM_THREADS", v),
        (false, None) => std::env::remove_var("RAYON_NUM_THREADS"),
    }
}

fn bench(c: &mut Criterion) {
    let env_threads = std::env::var("RAYON_NUM_THREADS").ok();
    eprintln!(
        "RAYON_NUM_THREADS={env_threads:?}, available parallelism {:?}",
        std::thread::available_parallelism().map(|n| n.get())
    );
    let dev = Device::Cpu;
    let model = Card::init(42);
    let mut exact = CardExact::zeros();
    for k in 0..Card::TENSORS {
        exact.tensor_mut(k).copy_from_slice(model.tensor(k));
    }
    let tensors: Vec<&[f32]> = (0..Card::TENSORS).map(|k| model.tensor(k)).collect();
    let dynm = dyn_baseline::DynCard::from_tensors(&tensors, 32, 16);
    let cdl = CandleCard::from_model(&model, &dev);

    let xs: [[f32; 32]; T] = core::array::from_fn(input);
    let dxs: Vec<DVector<f32>> = xs.iter().map(|x| DVector::from_column_slice(x)).collect();
    let flat: Vec<f32> = xs.iter().flatten().copied().collect();
    let cxs = Tensor::from_vec(flat, (1, T, 32), &dev).expect("xs");
    let cx_steps: Vec<Tensor> = xs
        .iter()
        .map(|x| Tensor::from_slice(x, (1, 32), &dev).expect("x"))
        .collect();

    // Same maths: every implementation agrees on the 50-step sequence before anything is timed.
    let ours: Vec<f32> = model.forward(&xs).iter().map(|y| y[0]).collect();
    let ours_exact: Vec<f32> = exact.forward(&xs).iter().map(|y| y[0]).collect();
    let mut ds = dynm.zero_state();
    let dynv: Vec<f32> = dxs.iter().map(|x| dynm.step(&mut ds, x)[0]).collect();
    let cseq = to_vec(&cdl.sequence(&cxs).expect("candle sequence"));
    let cloop: Vec<f32> = cdl
        .step_loop(&cx_steps)
        .expect("candle steps")
        .iter()
        .flat_map(to_vec)
        .collect();
    assert_eq!(cseq.len(), T);
    assert_eq!(cloop.len(), T);
    let max_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    eprintln!(
        "outputs t=0,1,49: rnn {:?} | rnn_exact {:?} | candle {:?} | nalgebra {:?}",
        [ours[0], ours[1], ours[T - 1]],
        [ours_exact[0], ours_exact[1], ours_exact[T - 1]],
        [cseq[0], cseq[1], cseq[T - 1]],
        [dynv[0], dynv[1], dynv[T - 1]],
    );
    eprintln!(
        "max |diff| over 50 steps: candle vs rnn {:.2e}, candle vs rnn_exact {:.2e}, \
         candle step loop vs candle seq {:.2e}, candle vs nalgebra {:.2e}",
        max_diff(&cseq, &ours),
        max_diff(&cseq, &ours_exact),
        max_diff(&cloop, &cseq),
        max_diff(&cseq, &dynv),
    );
    for t in 0..T {
        assert!(
            (cseq[t] - ours[t]).abs() < 1e-4,
            "step {t}: candle {} vs rnn {}",
            cseq[t],
            ours[t]
        );
        assert!(
            (cloop[t] - ours[t]).abs() < 1e-4,
            "step {t}: candle step loop {} vs rnn {}",
            cloop[t],
            ours[t]
        );
        assert!(
            (ours_exact[t] - ours[t]).abs() < 1e-4 && (dynv[t] - ours[t]).abs() < 1e-4,
            "step {t}: rnn {} vs rnn_exact {} vs nalgebra {}",
            ours[t],
            ours_exact[t],
            dynv[t]
        );
    }

    let mut g = c.benchmark_group("card_step");
    let mut s = Card::zero_state();
    g.bench_function("rnn", |b| b.iter(|| model.step(&mut s, black_box(&xs[3]))));
    let mut s = CardExact::zero_state();
    g.bench_function("rnn_exact", |b| {
        b.iter(|| exact.step(&mut s, black_box(&xs[3])))
    });
    for (name, one) in [("candle", false), ("candle_1thread", true)] {
        candle_threads(one, &env_threads);
        let mut s = cdl.zero_state();
        g.bench_function(name, |b| {
            b.iter(|| cdl.step(&mut s, black_box(&cx_steps[3])).expect("step"))
        });
    }
    candle_threads(false, &env_threads);
    let mut s = dynm.zero_state();
    g.bench_function("nalgebra_dmatrix", |b| {
        b.iter(|| dynm.step(&mut s, black_box(&dxs[3])))
    });
    g.finish();

    let mut g = c.benchmark_group("card_sequence_50");
    g.bench_function("rnn", |b| b.iter(|| model.forward(black_box(&xs))));
    g.bench_function("rnn_exact", |b| b.iter(|| exact.forward(black_box(&xs))));
    for (suffix, one) in [("", false), ("_1thread", true)] {
        candle_threads(one, &env_threads);
        g.bench_function(format!("candle{suffix}"), |b| {
            b.iter(|| cdl.sequence(black_box(&cxs)).expect("sequence"))
        });
        g.bench_function(format!("candle_step_loop{suffix}"), |b| {
            b.iter(|| cdl.step_loop(black_box(&cx_steps)).expect("steps"))
        });
    }
    candle_threads(false, &env_threads);
    g.bench_function("nalgebra_dmatrix", |b| {
        b.iter(|| dynm.forward_last(black_box(&dxs)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
