// Over 400 lines: five models declared, exported and checked against RTNeural, the interleaved timing, pinning and the tables, in one bench program.
//! Our generated models side by side with RTNeural (C++, `harness.cpp`), same weights, same
//! inputs, same clock, in one process.
//!
//! For each model: `M::init(42)`, exported in Keras layout ([`Model::export`]) and handed to
//! four RTNeural models: the compile-time `ModelT` and the run-time `Model<float>`, each built
//! with `-march=x86-64` and with `-march=native` (see `build.rs`). Before anything is timed, 200
//! streaming steps of a fixed pseudo-random input must give the same outputs on all five (max
//! abs difference at most 1e-5, else the program stops). Then 7 interleaved rounds (ours,
//! ModelT x86-64, ModelT native, Model x86-64, Model native; again; ...) of `n` streaming steps
//! each over the first 64 of those inputs, cycled, from the zero state, after one warm-up round;
//! each round is timed with the thread's CPU time (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`,
//! the same call on both sides). The thread is pinned to one CPU. The card model also times
//! our `step_batch::<B>` for B = 1, 4, 8, 16, 32 in the same rounds (per stream-step, after
//! checking that batches give the single steps' bits), beside RTNeural's single step.
//!
//! ```text
//! cd peers/rtneural && cargo run --release                      # ours: default codegen (run-time dispatch)
//! cd peers/rtneural && RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native cargo run --release
//! ```
//!
//! Options: `--rounds N` (7), `--steps N` (steps per round of the card model, 1,000,000; the
//! other models scale it by their size), `--model NAME` (repeatable; `card`, `lstm40`, `gru8`,
//! `lstm16x2`, `gru128`; default all), `--check` (the agreement check only), `--cpu K` (pin to
//! CPU K; default: the CPU given by `taskset` if it gives one, else the last allowed CPU).

use std::ffi::{c_int, c_void};
use std::hint::black_box;

use rnn::{rnn_model, Layout, Model, Vector};

rnn_model! {
    /// The card model.
    pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    /// A one-input LSTM (an audio-effect shape).
    pub struct Lstm40 { lstm(1, 40) -> dense(1) }
    /// A tiny GRU.
    pub struct Gru8 { gru(1, 8) -> dense(1) }
    /// Two stacked LSTMs.
    pub struct Lstm16x2 { lstm(1, 16) -> lstm(16) -> dense(1) }
    /// A wide GRU.
    pub struct Gru128 { gru(64, 128) -> dense(10) }
}

type CreateFn =
    unsafe extern "C" fn(c_int, c_int, *const *const f32, *const usize, usize) -> *mut c_void;
type SizeFn = unsafe extern "C" fn(*const c_void) -> c_int;
type ResetFn = unsafe extern "C" fn(*mut c_void);
type ForwardFn = unsafe extern "C" fn(*mut c_void, *const f32, *mut f32);
type TimeFn = unsafe extern "C" fn(*mut c_void, *const f32, usize, usize, *mut f32) -> u64;
type DestroyFn = unsafe extern "C" fn(*mut c_void);

macro_rules! harness {
    ($create:ident, $ins:ident, $outs:ident, $reset:ident, $forward:ident, $time:ident, $destroy:ident) => {
        extern "C" {
            fn $create(
                kind: c_int,
                dynamic: c_int,
                data: *const *const f32,
                numel: *const usize,
                count: usize,
            ) -> *mut c_void;
            fn $ins(m: *const c_void) -> c_int;
            fn $outs(m: *const c_void) -> c_int;
            fn $reset(m: *mut c_void);
            fn $forward(m: *mut c_void, x: *const f32, y: *mut f32);
            fn $time(m: *mut c_void, xs: *const f32, len: usize, n: usize, sink: *mut f32) -> u64;
            fn $destroy(m: *mut c_void);
        }
    };
}
harness!(
    rtn_x86_64_create,
    rtn_x86_64_input_size,
    rtn_x86_64_output_size,
    rtn_x86_64_reset,
    rtn_x86_64_forward,
    rtn_x86_64_time,
    rtn_x86_64_destroy
);
harness!(
    rtn_native_create,
    rtn_native_input_size,
    rtn_native_output_size,
    rtn_native_reset,
    rtn_native_forward,
    rtn_native_time,
    rtn_native_destroy
);

/// One build of the harness.
#[derive(Clone, Copy)]
struct Build {
    name: &'static str,
    flags: &'static str,
    create: CreateFn,
    input_size: SizeFn,
    output_size: SizeFn,
    reset: ResetFn,
    forward: ForwardFn,
    time: TimeFn,
    destroy: DestroyFn,
}

const X86_64: Build = Build {
    name: "x86-64",
    flags: env!("RTNEURAL_CXXFLAGS_X86_64"),
    create: rtn_x86_64_create,
    input_size: rtn_x86_64_input_size,
    output_size: rtn_x86_64_output_size,
    reset: rtn_x86_64_reset,
    forward: rtn_x86_64_forward,
    time: rtn_x86_64_time,
    destroy: rtn_x86_64_destroy,
};

const NATIVE: Build = Build {
    name: "native",
    flags: env!("RTNEURAL_CXXFLAGS_NATIVE"),
    create: rtn_native_create,
    input_size: rtn_native_input_size,
    output_size: rtn_native_output_size,
    reset: rtn_native_reset,
    forward: rtn_native_forward,
    time: rtn_native_time,
    destroy: rtn_native_destroy,
};

/// One RTNeural model (owned; destroyed on drop).
struct Peer {
    build: Build,
    dynamic: bool,
    ptr: *mut c_void,
    input: usize,
    output: usize,
}

impl Peer {
    fn new(build: Build, dynamic: bool, kind: c_int, tensors: &[Tensor]) -> Peer {
        let data: Vec<*const f32> = tensors.iter().map(|t| t.data.as_ptr()).collect();
        let numel: Vec<usize> = tensors.iter().map(|t| t.data.len()).collect();
        // SAFETY: the pointers and counts describe live slices for the call; the harness copies
        // the weights.
        let ptr = unsafe {
            (build.create)(
                kind,
                dynamic as c_int,
                data.as_ptr(),
                numel.as_ptr(),
                data.len(),
            )
        };
        assert!(
            !ptr.is_null(),
            "RTNeural {} {} refused the tensors of model kind {kind} (count or sizes)",
            if dynamic { "Model<float>" } else { "ModelT" },
            build.name
        );
        // SAFETY: `ptr` is a live model.
        let (input, output) = unsafe {
            (
                (build.input_size)(ptr) as usize,
                (build.output_size)(ptr) as usize,
            )
        };
        Peer {
            build,
            dynamic,
            ptr,
            input,
            output,
        }
    }

    fn label(&self) -> String {
        format!(
            "RTNeural {}, {}",
            if self.dynamic {
                "`Model<float>`"
            } else {
                "`ModelT`"
            },
            self.build.name
        )
    }

    fn reset(&mut self) {
        // SAFETY: live model.
        unsafe { (self.build.reset)(self.ptr) }
    }

    fn forward(&mut self, x: &[f32], y: &mut [f32]) {
        assert_eq!((x.len(), y.len()), (self.input, self.output));
        // SAFETY: live model; `x` and `y` have the model's widths (checked).
        unsafe { (self.build.forward)(self.ptr, x.as_ptr(), y.as_mut_ptr()) }
    }

    /// Thread CPU ns of `n` steps over `xs` (row-major `[len, input]`), from the zero state.
    fn time(&mut self, xs: &[f32], n: usize) -> u64 {
        assert_eq!(xs.len() % self.input, 0);
        let mut sink = 0.0f32;
        // SAFETY: live model; `xs` holds `len` inputs of the model's width.
        let ns = unsafe {
            (self.build.time)(self.ptr, xs.as_ptr(), xs.len() / self.input, n, &mut sink)
        };
        black_box(sink);
        ns
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SAFETY: created by `create`, destroyed once.
        unsafe { (self.build.destroy)(self.ptr) }
    }
}

/// An exported tensor.
struct Tensor {
    name: String,
    shape: Vec<usize>,
    data: Vec<f32>,
}

fn export<M: Model<Scalar = f32>>(model: &M) -> Vec<Tensor> {
    let mut out = Vec::new();
    let mut sink = |name: rnn::TensorName, shape: rnn::Shape, at: &dyn Fn(usize) -> f32| {
        out.push(Tensor {
            name: name.as_str().to_string(),
            shape: shape.dims().to_vec(),
            data: (0..shape.numel()).map(at).collect(),
        });
    };
    model
        .export(Layout::Keras, &mut sink)
        .expect("export in Keras layout");
    out
}

fn thread_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Thread CPU ns of `n` streaming steps of ours over `xs` (cycled), from the zero state: the
/// same loop as `timed_loop` in `harness.cpp`.
#[inline(never)]
fn time_ours<M: Model<Scalar = f32>>(model: &M, xs: &[M::Input], n: usize) -> u64
where
    M::Chain: rnn::Streams,
{
    let mut state = M::zero_state();
    let mut acc = 0.0f32;
    let mut j = 0;
    let t0 = thread_ns();
    for _ in 0..n {
        let y = model.step(&mut state, &xs[j]);
        acc += y.as_ref()[0];
        j += 1;
        if j == xs.len() {
            j = 0;
        }
    }
    black_box(acc);
    black_box(&mut state);
    let t1 = thread_ns();
    t1 - t0
}

/// `n` stream-steps of ours through `step_batch::<B>` (`n / B` calls, `B` streams each; stream
/// `b` reads the inputs from `b` on), after checking that a batch gives the single steps' bits.
fn time_ours_batch<M: Model<Scalar = f32>, const B: usize>(
    model: &M,
    xs: &[M::Input],
    n: usize,
) -> u64
where
    M::Chain: rnn::Streams,
{
    let mut states = [M::zero_state(); B];
    let batches: Vec<[M::Input; B]> = (0..xs.len())
        .map(|j| core::array::from_fn(|b| xs[(j + b) % xs.len()]))
        .collect();
    let mut acc = 0.0f32;
    let mut j = 0;
    let t0 = thread_ns();
    for _ in 0..(n / B).max(1) {
        let y = model.step_batch(&mut states, &batches[j]);
        acc += y[B - 1].as_ref()[0];
        j += 1;
        if j == batches.len() {
            j = 0;
        }
    }
    black_box(acc);
    black_box(&mut states);
    let t1 = thread_ns();
    (t1 - t0) * n as u64 / ((n / B).max(1) * B) as u64
}

/// Checks that `step_batch::<B>` gives the single-stream steps' bits on these inputs.
fn check_batch<M: Model<Scalar = f32>, const B: usize>(model: &M, xs: &[M::Input])
where
    M::Chain: rnn::Streams,
{
    let mut states = [M::zero_state(); B];
    let mut single = [M::zero_state(); B];
    for j in 0..xs.len() {
        let batch: [M::Input; B] = core::array::from_fn(|b| xs[(j + b) % xs.len()]);
        let y = model.step_batch(&mut states, &batch);
        for b in 0..B {
            let want = model.step(&mut single[b], &batch[b]);
            assert!(
                y[b].as_ref()
                    .iter()
                    .zip(want.as_ref())
                    .all(|(p, q)| p.to_bits() == q.to_bits()),
                "step_batch::<{B}> differs from single steps at input {j}, stream {b}"
            );
        }
    }
}

/// xorshift32, uniform in [-1, 1).
struct Inputs(u32);
impl Inputs {
    fn next(&mut self) -> f32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        (x >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    }
}

/// Pins this thread to one CPU: `want`, else the only CPU allowed (`taskset -c K`), else the
/// last allowed one. Returns a description.
fn pin(want: Option<usize>) -> String {
    // SAFETY: plain libc calls on a zeroed cpu_set_t of the right size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return "not pinned (sched_getaffinity failed)".into();
        }
        let allowed: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect();
        let cpu = match want {
            Some(c) => c,
            None if allowed.len() == 1 => {
                return format!("pinned by the caller to CPU {}", allowed[0])
            }
            None => *allowed.last().expect("some CPU allowed"),
        };
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one) != 0 {
            return format!(
                "not pinned (sched_setaffinity to CPU {cpu} failed; allowed {allowed:?})"
            );
        }
        format!("pinned to CPU {cpu} (allowed {allowed:?})")
    }
}

struct Options {
    rounds: usize,
    steps: usize,
    models: Vec<String>,
    check_only: bool,
    cpu: Option<usize>,
}

fn options() -> Options {
    let mut o = Options {
        rounds: 7,
        steps: 1_000_000,
        models: Vec::new(),
        check_only: false,
        cpu: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value =
            |what: &str| -> String { args.next().unwrap_or_else(|| panic!("{a} needs {what}")) };
        match a.as_str() {
            "--rounds" => o.rounds = value("a number").parse().expect("--rounds N"),
            "--steps" => o.steps = value("a number").parse().expect("--steps N"),
            "--model" => o.models.push(value("a model name")),
            "--cpu" => o.cpu = Some(value("a CPU number").parse().expect("--cpu K")),
            "--check" => o.check_only = true,
            _ => panic!("unknown option {a:?}; see the top of src/main.rs"),
        }
    }
    assert!(o.rounds >= 1 && o.steps >= 1);
    o
}

const CHECK_STEPS: usize = 200;
const TIMED_INPUTS: usize = 64;
const TOLERANCE: f32 = 1e-5;

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Checks, then times, one model. `kind` is the harness's number for it, `scale` divides the
/// card model's steps per round.
fn run<M: Model<Scalar = f32>>(title: &str, kind: c_int, scale: usize, o: &Options)
where
    M::Chain: rnn::Streams,
{
    println!("\n### `{title}` ({} parameters)\n", M::PARAM_COUNT);
    let model = M::init(42);
    let tensors = export(&model);
    let shapes: Vec<String> = tensors
        .iter()
        .map(|t| format!("`{}` {:?}", t.name, t.shape))
        .collect();
    println!("Exported (Keras layout): {}.\n", shapes.join(", "));

    let mut peers: Vec<Peer> = [
        (X86_64, false),
        (NATIVE, false),
        (X86_64, true),
        (NATIVE, true),
    ]
    .into_iter()
    .map(|(b, d)| Peer::new(b, d, kind, &tensors))
    .collect();
    for p in &peers {
        assert_eq!(
            (p.input, p.output),
            (M::INPUT, M::OUTPUT),
            "{}: widths",
            p.label()
        );
    }

    // The same function: CHECK_STEPS streaming steps from the zero state.
    let mut rng = Inputs(0x9E37_79B9);
    let xs: Vec<M::Input> = (0..CHECK_STEPS)
        .map(|_| {
            let mut x = M::Input::zeros();
            x.as_mut().iter_mut().for_each(|v| *v = rng.next());
            x
        })
        .collect();
    let mut state = M::zero_state();
    let ours: Vec<M::Output> = xs.iter().map(|x| model.step(&mut state, x)).collect();
    let mut worst = 0.0f32;
    for p in &mut peers {
        p.reset();
        let mut y = vec![0.0f32; M::OUTPUT];
        let mut diff = 0.0f32;
        for (x, yo) in xs.iter().zip(&ours) {
            p.forward(x.as_ref(), &mut y);
            for (a, b) in y.iter().zip(yo.as_ref()) {
                let d = (a - b).abs();
                diff = if d.is_nan() {
                    f32::INFINITY
                } else {
                    diff.max(d)
                };
            }
        }
        println!(
            "- {}: max |ours - RTNeural| over {CHECK_STEPS} steps x {} outputs = {diff:.2e}",
            p.label(),
            M::OUTPUT
        );
        worst = worst.max(diff);
    }
    let last = ours[CHECK_STEPS - 1].as_ref();
    println!(
        "- ours at step {}: {:?}",
        CHECK_STEPS - 1,
        &last[..last.len().min(4)]
    );
    assert!(
        worst <= TOLERANCE,
        "`{title}`: outputs disagree (max abs difference {worst:.3e} > {TOLERANCE:e}); timing would be meaningless"
    );
    if o.check_only {
        return;
    }

    // Timing: interleaved rounds, after a warm-up round.
    let n = (o.steps / scale).max(1);
    let seq = &xs[..TIMED_INPUTS];
    let flat: Vec<f32> = seq
        .iter()
        .flat_map(|x| x.as_ref().iter().copied())
        .collect();
    // The card model also runs batched (`step_batch::<B>`, per stream-step), beside RTNeural's
    // single step, which B streams would call B times.
    let batched = kind == 0;
    if batched {
        check_batch::<M, 4>(&model, &xs);
        check_batch::<M, 8>(&model, &xs);
        check_batch::<M, 32>(&model, &xs);
    }
    let mut names: Vec<String> = std::iter::once("**rnn** (ours)".to_string())
        .chain(peers.iter().map(Peer::label))
        .collect();
    if batched {
        for b in [1, 4, 8, 16, 32] {
            names.push(format!("ours, `step_batch::<{b}>`, per stream-step"));
        }
    }
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for round in 0..=o.rounds {
        let n_round = if round == 0 { (n / 10).max(1) } else { n };
        let mut t = vec![time_ours(&model, seq, n_round)];
        for p in &mut peers {
            t.push(p.time(&flat, n_round));
        }
        if batched {
            t.push(time_ours_batch::<M, 1>(&model, seq, n_round));
            t.push(time_ours_batch::<M, 4>(&model, seq, n_round));
            t.push(time_ours_batch::<M, 8>(&model, seq, n_round));
            t.push(time_ours_batch::<M, 16>(&model, seq, n_round));
            t.push(time_ours_batch::<M, 32>(&model, seq, n_round));
        }
        if round > 0 {
            for (v, ti) in ns.iter_mut().zip(&t) {
                v.push(*ti as f64 / n as f64);
            }
        }
    }
    let med: Vec<f64> = ns.iter().map(|v| median(v)).collect();
    println!(
        "\n{} rounds of {n} steps each (after a warm-up round of {}), interleaved; ns per step:\n",
        o.rounds,
        (n / 10).max(1)
    );
    println!("| implementation | median ns/step | min | max | ours / this (medians) | ours / this (median of per-round ratios) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (i, name) in names.iter().enumerate() {
        let (mn, mx) = ns[i]
            .iter()
            .fold((f64::MAX, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        let ratios: Vec<f64> = ns[0].iter().zip(&ns[i]).map(|(a, b)| a / b).collect();
        let (r1, r2) = if i == 0 {
            ("".to_string(), "".to_string())
        } else {
            (
                format!("{:.2}", med[0] / med[i]),
                format!("{:.2}", median(&ratios)),
            )
        };
        println!(
            "| {name} | {:.1} | {mn:.1} | {mx:.1} | {r1} | {r2} |",
            med[i]
        );
    }
}

fn main() {
    let o = options();
    let pinned = pin(o.cpu);
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model_name = cpu
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("?");
    let flags: Vec<&str> = cpu
        .lines()
        .find(|l| l.starts_with("flags"))
        .map(|l| {
            l.split_whitespace()
                .filter(|f| ["avx2", "avx512f", "fma"].contains(f))
                .collect()
        })
        .unwrap_or_default();
    println!("CPU: {model_name} (flags: {}); {pinned}", flags.join(", "));
    println!(
        "Ours: built with RUSTFLAGS={:?} (codegen: {})",
        option_env!("RTNEURAL_BENCH_RUSTFLAGS").unwrap_or(""),
        if cfg!(target_feature = "avx2") {
            "AVX2 at compile time"
        } else {
            "baseline x86-64, AVX2/AVX-512F dispatched at run time"
        }
    );
    println!("RTNeural x86-64: {}", X86_64.flags);
    println!("RTNeural native: {}", NATIVE.flags);

    let all = o.models.is_empty();
    let want = |m: &str| all || o.models.iter().any(|x| x == m);
    for m in &o.models {
        assert!(
            ["card", "lstm40", "gru8", "lstm16x2", "gru128"].contains(&m.as_str()),
            "unknown model {m:?}"
        );
    }
    if want("card") {
        run::<Card>("lstm(32, 16) -> gru(16) -> dense(1)", 0, 1, &o);
    }
    if want("lstm40") {
        run::<Lstm40>("lstm(1, 40) -> dense(1)", 1, 1, &o);
    }
    if want("gru8") {
        run::<Gru8>("gru(1, 8) -> dense(1)", 2, 1, &o);
    }
    if want("lstm16x2") {
        run::<Lstm16x2>("lstm(1, 16) -> lstm(16) -> dense(1)", 3, 1, &o);
    }
    if want("gru128") {
        run::<Gru128>("gru(64, 128) -> dense(10)", 4, 10, &o);
    }
}
