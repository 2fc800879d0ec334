//! Long short-term memory, as Keras `LSTM` and PyTorch `nn.LSTM` compute it.

use super::{
    export_keras, load_keras, Cell, Leaf, Pending, StateLanes, TorchRecurrent, Transposed,
};
use crate::init::{glorot_uniform, orthogonal_in};
use crate::kernels::{add_assign, gemv_acc};
use crate::lanes;
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{Layout, Shape, Sink, WeightError, WeightSource};
use nalgebra::SMatrix;

/// An LSTM cell with gate blocks i, f, c, o (Keras and PyTorch order).
///
/// `z = W x + U h + b`; `i = σ(z_i)`, `f = σ(z_f)`, `g = tanh(z_c)`, `o = σ(z_o)`;
/// `c' = f c + i g`; `h' = o tanh(c')`.
///
/// # Generics
/// `T` scalar, `I` inputs, `H` units, `G = 4 * H` (checked at compile time), `B` biases:
/// 1 as Keras (PyTorch's `b_ih + b_hh` summed on load), or 2 as PyTorch (`params = pytorch`:
/// `b = b_ih + b_hh` with both trained, so SGD and `clip_grad_norm_` see PyTorch's parameters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LstmCell<T: Real, const I: usize, const H: usize, const G: usize, const B: usize = 1> {
    /// Keras `kernel [I, 4H]` (stored as column-major `4H x I`).
    pub kernel: SMatrix<T, G, I>,
    /// Keras `recurrent_kernel [H, 4H]`.
    pub recurrent_kernel: SMatrix<T, G, H>,
    /// Keras `bias [4H]`; with `B = 2`, `[2, 4H]`: PyTorch's `bias_ih` (column 0) and
    /// `bias_hh` (column 1), in Keras's gate order.
    pub bias: SMatrix<T, G, B>,
}

/// The state carried between steps: hidden `h` and cell `c`. Also the shape of its gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LstmState<T, const H: usize> {
    /// Hidden state (the layer's output).
    pub h: [T; H],
    /// Cell state.
    pub c: [T; H],
}

impl<T: Real, const H: usize> LstmState<T, H> {
    /// All zeros, the initial state.
    pub const fn zeros() -> Self {
        LstmState {
            h: [T::ZERO; H],
            c: [T::ZERO; H],
        }
    }
}

/// What one training step records for the backward pass.
#[derive(Clone, Copy, Debug)]
pub struct LstmCache<T, const I: usize, const H: usize, const G: usize> {
    x: [T; I],
    h_prev: [T; H],
    c_prev: [T; H],
    gates: [T; G],
    tanh_c: [T; H],
}

impl<T: Real, const I: usize, const H: usize, const G: usize> LstmCache<T, I, H, G> {
    /// An empty record.
    pub const fn zeros() -> Self {
        LstmCache {
            x: [T::ZERO; I],
            h_prev: [T::ZERO; H],
            c_prev: [T::ZERO; H],
            gates: [T::ZERO; G],
            tanh_c: [T::ZERO; H],
        }
    }
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const B: usize>
    LstmCell<T, I, H, G, B>
{
    const SIZES: () = assert!(
        G == 4 * H && I > 0 && H > 0 && (B == 1 || B == 2),
        "LstmCell needs G == 4 * H and B (biases) 1 or 2"
    );

    /// All parameters zero.
    pub fn zeros() -> Self {
        let () = Self::SIZES;
        LstmCell {
            kernel: crate::kernels::zm(),
            recurrent_kernel: crate::kernels::zm(),
            bias: crate::kernels::zm(),
        }
    }

    /// Keras defaults: glorot_uniform kernel, orthogonal recurrent kernel, zero bias with the
    /// forget block set to one (`unit_forget_bias`; with two biases, in the input bias only, so
    /// that their sum is Keras's).
    pub fn init(rng: &mut Rng) -> Self {
        let mut c = Self::zeros();
        let mut scratch = SMatrix::<f64, G, H>::zeros();
        c.fill_init((), rng, scratch.as_mut_slice());
        c
    }

    /// The bias every step starts from: `b` (or `b_ih + b_hh`).
    #[inline(always)]
    fn bias_sum(&self) -> [T; G] {
        let mut z = self.bias.data.0[0];
        if B == 2 {
            add_assign(&mut z, &self.bias.data.0[B - 1]);
        }
        z
    }

    /// [`init`](Self::init)'s draws, in place (`scratch`: `G * H` values).
    fn fill_init(&mut self, (): (), rng: &mut Rng, scratch: &mut [f64]) {
        glorot_uniform(self.kernel.as_mut_slice(), I, G, rng);
        orthogonal_in(self.recurrent_kernel.as_mut_slice(), G, H, rng, scratch);
        for (k, b) in self.bias.iter_mut().enumerate() {
            *b = if (H..2 * H).contains(&k) {
                T::ONE
            } else {
                T::ZERO
            };
        }
    }

    /// An LSTM has no options to set.
    unsafe fn set_config(_: *mut Self, (): ()) {}

    #[inline(always)]
    fn gates<M: Math>(&self, x: &[T; I], h: &[T; H]) -> [T; G] {
        let mut z = self.bias_sum();
        gemv_acc(M::default(), &mut z, &self.kernel, x);
        gemv_acc(M::default(), &mut z, &self.recurrent_kernel, h);
        for v in &mut z[..2 * H] {
            *v = M::sigmoid(*v);
        }
        for v in &mut z[2 * H..3 * H] {
            *v = M::tanh(*v);
        }
        for v in &mut z[3 * H..] {
            *v = M::sigmoid(*v);
        }
        z
    }

    /// One time step: updates `state` and returns the output `h`.
    #[inline(always)]
    pub fn step<M: Math>(&self, state: &mut LstmState<T, H>, x: &[T; I]) -> [T; H] {
        let g = self.gates::<M>(x, &state.h);
        for k in 0..H {
            state.c[k] = g[H + k] * state.c[k] + g[k] * g[2 * H + k];
        }
        for k in 0..H {
            state.h[k] = g[3 * H + k] * M::tanh(state.c[k]);
        }
        state.h
    }

    /// [`step`](Self::step) for `L` streams side by side (see [`crate::lanes`]).
    #[inline(always)]
    pub fn step_lanes<M: Math, const L: usize>(
        &self,
        state: &mut StateLanes<T, H, L>,
        x: &[[T; L]; I],
    ) -> [[T; L]; H] {
        let mut z = lanes::splat::<T, G, L>(&self.bias_sum());
        lanes::gemv_lanes_acc::<M, T, G, I, L>(&mut z, &self.kernel, x);
        lanes::gemv_lanes_acc::<M, T, G, H, L>(&mut z, &self.recurrent_kernel, &state.h);
        for v in z[..2 * H].as_flattened_mut() {
            *v = M::sigmoid(*v);
        }
        for v in z[2 * H..3 * H].as_flattened_mut() {
            *v = M::tanh(*v);
        }
        for v in z[3 * H..].as_flattened_mut() {
            *v = M::sigmoid(*v);
        }
        for k in 0..H {
            for l in 0..L {
                state.c[k][l] = z[H + k][l] * state.c[k][l] + z[k][l] * z[2 * H + k][l];
            }
        }
        for k in 0..H {
            for l in 0..L {
                state.h[k][l] = z[3 * H + k][l] * M::tanh(state.c[k][l]);
            }
        }
        state.h
    }

    /// The cell state the batched step carries (zeros but for the LSTM).
    #[inline(always)]
    fn cell_state(s: &LstmState<T, H>) -> [T; H] {
        let _ = s;
        s.c
    }

    #[inline(always)]
    fn lane<const L: usize>(lanes: &StateLanes<T, H, L>, l: usize) -> LstmState<T, H> {
        LstmState {
            h: lanes.h_of(l),
            c: lanes.c_of(l),
        }
    }

    /// [`step`](Self::step) that also records what [`backward`](Self::backward) needs.
    #[inline(always)]
    pub fn step_train<M: Math>(
        &self,
        state: &mut LstmState<T, H>,
        x: &[T; I],
        cache: &mut LstmCache<T, I, H, G>,
    ) -> [T; H] {
        cache.x = *x;
        cache.h_prev = state.h;
        cache.c_prev = state.c;
        let g = self.gates::<M>(x, &state.h);
        for k in 0..H {
            state.c[k] = g[H + k] * state.c[k] + g[k] * g[2 * H + k];
        }
        for k in 0..H {
            cache.tanh_c[k] = M::tanh(state.c[k]);
            state.h[k] = g[3 * H + k] * cache.tanh_c[k];
        }
        cache.gates = g;
        state.h
    }

    /// Backward through one step.
    ///
    /// `dh` is the loss gradient w.r.t. this step's output; `dstate` carries the gradient w.r.t.
    /// the state from step `t + 1` in, and leaves holding the gradient w.r.t. the state of step
    /// `t - 1`. The bias gradient is added to `grad`; the kernel and recurrent-kernel gradients
    /// are collected in `pending` and added to `grad` every 8 steps and by
    /// [`flush`](Self::flush), which must be called after the last step. `tr` must be
    /// [`transposed`](Self::transposed) of these same weights. The input gradient is returned.
    /// (A generated model's backward pass does all of this.)
    #[inline(always)]
    pub fn backward<M: Math>(
        &self,
        tr: &Transposed<T, I, H, G>,
        pending: &mut Pending<T, I, H, G>,
        cache: &LstmCache<T, I, H, G>,
        dh: &[T; H],
        dstate: &mut LstmState<T, H>,
        grad: &mut Self,
    ) -> [T; I] {
        let g = &cache.gates;
        let mut dz = [T::ZERO; G];
        for k in 0..H {
            let (i, f, gg, o) = (g[k], g[H + k], g[2 * H + k], g[3 * H + k]);
            let tc = cache.tanh_c[k];
            let dh = dh[k] + dstate.h[k];
            let dc = dstate.c[k] + dh * o * (T::ONE - tc * tc);
            dstate.c[k] = dc * f;
            dz[k] = dc * gg * i * (T::ONE - i);
            dz[H + k] = dc * cache.c_prev[k] * f * (T::ONE - f);
            dz[2 * H + k] = dc * i * (T::ONE - gg * gg);
            dz[3 * H + k] = dh * tc * o * (T::ONE - o);
        }
        pending
            .kernel
            .push(M::default(), &mut grad.kernel, &dz, &cache.x);
        pending
            .recurrent
            .push(M::default(), &mut grad.recurrent_kernel, &dz, &cache.h_prev);
        for b in 0..B {
            add_assign(&mut grad.bias.data.0[b], &dz);
        }
        let mut dx = [T::ZERO; I];
        tr.input_grad(M::default(), &self.kernel, &mut dx, &dz);
        dstate.h = [T::ZERO; H];
        gemv_acc(M::default(), &mut dstate.h, &tr.recurrent_t, &dz);
        dx
    }
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const B: usize> Leaf<T>
    for LstmCell<T, I, H, G, B>
{
    const KIND: &'static str = "lstm";
    const TENSORS: usize = 3;

    one_bias_recurrent_layer!(G, B);
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const B: usize> Cell<T>
    for LstmCell<T, I, H, G, B>
{
    type Config = ();
    const PARAMS: usize = G * (I + H + B);

    fn zeros((): ()) -> Self {
        Self::zeros()
    }
    fn init((): (), rng: &mut Rng) -> Self {
        Self::init(rng)
    }
    recurrent_cell!(LstmState<T, H>, LstmCache<T, I, H, G>, G);
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const B: usize>
    LstmCell<T, I, H, G, B>
{
    fn torch(&mut self) -> TorchRecurrent<'_, T> {
        let (bias_in, bias_rec) = self.bias.as_mut_slice().split_at_mut(G);
        TorchRecurrent {
            kind: "lstm",
            g: G,
            i: I,
            h: H,
            perm: &rnn_layout::LSTM_TORCH_BLOCKS,
            kernel: self.kernel.as_mut_slice(),
            recurrent: self.recurrent_kernel.as_mut_slice(),
            bias_in,
            bias_rec: (B == 2).then_some(bias_rec),
        }
    }
}
