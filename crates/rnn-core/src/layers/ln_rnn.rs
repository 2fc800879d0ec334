//! A SimpleRNN with layer normalization inside the recurrence: the `LNSimpleRNNCell` of
//! Géron's *Hands-On Machine Learning* (ch. 15), used as
//! `keras.layers.RNN(LNSimpleRNNCell(units))`.

use super::layer_norm::{
    export_torch_norm, load_torch_norm, normalize, normalize_backward, LayerNormCache,
};
use super::{
    export_keras, load_keras, Cell, Leaf, Pending, RnnState, StateLanes, TorchRecurrent,
    Transposed, Vector,
};
use crate::activation::Activation;
use crate::init::{glorot_uniform, orthogonal_in};
use crate::kernels::{add_assign, gemv_acc};
use crate::lanes;
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{Layout, Shape, Sink, WeightError, WeightSource};
use nalgebra::{SMatrix, SVector};

/// `h' = act(LayerNorm(W x + U h + b))`: a SimpleRNN cell without its activation, then
/// Keras's `LayerNormalization()` (epsilon 1e-3, biased variance, `gamma` and `beta`), then
/// the activation (tanh by default). The state is the output.
///
/// Tensors, Keras: `kernel [I, H]`, `recurrent_kernel [H, H]`, `bias [H]`, `gamma [H]`,
/// `beta [H]`. PyTorch has no such layer; its layout here is an `nn.RNN`'s `weight_ih_l0`,
/// `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` (summed into `bias`) and an `nn.LayerNorm(H,
/// eps=1e-3)` named `norm`: `norm.weight`, `norm.bias`.
///
/// # Generics
/// `T` scalar, `I` inputs, `H` units.
// On x86-64 the weights start on a cache line: a 512-bit load that straddles two lines costs
// two of the core's load slots, and the streaming step is bound by loading its weights (on an
// AMD Zen 5, a 160 x 40 product took 480 cycles from an unaligned matrix, 290 aligned).
#[cfg_attr(target_arch = "x86_64", repr(C, align(64)))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LnRnnCell<T: Real, const I: usize, const H: usize> {
    /// Keras `kernel [I, H]`.
    pub kernel: SMatrix<T, H, I>,
    /// Keras `recurrent_kernel [H, H]`.
    pub recurrent_kernel: SMatrix<T, H, H>,
    /// Keras `bias [H]`.
    pub bias: SVector<T, H>,
    /// The normalization's scale, Keras `gamma [H]`.
    pub gamma: SVector<T, H>,
    /// The normalization's offset, Keras `beta [H]`.
    pub beta: SVector<T, H>,
    /// The activation after the normalization.
    pub activation: Activation,
}

/// What one training step records.
#[derive(Clone, Copy, Debug)]
pub struct LnRnnCache<T, const I: usize, const H: usize> {
    x: [T; I],
    h_prev: [T; H],
    norm: LayerNormCache<T, H>,
    /// The normalized pre-activation.
    n: [T; H],
    h: [T; H],
}

impl<T: Real, const I: usize, const H: usize> LnRnnCache<T, I, H> {
    /// An empty record.
    pub const fn zeros() -> Self {
        LnRnnCache {
            x: [T::ZERO; I],
            h_prev: [T::ZERO; H],
            norm: LayerNormCache::zeros(),
            n: [T::ZERO; H],
            h: [T::ZERO; H],
        }
    }
}

impl<T: Real, const I: usize, const H: usize> LnRnnCell<T, I, H> {
    /// All parameters zero.
    pub fn zeros(activation: Activation) -> Self {
        LnRnnCell {
            kernel: crate::kernels::zm(),
            recurrent_kernel: crate::kernels::zm(),
            bias: crate::kernels::zm(),
            gamma: crate::kernels::zm(),
            beta: crate::kernels::zm(),
            activation,
        }
    }

    /// Keras's defaults: glorot_uniform kernel, orthogonal recurrent kernel, zero bias;
    /// `gamma` ones, `beta` zeros.
    pub fn init(activation: Activation, rng: &mut Rng) -> Self {
        let mut c = Self::zeros(activation);
        let mut scratch = SMatrix::<f64, H, H>::zeros();
        c.fill_init(activation, rng, scratch.as_mut_slice());
        c
    }

    fn fill_init(&mut self, activation: Activation, rng: &mut Rng, scratch: &mut [f64]) {
        self.activation = activation;
        glorot_uniform(self.kernel.as_mut_slice(), I, H, rng);
        orthogonal_in(self.recurrent_kernel.as_mut_slice(), H, H, rng, scratch);
        self.bias.iter_mut().for_each(|b| *b = T::ZERO);
        self.gamma.iter_mut().for_each(|g| *g = T::ONE);
        self.beta.iter_mut().for_each(|b| *b = T::ZERO);
    }

    /// Writes what the in-place builder does not (the activation, zero `gamma` and `beta`).
    ///
    /// # Safety
    /// `slot` must be valid for writes and aligned.
    unsafe fn set_config(slot: *mut Self, activation: Activation) {
        // SAFETY: the caller's promise; the fields are plain vectors of `T`.
        unsafe {
            crate::kernels::zero_in_place(core::ptr::addr_of_mut!((*slot).gamma));
            crate::kernels::zero_in_place(core::ptr::addr_of_mut!((*slot).beta));
            core::ptr::addr_of_mut!((*slot).activation).write(activation);
        }
    }

    /// The normalized, activated output of pre-activation `z` (recording into `cache`).
    #[inline(always)]
    fn post<M: Math>(&self, z: &[T; H], cache: &mut LayerNormCache<T, H>) -> ([T; H], [T; H]) {
        let n = normalize(z, &self.gamma.data.0[0], &self.beta.data.0[0], cache);
        let mut h = n;
        self.activation.apply::<M, T>(&mut h);
        (n, h)
    }

    #[inline(always)]
    fn pre<M: Math>(&self, x: &[T; I], h: &[T; H]) -> [T; H] {
        let mut a = self.bias.data.0[0];
        gemv_acc(M::default(), &mut a, &self.kernel, x);
        gemv_acc(M::default(), &mut a, &self.recurrent_kernel, h);
        a
    }

    /// One time step.
    #[inline(always)]
    pub fn step<M: Math>(&self, state: &mut RnnState<T, H>, x: &[T; I]) -> [T; H] {
        let z = self.pre::<M>(x, &state.h);
        let (_, h) = self.post::<M>(&z, &mut LayerNormCache::zeros());
        state.h = h;
        h
    }

    /// [`step`](Self::step) for `S` streams, one after another.
    #[inline(always)]
    pub fn step_many<M: Math, const S: usize>(
        &self,
        states: &mut [RnnState<T, H>; S],
        xs: &[[T; I]; S],
    ) -> [[T; H]; S] {
        super::step_each(xs, |s, x| self.step::<M>(&mut states[s], x))
    }

    /// [`step`](Self::step) for `L` streams side by side: the matrix products across the
    /// lanes, the normalization lane by lane (it mixes the units of one stream).
    #[inline(always)]
    pub fn step_lanes<M: Math, const L: usize>(
        &self,
        state: &mut StateLanes<T, H, L>,
        x: &[[T; L]; I],
    ) -> [[T; L]; H] {
        let mut a = lanes::splat::<T, H, L>(&self.bias.data.0[0]);
        lanes::gemv_lanes_acc::<M, T, H, I, L>(&mut a, &self.kernel, x);
        lanes::gemv_lanes_acc::<M, T, H, H, L>(&mut a, &self.recurrent_kernel, &state.h);
        for l in 0..L {
            let z = <[T; H] as Vector<T>>::lane::<L>(&a, l);
            let (_, h) = self.post::<M>(&z, &mut LayerNormCache::zeros());
            for k in 0..H {
                state.h[k][l] = h[k];
            }
        }
        state.h
    }

    #[inline(always)]
    fn cell_state(_: &RnnState<T, H>) -> [T; H] {
        [T::ZERO; H]
    }

    #[inline(always)]
    fn lane<const L: usize>(lanes: &StateLanes<T, H, L>, l: usize) -> RnnState<T, H> {
        RnnState { h: lanes.h_of(l) }
    }

    /// [`step`](Self::step) recording what [`backward`](Self::backward) needs.
    #[inline(always)]
    pub fn step_train<M: Math>(
        &self,
        state: &mut RnnState<T, H>,
        x: &[T; I],
        cache: &mut LnRnnCache<T, I, H>,
    ) -> [T; H] {
        cache.x = *x;
        cache.h_prev = state.h;
        let z = self.pre::<M>(x, &state.h);
        let (n, h) = self.post::<M>(&z, &mut cache.norm);
        cache.n = n;
        cache.h = h;
        state.h = h;
        h
    }

    /// Backward through one step; see [`crate::LstmCell::backward`] for the conventions.
    #[inline(always)]
    pub fn backward<M: Math>(
        &self,
        tr: &Transposed<T, I, H, H>,
        pending: &mut Pending<T, I, H, H>,
        cache: &LnRnnCache<T, I, H>,
        dh: &[T; H],
        dstate: &mut RnnState<T, H>,
        grad: &mut Self,
    ) -> [T; I] {
        let mut dn = *dh;
        for (d, s) in dn.iter_mut().zip(&dstate.h) {
            *d += *s;
        }
        self.activation
            .backprop::<M, T>(&cache.n, &cache.h, &mut dn);
        let (dg, db) = (&mut grad.gamma.data.0[0], &mut grad.beta.data.0[0]);
        let dz = normalize_backward(&dn, &cache.norm, &self.gamma.data.0[0], dg, db);
        add_assign(grad.bias.as_mut_slice(), &dz);
        tr.linear_backward::<M>(
            pending,
            &self.kernel,
            &dz,
            &cache.x,
            &cache.h_prev,
            &mut grad.kernel,
            &mut grad.recurrent_kernel,
            &mut dstate.h,
        )
    }

    fn torch(&mut self) -> TorchRecurrent<'_, T> {
        TorchRecurrent {
            kind: "ln_rnn",
            g: H,
            i: I,
            h: H,
            perm: &rnn_layout::RNN_TORCH_BLOCKS,
            kernel: self.kernel.as_mut_slice(),
            recurrent: self.recurrent_kernel.as_mut_slice(),
            bias_in: self.bias.as_mut_slice(),
            bias_rec: None,
        }
    }
}

/// Keras's names of the five tensors.
const KERAS_LN_RNN: [&str; 5] = ["kernel", "recurrent_kernel", "bias", "gamma", "beta"];

impl<T: Real, const I: usize, const H: usize> Leaf<T> for LnRnnCell<T, I, H> {
    const KIND: &'static str = "ln_rnn";
    const TENSORS: usize = 5;

    fn leaf_tensor(&self, k: usize) -> &[T] {
        match k {
            0 => self.kernel.as_slice(),
            1 => self.recurrent_kernel.as_slice(),
            2 => self.bias.as_slice(),
            3 => self.gamma.as_slice(),
            _ => self.beta.as_slice(),
        }
    }
    fn leaf_tensor_mut(&mut self, k: usize) -> &mut [T] {
        match k {
            0 => self.kernel.as_mut_slice(),
            1 => self.recurrent_kernel.as_mut_slice(),
            2 => self.bias.as_mut_slice(),
            3 => self.gamma.as_mut_slice(),
            _ => self.beta.as_mut_slice(),
        }
    }
    fn tensor_name(k: usize) -> &'static str {
        KERAS_LN_RNN[k]
    }
    fn tensor_shape(k: usize) -> Shape {
        match k {
            0 => Shape::new(&[I, H]),
            1 => Shape::new(&[H, H]),
            _ => Shape::new(&[H]),
        }
    }
    fn load<S: WeightSource<T> + ?Sized>(
        &mut self,
        layout: Layout,
        src: &S,
        prefix: &str,
        suffix: &str,
        apply: bool,
    ) -> Result<(), WeightError> {
        match layout {
            Layout::Keras => load_keras(self, src, prefix, apply),
            Layout::PyTorch => {
                // Every tensor checked before any is written.
                load_torch_norm::<T, S, H>(src, Self::KIND, prefix, "norm.", None)?;
                self.torch().load(src, prefix, suffix, false)?;
                if apply {
                    self.torch().load(src, prefix, suffix, true)?;
                    let into = Some((&mut self.gamma, &mut self.beta));
                    load_torch_norm(src, Self::KIND, prefix, "norm.", into)?;
                }
                Ok(())
            }
        }
    }
    fn export(
        &self,
        layout: Layout,
        prefix: &str,
        suffix: &str,
        sink: &mut Sink<'_, T>,
    ) -> Result<(), WeightError> {
        match layout {
            Layout::Keras => export_keras(self, prefix, sink),
            Layout::PyTorch => {
                let mut c = *self;
                c.torch().export(prefix, suffix, sink);
                export_torch_norm(prefix, "norm.", &self.gamma, &self.beta, sink);
            }
        }
        Ok(())
    }
}

impl<T: Real, const I: usize, const H: usize> Cell<T> for LnRnnCell<T, I, H> {
    type Config = Activation;
    const PARAMS: usize = H * (I + H + 3);

    fn zeros(activation: Activation) -> Self {
        Self::zeros(activation)
    }
    fn init(activation: Activation, rng: &mut Rng) -> Self {
        Self::init(activation, rng)
    }
    recurrent_cell!(RnnState<T, H>, LnRnnCache<T, I, H>, H);
}
