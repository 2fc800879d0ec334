//! Layer normalization at each time step, as Keras `LayerNormalization()` (its defaults:
//! the last axis, `epsilon = 1e-3`, centre and scale) and PyTorch `nn.LayerNorm(H, eps=1e-3)`.

use super::{export_keras, load_keras, Cell, Leaf};
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{fetch, Layout, Shape, Sink, TensorName, WeightError, WeightSource};
use nalgebra::SVector;

/// Keras's `LayerNormalization` epsilon (PyTorch's `nn.LayerNorm` default is 1e-5: a model
/// ported from PyTorch must have been trained with `eps=1e-3` to give the same numbers).
pub const LAYER_NORM_EPSILON: f64 = 1e-3;

/// `y = gamma (x - mean(x)) / sqrt(var(x) + 1e-3) + beta` over the units of one step, with
/// the biased variance (divided by `H`), as Keras and PyTorch.
///
/// # Generics
/// `T` scalar, `H` units (inputs = outputs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNorm<T: Real, const H: usize> {
    /// Keras `gamma [H]` (PyTorch `weight`): the scale, ones at init.
    pub gamma: SVector<T, H>,
    /// Keras `beta [H]` (PyTorch `bias`): the offset, zeros at init.
    pub beta: SVector<T, H>,
}

/// What one training step records: the normalized input and `1 / sqrt(var + eps)`.
#[derive(Clone, Copy, Debug)]
pub struct LayerNormCache<T, const H: usize> {
    xhat: [T; H],
    inv: T,
}

impl<T: Real, const H: usize> LayerNormCache<T, H> {
    /// An empty record.
    pub const fn zeros() -> Self {
        LayerNormCache {
            xhat: [T::ZERO; H],
            inv: T::ZERO,
        }
    }
}

/// Normalizes `x`: returns `gamma xhat + beta`, and records `xhat` and `inv` in `cache`.
#[inline(always)]
pub(crate) fn normalize<T: Real, const H: usize>(
    x: &[T; H],
    gamma: &[T; H],
    beta: &[T; H],
    cache: &mut LayerNormCache<T, H>,
) -> [T; H] {
    let n = T::from_f64(H as f64);
    let mut mean = T::ZERO;
    for v in x {
        mean += *v;
    }
    mean /= n;
    let mut var = T::ZERO;
    for v in x {
        let d = *v - mean;
        var += d * d;
    }
    var /= n;
    let inv = T::ONE / (var + T::from_f64(LAYER_NORM_EPSILON)).sqrt();
    let mut y = [T::ZERO; H];
    for k in 0..H {
        let xh = (x[k] - mean) * inv;
        cache.xhat[k] = xh;
        y[k] = xh * gamma[k] + beta[k];
    }
    cache.inv = inv;
    y
}

/// Backward through [`normalize`]: adds the scale and offset gradients, returns `dL/dx`.
#[inline(always)]
pub(crate) fn normalize_backward<T: Real, const H: usize>(
    dy: &[T; H],
    cache: &LayerNormCache<T, H>,
    gamma: &[T; H],
    dgamma: &mut [T; H],
    dbeta: &mut [T; H],
) -> [T; H] {
    let n = T::from_f64(H as f64);
    let mut dxhat = [T::ZERO; H];
    let (mut m1, mut m2) = (T::ZERO, T::ZERO);
    for k in 0..H {
        dgamma[k] += dy[k] * cache.xhat[k];
        dbeta[k] += dy[k];
        dxhat[k] = dy[k] * gamma[k];
        m1 += dxhat[k];
        m2 += dxhat[k] * cache.xhat[k];
    }
    m1 /= n;
    m2 /= n;
    let mut dx = [T::ZERO; H];
    for k in 0..H {
        dx[k] = cache.inv * (dxhat[k] - m1 - cache.xhat[k] * m2);
    }
    dx
}

impl<T: Real, const H: usize> LayerNorm<T, H> {
    /// All parameters zero.
    pub fn zeros() -> Self {
        LayerNorm {
            gamma: crate::kernels::zm(),
            beta: crate::kernels::zm(),
        }
    }

    /// Keras's defaults: `gamma` ones, `beta` zeros (nothing is drawn).
    pub fn init() -> Self {
        let mut c = Self::zeros();
        c.gamma.iter_mut().for_each(|g| *g = T::ONE);
        c
    }

    /// The normalized step.
    #[inline(always)]
    pub fn forward(&self, x: &[T; H]) -> [T; H] {
        normalize(
            x,
            &self.gamma.data.0[0],
            &self.beta.data.0[0],
            &mut LayerNormCache::zeros(),
        )
    }
}

impl<T: Real, const H: usize> Cell<T> for LayerNorm<T, H> {
    type Config = ();
    type Input = [T; H];
    type Output = [T; H];
    type State = ();
    type Cache = LayerNormCache<T, H>;
    type Transposed = ();
    type Pending = ();
    const PARAMS: usize = 2 * H;

    leaf_cell!();
    stateless_cell!();

    fn zeros((): ()) -> Self {
        Self::zeros()
    }
    fn init((): (), _: &mut Rng) -> Self {
        Self::init()
    }
    #[inline(always)]
    fn zero_cache() -> LayerNormCache<T, H> {
        LayerNormCache::zeros()
    }
    #[inline(always)]
    fn step<M: Math>(&self, (): &mut (), x: &[T; H]) -> [T; H] {
        self.forward(x)
    }
    #[inline(always)]
    fn step_lanes<M: Math, const L: usize>(&self, (): &mut (), x: &[[T; L]; H]) -> [[T; L]; H] {
        // Lane by lane through the same function: the same bits as `step`.
        let mut out = [[T::ZERO; L]; H];
        for l in 0..L {
            let y = self.forward(&<[T; H] as super::Vector<T>>::lane::<L>(x, l));
            for k in 0..H {
                out[k][l] = y[k];
            }
        }
        out
    }
    #[inline(always)]
    fn step_train<M: Math>(&self, (): &mut (), x: &[T; H], cache: &mut Self::Cache) -> [T; H] {
        normalize(x, &self.gamma.data.0[0], &self.beta.data.0[0], cache)
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
        grad: &mut Self,
    ) -> [T; H] {
        let (dg, db) = (&mut grad.gamma.data.0[0], &mut grad.beta.data.0[0]);
        normalize_backward(dy, cache, &self.gamma.data.0[0], dg, db)
    }
}

/// Keras's names of the scale and offset; PyTorch's are [`TORCH_NORM`].
const KERAS_NORM: [&str; 2] = ["gamma", "beta"];
/// PyTorch `nn.LayerNorm`'s names.
const TORCH_NORM: [&str; 2] = ["weight", "bias"];

impl<T: Real, const H: usize> Leaf<T> for LayerNorm<T, H> {
    const KIND: &'static str = "layer_norm";
    const TENSORS: usize = 2;

    fn leaf_tensor(&self, k: usize) -> &[T] {
        if k == 0 {
            self.gamma.as_slice()
        } else {
            self.beta.as_slice()
        }
    }
    fn leaf_tensor_mut(&mut self, k: usize) -> &mut [T] {
        if k == 0 {
            self.gamma.as_mut_slice()
        } else {
            self.beta.as_mut_slice()
        }
    }
    fn tensor_name(k: usize) -> &'static str {
        KERAS_NORM[k]
    }
    fn tensor_shape(_: usize) -> Shape {
        Shape::new(&[H])
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
            Layout::PyTorch => load_torch_norm(
                src,
                Self::KIND,
                prefix,
                "",
                apply.then_some((&mut self.gamma, &mut self.beta)),
            ),
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
            Layout::PyTorch => export_torch_norm(prefix, "", &self.gamma, &self.beta, sink),
        }
        Ok(())
    }
}

/// Loads a PyTorch `nn.LayerNorm`'s `{prefix}{stem}weight` and `{prefix}{stem}bias` (checks
/// both first; writes them only when `into` is given).
pub(crate) fn load_torch_norm<T: Real, S: WeightSource<T> + ?Sized, const H: usize>(
    src: &S,
    kind: &'static str,
    prefix: &str,
    stem: &str,
    into: Option<(&mut SVector<T, H>, &mut SVector<T, H>)>,
) -> Result<(), WeightError> {
    let name = |k: usize| TensorName::new(prefix, stem, TORCH_NORM[k]);
    let g = fetch(src, kind, name(0), &[H])?;
    let b = fetch(src, kind, name(1), &[H])?;
    if let Some((gamma, beta)) = into {
        gamma.as_mut_slice().copy_from_slice(g);
        beta.as_mut_slice().copy_from_slice(b);
    }
    Ok(())
}

/// Exports `gamma` and `beta` as a PyTorch `nn.LayerNorm`'s `weight` and `bias`.
pub(crate) fn export_torch_norm<T: Real, const H: usize>(
    prefix: &str,
    stem: &str,
    gamma: &SVector<T, H>,
    beta: &SVector<T, H>,
    sink: &mut Sink<'_, T>,
) {
    for (k, v) in [gamma, beta].into_iter().enumerate() {
        let name = TensorName::new(prefix, stem, TORCH_NORM[k]);
        sink(name, Shape::new(&[H]), &|n| v[n]);
    }
}
