//! Large models never sit on the stack: `rnn::boxed` builds models, tapes, transposed weights
//! and optimizers in place on the heap (the same values as the stack constructors, bit for
//! bit), and `fit`/`evaluate` keep everything model-sized on the heap, so they run on threads
//! with small stacks. A declared model beyond 1 GiB is a compile error (tests/ui).

use rnn::loss::{Loss, Steps};
use rnn::train::{evaluate, fit, Dataset, FitConfig};
use rnn::{boxed, rnn_model, Model, Rng};

rnn_model! {
    struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    struct Mixed { scalar = f64; rnn(3, 5, activation = relu) -> gru(4, reset_after = false) -> dense(3, activation = softmax) }
    struct Big { lstm(512, 512) -> dense(1) }
    struct Wide { lstm(256, 256) -> dense(1) }
    struct Long { lstm(32, 16) -> gru(16) -> dense(1) }
}

/// Runs `f` on a thread with a 2 MiB stack (Rust's default for spawned threads).
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .expect("the thread overflowed its stack or panicked");
}

fn same<M: Model>(a: &M, b: &M, what: &str)
where
    M::Scalar: PartialEq + std::fmt::Debug,
{
    for k in 0..M::TENSORS {
        assert_eq!(a.tensor(k), b.tensor(k), "{what}: tensor {k}");
    }
}

#[test]
fn boxed_constructors_equal_the_stack_ones_bit_for_bit() {
    same(&*boxed::init::<Card>(7), &Card::init(7), "card init");
    same(&*boxed::zeros::<Card>(), &Card::zeros(), "card zeros");
    same(&*boxed::init::<Mixed>(3), &Mixed::init(3), "mixed init");
    let m = Mixed::init(5);
    let t = boxed::transposed(&m);
    let u = m.transposed();
    let (a, b): (&[u8], &[u8]) = unsafe {
        (
            std::slice::from_raw_parts(&*t as *const _ as *const u8, std::mem::size_of_val(&*t)),
            std::slice::from_raw_parts(&u as *const _ as *const u8, std::mem::size_of_val(&u)),
        )
    };
    assert_eq!(a, b, "transposed weights");
    // Same outputs, so the activations were set in place too.
    let xs = [[0.5, -1.0, 2.0]; 4];
    assert_eq!(
        boxed::init::<Mixed>(3).forward(&xs),
        Mixed::init(3).forward(&xs)
    );
}

#[test]
fn an_lstm_of_512_units_builds_and_runs_on_a_small_stack() {
    on_small_stack(|| {
        assert_eq!(Big::PARAM_COUNT, 4 * 512 * (512 + 512 + 1) + 512 + 1);
        let m = boxed::init::<Big>(1);
        let mut s = Big::zero_state();
        let y = m.step(&mut s, &[0.1; 512]);
        assert!(y[0].is_finite());
        let a = boxed::adam::<Big>(1e-3);
        assert_eq!(rnn::optim::Optimizer::<Big>::learning_rate(&*a), 1e-3);
    });
}

#[test]
fn fit_and_evaluate_of_an_lstm_of_256_units_on_a_small_stack() {
    on_small_stack(|| {
        let mut rng = Rng::new(3);
        let xs: Vec<[[f32; 256]; 3]> = (0..8)
            .map(|_| {
                [[0.0; 256]; 3].map(|r: [f32; 256]| r.map(|_| rng.uniform_in(-1.0, 1.0) as f32))
            })
            .collect();
        let ys: Vec<[f32; 1]> = (0..8).map(|i| [i as f32 / 8.0]).collect();
        let set = Dataset::<Wide, 3> {
            inputs: &xs,
            targets: &ys,
        };
        let mut m = boxed::init::<Wide>(2);
        let mut opt = boxed::adam::<Wide>(1e-3);
        let cfg = FitConfig {
            epochs: 2,
            batch_size: 4,
            threads: 2,
            verbose: false,
            ..FitConfig::default()
        };
        let before = evaluate(&*m, set, Steps::Last, Loss::Mse, 1).unwrap();
        let h = fit(&mut *m, &mut *opt, set, Some(set), &cfg).unwrap();
        assert_eq!(h.loss.len(), 2);
        assert!(h.val_loss[1].is_finite() && before.is_finite());
    });
}

#[test]
fn evaluate_with_a_3000_step_tape_on_a_small_stack() {
    on_small_stack(|| {
        // A tape of 3,000 steps of the card model is ~3 MB, more than the thread's stack.
        assert!(std::mem::size_of::<rnn::Tape<Long, 3000>>() > 2 << 20);
        let xs: Vec<[[f32; 32]; 3000]> = vec![[[0.01; 32]; 3000]; 2];
        let ys = vec![[0.5f32]; 2];
        let set = Dataset::<Long, 3000> {
            inputs: &xs,
            targets: &ys,
        };
        let l = evaluate(&Long::init(1), set, Steps::Last, Loss::Mse, 1).unwrap();
        assert!(l.is_finite());
    });
}
