//! Optimizers with Keras's update rules and defaults (and PyTorch's variants), and gradient
//! clipping. Their state lives in values of the model's own type: no heap.
//!
//! | rule | Keras (default [`Flavor::Keras`]) | PyTorch ([`Flavor::PyTorch`]) |
//! |---|---|---|
//! | SGD momentum | `m = mu m - lr g; p += m` | `b = mu b + g; p -= lr b` |
//! | SGD Nesterov | `p += mu m - lr g` (new `m`) | `p -= lr (g + mu b)` |
//! | Adam | `p -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps)`, eps 1e-7 | `p -= lr m̂ / (sqrt(v̂) + eps)`, eps 1e-8 |
//! | RMSprop | `v = rho v + (1-rho) g²; p -= lr g / sqrt(v + eps)`, rho 0.9, eps 1e-7 | `p -= lr g / (sqrt(v) + eps)`, alpha 0.99, eps 1e-8 |
//!
//! Clipping follows Keras 3: `clipnorm` clips each tensor's norm on its own, `global_clipnorm`
//! the norm of all gradients together, `clipvalue` every element; only the first one set (in
//! that order) applies, a value of zero or less is off, and it is applied before the update.
//! PyTorch's `torch.nn.utils.clip_grad_norm_(max_norm)` is [`Clip::grad_norm`]: like
//! `global_clipnorm` but with PyTorch's coefficient `max_norm / (norm + 1e-6)` (capped at 1),
//! used when none of Keras's three is set.

use crate::model::Model;
use crate::real::Real;

/// What an optimizer reads and writes: a scalar type and numbered parameter tensors. Every
/// [`Model`] is one; so is an encoder-decoder model (`crate::seq2seq`), whose tensors are its
/// encoder's then its decoder's. The names differ from [`Model`]'s (`tensor`, ...) so that
/// both traits in scope never make a call ambiguous.
///
/// # Safety
/// The optimizers build their buffers with [`params_zeroed_in_place`](Self::params_zeroed_in_place)
/// and then treat them as initialized: it must write every field of the slot. And
/// [`param_tensor`](Self::param_tensor)`(k)` must have the same length for every value of the
/// type (the optimizers walk two values' tensors side by side).
pub unsafe trait Params: Sized {
    /// The scalar.
    type Scalar: Real;
    /// Number of parameter tensors.
    const PARAM_TENSORS: usize;
    /// Tensor `k` as a flat slice.
    fn param_tensor(&self, k: usize) -> &[Self::Scalar];
    /// Tensor `k`, mutable.
    fn param_tensor_mut(&mut self, k: usize) -> &mut [Self::Scalar];
    /// Writes every parameter zero into `slot` without building the value on the stack.
    ///
    /// # Safety
    /// `slot` must be valid for writes and aligned; it need not be initialized.
    unsafe fn params_zeroed_in_place(slot: *mut Self);
    /// Copies every parameter of `other`.
    fn copy_params_from(&mut self, other: &Self) {
        for k in 0..Self::PARAM_TENSORS {
            self.param_tensor_mut(k)
                .copy_from_slice(other.param_tensor(k));
        }
    }
}

// SAFETY: `Model::zeros_in_place` writes the whole chain (the model's one field), and a
// model's tensors have the sizes of its type.
unsafe impl<M: Model> Params for M {
    type Scalar = <M as Model>::Scalar;
    const PARAM_TENSORS: usize = <M as Model>::TENSORS;
    #[inline(always)]
    fn param_tensor(&self, k: usize) -> &[Self::Scalar] {
        Model::tensor(self, k)
    }
    #[inline(always)]
    fn param_tensor_mut(&mut self, k: usize) -> &mut [Self::Scalar] {
        Model::tensor_mut(self, k)
    }
    unsafe fn params_zeroed_in_place(slot: *mut Self) {
        // SAFETY: the caller's promise.
        unsafe { <M as Model>::zeros_in_place(slot) }
    }
}

/// Which framework's variant of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Flavor {
    /// Keras's rules and defaults.
    #[default]
    Keras,
    /// PyTorch's rules and defaults.
    PyTorch,
}

/// Gradient clipping, as Keras's optimizer arguments.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Clip {
    /// Clip each tensor's L2 norm to this (Keras `clipnorm`).
    pub clipnorm: Option<f64>,
    /// Clip the global L2 norm of all tensors to this (Keras `global_clipnorm`).
    pub global_clipnorm: Option<f64>,
    /// Clip every element to `[-v, v]` (Keras `clipvalue`).
    pub clipvalue: Option<f64>,
    /// Scale all gradients by `min(1, v / (global norm + 1e-6))`, as PyTorch's
    /// `clip_grad_norm_(parameters, max_norm = v)` called before `optimizer.step()`.
    pub grad_norm: Option<f64>,
}

impl Clip {
    /// PyTorch's `clip_grad_norm_(max_norm)`, and nothing else.
    pub fn grad_norm(max_norm: f64) -> Clip {
        Clip {
            grad_norm: Some(max_norm),
            ..Clip::default()
        }
    }

    /// The one rule in force, as Keras 3 picks it: `clipnorm` if set and positive, else
    /// `global_clipnorm`, else `clipvalue` (else PyTorch's `grad_norm`); zero or negative
    /// values mean "off".
    fn rule(&self) -> ClipRule {
        let pos = |v: Option<f64>| v.filter(|c| *c > 0.0);
        if let Some(c) = pos(self.clipnorm) {
            ClipRule::Norm(c)
        } else if let Some(c) = pos(self.global_clipnorm) {
            ClipRule::GlobalNorm(c)
        } else if let Some(c) = pos(self.clipvalue) {
            ClipRule::Value(c)
        } else if let Some(c) = pos(self.grad_norm) {
            ClipRule::TorchNorm(c)
        } else {
            ClipRule::Off
        }
    }

    /// Per-tensor multipliers (from the norms) are computed once per step, then every element
    /// is scaled and clamped on the fly: nothing is copied.
    fn scales<M: Params>(
        &self,
        grads: &M,
        k: usize,
        global: f64,
    ) -> (M::Scalar, Option<M::Scalar>) {
        match self.rule() {
            ClipRule::Norm(c) => {
                let n = libm::sqrt(sq_norm(grads.param_tensor(k)));
                (M::Scalar::from_f64(c / n.max(c)), None)
            }
            ClipRule::GlobalNorm(c) => (M::Scalar::from_f64(c / global.max(c)), None),
            ClipRule::TorchNorm(c) => (M::Scalar::from_f64((c / (global + 1e-6)).min(1.0)), None),
            ClipRule::Value(c) => (M::Scalar::ONE, Some(M::Scalar::from_f64(c))),
            ClipRule::Off => (M::Scalar::ONE, None),
        }
    }

    fn global<M: Params>(&self, grads: &M) -> f64 {
        if !matches!(
            self.rule(),
            ClipRule::GlobalNorm(_) | ClipRule::TorchNorm(_)
        ) {
            return 0.0;
        }
        libm::sqrt(
            (0..M::PARAM_TENSORS)
                .map(|k| sq_norm(grads.param_tensor(k)))
                .sum::<f64>(),
        )
    }
}

#[derive(Clone, Copy)]
enum ClipRule {
    Norm(f64),
    GlobalNorm(f64),
    TorchNorm(f64),
    Value(f64),
    Off,
}

fn sq_norm<T: Real>(g: &[T]) -> f64 {
    g.iter().map(|v| v.to_f64() * v.to_f64()).sum()
}

#[inline(always)]
fn clipped<T: Real>(g: T, scale: T, value: Option<T>) -> T {
    let g = g * scale;
    #[allow(clippy::eq_op)]
    let nan = g != g;
    match value {
        // A NaN gradient stays NaN (Keras's clip_by_value propagates it).
        Some(c) if !nan => g.max(-c).min(c),
        _ => g,
    }
}

/// Anything that updates a model's parameters from its gradients.
pub trait Optimizer<M: Params> {
    /// One update: `params` moves against `grads` (same type, same layout).
    fn step(&mut self, params: &mut M, grads: &M);
    /// Whether the hyper-parameters can train at all (checked by `fit` before any work, and
    /// by the optimizers' `try_new`): a learning rate that is negative or not finite, a
    /// decay outside `[0, 1)`, or an epsilon that is not positive is an [`OptimError`].
    fn check(&self) -> Result<(), OptimError> {
        check_lr(self.learning_rate())
    }
    /// The running state, for checkpoints: up to two model-shaped buffers (momentum, moments)
    /// and up to three counters (Adam's step and the powers of its decays). Restoring it with
    /// [`restore`](Self::restore) continues training bit for bit.
    fn state(&self) -> ([Option<&M>; 2], [f64; 3]) {
        ([None, None], [0.0; 3])
    }
    /// Restores what [`state`](Self::state) returned (the buffers are copied).
    fn restore(&mut self, buffers: [Option<&M>; 2], counters: [f64; 3]) {
        let _ = (buffers, counters);
    }
    /// Learning rate.
    fn learning_rate(&self) -> f64;
    /// Changes the learning rate (schedules, reduce-on-plateau).
    fn set_learning_rate(&mut self, lr: f64);
}

/// A hyper-parameter that cannot train: its name, its value and what it must be.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("{name} = {value} is refused: it must be {needs}")]
pub struct OptimError {
    /// The hyper-parameter (`"lr"`, `"beta_1"`, ...).
    pub name: &'static str,
    /// Its value.
    pub value: f64,
    /// What it must be.
    pub needs: &'static str,
}

fn check_lr(lr: f64) -> Result<(), OptimError> {
    if lr.is_finite() && lr >= 0.0 {
        Ok(())
    } else {
        Err(OptimError {
            name: "lr",
            value: lr,
            needs: "a finite number, 0 or more",
        })
    }
}

fn check_decay(name: &'static str, v: f64) -> Result<(), OptimError> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(OptimError {
            name,
            value: v,
            needs: "in [0, 1)",
        })
    }
}

fn check_epsilon(eps: f64) -> Result<(), OptimError> {
    if eps.is_finite() && eps > 0.0 {
        Ok(())
    } else {
        Err(OptimError {
            name: "epsilon",
            value: eps,
            needs: "a finite number above 0",
        })
    }
}

/// Stochastic gradient descent with optional (Nesterov) momentum.
pub struct Sgd<M: Params> {
    /// Learning rate (Keras default 0.01).
    pub lr: f64,
    /// Momentum (default 0).
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Clipping.
    pub clip: Clip,
    /// Keras or PyTorch momentum form.
    pub flavor: Flavor,
    velocity: M,
    t: u64,
}

/// The value `write(slot, lr)` builds in place.
///
/// # Safety
/// `write` must initialize every field of the slot it is given.
unsafe fn built_by<O>(write: unsafe fn(*mut O, f64), lr: f64) -> O {
    let mut s = core::mem::MaybeUninit::<O>::uninit();
    // SAFETY: the caller's promise: `write` initializes all of `s`.
    unsafe {
        write(s.as_mut_ptr(), lr);
        s.assume_init()
    }
}

impl<M: Params> Sgd<M> {
    /// Plain SGD with Keras's rule.
    pub fn new(lr: f64) -> Self {
        // SAFETY: `write_new` writes every field.
        unsafe { built_by(Self::write_new, lr) }
    }
    /// [`new`](Self::new) written into `slot` in place: the model-sized buffers are never
    /// built on the stack (`rnn::boxed::sgd` puts it on the heap this way).
    ///
    /// # Safety
    /// `slot` must be valid for writes and aligned; it need not be initialized.
    pub unsafe fn write_new(slot: *mut Self, lr: f64) {
        use core::ptr::addr_of_mut;
        // SAFETY: the caller's promise; every field is written once.
        unsafe {
            addr_of_mut!((*slot).lr).write(lr);
            addr_of_mut!((*slot).momentum).write(0.0);
            addr_of_mut!((*slot).nesterov).write(false);
            addr_of_mut!((*slot).clip).write(Clip::default());
            addr_of_mut!((*slot).flavor).write(Flavor::Keras);
            addr_of_mut!((*slot).t).write(0);
            M::params_zeroed_in_place(addr_of_mut!((*slot).velocity));
        }
    }
    /// Sets the momentum.
    pub fn momentum(mut self, mu: f64, nesterov: bool) -> Self {
        self.momentum = mu;
        self.nesterov = nesterov;
        self
    }
    /// Sets clipping.
    pub fn clip(mut self, clip: Clip) -> Self {
        self.clip = clip;
        self
    }
    /// Switches to PyTorch's form.
    pub fn flavor(mut self, f: Flavor) -> Self {
        self.flavor = f;
        self
    }
}

impl<M: Params> Optimizer<M> for Sgd<M> {
    fn check(&self) -> Result<(), OptimError> {
        check_lr(self.lr)?;
        if (0.0..=1.0).contains(&self.momentum) {
            Ok(())
        } else {
            Err(OptimError {
                name: "momentum",
                value: self.momentum,
                needs: "in [0, 1]",
            })
        }
    }
    fn state(&self) -> ([Option<&M>; 2], [f64; 3]) {
        ([Some(&self.velocity), None], [self.t as f64, 0.0, 0.0])
    }
    fn restore(&mut self, buffers: [Option<&M>; 2], counters: [f64; 3]) {
        if let Some(v) = buffers[0] {
            self.velocity.copy_params_from(v);
        }
        self.t = counters[0] as u64;
    }
    fn step(&mut self, params: &mut M, grads: &M) {
        let lr = M::Scalar::from_f64(self.lr);
        let mu = M::Scalar::from_f64(self.momentum);
        let global = self.clip.global(grads);
        let first = self.t == 0;
        self.t += 1;
        for k in 0..M::PARAM_TENSORS {
            let (s, cv) = self.clip.scales(grads, k, global);
            let p = params.param_tensor_mut(k);
            let g = grads.param_tensor(k);
            let v = self.velocity.param_tensor_mut(k);
            for i in 0..p.len() {
                let gi = clipped(g[i], s, cv);
                if self.momentum == 0.0 {
                    p[i] -= lr * gi;
                    continue;
                }
                match self.flavor {
                    Flavor::Keras => {
                        v[i] = mu * v[i] - lr * gi;
                        p[i] += if self.nesterov {
                            mu * v[i] - lr * gi
                        } else {
                            v[i]
                        };
                    }
                    Flavor::PyTorch => {
                        v[i] = if first { gi } else { mu * v[i] + gi };
                        p[i] -= lr * if self.nesterov { gi + mu * v[i] } else { v[i] };
                    }
                }
            }
        }
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// Adam.
pub struct Adam<M: Params> {
    /// Learning rate (Keras default 0.001).
    pub lr: f64,
    /// First-moment decay (0.9).
    pub beta_1: f64,
    /// Second-moment decay (0.999).
    pub beta_2: f64,
    /// 1e-7 (Keras) or 1e-8 (PyTorch).
    pub epsilon: f64,
    /// Clipping.
    pub clip: Clip,
    /// Keras or PyTorch epsilon placement.
    pub flavor: Flavor,
    m: M,
    v: M,
    t: u64,
    /// `beta_1^t` and `beta_2^t`, kept as running products (no `pow`, which would pull
    /// software f64 code into a Cortex-M4F build).
    powers: (f64, f64),
}

impl<M: Params> Adam<M> {
    /// Keras's Adam with its defaults and the given learning rate.
    pub fn new(lr: f64) -> Self {
        // SAFETY: `write_new` writes every field.
        unsafe { built_by(Self::write_new, lr) }
    }
    /// [`new`](Self::new) written into `slot` in place: the model-sized buffers are never
    /// built on the stack (`rnn::boxed::adam` puts it on the heap this way).
    ///
    /// # Safety
    /// `slot` must be valid for writes and aligned; it need not be initialized.
    pub unsafe fn write_new(slot: *mut Self, lr: f64) {
        use core::ptr::addr_of_mut;
        // SAFETY: the caller's promise; every field is written once.
        unsafe {
            addr_of_mut!((*slot).lr).write(lr);
            addr_of_mut!((*slot).beta_1).write(0.9);
            addr_of_mut!((*slot).beta_2).write(0.999);
            addr_of_mut!((*slot).epsilon).write(1e-7);
            addr_of_mut!((*slot).clip).write(Clip::default());
            addr_of_mut!((*slot).flavor).write(Flavor::Keras);
            addr_of_mut!((*slot).t).write(0);
            addr_of_mut!((*slot).powers).write((1.0, 1.0));
            M::params_zeroed_in_place(addr_of_mut!((*slot).m));
            M::params_zeroed_in_place(addr_of_mut!((*slot).v));
        }
    }
    /// PyTorch's Adam with its defaults and the given learning rate.
    pub fn pytorch(lr: f64) -> Self {
        Adam {
            epsilon: 1e-8,
            flavor: Flavor::PyTorch,
            ..Self::new(lr)
        }
    }
    /// Sets clipping.
    pub fn clip(mut self, clip: Clip) -> Self {
        self.clip = clip;
        self
    }
    /// Keras's Adam with every hyper-parameter given, refused when it cannot train
    /// (`beta_1 = 1` never moves, `epsilon = 0` divides by zero on a zero gradient).
    pub fn try_new(lr: f64, beta_1: f64, beta_2: f64, epsilon: f64) -> Result<Self, OptimError> {
        let a = Adam {
            beta_1,
            beta_2,
            epsilon,
            ..Self::new(lr)
        };
        Optimizer::<M>::check(&a)?;
        Ok(a)
    }
}

impl<M: Params> Optimizer<M> for Adam<M> {
    fn check(&self) -> Result<(), OptimError> {
        check_lr(self.lr)?;
        check_decay("beta_1", self.beta_1)?;
        check_decay("beta_2", self.beta_2)?;
        check_epsilon(self.epsilon)
    }
    fn state(&self) -> ([Option<&M>; 2], [f64; 3]) {
        let c = [self.t as f64, self.powers.0, self.powers.1];
        ([Some(&self.m), Some(&self.v)], c)
    }
    fn restore(&mut self, buffers: [Option<&M>; 2], counters: [f64; 3]) {
        if let [Some(m), Some(v)] = buffers {
            self.m.copy_params_from(m);
            self.v.copy_params_from(v);
        }
        self.t = counters[0] as u64;
        self.powers = (counters[1], counters[2]);
    }
    fn step(&mut self, params: &mut M, grads: &M) {
        self.t += 1;
        self.powers = (self.powers.0 * self.beta_1, self.powers.1 * self.beta_2);
        let (b1p, b2p) = self.powers;
        let b1 = M::Scalar::from_f64(self.beta_1);
        let b2 = M::Scalar::from_f64(self.beta_2);
        let one = M::Scalar::ONE;
        let eps = M::Scalar::from_f64(self.epsilon);
        let global = self.clip.global(grads);
        let (alpha, bc2) = match self.flavor {
            Flavor::Keras => (self.lr * libm::sqrt(1.0 - b2p) / (1.0 - b1p), 1.0),
            Flavor::PyTorch => (self.lr / (1.0 - b1p), libm::sqrt(1.0 - b2p)),
        };
        let alpha = M::Scalar::from_f64(alpha);
        let bc2 = M::Scalar::from_f64(bc2);
        for k in 0..M::PARAM_TENSORS {
            let (s, cv) = self.clip.scales(grads, k, global);
            let p = params.param_tensor_mut(k);
            let g = grads.param_tensor(k);
            let m = self.m.param_tensor_mut(k);
            let v = self.v.param_tensor_mut(k);
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                let gi = clipped(g, s, cv);
                *m = b1 * *m + (one - b1) * gi;
                *v = b2 * *v + (one - b2) * gi * gi;
                *p -= alpha * *m / (v.sqrt() / bc2 + eps);
            }
        }
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// RMSprop (no momentum, not centered).
pub struct RmsProp<M: Params> {
    /// Learning rate (Keras default 0.001).
    pub lr: f64,
    /// Decay: Keras `rho` 0.9, PyTorch `alpha` 0.99.
    pub rho: f64,
    /// 1e-7 inside the root (Keras) or 1e-8 outside (PyTorch).
    pub epsilon: f64,
    /// Clipping.
    pub clip: Clip,
    /// Keras or PyTorch epsilon placement.
    pub flavor: Flavor,
    v: M,
}

impl<M: Params> RmsProp<M> {
    /// Keras's RMSprop with its defaults.
    pub fn new(lr: f64) -> Self {
        // SAFETY: `write_new` writes every field.
        unsafe { built_by(Self::write_new, lr) }
    }
    /// [`new`](Self::new) written into `slot` in place: the model-sized buffers are never
    /// built on the stack (`rnn::boxed::rmsprop` puts it on the heap this way).
    ///
    /// # Safety
    /// `slot` must be valid for writes and aligned; it need not be initialized.
    pub unsafe fn write_new(slot: *mut Self, lr: f64) {
        use core::ptr::addr_of_mut;
        // SAFETY: the caller's promise; every field is written once.
        unsafe {
            addr_of_mut!((*slot).lr).write(lr);
            addr_of_mut!((*slot).rho).write(0.9);
            addr_of_mut!((*slot).epsilon).write(1e-7);
            addr_of_mut!((*slot).clip).write(Clip::default());
            addr_of_mut!((*slot).flavor).write(Flavor::Keras);
            M::params_zeroed_in_place(addr_of_mut!((*slot).v));
        }
    }
    /// PyTorch's RMSprop with its defaults.
    pub fn pytorch(lr: f64) -> Self {
        RmsProp {
            rho: 0.99,
            epsilon: 1e-8,
            flavor: Flavor::PyTorch,
            ..Self::new(lr)
        }
    }
    /// Sets clipping.
    pub fn clip(mut self, clip: Clip) -> Self {
        self.clip = clip;
        self
    }
}

impl<M: Params> Optimizer<M> for RmsProp<M> {
    fn check(&self) -> Result<(), OptimError> {
        check_lr(self.lr)?;
        check_decay("rho", self.rho)?;
        check_epsilon(self.epsilon)
    }
    fn state(&self) -> ([Option<&M>; 2], [f64; 3]) {
        ([Some(&self.v), None], [0.0; 3])
    }
    fn restore(&mut self, buffers: [Option<&M>; 2], _: [f64; 3]) {
        if let Some(v) = buffers[0] {
            self.v.copy_params_from(v);
        }
    }
    fn step(&mut self, params: &mut M, grads: &M) {
        let lr = M::Scalar::from_f64(self.lr);
        let rho = M::Scalar::from_f64(self.rho);
        let eps = M::Scalar::from_f64(self.epsilon);
        let one = M::Scalar::ONE;
        let global = self.clip.global(grads);
        for k in 0..M::PARAM_TENSORS {
            let (s, cv) = self.clip.scales(grads, k, global);
            let p = params.param_tensor_mut(k);
            let g = grads.param_tensor(k);
            let v = self.v.param_tensor_mut(k);
            for i in 0..p.len() {
                let gi = clipped(g[i], s, cv);
                v[i] = rho * v[i] + (one - rho) * gi * gi;
                p[i] -= match self.flavor {
                    Flavor::Keras => lr * gi / (v[i] + eps).sqrt(),
                    Flavor::PyTorch => lr * gi / (v[i].sqrt() + eps),
                };
            }
        }
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}
