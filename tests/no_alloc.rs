//! No heap in the core: a counting global allocator shows that streaming steps, whole-sequence
//! forward, forward-with-tape, BPTT, losses, every optimizer step and data windows allocate
//! nothing. (The firmware build proves the same on the device: it has no allocator at all.)

use rnn::data::{window, windows, Batches};
use rnn::loss::{accumulate, Loss, Steps};
use rnn::optim::{Adam, Clip, Optimizer, RmsProp, Sgd};
use rnn::{rnn_model, Model, Rng, Tape};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if ARMED.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns how many heap allocations it made on this thread.
fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    let r = std::hint::black_box(f());
    ARMED.with(|a| a.set(false));
    (r, COUNT.with(Cell::get))
}

rnn_model! {
    /// The card model.
    pub struct Card {
        lstm(32, 16) -> gru(16) -> dense(1)
    }
    /// The forecasting model.
    pub struct Forecast {
        lstm(1, 16) -> gru(16) -> dense(1)
    }
    /// Every other layer kind.
    pub struct Others {
        scalar = f64;
        rnn(3, 8, activation = relu) -> gru(8, reset_after = false) -> rnn(6) -> dense(4, activation = softmax)
    }
    /// Peepholes, layer normalization, PyTorch's two biases.
    pub struct Newer {
        scalar = f64;
        params = pytorch;
        lstm(3, 6, peephole = true) -> ln_rnn(5) -> layer_norm(5) -> rnn(4) -> dense(4, activation = softmax)
    }
    /// Dropout.
    pub struct Dropped {
        lstm(1, 16) -> dropout(0.3) -> gru(16) -> dropout(0.2) -> dense(1)
    }
    /// Tokens in.
    pub struct Tokens {
        embedding(50, 8) -> bidirectional(gru(6)) -> dense(3, activation = softmax)
    }
    /// A whole-sequence layer.
    pub struct Bi {
        scalar = f64;
        bidirectional(gru(3, 5)) -> bidirectional(lstm(4), merge = ave) -> dense(4, activation = softmax)
    }
}

#[test]
fn bidirectional_allocates_nothing() {
    let (model, xs, _) = trains_without_allocating::<Bi>();
    let (ys, n) = allocations(|| model.forward(&xs));
    assert!(ys[11][0].is_finite());
    assert_eq!(n, 0, "forward");
}

/// A three-input, four-class model trained on one sequence (loss, backward) with no
/// allocation; returns it, the sequence and the gradients.
fn trains_without_allocating<M: Model<Scalar = f64, Input = [f64; 3], Output = [f64; 4]>>(
) -> (M, [[f64; 3]; 12], M) {
    let model = M::init(3);
    let mut grads = M::zeros();
    let xs = [[0.1f64, -0.2, 0.3]; 12];
    let targets = [[0.0, 1.0, 0.0, 0.0]; 4];
    let mut tape = Tape::<M, 12>::new();
    let mut dys = [[0.0f64; 4]; 12];
    let (_, n) = allocations(|| {
        accumulate(
            &model,
            &xs,
            &targets,
            Steps::LastK(4),
            Loss::CategoricalCrossentropy,
            0.5,
            &mut tape,
            &mut dys,
            &mut grads,
        )
    });
    assert_eq!(n, 0, "training");
    (model, xs, grads)
}

#[test]
fn the_counter_sees_allocations() {
    let (_, n) = allocations(|| vec![1u8; 10]);
    assert_eq!(n, 1, "the counting allocator must see a Vec");
}

#[test]
fn inference_allocates_nothing() {
    let model = Card::init(1);
    let xs = [[0.25f32; 32]; 50];
    let mut state = Card::zero_state();
    let (y, n) = allocations(|| model.step(&mut state, &xs[0]));
    assert!(y[0].is_finite());
    assert_eq!(n, 0, "step");
    let (ys, n) = allocations(|| model.forward(&xs));
    assert!(ys[49][0].is_finite());
    assert_eq!(n, 0, "forward");
    let (_, n) = allocations(|| model.forward_last(&xs));
    assert_eq!(n, 0, "forward_last");
    let mut states = [Card::zero_state(); 32];
    let batch = [[0.25f32; 32]; 32];
    let (ys, n) = allocations(|| model.step_batch(&mut states, &batch));
    assert!(ys[31][0].is_finite());
    assert_eq!(n, 0, "step_batch");
    let (ys, n) = allocations(|| model.step_batch_lanes(&mut states, &batch));
    assert!(ys[31][0].is_finite());
    assert_eq!(n, 0, "step_batch_lanes");
    let mut states = [Others::zero_state(); 13];
    let model = Others::init(3);
    let (ys, n) = allocations(|| model.step_batch(&mut states, &[[0.5f64; 3]; 13]));
    assert!(ys[12][0].is_finite());
    assert_eq!(n, 0, "step_batch, every other layer kind");
    let (ys, n) = allocations(|| model.step_batch_lanes(&mut states, &[[0.5f64; 3]; 13]));
    assert!(ys[12][0].is_finite());
    assert_eq!(n, 0, "step_batch_lanes, every other layer kind");
}

#[test]
fn training_allocates_nothing() {
    let model = Forecast::init(2);
    let mut grads = Forecast::zeros();
    let xs: [[f32; 1]; 50] = core::array::from_fn(|t| [(t as f32 * 0.2).sin()]);
    let target = [[0.5f32]];
    let mut tape = Box::new(Tape::<Forecast, 50>::new());
    let mut dys = [[0.0f32; 1]; 50];
    let (l, n) = allocations(|| {
        accumulate(
            &model,
            &xs,
            &target,
            Steps::Last,
            Loss::Mse,
            1.0,
            &mut tape,
            &mut dys,
            &mut grads,
        )
    });
    assert!(l > 0.0);
    assert_eq!(n, 0, "forward_train + loss + backward");
    let (_, n) = allocations(|| model.forward_train(&xs, &mut tape).len());
    assert_eq!(n, 0, "forward_train");
    let (_, n) = allocations(|| model.backward(&tape, &dys, false, &mut grads, None));
    assert_eq!(n, 0, "backward");

    let mut params = model;
    let mut adam = Adam::new(1e-3).clip(Clip {
        global_clipnorm: Some(1.0),
        ..Clip::default()
    });
    let mut sgd = Sgd::new(1e-2).momentum(0.9, true);
    let mut rms = RmsProp::new(1e-3).clip(Clip {
        clipnorm: Some(1.0),
        clipvalue: Some(0.5),
        ..Clip::default()
    });
    let (_, n) = allocations(|| {
        adam.step(&mut params, &grads);
        sgd.step(&mut params, &grads);
        rms.step(&mut params, &grads);
        grads.set_zero();
    });
    assert_eq!(n, 0, "optimizer steps");
}

#[test]
fn other_layers_allocate_nothing() {
    other_model_allocates_nothing::<Others>();
    other_model_allocates_nothing::<Newer>();
}

fn other_model_allocates_nothing<M: Model<Scalar = f64, Input = [f64; 3], Output = [f64; 4]>>()
where
    M::Chain: rnn::Streams,
{
    let (model, _, grads) = trains_without_allocating::<M>();
    let mut states = [M::zero_state(); 13];
    let (ys, n) = allocations(|| model.step_batch(&mut states, &[[0.5f64; 3]; 13]));
    assert!(ys[12][0].is_finite());
    assert_eq!(n, 0, "step_batch");
    let (ys, n) = allocations(|| model.step_batch_lanes(&mut states, &[[0.5f64; 3]; 13]));
    assert!(ys[12][0].is_finite());
    assert_eq!(n, 0, "step_batch_lanes");
    let mut params = model;
    let mut adam = Adam::pytorch(1e-3).clip(Clip::grad_norm(1.0));
    let (_, n) = allocations(|| adam.step(&mut params, &grads));
    assert_eq!(n, 0, "PyTorch Adam with clip_grad_norm_");
}

#[test]
fn data_windows_allocate_nothing() {
    let series: Vec<[f32; 1]> = (0..200).map(|i| [i as f32]).collect();
    let mut order = vec![0usize; 150];
    let (s, n) = allocations(|| {
        let mut s = 0.0;
        for (w, y) in windows::<_, 50>(&series, 1) {
            s += w[49][0] + y[0][0];
        }
        s += window::<_, 50>(&series, 3).unwrap()[0][0];
        let mut b = Batches::new(&mut order, 32);
        for batch in b.epoch(&mut Rng::new(1)) {
            s += batch.len() as f32;
        }
        rnn::data::generate_time_series(&mut Rng::new(2), 1, 50, &mut [0.0f32; 50]);
        s
    });
    assert!(s > 0.0);
    assert_eq!(n, 0);
}

#[test]
fn dropout_and_monte_carlo_allocate_nothing() {
    let model = Dropped::init(5);
    let xs: [[f32; 1]; 30] = core::array::from_fn(|t| [(t as f32 * 0.3).sin()]);
    let mut tape = Tape::<Dropped, 30>::new();
    let mut rng = rnn::Rng::new(1);
    let (ys, n) = allocations(|| *model.forward_train_dropout(&xs, &mut tape, &mut rng));
    assert!(ys[29][0].is_finite());
    assert_eq!(n, 0, "forward_train_dropout");
    let ((mean, sd), n) = allocations(|| model.predict_mc(&xs, 20, &mut rng, &mut tape));
    assert!(mean[29][0].is_finite() && sd[29][0] > 0.0);
    assert_eq!(n, 0, "predict_mc");
}

#[test]
fn embedding_allocates_nothing() {
    let model = Tokens::init(6);
    let toks: [u32; 20] = core::array::from_fn(|t| (t * 7 % 50) as u32);
    let (ys, n) = allocations(|| model.forward_tokens(&toks));
    assert!(ys.unwrap()[19][0].is_finite());
    assert_eq!(n, 0, "forward_tokens");
    let (bad, n) = allocations(|| model.forward_tokens(&[50u32; 20]));
    assert!(bad.is_err());
    assert_eq!(n, 0, "a refused token");
    let xs = Tokens::tokens(&toks).unwrap();
    let mut tape = Tape::<Tokens, 20>::new();
    let mut dys = [[0.0f32; 3]; 20];
    let mut grads = Tokens::zeros();
    let (_, n) = allocations(|| {
        accumulate(
            &model,
            &xs,
            &[[0.0, 1.0, 0.0]],
            Steps::Last,
            Loss::CategoricalCrossentropy,
            1.0,
            &mut tape,
            &mut dys,
            &mut grads,
        )
    });
    assert_eq!(n, 0, "training");
}

#[test]
fn ctc_allocates_nothing() {
    use rnn::ctc::{ctc_beam_search, ctc_greedy, ctc_loss};
    let mut rng = rnn::Rng::new(4);
    let z: [[f32; 6]; 30] =
        core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform_in(-2.0, 2.0) as f32));
    let mut g = [[0.0f32; 6]; 30];
    let (l, n) = allocations(|| ctc_loss::<f32, 30, 6, 21>(&z, &[1, 2, 2, 5, 3], 0, Some(&mut g)));
    assert!(l.unwrap().is_finite());
    assert_eq!(n, 0, "ctc_loss");
    let ((_, len), n) = allocations(|| ctc_greedy(&z, 0));
    assert!(len <= 30);
    assert_eq!(n, 0, "ctc_greedy");
    let (beams, n) = allocations(|| ctc_beam_search::<f32, 30, 6, 4, 28>(&z, 0));
    assert!(beams.unwrap()[0].log_prob.is_finite());
    assert_eq!(n, 0, "ctc_beam_search");
    let (beams, n) = allocations(|| rnn::ctc::ctc_beam_search_tf::<f32, 30, 6, 4, 24>(&z, 5));
    assert!(beams.unwrap()[0].log_prob.is_finite());
    assert_eq!(n, 0, "ctc_beam_search_tf");
}

rnn_model! {
    /// An encoder-decoder with attention, f32 as on a device.
    pub struct Translate {
        source_len = 6; target_len = 5; start = 1; end = 0;
        embedding(9, 4) -> lstm(8) => embedding(7, 4) -> lstm(8) -> attention(8) -> dense(7, activation = softmax)
    }
}

#[test]
fn encode_decode_beam_search_and_training_allocate_nothing() {
    use rnn::optim::{Adam, Optimizer};
    let mut m = Translate::init(3);
    let (grads, opt, tape) = (
        Box::new(Translate::zeros()),
        Box::new(Adam::<Translate>::new(0.01)),
        Box::new(TranslateTape::new()),
    );
    let (mut grads, mut opt, mut tape) = (grads, opt, tape);
    let (src, n) = allocations(|| Translate::source(&[3, 1, 4, 1, 5, 8]));
    let src = src.unwrap();
    assert_eq!(n, 0, "source tokens");
    let (state, n) = allocations(|| rnn::seq2seq::encode(&m, &src));
    assert!(state.1[5][0].is_finite());
    assert_eq!(n, 0, "encode");
    let (d, n) = allocations(|| m.translate(&src));
    assert!(d.len <= 5);
    assert_eq!(n, 0, "greedy decoding");
    let mut att = [[0.0f32; 6]; 5];
    let (_, n) = allocations(|| m.translate_with_attention(&src, &mut att));
    assert_eq!(n, 0, "greedy decoding with attention");
    let (b, n) = allocations(|| m.beam_search::<4>(&src, 1.0));
    assert!(b.count > 0);
    assert_eq!(n, 0, "beam search");
    let (l, n) = allocations(|| {
        let l = m.loss_and_grad(&src, &[2, 3, 0, 0, 0], &mut tape, &mut grads);
        opt.step(&mut m, &grads);
        l
    });
    assert!(l.unwrap().is_finite());
    assert_eq!(n, 0, "loss, gradients and an Adam step");
}

#[test]
fn the_integer_step_allocates_nothing() {
    use rnn::quant::{quantize, QCell};
    let card = Card::init(3);
    let calib = [[0.5f32; 32]; 4];
    let (q, _) = quantize(&card, &calib).unwrap();
    let mut s = q.new_state();
    let x = [1234i16; 32];
    let (y, n) = allocations(|| {
        let mut y = [0i32; 1];
        for _ in 0..50 {
            y = q.step(&mut s, &x);
        }
        y
    });
    assert!(y[0] != i32::MIN);
    assert_eq!(n, 0, "50 integer steps");
}
