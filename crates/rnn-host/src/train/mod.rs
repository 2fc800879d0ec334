//! The training loop (`fit`, `evaluate`), its configuration, errors and history.

mod checkpoint;
mod fit;
mod progress;
mod team;

pub use checkpoint::{Checkpoint, SaveWhen};
pub use fit::{evaluate, fit};

use rnn_core::loss::{Loss, Steps};
use rnn_core::{Model, Real};

/// How [`fit`] trains.
#[derive(Clone, Debug)]
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
    /// Worker threads per batch: 1 = this thread only; 0 = automatic (all cores when a batch
    /// is large enough to gain, else one, see [`auto_threads`]). The workers live for the
    /// whole call (a rayon pool built once), never one spawn per batch.
    pub threads: usize,
    /// Print a progress line per epoch (and a live bar on a terminal).
    pub verbose: bool,
    /// Save a checkpoint (model, optimizer state, best weights, progress) after every epoch or
    /// on improvement, atomically.
    pub checkpoint: Option<Checkpoint>,
    /// Resume from this checkpoint: the model, the optimizer's state, the best weights, the
    /// history and the shuffle continue where it stopped, so the result equals an
    /// uninterrupted run's bit for bit (same seed, same threads). `epochs` is the total.
    pub resume: Option<std::path::PathBuf>,
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
            checkpoint: None,
            resume: None,
        }
    }
}

/// Why [`fit`] or [`evaluate`] refused its arguments (checked before any work).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// `batch_size` is zero.
    #[error("batch_size must be at least 1")]
    BatchSize,
    /// `Steps::LastK(k)` with `k == 0` or `k` larger than the sequence length.
    #[error("Steps::LastK({k}) needs 1 <= k <= {steps} (the sequence length)")]
    Steps {
        /// The `k` asked for.
        k: usize,
        /// The sequence length `N`.
        steps: usize,
    },
    /// A data set without the right number of targets (`k` per sample).
    #[error("the {set} set has {samples} samples and {found} targets; expected {expected}")]
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
    #[error("the {set} set is empty")]
    Empty {
        /// Which set.
        set: &'static str,
    },
    /// A checkpoint could not be written or read.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The optimizer's hyper-parameters cannot train.
    #[error("the optimizer is refused: {0}")]
    Optimizer(#[from] rnn_core::optim::OptimError),
    /// Training stopped at the first NaN or infinity: in a batch's loss or gradient, in the
    /// weights after an optimizer step, or in the validation loss. The model then holds the
    /// last finite weights (those before that batch), or the best epoch's under early
    /// stopping.
    #[error("training stopped in epoch {epoch}{}: the {what} is NaN or infinite; the model keeps {kept}", batch.map(|b| format!(", batch {b}")).unwrap_or_default())]
    NonFinite {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch (`None` for the validation loss).
        batch: Option<usize>,
        /// `"training loss"`, `"gradient"`, `"weights after the optimizer step"` or
        /// `"validation loss"`.
        what: &'static str,
        /// `"the weights before that batch"` or `"the best epoch's weights"`.
        kept: &'static str,
    },
}

pub(crate) fn check_steps(steps: Steps, n: usize) -> Result<usize, TrainError> {
    match steps {
        Steps::LastK(k) if k == 0 || k > n => Err(TrainError::Steps { k, steps: n }),
        s => Ok(s.count(n)),
    }
}

pub(crate) fn check_set<M: Model, const N: usize>(
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

pub(crate) fn add_params<M: Model>(dst: &mut M, src: &M) {
    for k in 0..M::TENSORS {
        for (d, s) in dst.tensor_mut(k).iter_mut().zip(src.tensor(k)) {
            *d += *s;
        }
    }
}

/// The worker count `threads = 0` picks: every core when one batch is at least `2^18`
/// multiply-adds of parameters times steps (about 0.1 ms of work, well above a pool's
/// hand-off cost), else one thread, where splitting a batch only adds overhead.
pub fn auto_threads<M: Model, const N: usize>(batch_size: usize) -> usize {
    let work = batch_size.saturating_mul(N).saturating_mul(M::PARAM_COUNT);
    if work < 1 << 18 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Convenience for examples: a target vector of width 1.
pub fn scalar_targets<T: Real>(values: &[T]) -> Vec<[T; 1]> {
    values.iter().map(|&v| [v]).collect()
}
