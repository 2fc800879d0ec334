//! The training loop (`fit`, `evaluate`), its configuration, errors and history.

use rnn_core::loss::{accumulate_with, sequence_loss, Loss, Steps};
use rnn_core::optim::Optimizer;
use rnn_core::{Model, Real, Rng, Tape};
use std::io::{IsTerminal, Write};

/// How [`fit`] trains.
#[derive(Clone, Copy, Debug)]
pub struct FitConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Sequences per mini-batch; gradients are averaged over the batch.
    pub batch_size: usize,
    /// Which steps the loss sees (and so how many targets each sample has).
    pub steps: Steps,
    /// The loss.
    pub loss: Loss,
    /// Seed of the per-epoch shuffles.
    pub seed: u64,
    /// Stop after this many epochs without a better validation loss, and restore the best
    /// weights when it stops (Keras `EarlyStopping(patience, restore_best_weights=True)`).
    pub patience: Option<usize>,
    /// Worker threads per batch (1 = this thread only; 0 = all cores).
    pub threads: usize,
    /// Print a progress line per epoch (and a live bar on a terminal).
    pub verbose: bool,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 20,
            batch_size: 32,
            steps: Steps::Last,
            loss: Loss::Mse,
            seed: 0,
            patience: None,
            threads: 0,
            verbose: true,
        }
    }
}

/// Why [`fit`] or [`evaluate`] refused its arguments (checked before any work).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrainError {
    /// `batch_size` is zero.
    BatchSize,
    /// `Steps::LastK(k)` with `k == 0` or `k` larger than the sequence length.
    Steps {
        /// The `k` asked for.
        k: usize,
        /// The sequence length `N`.
        steps: usize,
    },
    /// A data set without the right number of targets (`k` per sample).
    Targets {
        /// `"training"`, `"validation"` or `"evaluation"`.
        set: &'static str,
        /// Samples in the set.
        samples: usize,
        /// Targets expected (`samples * k`).
        expected: usize,
        /// Targets given.
        found: usize,
    },
    /// A data set with no samples.
    Empty {
        /// Which set.
        set: &'static str,
    },
}

impl core::fmt::Display for TrainError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TrainError::BatchSize => write!(f, "batch_size must be at least 1"),
            TrainError::Steps { k, steps } => {
                write!(
                    f,
                    "Steps::LastK({k}) needs 1 <= k <= {steps} (the sequence length)"
                )
            }
            TrainError::Targets {
                set,
                samples,
                expected,
                found,
            } => write!(
                f,
                "the {set} set has {samples} samples and {found} targets; expected {expected}"
            ),
            TrainError::Empty { set } => write!(f, "the {set} set is empty"),
        }
    }
}

impl std::error::Error for TrainError {}

fn check_steps(steps: Steps, n: usize) -> Result<usize, TrainError> {
    match steps {
        Steps::LastK(k) if k == 0 || k > n => Err(TrainError::Steps { k, steps: n }),
        s => Ok(s.count(n)),
    }
}

fn check_set<M: Model, const N: usize>(
    set: &'static str,
    d: &Dataset<'_, M, N>,
    k: usize,
) -> Result<(), TrainError> {
    if d.is_empty() {
        return Err(TrainError::Empty { set });
    }
    if d.targets.len() != d.len() * k {
        return Err(TrainError::Targets {
            set,
            samples: d.len(),
            expected: d.len() * k,
            found: d.targets.len(),
        });
    }
    Ok(())
}

/// Per-epoch losses, as Keras's `History.history`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// Mean training loss of each epoch (over its batches, as Keras reports it).
    pub loss: Vec<f64>,
    /// Validation loss after each epoch (empty without validation data).
    pub val_loss: Vec<f64>,
    /// The epoch whose weights were kept (the best validation one with early stopping).
    pub best_epoch: usize,
}

/// A data set of fixed-length sequences and their targets: sample `i` is `inputs[i]` with
/// targets `targets[i * k .. (i + 1) * k]`, `k = steps.count(N)`.
pub struct Dataset<'a, M: Model, const N: usize> {
    /// Input sequences.
    pub inputs: &'a [[M::Input; N]],
    /// Targets, `k` per sample.
    pub targets: &'a [M::Output],
}

impl<M: Model, const N: usize> Clone for Dataset<'_, M, N> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: Model, const N: usize> Copy for Dataset<'_, M, N> {}

impl<M: Model, const N: usize> Dataset<'_, M, N> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }
    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }
}

fn copy_params<M: Model>(dst: &mut M, src: &M) {
    for k in 0..M::TENSORS {
        dst.tensor_mut(k).copy_from_slice(src.tensor(k));
    }
}

fn add_params<M: Model>(dst: &mut M, src: &M) {
    for k in 0..M::TENSORS {
        for (d, s) in dst.tensor_mut(k).iter_mut().zip(src.tensor(k)) {
            *d += *s;
        }
    }
}

/// A worker's scratch: its gradient accumulator, tape and output-gradient buffer.
struct Worker<M: Model, const N: usize> {
    grads: M,
    tape: Box<Tape<M, N>>,
    dys: Box<[M::Output; N]>,
}

impl<M: Model, const N: usize> Worker<M, N> {
    fn new() -> Self {
        Worker {
            grads: M::zeros(),
            tape: Box::new(Tape::new()),
            dys: Box::new([M::zero_output(); N]),
        }
    }
}

fn threads(requested: usize) -> usize {
    if requested == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        requested
    }
}

/// Mean loss of `model` over a data set (as Keras's `evaluate`), spread over `threads`.
pub fn evaluate<M: Model + Sync, const N: usize>(
    model: &M,
    data: Dataset<'_, M, N>,
    steps: Steps,
    loss: Loss,
    threads_req: usize,
) -> Result<f64, TrainError> {
    let k = check_steps(steps, N)?;
    check_set("evaluation", &data, k)?;
    let nt = threads(threads_req).min(data.len().max(1));
    let chunk = data.len().div_ceil(nt).max(1);
    let total: f64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..data.len())
            .step_by(chunk)
            .map(|start| {
                s.spawn(move || {
                    let mut tape = Box::new(Tape::<M, N>::new());
                    let mut dys = Box::new([M::zero_output(); N]);
                    let mut sum = 0.0;
                    for i in start..(start + chunk).min(data.len()) {
                        model.forward_train(&data.inputs[i], &mut tape);
                        let t = &data.targets[i * k..(i + 1) * k];
                        sum += sequence_loss(&tape, t, steps, loss, M::Scalar::ONE, &mut dys)
                            .0
                            .to_f64();
                    }
                    sum
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    Ok(total / data.len() as f64)
}

/// Mini-batch training with validation, early stopping and progress, on all cores.
///
/// Each batch's gradient is the mean over its sequences (computed in parallel: one tape and
/// one gradient accumulator per worker, allocated once per call; the steps themselves
/// allocate nothing), then one optimizer step, as Keras's `fit` with `shuffle=True`. The
/// reported epoch loss is the mean of the batch losses. Arguments are checked first; a bad one
/// is a [`TrainError`].
pub fn fit<M: Model + Sync + Send, O: Optimizer<M>, const N: usize>(
    model: &mut M,
    opt: &mut O,
    train: Dataset<'_, M, N>,
    valid: Option<Dataset<'_, M, N>>,
    cfg: &FitConfig,
) -> Result<History, TrainError> {
    if cfg.batch_size == 0 {
        return Err(TrainError::BatchSize);
    }
    let k = check_steps(cfg.steps, N)?;
    check_set("training", &train, k)?;
    if let Some(v) = &valid {
        check_set("validation", v, k)?;
    }
    let nt = threads(cfg.threads).min(cfg.batch_size).max(1);
    let mut workers: Vec<Worker<M, N>> = (0..nt).map(|_| Worker::new()).collect();
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut rng = Rng::new(cfg.seed);
    let mut hist = History::default();
    let mut best = M::zeros();
    let mut best_val = f64::INFINITY;
    let mut since_best = 0;
    let live = cfg.verbose && std::io::stderr().is_terminal();
    for epoch in 0..cfg.epochs {
        let t0 = std::time::Instant::now();
        rng.shuffle(&mut order);
        let mut epoch_loss = 0.0;
        let n_batches = order.len().div_ceil(cfg.batch_size);
        for (bi, batch) in order.chunks(cfg.batch_size).enumerate() {
            let scale = M::Scalar::from_f64(1.0 / batch.len() as f64);
            let per = batch.len().div_ceil(nt);
            let m: &M = model;
            // The weights are fixed within a batch: transpose them once for every sequence.
            let tr = m.transposed();
            let tr = &tr;
            let run = |w: &mut Worker<M, N>, idx: &[usize]| {
                let mut l = 0.0;
                for &i in idx {
                    let t = &train.targets[i * k..(i + 1) * k];
                    l += accumulate_with(
                        m,
                        tr,
                        &train.inputs[i],
                        t,
                        cfg.steps,
                        cfg.loss,
                        scale,
                        &mut w.tape,
                        &mut w.dys,
                        &mut w.grads,
                    )
                    .to_f64();
                }
                l
            };
            // One worker: this thread, no spawn and no allocation per batch.
            let batch_loss_sum: f64 = if nt == 1 {
                run(&mut workers[0], batch)
            } else {
                std::thread::scope(|s| {
                    let hs: Vec<_> = workers
                        .iter_mut()
                        .zip(batch.chunks(per))
                        .map(|(w, idx)| s.spawn(move || run(w, idx)))
                        .collect();
                    hs.into_iter().map(|h| h.join().unwrap()).sum()
                })
            };
            let batch_loss = batch_loss_sum / batch.len() as f64;
            epoch_loss += batch_loss;
            let (first, rest) = workers.split_at_mut(1);
            for w in rest.iter_mut() {
                add_params(&mut first[0].grads, &w.grads);
                w.grads.set_zero();
            }
            opt.step(model, &first[0].grads);
            first[0].grads.set_zero();
            if live && (bi % 8 == 0 || bi + 1 == n_batches) {
                let done = (bi + 1) * 30 / n_batches;
                let mut e = std::io::stderr().lock();
                let _ = write!(
                    e,
                    "\rEpoch {}/{} [{}{}] {}/{} loss {:.5}",
                    epoch + 1,
                    cfg.epochs,
                    "=".repeat(done),
                    " ".repeat(30 - done),
                    bi + 1,
                    n_batches,
                    epoch_loss / (bi + 1) as f64
                );
            }
        }
        let loss = epoch_loss / n_batches as f64;
        hist.loss.push(loss);
        let mut line = std::format!("Epoch {}/{}: loss {:.5}", epoch + 1, cfg.epochs, loss);
        let mut stop = false;
        if let Some(v) = valid {
            let vl = evaluate(model, v, cfg.steps, cfg.loss, cfg.threads)?;
            hist.val_loss.push(vl);
            line += &std::format!(" - val_loss {vl:.5}");
            if vl < best_val {
                best_val = vl;
                hist.best_epoch = epoch;
                copy_params(&mut best, model);
                since_best = 0;
            } else {
                since_best += 1;
                // Keras: stop once `wait >= patience` (and never after the first epoch).
                if cfg.patience.is_some_and(|p| since_best >= p) && epoch > 0 {
                    stop = true;
                }
            }
        } else {
            hist.best_epoch = epoch;
        }
        if cfg.verbose {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(
                e,
                "{}{line} ({:.1}s)",
                if live { "\r" } else { "" },
                t0.elapsed().as_secs_f64()
            );
        }
        if stop {
            // Keras's `restore_best_weights`: only when training stops early.
            copy_params(model, &best);
            break;
        }
    }
    Ok(hist)
}

/// Convenience for examples: a target vector of width 1.
pub fn scalar_targets<T: Real>(values: &[T]) -> Vec<[T; 1]> {
    values.iter().map(|&v| [v]).collect()
}
