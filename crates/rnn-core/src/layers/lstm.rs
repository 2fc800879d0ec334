//! Long short-term memory, as Keras `LSTM` and PyTorch `nn.LSTM` compute it.

use super::{
    export_keras, load_keras, Cell, Leaf, Pending, StateLanes, TorchRecurrent, Transposed,
    RECURRENT_TENSORS,
};
use crate::init::{glorot_uniform, orthogonal_in};
use crate::kernels::{add_assign, gemv_acc};
use crate::lanes;
use crate::many::gemv_many_acc;
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{fetch, Layout, Shape, Sink, TensorName, WeightError, WeightSource};
use nalgebra::SMatrix;

/// An LSTM cell with gate blocks i, f, c, o (Keras and PyTorch order).
///
/// `z = W x + U h + b`; `i = σ(z_i)`, `f = σ(z_f)`, `g = tanh(z_c)`, `o = σ(z_o)`;
/// `c' = f c + i g`; `h' = o tanh(c')`.
///
/// With peepholes (`P = 3`, `lstm(16, peephole = true)`), the input and forget gates also see
/// the previous cell state and the output gate the new one, as TensorFlow's
/// `LSTMCell(use_peepholes=True)` and Keras 2's `PeepholeLSTMCell` (Gers & Schmidhuber):
/// `i = σ(z_i + w_i ⊙ c)`, `f = σ(z_f + w_f ⊙ c)`, `o = σ(z_o + w_o ⊙ c')`.
///
/// # Generics
/// `T` scalar, `I` inputs, `H` units, `G = 4 * H` (checked at compile time), `P` peephole
/// vectors (0, or 3 with peepholes), `B` biases: 1 as Keras (PyTorch's `b_ih + b_hh` summed on
/// load), or 2 as PyTorch (`params = pytorch`: `b = b_ih + b_hh` with both trained, so SGD and
/// `clip_grad_norm_` see PyTorch's parameters).
// On x86-64 the weights start on a cache line: a 512-bit load that straddles two lines costs
// two of the core's load slots, and the streaming step is bound by loading its weights (on an
// AMD Zen 5, a 160 x 40 product took 480 cycles from an unaligned matrix, 290 aligned).
#[cfg_attr(target_arch = "x86_64", repr(C, align(64)))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LstmCell<
    T: Real,
    const I: usize,
    const H: usize,
    const G: usize,
    const P: usize = 0,
    const B: usize = 1,
> {
    /// Keras `kernel [I, 4H]` (stored as column-major `4H x I`).
    pub kernel: SMatrix<T, G, I>,
    /// Keras `recurrent_kernel [H, 4H]`.
    pub recurrent_kernel: SMatrix<T, G, H>,
    /// Keras `bias [4H]`; with `B = 2`, `[2, 4H]`: PyTorch's `bias_ih` (column 0) and
    /// `bias_hh` (column 1), in Keras's gate order.
    pub bias: SMatrix<T, G, B>,
    /// The peephole weights (`P = 3`): columns input, forget and output gate, Keras 2's
    /// `input_gate_peephole_weights`, `forget_gate_peephole_weights` and
    /// `output_gate_peephole_weights` (`[H]` each; TensorFlow's `w_i_diag`, `w_f_diag`,
    /// `w_o_diag`). Empty without peepholes.
    pub peephole: SMatrix<T, H, P>,
}

/// Keras 2's names of the three peephole vectors.
pub const PEEPHOLE_TENSORS: [&str; 3] = [
    "input_gate_peephole_weights",
    "forget_gate_peephole_weights",
    "output_gate_peephole_weights",
];

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

impl<T: Real, const I: usize, const H: usize, const G: usize, const P: usize, const B: usize>
    LstmCell<T, I, H, G, P, B>
{
    const SIZES: () = assert!(
        G == 4 * H && I > 0 && H > 0 && (B == 1 || B == 2) && (P == 0 || P == 3),
        "LstmCell needs G == 4 * H, B (biases) 1 or 2 and P (peepholes) 0 or 3"
    );

    /// All parameters zero.
    pub fn zeros() -> Self {
        let () = Self::SIZES;
        LstmCell {
            kernel: crate::kernels::zm(),
            recurrent_kernel: crate::kernels::zm(),
            bias: crate::kernels::zm(),
            peephole: crate::kernels::zm(),
        }
    }

    /// Keras defaults: glorot_uniform kernel, orthogonal recurrent kernel, zero bias with the
    /// forget block set to one (`unit_forget_bias`; with two biases, in the input bias only, so
    /// that their sum is Keras's); peephole vectors drawn after them, input, forget then output,
    /// each glorot_uniform of shape `[H]` (limit `sqrt(3 / H)`) as Keras 2's
    /// `PeepholeLSTMCell`.
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
        for w in self.peephole.as_mut_slice().chunks_mut(H) {
            glorot_uniform(w, H, H, rng);
        }
    }

    /// Zeroes what the in-place builder does not (the peephole vectors).
    ///
    /// # Safety
    /// `slot` must be valid for writes and aligned.
    unsafe fn set_config(slot: *mut Self, (): ()) {
        // SAFETY: the caller's promise; the field is a plain matrix of `T`.
        unsafe { crate::kernels::zero_in_place(core::ptr::addr_of_mut!((*slot).peephole)) }
    }

    /// Peephole weight `j` (0 input, 1 forget, 2 output gate) of unit `k`.
    #[inline(always)]
    fn peep(&self, j: usize, k: usize) -> T {
        self.peephole.data.0[j][k]
    }

    /// The gates of a step from `x`, the previous output `h` and cell state `c`: `i`, `f`,
    /// `g` activated; `o` activated too without peepholes, else still its pre-activation
    /// (it needs the new cell state, [`finish`](Self::finish)).
    #[inline(always)]
    fn gates<M: Math>(&self, x: &[T; I], h: &[T; H], c: &[T; H]) -> [T; G] {
        // The recurrent product first, into its own sums (`-0.0 + v == v` for every `v`): it
        // needs only the state, so it can run while the layer below still computes `x`. The
        // same bits as adding it into `z` after the input product.
        let mut u = [T::from_f64(-0.0); G];
        gemv_acc(M::default(), &mut u, &self.recurrent_kernel, h);
        let mut z = self.bias_sum();
        gemv_acc(M::default(), &mut z, &self.kernel, x);
        for k in 0..G {
            z[k] += u[k];
        }
        self.activate::<M>(&mut z, c);
        z
    }

    /// [`gates`](Self::gates) after the matrix products: `z` holds the pre-activations.
    #[inline(always)]
    fn activate<M: Math>(&self, z: &mut [T; G], c: &[T; H]) {
        if P == 3 {
            for k in 0..H {
                z[k] += self.peep(0, k) * c[k];
                z[H + k] += self.peep(1, k) * c[k];
            }
        }
        for v in &mut z[..2 * H] {
            *v = M::sigmoid(*v);
        }
        for v in &mut z[2 * H..3 * H] {
            *v = M::tanh(*v);
        }
        if P == 0 {
            for v in &mut z[3 * H..] {
                *v = M::sigmoid(*v);
            }
        }
    }

    /// The new cell state into `state.c`, the output gate (with peepholes, from the new cell
    /// state) into `g`.
    #[inline(always)]
    fn finish<M: Math>(&self, g: &mut [T; G], state: &mut LstmState<T, H>) {
        for k in 0..H {
            state.c[k] = g[H + k] * state.c[k] + g[k] * g[2 * H + k];
        }
        if P == 3 {
            for k in 0..H {
                g[3 * H + k] = M::sigmoid(g[3 * H + k] + self.peep(2, k) * state.c[k]);
            }
        }
    }

    /// One time step: updates `state` and returns the output `h`.
    #[inline(always)]
    pub fn step<M: Math>(&self, state: &mut LstmState<T, H>, x: &[T; I]) -> [T; H] {
        let mut g = self.gates::<M>(x, &state.h, &state.c);
        self.finish::<M>(&mut g, state);
        for k in 0..H {
            state.h[k] = g[3 * H + k] * M::tanh(state.c[k]);
        }
        state.h
    }

    /// [`step`](Self::step) for `S` streams, each with its own state (see
    /// [`crate::Cell::step_many`]): the same operations stream by stream, the matrix products
    /// for all of them at once.
    #[inline(always)]
    pub fn step_many<M: Math, const S: usize>(
        &self,
        states: &mut [LstmState<T, H>; S],
        xs: &[[T; I]; S],
    ) -> [[T; H]; S] {
        let mut z = [self.bias_sum(); S];
        gemv_many_acc(M::default(), &mut z, &self.kernel, xs);
        let mut h = [[T::ZERO; H]; S];
        for s in 0..S {
            h[s] = states[s].h;
        }
        gemv_many_acc(M::default(), &mut z, &self.recurrent_kernel, &h);
        for s in 0..S {
            let (g, state) = (&mut z[s], &mut states[s]);
            self.activate::<M>(g, &state.c);
            self.finish::<M>(g, state);
            for k in 0..H {
                state.h[k] = g[3 * H + k] * M::tanh(state.c[k]);
            }
            h[s] = state.h;
        }
        h
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
        if P == 3 {
            for k in 0..H {
                for l in 0..L {
                    z[k][l] += self.peep(0, k) * state.c[k][l];
                    z[H + k][l] += self.peep(1, k) * state.c[k][l];
                }
            }
        }
        for v in z[..2 * H].as_flattened_mut() {
            *v = M::sigmoid(*v);
        }
        for v in z[2 * H..3 * H].as_flattened_mut() {
            *v = M::tanh(*v);
        }
        if P == 0 {
            for v in z[3 * H..].as_flattened_mut() {
                *v = M::sigmoid(*v);
            }
        }
        for k in 0..H {
            for l in 0..L {
                state.c[k][l] = z[H + k][l] * state.c[k][l] + z[k][l] * z[2 * H + k][l];
            }
        }
        if P == 3 {
            for k in 0..H {
                for l in 0..L {
                    z[3 * H + k][l] = M::sigmoid(z[3 * H + k][l] + self.peep(2, k) * state.c[k][l]);
                }
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
        let mut g = self.gates::<M>(x, &state.h, &state.c);
        self.finish::<M>(&mut g, state);
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
            let mut dc = dstate.c[k] + dh * o * (T::ONE - tc * tc);
            dz[3 * H + k] = dh * tc * o * (T::ONE - o);
            if P == 3 {
                // The output gate saw the new cell state.
                dc += dz[3 * H + k] * self.peep(2, k);
            }
            dstate.c[k] = dc * f;
            dz[k] = dc * gg * i * (T::ONE - i);
            dz[H + k] = dc * cache.c_prev[k] * f * (T::ONE - f);
            dz[2 * H + k] = dc * i * (T::ONE - gg * gg);
            if P == 3 {
                // The input and forget gates saw the previous one; the new one is recomputed
                // exactly as the forward step computed it.
                let (cp, c) = (cache.c_prev[k], f * cache.c_prev[k] + i * gg);
                dstate.c[k] += dz[k] * self.peep(0, k) + dz[H + k] * self.peep(1, k);
                let w = &mut grad.peephole.data.0;
                w[0][k] += dz[k] * cp;
                w[1][k] += dz[H + k] * cp;
                w[2][k] += dz[3 * H + k] * c;
            }
        }
        for b in 0..B {
            add_assign(&mut grad.bias.data.0[b], &dz);
        }
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
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const P: usize, const B: usize>
    Leaf<T> for LstmCell<T, I, H, G, P, B>
{
    const KIND: &'static str = "lstm";
    const TENSORS: usize = 3 + P;

    fn leaf_tensor(&self, k: usize) -> &[T] {
        match k {
            0 => self.kernel.as_slice(),
            1 => self.recurrent_kernel.as_slice(),
            2 => self.bias.as_slice(),
            k => &self.peephole.as_slice()[(k - 3) * H..(k - 2) * H],
        }
    }
    fn leaf_tensor_mut(&mut self, k: usize) -> &mut [T] {
        match k {
            0 => self.kernel.as_mut_slice(),
            1 => self.recurrent_kernel.as_mut_slice(),
            2 => self.bias.as_mut_slice(),
            k => &mut self.peephole.as_mut_slice()[(k - 3) * H..(k - 2) * H],
        }
    }
    fn tensor_name(k: usize) -> &'static str {
        if k < 3 {
            RECURRENT_TENSORS[k]
        } else {
            PEEPHOLE_TENSORS[k - 3]
        }
    }
    fn tensor_shape(k: usize) -> Shape {
        match k {
            0 => Shape::new(&[I, G]),
            1 => Shape::new(&[H, G]),
            2 if B == 2 => Shape::new(&[2, G]),
            2 => Shape::new(&[G]),
            _ => Shape::new(&[H]),
        }
    }
    /// PyTorch has no peephole LSTM: in its layout the peephole vectors keep Keras 2's names,
    /// with the layer's suffix (`input_gate_peephole_weights_l0`).
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
                let peep = |j: usize| {
                    let name = TensorName::new(prefix, PEEPHOLE_TENSORS[j], suffix);
                    fetch(src, "lstm", name, &[H])
                };
                // Every tensor checked before any is written.
                for j in 0..P {
                    peep(j)?;
                }
                self.torch().load(src, prefix, suffix, false)?;
                if apply {
                    self.torch().load(src, prefix, suffix, true)?;
                    for j in 0..P {
                        self.peephole.data.0[j].copy_from_slice(peep(j)?);
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
        suffix: &str,
        sink: &mut Sink<'_, T>,
    ) -> Result<(), WeightError> {
        match layout {
            Layout::Keras => export_keras(self, prefix, sink),
            Layout::PyTorch => {
                let mut c = *self;
                c.torch().export(prefix, suffix, sink);
                for j in 0..P {
                    let w = &self.peephole.data.0[j];
                    let name = TensorName::new(prefix, PEEPHOLE_TENSORS[j], suffix);
                    sink(name, Shape::new(&[H]), &|n| w[n]);
                }
            }
        }
        Ok(())
    }
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const P: usize, const B: usize>
    Cell<T> for LstmCell<T, I, H, G, P, B>
{
    type Config = ();
    const PARAMS: usize = G * (I + H + B) + P * H;

    fn zeros((): ()) -> Self {
        Self::zeros()
    }
    fn init((): (), rng: &mut Rng) -> Self {
        Self::init(rng)
    }
    recurrent_cell!(LstmState<T, H>, LstmCache<T, I, H, G>, G);
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const P: usize, const B: usize>
    LstmCell<T, I, H, G, P, B>
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
