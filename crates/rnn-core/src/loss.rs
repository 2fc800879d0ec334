//! Losses with Keras's definitions and reductions, and their gradients.
//!
//! Each loss is the mean over the output vector's elements (Keras reduces the last axis), then
//! averaged over the time steps it covers and the batch (`sum_over_batch_size`). The
//! cross-entropies after a sigmoid or softmax output are computed from the logits (the final
//! dense layer's pre-activation), exactly and with no clipping, as Keras does; their gradient
//! enters the model at the pre-activation.

use crate::activation::Activation;
use crate::model::{Model, Tape};
use crate::real::Real;

/// A loss function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error.
    Mse,
    /// Mean absolute error.
    Mae,
    /// Binary cross-entropy (targets in `[0, 1]`, one per output).
    BinaryCrossentropy,
    /// Categorical cross-entropy (one-hot or soft targets over the outputs).
    CategoricalCrossentropy,
}

/// Which time steps the loss sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Steps {
    /// Only the last step (sequence to vector): one target.
    Last,
    /// Every step (sequence to sequence): `N` targets.
    All,
    /// The last `k` steps (multi-step forecasting): `k` targets.
    LastK(usize),
}

impl Steps {
    /// How many steps (targets) out of `n`.
    pub fn count(self, n: usize) -> usize {
        match self {
            Steps::Last => 1.min(n),
            Steps::All => n,
            Steps::LastK(k) => k.min(n),
        }
    }
}

const PROB_EPS: f64 = 1e-7;

impl Loss {
    /// Whether, for a model whose last layer is a dense layer with `act`, this loss is computed
    /// from the pre-activation (and its gradient is w.r.t. it): binary cross-entropy after a
    /// sigmoid and categorical cross-entropy after a softmax, as Keras does. Any other output is
    /// taken as probabilities and clipped to `[1e-7, 1 - 1e-7]` (Keras's `from_logits=False`).
    pub fn uses_logits(self, act: Option<Activation>) -> bool {
        matches!(
            (self, act),
            (Loss::BinaryCrossentropy, Some(Activation::Sigmoid))
                | (Loss::CategoricalCrossentropy, Some(Activation::Softmax))
        )
    }

    /// The loss of one output vector. `logits` is the final dense layer's pre-activation,
    /// `act` its activation. Adds `scale * d loss / d (pred or logits)` into `grad` (w.r.t.
    /// the logits exactly when [`uses_logits`](Self::uses_logits)).
    pub fn eval<T: Real>(
        self,
        act: Option<Activation>,
        y_pred: &[T],
        logits: &[T],
        y_true: &[T],
        scale: T,
        grad: &mut [T],
    ) -> T {
        let k = T::from_f64(y_pred.len() as f64);
        match self {
            Loss::Mse => {
                let mut s = T::ZERO;
                for ((g, &p), &y) in grad.iter_mut().zip(y_pred).zip(y_true) {
                    let d = p - y;
                    s += d * d;
                    *g += scale * (d + d) / k;
                }
                s / k
            }
            Loss::Mae => {
                let mut s = T::ZERO;
                for ((g, &p), &y) in grad.iter_mut().zip(y_pred).zip(y_true) {
                    let d = p - y;
                    s += d.abs();
                    let sign = if d > T::ZERO {
                        T::ONE
                    } else if d < T::ZERO {
                        -T::ONE
                    } else {
                        T::ZERO
                    };
                    *g += scale * sign / k;
                }
                s / k
            }
            Loss::BinaryCrossentropy if self.uses_logits(act) => {
                let mut s = T::ZERO;
                for ((g, &z), &y) in grad.iter_mut().zip(logits).zip(y_true) {
                    // max(z, 0) - z y + log(1 + e^-|z|), as tf.nn.sigmoid_cross_entropy_with_logits
                    s += z.max(T::ZERO) - z * y + (-z.abs()).exp().ln_1p();
                    let p = T::ONE / (T::ONE + (-z).exp());
                    *g += scale * (p - y) / k;
                }
                s / k
            }
            Loss::BinaryCrossentropy => {
                let eps = T::from_f64(PROB_EPS);
                let mut s = T::ZERO;
                for ((g, &p), &y) in grad.iter_mut().zip(y_pred).zip(y_true) {
                    let pc = clip_prob(p, eps);
                    s -= y * pc.ln() + (T::ONE - y) * (T::ONE - pc).ln();
                    if pc == p {
                        *g += scale * (-y / p + (T::ONE - y) / (T::ONE - p)) / k;
                    }
                }
                s / k
            }
            Loss::CategoricalCrossentropy if self.uses_logits(act) => {
                let mut m = logits[0];
                for &z in logits {
                    m = m.max(z);
                }
                let mut se = T::ZERO;
                for &z in logits {
                    se += (z - m).exp();
                }
                let lse = m + se.ln();
                let mut s = T::ZERO;
                let mut ysum = T::ZERO;
                for (&z, &y) in logits.iter().zip(y_true) {
                    s += y * (lse - z);
                    ysum += y;
                }
                for ((g, &z), &y) in grad.iter_mut().zip(logits).zip(y_true) {
                    *g += scale * ((z - lse).exp() * ysum - y);
                }
                s
            }
            Loss::CategoricalCrossentropy => {
                // Keras: q = p / sum(p), clipped to [eps, 1 - eps], loss = -sum y ln q. A clipped
                // q is constant, so only unclipped entries carry gradient:
                // d/dp_j = -y_j / p_j [j unclipped] + (sum over unclipped k of y_k) / sum(p).
                let eps = T::from_f64(PROB_EPS);
                let mut psum = T::ZERO;
                for &p in y_pred {
                    psum += p;
                }
                let mut s = T::ZERO;
                let mut ysum_free = T::ZERO;
                for (&p, &y) in y_pred.iter().zip(y_true) {
                    let q = p / psum;
                    let qc = clip_prob(q, eps);
                    s -= y * qc.ln();
                    if qc == q {
                        ysum_free += y;
                    }
                }
                for ((g, &p), &y) in grad.iter_mut().zip(y_pred).zip(y_true) {
                    let q = p / psum;
                    let own = if clip_prob(q, eps) == q {
                        -y / p
                    } else {
                        T::ZERO
                    };
                    *g += scale * (own + ysum_free / psum);
                }
                s
            }
        }
    }
}

/// `p` clipped to `[eps, 1 - eps]` as Keras clips probabilities, a NaN kept (so a NaN
/// prediction gives a NaN loss, as in Keras, never a finite one).
#[inline(always)]
fn clip_prob<T: Real>(p: T, eps: T) -> T {
    #[allow(clippy::eq_op)]
    let nan = p != p;
    if nan {
        p
    } else {
        p.max(eps).min(T::ONE - eps)
    }
}

/// The loss of one recorded sequence and its output gradients.
///
/// `targets` holds [`Steps::count`] vectors, for the last steps in order. Fills `dys` (zero
/// where the loss does not look) with `scale` times the gradient of the mean per-step loss, and
/// returns `(mean per-step loss, wrt_logits)` to pass on to [`Model::backward`].
///
/// # Panics
/// If `targets` holds fewer than `steps.count(N)` vectors, or `steps` is `LastK(0)`: a
/// programming error (`train::fit`, under `std`, checks both and returns an error instead).
pub fn sequence_loss<M: Model, const N: usize>(
    tape: &Tape<M, N>,
    targets: &[M::Output],
    steps: Steps,
    loss: Loss,
    scale: M::Scalar,
    dys: &mut [M::Output; N],
) -> (M::Scalar, bool) {
    let n = steps.count(N);
    assert!(
        targets.len() >= n,
        "sequence_loss: {} targets for {} steps",
        targets.len(),
        n
    );
    assert!(n > 0, "sequence_loss: the loss covers no step");
    let act = M::OUTPUT_ACTIVATION;
    let per = scale / M::Scalar::from_f64(n as f64);
    let mut total = M::Scalar::ZERO;
    for d in dys.iter_mut() {
        d.as_mut().iter_mut().for_each(|v| *v = M::Scalar::ZERO);
    }
    for (j, t) in (N - n..N).enumerate() {
        let logits = tape.logits(t);
        total += loss.eval(
            act,
            tape.outputs[t].as_ref(),
            logits.as_ref(),
            targets[j].as_ref(),
            per,
            dys[t].as_mut(),
        );
    }
    (total / M::Scalar::from_f64(n as f64), loss.uses_logits(act))
}

/// Forward with tape, loss and backward for one sequence: adds `scale` times its gradients into
/// `grads` and returns its loss. The whole training step of one sample, with no heap.
#[allow(clippy::too_many_arguments)]
pub fn accumulate<M: Model, const N: usize>(
    model: &M,
    xs: &[M::Input; N],
    targets: &[M::Output],
    steps: Steps,
    loss: Loss,
    scale: M::Scalar,
    tape: &mut Tape<M, N>,
    dys: &mut [M::Output; N],
    grads: &mut M,
) -> M::Scalar {
    let tr = model.transposed();
    accumulate_with(
        model, &tr, xs, targets, steps, loss, scale, tape, dys, grads,
    )
}

/// [`accumulate`] with the model's transposed weights built once ([`Model::transposed`]), as a
/// training loop does per batch.
#[allow(clippy::too_many_arguments)]
pub fn accumulate_with<M: Model, const N: usize>(
    model: &M,
    tr: &M::Transposed,
    xs: &[M::Input; N],
    targets: &[M::Output],
    steps: Steps,
    loss: Loss,
    scale: M::Scalar,
    tape: &mut Tape<M, N>,
    dys: &mut [M::Output; N],
    grads: &mut M,
) -> M::Scalar {
    accumulate_dropout_with(
        model, tr, xs, targets, steps, loss, scale, tape, dys, grads, None,
    )
}

/// [`accumulate_with`] with dropout on: the sequence's masks drawn from `rng`
/// ([`Model::forward_train_dropout`]); without `rng`, exactly [`accumulate_with`].
#[allow(clippy::too_many_arguments)]
pub fn accumulate_dropout_with<M: Model, const N: usize>(
    model: &M,
    tr: &M::Transposed,
    xs: &[M::Input; N],
    targets: &[M::Output],
    steps: Steps,
    loss: Loss,
    scale: M::Scalar,
    tape: &mut Tape<M, N>,
    dys: &mut [M::Output; N],
    grads: &mut M,
    rng: Option<&mut crate::Rng>,
) -> M::Scalar {
    match rng {
        Some(rng) => model.forward_train_dropout(xs, tape, rng),
        None => model.forward_train(xs, tape),
    };
    let (l, wrt_logits) = sequence_loss(tape, targets, steps, loss, scale, dys);
    model.backward_with(tr, tape, dys, wrt_logits, grads, None);
    l
}
