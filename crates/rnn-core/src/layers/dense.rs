//! Fully-connected output layer, as Keras `Dense` and PyTorch `nn.Linear` (+ activation).

use super::{export_keras, load_keras, Cell, Leaf};
use crate::activation::Activation;
use crate::init::glorot_uniform;
use crate::kernels::{add_assign, gemv_acc, gemv_t_acc, ger_acc, transpose};
use crate::lanes;
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{fetch, Layout, Shape, Sink, TensorName, WeightError, WeightSource};
use nalgebra::{SMatrix, SVector};

/// `y = act(W x + b)`, applied to each time step.
///
/// # Generics
/// `T` scalar, `I` inputs, `O` outputs, `BIAS` (Keras `use_bias`, default true): without a
/// bias the layer has one tensor (Keras `kernel`, PyTorch `weight`), `O * I` parameters, and
/// `bias` stays zero.
// On x86-64 the weights start on a cache line: a 512-bit load that straddles two lines costs
// two of the core's load slots, and the streaming step is bound by loading its weights (on an
// AMD Zen 5, a 160 x 40 product took 480 cycles from an unaligned matrix, 290 aligned).
#[cfg_attr(target_arch = "x86_64", repr(C, align(64)))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dense<T: Real, const I: usize, const O: usize, const BIAS: bool = true> {
    /// Keras `kernel [I, O]` (PyTorch `weight [O, I]`).
    pub kernel: SMatrix<T, O, I>,
    /// Keras `bias [O]` (zeros, and not a parameter, without `BIAS`).
    pub bias: SVector<T, O>,
    /// The activation.
    pub activation: Activation,
}

/// What one training step records.
#[derive(Clone, Copy, Debug)]
pub struct DenseCache<T, const I: usize, const O: usize> {
    x: [T; I],
    /// Pre-activation (the logits).
    pub z: [T; O],
    y: [T; O],
}

impl<T: Real, const I: usize, const O: usize> DenseCache<T, I, O> {
    /// An empty record.
    pub const fn zeros() -> Self {
        DenseCache {
            x: [T::ZERO; I],
            z: [T::ZERO; O],
            y: [T::ZERO; O],
        }
    }
}

impl<T: Real, const I: usize, const O: usize, const BIAS: bool> Dense<T, I, O, BIAS> {
    /// All parameters zero.
    pub fn zeros(activation: Activation) -> Self {
        Dense {
            kernel: crate::kernels::zm(),
            bias: crate::kernels::zm(),
            activation,
        }
    }

    /// Keras defaults: glorot_uniform kernel, zero bias.
    pub fn init(activation: Activation, rng: &mut Rng) -> Self {
        let mut c = Self::zeros(activation);
        glorot_uniform(c.kernel.as_mut_slice(), I, O, rng);
        c
    }

    #[inline(always)]
    fn pre<M: Math>(&self, x: &[T; I]) -> [T; O] {
        let mut z = self.bias.data.0[0];
        gemv_acc(M::default(), &mut z, &self.kernel, x);
        z
    }

    /// `act(W x + b)`.
    #[inline(always)]
    pub fn forward<M: Math>(&self, x: &[T; I]) -> [T; O] {
        let mut y = self.pre::<M>(x);
        self.activation.apply::<M, T>(&mut y);
        y
    }

    /// [`forward`](Self::forward) recording what [`backward`](Self::backward) needs.
    #[inline(always)]
    pub fn forward_train<M: Math>(&self, x: &[T; I], cache: &mut DenseCache<T, I, O>) -> [T; O] {
        cache.x = *x;
        cache.z = self.pre::<M>(x);
        let mut y = cache.z;
        self.activation.apply::<M, T>(&mut y);
        cache.y = y;
        y
    }

    /// The transposed kernel [`backward`](Self::backward) takes.
    #[inline(always)]
    pub fn transposed(&self) -> SMatrix<T, I, O> {
        transpose(&self.kernel)
    }

    /// Backward: `dy` is the gradient w.r.t. the output `y`, or w.r.t. the pre-activation `z`
    /// when `wrt_logits` (the exact form losses use after sigmoid and softmax).
    #[inline(always)]
    pub fn backward<M: Math>(
        &self,
        tr: &SMatrix<T, I, O>,
        cache: &DenseCache<T, I, O>,
        dy: &[T; O],
        wrt_logits: bool,
        grad: &mut Self,
    ) -> [T; I] {
        let mut dz = *dy;
        if !wrt_logits {
            self.activation
                .backprop::<M, T>(&cache.z, &cache.y, &mut dz);
        }
        ger_acc(M::default(), &mut grad.kernel, &dz, &cache.x);
        if BIAS {
            add_assign(grad.bias.as_mut_slice(), &dz);
        }
        let mut dx = [T::ZERO; I];
        if O < 8 {
            gemv_t_acc(M::default(), &mut dx, &self.kernel, &dz);
        } else {
            gemv_acc(M::default(), &mut dx, tr, &dz);
        }
        dx
    }
}

impl<T: Real, const I: usize, const O: usize, const BIAS: bool> Cell<T> for Dense<T, I, O, BIAS> {
    type Config = Activation;
    type Input = [T; I];
    type Output = [T; O];
    type State = ();
    type Cache = DenseCache<T, I, O>;
    type Transposed = SMatrix<T, I, O>;
    type Pending = ();
    const PARAMS: usize = O * (I + BIAS as usize);

    leaf_cell!();
    stateless_cell!();

    fn zeros(activation: Activation) -> Self {
        Self::zeros(activation)
    }
    fn init(activation: Activation, rng: &mut Rng) -> Self {
        Self::init(activation, rng)
    }
    unsafe fn zeros_in_place(slot: *mut Self, activation: Activation) {
        // SAFETY: the caller's promise; the fields are plain matrices of `T` and the activation.
        unsafe {
            crate::kernels::zero_in_place(core::ptr::addr_of_mut!((*slot).kernel));
            crate::kernels::zero_in_place(core::ptr::addr_of_mut!((*slot).bias));
            core::ptr::addr_of_mut!((*slot).activation).write(activation);
        }
    }
    fn reinit(&mut self, activation: Activation, rng: &mut Rng, _: &mut [f64]) {
        self.activation = activation;
        glorot_uniform(self.kernel.as_mut_slice(), I, O, rng);
        self.bias.iter_mut().for_each(|b| *b = T::ZERO);
    }
    unsafe fn transposed_in_place(&self, slot: *mut SMatrix<T, I, O>) {
        // SAFETY: the caller's promise.
        unsafe { crate::kernels::transpose_in_place(&self.kernel, slot) }
    }
    #[inline(always)]
    fn zero_cache() -> DenseCache<T, I, O> {
        DenseCache::zeros()
    }
    #[inline(always)]
    fn step<M: Math>(&self, (): &mut (), x: &[T; I]) -> [T; O] {
        self.forward::<M>(x)
    }
    #[inline(always)]
    fn step_many<M: Math, const S: usize>(&self, _: &mut [(); S], xs: &[[T; I]; S]) -> [[T; O]; S] {
        let mut z = [self.bias.data.0[0]; S];
        crate::many::gemv_many_acc(M::default(), &mut z, &self.kernel, xs);
        for v in &mut z {
            self.activation.apply::<M, T>(v);
        }
        z
    }
    #[inline(always)]
    fn step_lanes<M: Math, const L: usize>(&self, (): &mut (), x: &[[T; L]; I]) -> [[T; L]; O] {
        let mut z = lanes::splat::<T, O, L>(&self.bias.data.0[0]);
        lanes::gemv_lanes_acc::<M, T, O, I, L>(&mut z, &self.kernel, x);
        lanes::activate::<M, T, O, L>(self.activation, &mut z);
        z
    }
    #[inline(always)]
    fn step_train<M: Math>(&self, (): &mut (), x: &[T; I], cache: &mut Self::Cache) -> [T; O] {
        self.forward_train::<M>(x, cache)
    }
    #[inline(always)]
    fn transposed(&self) -> SMatrix<T, I, O> {
        Self::transposed(self)
    }
    #[inline(always)]
    fn backward<M: Math>(
        &self,
        tr: &SMatrix<T, I, O>,
        (): &mut (),
        cache: &Self::Cache,
        dy: &[T; O],
        wrt_logits: bool,
        (): &mut (),
        grad: &mut Self,
    ) -> [T; I] {
        Self::backward::<M>(self, tr, cache, dy, wrt_logits, grad)
    }
    #[inline(always)]
    fn logits(cache: &Self::Cache) -> Option<[T; O]> {
        Some(cache.z)
    }
}

impl<T: Real, const I: usize, const O: usize, const BIAS: bool> Leaf<T> for Dense<T, I, O, BIAS> {
    const KIND: &'static str = "dense";
    const TENSORS: usize = 1 + BIAS as usize;

    fn leaf_tensor(&self, k: usize) -> &[T] {
        if k == 0 {
            self.kernel.as_slice()
        } else {
            self.bias.as_slice()
        }
    }
    fn leaf_tensor_mut(&mut self, k: usize) -> &mut [T] {
        if k == 0 {
            self.kernel.as_mut_slice()
        } else {
            self.bias.as_mut_slice()
        }
    }
    fn tensor_name(k: usize) -> &'static str {
        rnn_layout::KERAS_DENSE[k]
    }
    fn tensor_shape(k: usize) -> Shape {
        if k == 0 {
            Shape::new(&[I, O])
        } else {
            Shape::new(&[O])
        }
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
                let w = fetch(
                    src,
                    "dense",
                    TensorName::new(prefix, rnn_layout::TORCH_LINEAR[0], ""),
                    &[O, I],
                )?;
                let b = if BIAS {
                    Some(fetch(
                        src,
                        "dense",
                        TensorName::new(prefix, rnn_layout::TORCH_LINEAR[1], ""),
                        &[O],
                    )?)
                } else {
                    None
                };
                if apply {
                    rnn_layout::linear_from_torch(O, I, w, self.kernel.as_mut_slice());
                    if let Some(b) = b {
                        self.bias.as_mut_slice().copy_from_slice(b);
                    }
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
                let (k, b) = (&self.kernel, &self.bias);
                sink(
                    TensorName::new(prefix, rnn_layout::TORCH_LINEAR[0], ""),
                    Shape::new(&[O, I]),
                    &|n| k[(n / I, n % I)],
                );
                if BIAS {
                    sink(
                        TensorName::new(prefix, rnn_layout::TORCH_LINEAR[1], ""),
                        Shape::new(&[O]),
                        &|n| b[n],
                    );
                }
            }
        }
        Ok(())
    }
}
