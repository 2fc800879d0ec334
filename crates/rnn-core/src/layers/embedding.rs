//! Token embeddings, as Keras `Embedding` and PyTorch `nn.Embedding`: the first layer of a
//! model over integer tokens.

use super::{export_keras, load_keras, Cell, Leaf, Vector};
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{fetch, Layout, Shape, Sink, TensorName, WeightError, WeightSource};
use nalgebra::SMatrix;

/// `y = E[token]`: one row of the `[V, D]` table per step.
///
/// The step's input is the token id as the model's scalar (`[T; 1]`, as Keras feeds float
/// arrays of ids to `Embedding`, which casts them); every integer up to 2^24 is exact in f32.
/// Use [`Model::tokens`](crate::Model::tokens), [`Model::step_token`](crate::Model::step_token)
/// and [`Model::forward_tokens`](crate::Model::forward_tokens) to pass `u32` tokens: a token
/// outside `0..V` is then a [`TokenError`](crate::model::TokenError). Fed directly, an input
/// that is not a token id in `0..V` (negative, fractional, too large, NaN) gives a NaN output
/// (and no gradient), never an out-of-bounds read: training stops at it with
/// `TrainError::NonFinite`.
///
/// The backward pass adds the output gradient into the rows of the tokens seen only; the
/// input gets no gradient (zeros).
///
/// # Generics
/// `T` scalar, `V` vocabulary size, `D` embedding width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Embedding<T: Real, const V: usize, const D: usize> {
    /// Keras `embeddings [V, D]` (PyTorch `weight [V, D]`, the same memory): column `v` of
    /// this `D x V` matrix is token `v`'s vector.
    pub embeddings: SMatrix<T, D, V>,
}

/// What one training step records: the token (`V` when the input was not one).
#[derive(Clone, Copy, Debug)]
pub struct EmbeddingCache {
    token: usize,
}

impl<T: Real, const V: usize, const D: usize> Embedding<T, V, D> {
    /// All parameters zero.
    pub fn zeros() -> Self {
        Embedding {
            embeddings: crate::kernels::zm(),
        }
    }

    /// Keras's default: `uniform`, `U(-0.05, 0.05)`, drawn in Keras's row-major order
    /// (token by token). (PyTorch's default is `N(0, 1)`.)
    pub fn init(rng: &mut Rng) -> Self {
        let mut c = Self::zeros();
        c.embeddings
            .iter_mut()
            .for_each(|v| *v = T::from_f64(rng.uniform_in(-0.05, 0.05)));
        c
    }

    /// The token an input encodes, if it is one: an integer in `0..V`.
    #[inline(always)]
    pub fn token_of(x: T) -> Option<usize> {
        let f = x.to_f64();
        // `f as usize` saturates; the round trip rejects fractions, NaN and out-of-range ids.
        let t = f as usize;
        (f >= 0.0 && t < V && t as f64 == f).then_some(t)
    }

    /// The vector of the token `x` encodes (NaN when it encodes none).
    #[inline(always)]
    pub fn lookup(&self, x: &[T; 1]) -> [T; D] {
        match Self::token_of(x[0]) {
            Some(t) => self.embeddings.data.0[t],
            None => [T::from_f64(f64::NAN); D],
        }
    }
}

impl<T: Real, const V: usize, const D: usize> Cell<T> for Embedding<T, V, D> {
    type Config = ();
    type Input = [T; 1];
    type Output = [T; D];
    type State = ();
    type Cache = EmbeddingCache;
    type Transposed = ();
    type Pending = ();
    const PARAMS: usize = V * D;
    const VOCAB: usize = V;

    leaf_cell!();
    stateless_cell!();

    fn zeros((): ()) -> Self {
        Self::zeros()
    }
    fn init((): (), rng: &mut Rng) -> Self {
        Self::init(rng)
    }
    unsafe fn zeros_in_place(slot: *mut Self, (): ()) {
        // SAFETY: the caller's promise; the field is a plain matrix of `T`.
        unsafe { crate::kernels::zero_in_place(core::ptr::addr_of_mut!((*slot).embeddings)) }
    }
    fn reinit(&mut self, (): (), rng: &mut Rng, _: &mut [f64]) {
        self.embeddings
            .iter_mut()
            .for_each(|v| *v = T::from_f64(rng.uniform_in(-0.05, 0.05)));
    }
    #[inline(always)]
    fn zero_cache() -> EmbeddingCache {
        EmbeddingCache { token: V }
    }
    #[inline(always)]
    fn step<M: Math>(&self, (): &mut (), x: &[T; 1]) -> [T; D] {
        self.lookup(x)
    }
    #[inline(always)]
    fn step_lanes<M: Math, const L: usize>(&self, (): &mut (), x: &[[T; L]; 1]) -> [[T; L]; D] {
        let mut out = [[T::ZERO; L]; D];
        for l in 0..L {
            let y = self.lookup(&<[T; 1] as Vector<T>>::lane::<L>(x, l));
            for k in 0..D {
                out[k][l] = y[k];
            }
        }
        out
    }
    #[inline(always)]
    fn step_train<M: Math>(&self, (): &mut (), x: &[T; 1], cache: &mut EmbeddingCache) -> [T; D] {
        cache.token = Self::token_of(x[0]).unwrap_or(V);
        self.lookup(x)
    }
    #[inline(always)]
    fn transposed(&self) {}
    #[inline(always)]
    fn backward<M: Math>(
        &self,
        (): &(),
        (): &mut (),
        cache: &EmbeddingCache,
        dy: &[T; D],
        _wrt_logits: bool,
        (): &mut (),
        grad: &mut Self,
    ) -> [T; 1] {
        if let Some(row) = grad.embeddings.data.0.get_mut(cache.token) {
            for (g, d) in row.iter_mut().zip(dy) {
                *g += *d;
            }
        }
        [T::ZERO]
    }
}

impl<T: Real, const V: usize, const D: usize> Leaf<T> for Embedding<T, V, D> {
    const KIND: &'static str = "embedding";
    const TENSORS: usize = 1;

    fn leaf_tensor(&self, _: usize) -> &[T] {
        self.embeddings.as_slice()
    }
    fn leaf_tensor_mut(&mut self, _: usize) -> &mut [T] {
        self.embeddings.as_mut_slice()
    }
    fn tensor_name(_: usize) -> &'static str {
        "embeddings"
    }
    fn tensor_shape(_: usize) -> Shape {
        Shape::new(&[V, D])
    }
    fn load<S: WeightSource<T> + ?Sized>(
        &mut self,
        layout: Layout,
        src: &S,
        prefix: &str,
        _suffix: &str,
        apply: bool,
    ) -> Result<(), WeightError> {
        match layout {
            Layout::Keras => load_keras(self, src, prefix, apply),
            Layout::PyTorch => {
                // PyTorch's `weight [V, D]` is the same memory as Keras's table.
                let w = fetch(
                    src,
                    "embedding",
                    TensorName::new(prefix, "weight", ""),
                    &[V, D],
                )?;
                if apply {
                    self.embeddings.as_mut_slice().copy_from_slice(w);
                }
                Ok(())
            }
        }
    }
    fn export(
        &self,
        layout: Layout,
        prefix: &str,
        _suffix: &str,
        sink: &mut Sink<'_, T>,
    ) -> Result<(), WeightError> {
        match layout {
            Layout::Keras => export_keras(self, prefix, sink),
            Layout::PyTorch => {
                let e = self.embeddings.as_slice();
                sink(
                    TensorName::new(prefix, "weight", ""),
                    Shape::new(&[V, D]),
                    &|n| e[n],
                );
            }
        }
        Ok(())
    }
}
