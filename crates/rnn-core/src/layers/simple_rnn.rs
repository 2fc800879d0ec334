//! Fully-connected recurrent layer, as Keras `SimpleRNN` and PyTorch `nn.RNN`.

use super::{
    export_keras, load_keras, Cell, Leaf, Pending, StateLanes, TorchRecurrent, Transposed,
};
use crate::activation::Activation;
use crate::init::{glorot_uniform, orthogonal_in};
use crate::kernels::{add_assign, gemv_acc};
use crate::lanes;
use crate::many::gemv_many_acc;
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{Layout, Shape, Sink, WeightError, WeightSource};
use nalgebra::SMatrix;

/// `h' = act(W x + U h + b)` with `act` tanh (default) or relu.
///
/// # Generics
/// `T` scalar, `I` inputs, `H` units, `B` biases: 1 as Keras (PyTorch's `b_ih + b_hh` summed
/// on load) or 2 as PyTorch (`params = pytorch`, both trained).
// On x86-64 the weights start on a cache line: a 512-bit load that straddles two lines costs
// two of the core's load slots, and the streaming step is bound by loading its weights (on an
// AMD Zen 5, a 160 x 40 product took 480 cycles from an unaligned matrix, 290 aligned).
#[cfg_attr(target_arch = "x86_64", repr(C, align(64)))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RnnCell<T: Real, const I: usize, const H: usize, const B: usize = 1> {
    /// Keras `kernel [I, H]`.
    pub kernel: SMatrix<T, H, I>,
    /// Keras `recurrent_kernel [H, H]`.
    pub recurrent_kernel: SMatrix<T, H, H>,
    /// Keras `bias [H]` (PyTorch's `b_ih + b_hh`); with `B = 2`, `[2, H]`: `bias_ih` (column
    /// 0) and `bias_hh` (column 1).
    pub bias: SMatrix<T, H, B>,
    /// `Tanh` or `Relu`.
    pub activation: Activation,
}

/// The state: the last output. Also the shape of its gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RnnState<T, const H: usize> {
    /// Hidden state (the layer's output).
    pub h: [T; H],
}

impl<T: Real, const H: usize> RnnState<T, H> {
    /// All zeros.
    pub const fn zeros() -> Self {
        RnnState { h: [T::ZERO; H] }
    }
}

/// What one training step records.
#[derive(Clone, Copy, Debug)]
pub struct RnnCache<T, const I: usize, const H: usize> {
    x: [T; I],
    h_prev: [T; H],
    /// Pre-activation (what gelu's and swish's gradients need).
    z: [T; H],
    h: [T; H],
}

impl<T: Real, const I: usize, const H: usize> RnnCache<T, I, H> {
    /// An empty record.
    pub const fn zeros() -> Self {
        RnnCache {
            x: [T::ZERO; I],
            h_prev: [T::ZERO; H],
            z: [T::ZERO; H],
            h: [T::ZERO; H],
        }
    }
}

impl<T: Real, const I: usize, const H: usize, const B: usize> RnnCell<T, I, H, B> {
    const SIZES: () = assert!(B == 1 || B == 2, "RnnCell takes 1 or 2 biases");

    /// All parameters zero.
    pub fn zeros(activation: Activation) -> Self {
        let () = Self::SIZES;
        RnnCell {
            kernel: crate::kernels::zm(),
            recurrent_kernel: crate::kernels::zm(),
            bias: crate::kernels::zm(),
            activation,
        }
    }

    /// Keras defaults: glorot_uniform, orthogonal, zeros.
    pub fn init(activation: Activation, rng: &mut Rng) -> Self {
        let mut c = Self::zeros(activation);
        let mut scratch = SMatrix::<f64, H, H>::zeros();
        c.fill_init(activation, rng, scratch.as_mut_slice());
        c
    }

    /// [`init`](Self::init)'s draws, in place (`scratch`: `H * H` values).
    fn fill_init(&mut self, activation: Activation, rng: &mut Rng, scratch: &mut [f64]) {
        self.activation = activation;
        glorot_uniform(self.kernel.as_mut_slice(), I, H, rng);
        orthogonal_in(self.recurrent_kernel.as_mut_slice(), H, H, rng, scratch);
        self.bias.iter_mut().for_each(|b| *b = T::ZERO);
    }

    /// Writes the activation into a cell being built in place.
    ///
    /// # Safety
    /// `slot` must be valid for writes and aligned.
    unsafe fn set_config(slot: *mut Self, activation: Activation) {
        // SAFETY: the caller's promise.
        unsafe { core::ptr::addr_of_mut!((*slot).activation).write(activation) }
    }

    /// The bias every step starts from: `b` (or `b_ih + b_hh`).
    #[inline(always)]
    fn bias_sum(&self) -> [T; H] {
        let mut z = self.bias.data.0[0];
        if B == 2 {
            add_assign(&mut z, &self.bias.data.0[B - 1]);
        }
        z
    }

    #[inline(always)]
    fn pre<M: Math>(&self, x: &[T; I], h: &[T; H]) -> [T; H] {
        let mut a = self.bias_sum();
        gemv_acc(M::default(), &mut a, &self.kernel, x);
        gemv_acc(M::default(), &mut a, &self.recurrent_kernel, h);
        a
    }

    /// One time step.
    #[inline(always)]
    pub fn step<M: Math>(&self, state: &mut RnnState<T, H>, x: &[T; I]) -> [T; H] {
        let mut a = self.pre::<M>(x, &state.h);
        self.activation.apply::<M, T>(&mut a);
        state.h = a;
        a
    }

    /// [`step`](Self::step) for `S` streams, each with its own state (see
    /// [`crate::Cell::step_many`]).
    #[inline(always)]
    pub fn step_many<M: Math, const S: usize>(
        &self,
        states: &mut [RnnState<T, H>; S],
        xs: &[[T; I]; S],
    ) -> [[T; H]; S] {
        let mut a = [self.bias_sum(); S];
        gemv_many_acc(M::default(), &mut a, &self.kernel, xs);
        let mut h = [[T::ZERO; H]; S];
        for s in 0..S {
            h[s] = states[s].h;
        }
        gemv_many_acc(M::default(), &mut a, &self.recurrent_kernel, &h);
        for s in 0..S {
            self.activation.apply::<M, T>(&mut a[s]);
            states[s].h = a[s];
        }
        a
    }

    /// [`step`](Self::step) for `L` streams side by side (see [`crate::lanes`]).
    #[inline(always)]
    pub fn step_lanes<M: Math, const L: usize>(
        &self,
        state: &mut StateLanes<T, H, L>,
        x: &[[T; L]; I],
    ) -> [[T; L]; H] {
        let mut a = lanes::splat::<T, H, L>(&self.bias_sum());
        lanes::gemv_lanes_acc::<M, T, H, I, L>(&mut a, &self.kernel, x);
        lanes::gemv_lanes_acc::<M, T, H, H, L>(&mut a, &self.recurrent_kernel, &state.h);
        lanes::activate::<M, T, H, L>(self.activation, &mut a);
        state.h = a;
        a
    }

    /// The cell state the batched step carries (zeros but for the LSTM).
    #[inline(always)]
    fn cell_state(s: &RnnState<T, H>) -> [T; H] {
        let _ = s;
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
        cache: &mut RnnCache<T, I, H>,
    ) -> [T; H] {
        cache.x = *x;
        cache.h_prev = state.h;
        let mut a = self.pre::<M>(x, &state.h);
        cache.z = a;
        self.activation.apply::<M, T>(&mut a);
        state.h = a;
        cache.h = a;
        a
    }

    /// Backward through one step; see [`crate::LstmCell::backward`] for the conventions.
    #[inline(always)]
    pub fn backward<M: Math>(
        &self,
        tr: &Transposed<T, I, H, H>,
        pending: &mut Pending<T, I, H, H>,
        cache: &RnnCache<T, I, H>,
        dh: &[T; H],
        dstate: &mut RnnState<T, H>,
        grad: &mut Self,
    ) -> [T; I] {
        let mut da = *dh;
        for (d, s) in da.iter_mut().zip(&dstate.h) {
            *d += *s;
        }
        self.activation
            .backprop::<M, T>(&cache.z, &cache.h, &mut da);
        for b in 0..B {
            add_assign(&mut grad.bias.data.0[b], &da);
        }
        tr.linear_backward::<M>(
            pending,
            &self.kernel,
            &da,
            &cache.x,
            &cache.h_prev,
            &mut grad.kernel,
            &mut grad.recurrent_kernel,
            &mut dstate.h,
        )
    }

    fn torch(&mut self) -> TorchRecurrent<'_, T> {
        let (bias_in, bias_rec) = self.bias.as_mut_slice().split_at_mut(H);
        TorchRecurrent {
            kind: "simple_rnn",
            g: H,
            i: I,
            h: H,
            perm: &rnn_layout::RNN_TORCH_BLOCKS,
            kernel: self.kernel.as_mut_slice(),
            recurrent: self.recurrent_kernel.as_mut_slice(),
            bias_in,
            bias_rec: (B == 2).then_some(bias_rec),
        }
    }
}

impl<T: Real, const I: usize, const H: usize, const B: usize> Leaf<T> for RnnCell<T, I, H, B> {
    const KIND: &'static str = "simple_rnn";
    const TENSORS: usize = 3;

    one_bias_recurrent_layer!(H, B);
}

impl<T: Real, const I: usize, const H: usize, const B: usize> Cell<T> for RnnCell<T, I, H, B> {
    type Config = Activation;
    const PARAMS: usize = H * (I + H + B);

    fn zeros(activation: Activation) -> Self {
        Self::zeros(activation)
    }
    fn init(activation: Activation, rng: &mut Rng) -> Self {
        Self::init(activation, rng)
    }
    recurrent_cell!(RnnState<T, H>, RnnCache<T, I, H>, H);
}
