//! Dropout, as Keras `Dropout(rate)` applied to a sequence (and PyTorch `nn.Dropout`):
//! identity at inference; in training, each unit of each step is zeroed with probability
//! `rate` and the others scaled by `1 / (1 - rate)` (inverted dropout).

use super::{Cell, Leaf, Part};
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{Layout, Shape, Sink, WeightError, WeightSource};

/// `y = x` at inference; `y = x * m` in training, `m` being 0 with probability `rate` and
/// `1 / (1 - rate)` otherwise, drawn independently for every unit of every step (Keras's
/// `Dropout` on a `[batch, steps, units]` tensor: no `noise_shape`) and kept on the
/// [`Tape`](crate::Tape) for the backward pass. No parameters.
///
/// The masks come from [`Model::forward_train_dropout`](crate::Model::forward_train_dropout)
/// (what `fit` uses) or are set by hand on the tape
/// ([`Model::forward_train_with_masks`](crate::Model::forward_train_with_masks));
/// [`Model::forward_train`](crate::Model::forward_train) trains without dropout.
///
/// # Generics
/// `T` scalar, `H` units (inputs = outputs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout<T: Real, const H: usize> {
    /// The fraction of units dropped in training, in `[0, 1)`.
    pub rate: f64,
    scalar: core::marker::PhantomData<fn() -> T>,
}

/// One step's mask: `0` (dropped) or `1 / (1 - rate)` per unit; all ones without dropout.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutCache<T, const H: usize> {
    /// The factor each unit is multiplied by.
    pub mask: [T; H],
}

impl<T: Real, const H: usize> Dropout<T, H> {
    /// A dropout layer with this rate.
    pub const fn new(rate: f64) -> Self {
        Dropout {
            rate,
            scalar: core::marker::PhantomData,
        }
    }

    /// One step's mask, drawn from `rng` (all ones without it, or with a rate of 0).
    pub fn mask(&self, rng: Option<&mut Rng>) -> [T; H] {
        let mut m = [T::ONE; H];
        if let Some(rng) = rng.filter(|_| self.rate > 0.0) {
            let keep = T::from_f64(1.0 / (1.0 - self.rate));
            for v in &mut m {
                *v = if rng.uniform() < self.rate {
                    T::ZERO
                } else {
                    keep
                };
            }
        }
        m
    }
}

impl<T: Real, const H: usize> Cell<T> for Dropout<T, H> {
    type Config = f64;
    type Input = [T; H];
    type Output = [T; H];
    type State = ();
    type Cache = DropoutCache<T, H>;
    type Transposed = ();
    type Pending = ();
    const PARAMS: usize = 0;
    const DROPOUT: bool = true;

    leaf_cell!();
    stateless_cell!();

    fn zeros(rate: f64) -> Self {
        Self::new(rate)
    }
    fn init(rate: f64, _: &mut Rng) -> Self {
        Self::new(rate)
    }
    #[inline(always)]
    fn zero_cache() -> DropoutCache<T, H> {
        DropoutCache { mask: [T::ONE; H] }
    }
    /// Inference: the identity.
    #[inline(always)]
    fn step<M: Math>(&self, (): &mut (), x: &[T; H]) -> [T; H] {
        *x
    }
    #[inline(always)]
    fn step_lanes<M: Math, const L: usize>(&self, (): &mut (), x: &[[T; L]; H]) -> [[T; L]; H] {
        *x
    }
    /// Training: `x` times the mask on the tape.
    #[inline(always)]
    fn step_train<M: Math>(&self, (): &mut (), x: &[T; H], cache: &mut Self::Cache) -> [T; H] {
        let mut y = *x;
        for (v, m) in y.iter_mut().zip(&cache.mask) {
            *v *= *m;
        }
        y
    }
    #[inline(always)]
    fn transposed(&self) {}
    #[inline(always)]
    fn backward<M: Math>(
        &self,
        (): &(),
        (): &mut (),
        cache: &Self::Cache,
        dy: &[T; H],
        _wrt_logits: bool,
        (): &mut (),
        _: &mut Self,
    ) -> [T; H] {
        let mut dx = *dy;
        for (v, m) in dx.iter_mut().zip(&cache.mask) {
            *v *= *m;
        }
        dx
    }
    fn draw_masks<const N: usize, K: 'static, P: Part<K, Out = Self::Cache>>(
        &self,
        caches: &mut [K; N],
        part: P,
        mut rng: Option<&mut Rng>,
    ) {
        for c in caches.iter_mut() {
            part.get_mut(c).mask = self.mask(rng.as_deref_mut());
        }
    }
}

impl<T: Real, const H: usize> Leaf<T> for Dropout<T, H> {
    const KIND: &'static str = "dropout";
    const TENSORS: usize = 0;

    fn leaf_tensor(&self, _: usize) -> &[T] {
        &[]
    }
    fn leaf_tensor_mut(&mut self, _: usize) -> &mut [T] {
        &mut []
    }
    fn tensor_name(_: usize) -> &'static str {
        ""
    }
    fn tensor_shape(_: usize) -> Shape {
        Shape::new(&[0])
    }
    fn load<S: WeightSource<T> + ?Sized>(
        &mut self,
        _: Layout,
        _: &S,
        _: &str,
        _: &str,
        _: bool,
    ) -> Result<(), WeightError> {
        Ok(())
    }
    fn export(&self, _: Layout, _: &str, _: &str, _: &mut Sink<'_, T>) -> Result<(), WeightError> {
        Ok(())
    }
}
