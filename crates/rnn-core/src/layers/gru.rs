//! Gated recurrent unit, as Keras `GRU` (both `reset_after` variants) and PyTorch `nn.GRU`.

use super::{
    export_keras, load_keras, Cell, Leaf, Pending, StateLanes, TorchRecurrent, Transposed,
};
use crate::init::{glorot_uniform, orthogonal_in};
use crate::kernels::{add_assign, gemv_acc, gemv_block_acc, gemv_cols_acc, ger_block_acc};
use crate::lanes;
use crate::many::gemv_many_acc;
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{Layout, Shape, Sink, WeightError, WeightSource};
use nalgebra::SMatrix;

/// A GRU cell with Keras's gate blocks z, r, h.
///
/// `h' = z h + (1 - z) n`, with `z = σ(..)`, `r = σ(..)` and
/// - `RESET_AFTER = true` (Keras default, PyTorch's only form): `n = tanh(x W_h + b_ih + r (h U_h
///   + b_hh))`, bias `[2, 3H]` (input row, recurrent row);
/// - `RESET_AFTER = false`: `n = tanh(x W_h + b_h + (r h) U_h)`, bias `[3H]`.
///
/// # Generics
/// `T` scalar, `I` inputs, `H` units, `G = 3 * H` (checked at compile time), `RESET_AFTER`.
// On x86-64 the weights start on a cache line: a 512-bit load that straddles two lines costs
// two of the core's load slots, and the streaming step is bound by loading its weights (on an
// AMD Zen 5, a 160 x 40 product took 480 cycles from an unaligned matrix, 290 aligned).
#[cfg_attr(target_arch = "x86_64", repr(C, align(64)))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GruCell<T: Real, const I: usize, const H: usize, const G: usize, const RESET_AFTER: bool>
{
    /// Keras `kernel [I, 3H]`.
    pub kernel: SMatrix<T, G, I>,
    /// Keras `recurrent_kernel [H, 3H]`.
    pub recurrent_kernel: SMatrix<T, G, H>,
    /// Column 0: input bias; column 1: recurrent bias (only used when `RESET_AFTER`). Stored as
    /// Keras's `[2, 3H]` row-major bytes.
    pub bias: SMatrix<T, G, 2>,
}

/// The GRU's state: its hidden vector. Also the shape of its gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GruState<T, const H: usize> {
    /// Hidden state (the layer's output).
    pub h: [T; H],
}

impl<T: Real, const H: usize> GruState<T, H> {
    /// All zeros.
    pub const fn zeros() -> Self {
        GruState { h: [T::ZERO; H] }
    }
}

/// What one training step records.
#[derive(Clone, Copy, Debug)]
pub struct GruCache<T, const I: usize, const H: usize, const G: usize> {
    x: [T; I],
    h_prev: [T; H],
    /// z, r, n after their activations.
    gates: [T; G],
    /// `h U_h + b_hh` (reset after) or `r * h_prev` (reset before).
    aux: [T; H],
}

impl<T: Real, const I: usize, const H: usize, const G: usize> GruCache<T, I, H, G> {
    /// An empty record.
    pub const fn zeros() -> Self {
        GruCache {
            x: [T::ZERO; I],
            h_prev: [T::ZERO; H],
            gates: [T::ZERO; G],
            aux: [T::ZERO; H],
        }
    }
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const RA: bool>
    GruCell<T, I, H, G, RA>
{
    const SIZES: () = assert!(G == 3 * H && I > 0 && H > 0, "GruCell needs G == 3 * H");

    /// All parameters zero.
    pub fn zeros() -> Self {
        let () = Self::SIZES;
        GruCell {
            kernel: crate::kernels::zm(),
            recurrent_kernel: crate::kernels::zm(),
            bias: crate::kernels::zm(),
        }
    }

    /// Keras defaults: glorot_uniform kernel, orthogonal recurrent kernel, zero biases.
    pub fn init(rng: &mut Rng) -> Self {
        let mut c = Self::zeros();
        let mut scratch = SMatrix::<f64, G, H>::zeros();
        c.fill_init((), rng, scratch.as_mut_slice());
        c
    }

    /// [`init`](Self::init)'s draws, in place (`scratch`: `G * H` values).
    fn fill_init(&mut self, (): (), rng: &mut Rng, scratch: &mut [f64]) {
        glorot_uniform(self.kernel.as_mut_slice(), I, G, rng);
        orthogonal_in(self.recurrent_kernel.as_mut_slice(), G, H, rng, scratch);
        self.bias.iter_mut().for_each(|b| *b = T::ZERO);
    }

    /// A GRU's options are type parameters: nothing to set.
    unsafe fn set_config(_: *mut Self, (): ()) {}

    /// Gates and the auxiliary vector for one step.
    #[inline(always)]
    fn gates<M: Math>(&self, x: &[T; I], h: &[T; H]) -> ([T; G], [T; H]) {
        let mut aux = [T::ZERO; H];
        let a = if RA {
            // The recurrent product first: it needs only the state, so it can run while the
            // layer below still computes `x`.
            let mut hz = self.bias.data.0[1];
            gemv_acc(M::default(), &mut hz, &self.recurrent_kernel, h);
            let mut a = self.bias.data.0[0];
            gemv_acc(M::default(), &mut a, &self.kernel, x);
            Self::activate_reset_after::<M>(&mut a, &hz);
            aux.copy_from_slice(&hz[2 * H..]);
            a
        } else {
            let mut a = self.bias.data.0[0];
            gemv_acc(M::default(), &mut a, &self.kernel, x);
            let mut hz = [T::ZERO; G];
            gemv_acc(M::default(), &mut hz, &self.recurrent_kernel, h);
            for k in 0..2 * H {
                a[k] = M::sigmoid(a[k] + hz[k]);
            }
            for k in 0..H {
                aux[k] = a[H + k] * h[k];
            }
            let mut n = [T::ZERO; H];
            gemv_block_acc(M::default(), &mut n, &self.recurrent_kernel, 2 * H, &aux);
            for k in 0..H {
                a[2 * H + k] = M::tanh(a[2 * H + k] + n[k]);
            }
            a
        };
        (a, aux)
    }

    /// `reset_after`'s gates from the input product plus bias `a` and the recurrent product
    /// plus bias `hz`: `z` and `r` activated, and the candidate, into `a`.
    #[inline(always)]
    fn activate_reset_after<M: Math>(a: &mut [T; G], hz: &[T; G]) {
        for k in 0..2 * H {
            a[k] = M::sigmoid(a[k] + hz[k]);
        }
        for k in 0..H {
            a[2 * H + k] = M::tanh(a[2 * H + k] + a[H + k] * hz[2 * H + k]);
        }
    }

    /// The new state from the gates `g`: `h = z * h + (1 - z) * candidate`.
    #[inline(always)]
    fn update(g: &[T; G], h: &mut [T; H]) {
        for k in 0..H {
            let z = g[k];
            h[k] = z * h[k] + (T::ONE - z) * g[2 * H + k];
        }
    }

    /// One time step: updates `state` and returns the output `h`.
    #[inline(always)]
    pub fn step<M: Math>(&self, state: &mut GruState<T, H>, x: &[T; I]) -> [T; H] {
        let (g, _) = self.gates::<M>(x, &state.h);
        Self::update(&g, &mut state.h);
        state.h
    }

    /// [`step`](Self::step) for `S` streams, each with its own state (see
    /// [`crate::Cell::step_many`]): with `reset_after` (the default) the matrix products for
    /// all of them at once, then the same operations stream by stream; without it (the
    /// reset gate multiplies the state before its product) one stream after another.
    #[inline(always)]
    pub fn step_many<M: Math, const S: usize>(
        &self,
        states: &mut [GruState<T, H>; S],
        xs: &[[T; I]; S],
    ) -> [[T; H]; S] {
        if !RA {
            return super::step_each(xs, |s, x| self.step::<M>(&mut states[s], x));
        }
        let mut h = [[T::ZERO; H]; S];
        let mut a = [self.bias.data.0[0]; S];
        gemv_many_acc(M::default(), &mut a, &self.kernel, xs);
        for s in 0..S {
            h[s] = states[s].h;
        }
        let mut hz = [self.bias.data.0[1]; S];
        gemv_many_acc(M::default(), &mut hz, &self.recurrent_kernel, &h);
        for s in 0..S {
            Self::activate_reset_after::<M>(&mut a[s], &hz[s]);
            Self::update(&a[s], &mut states[s].h);
            h[s] = states[s].h;
        }
        h
    }

    /// [`step`](Self::step) for `L` streams side by side (see [`crate::lanes`]): the same
    /// operations as `gates` and [`step`](Self::step), lane by lane.
    #[inline(always)]
    pub fn step_lanes<M: Math, const L: usize>(
        &self,
        state: &mut StateLanes<T, H, L>,
        x: &[[T; L]; I],
    ) -> [[T; L]; H] {
        let h = &state.h;
        let mut a = lanes::splat::<T, G, L>(&self.bias.data.0[0]);
        lanes::gemv_lanes_acc::<M, T, G, I, L>(&mut a, &self.kernel, x);
        if RA {
            let mut hz = lanes::splat::<T, G, L>(&self.bias.data.0[1]);
            lanes::gemv_lanes_acc::<M, T, G, H, L>(&mut hz, &self.recurrent_kernel, h);
            for k in 0..2 * H {
                for l in 0..L {
                    a[k][l] = M::sigmoid(a[k][l] + hz[k][l]);
                }
            }
            for k in 0..H {
                for l in 0..L {
                    a[2 * H + k][l] = M::tanh(a[2 * H + k][l] + a[H + k][l] * hz[2 * H + k][l]);
                }
            }
        } else {
            let mut hz = [[T::ZERO; L]; G];
            lanes::gemv_lanes_acc::<M, T, G, H, L>(&mut hz, &self.recurrent_kernel, h);
            for k in 0..2 * H {
                for l in 0..L {
                    a[k][l] = M::sigmoid(a[k][l] + hz[k][l]);
                }
            }
            let mut aux = [[T::ZERO; L]; H];
            for k in 0..H {
                for l in 0..L {
                    aux[k][l] = a[H + k][l] * h[k][l];
                }
            }
            let mut n = [[T::ZERO; L]; H];
            lanes::gemv_block_lanes_acc::<M, T, G, H, H, L>(
                &mut n,
                &self.recurrent_kernel,
                2 * H,
                &aux,
            );
            for k in 0..H {
                for l in 0..L {
                    a[2 * H + k][l] = M::tanh(a[2 * H + k][l] + n[k][l]);
                }
            }
        }
        for k in 0..H {
            for l in 0..L {
                let z = a[k][l];
                state.h[k][l] = z * state.h[k][l] + (T::ONE - z) * a[2 * H + k][l];
            }
        }
        state.h
    }

    /// The cell state the batched step carries (zeros but for the LSTM).
    #[inline(always)]
    fn cell_state(s: &GruState<T, H>) -> [T; H] {
        let _ = s;
        [T::ZERO; H]
    }

    #[inline(always)]
    fn lane<const L: usize>(lanes: &StateLanes<T, H, L>, l: usize) -> GruState<T, H> {
        GruState { h: lanes.h_of(l) }
    }

    /// [`step`](Self::step) that also records what [`backward`](Self::backward) needs.
    #[inline(always)]
    pub fn step_train<M: Math>(
        &self,
        state: &mut GruState<T, H>,
        x: &[T; I],
        cache: &mut GruCache<T, I, H, G>,
    ) -> [T; H] {
        cache.x = *x;
        cache.h_prev = state.h;
        let (g, aux) = self.gates::<M>(x, &state.h);
        Self::update(&g, &mut state.h);
        cache.gates = g;
        cache.aux = aux;
        state.h
    }

    /// Backward through one step; see [`crate::LstmCell::backward`] for the conventions.
    #[inline(always)]
    pub fn backward<M: Math>(
        &self,
        tr: &Transposed<T, I, H, G>,
        pending: &mut Pending<T, I, H, G>,
        cache: &GruCache<T, I, H, G>,
        dh: &[T; H],
        dstate: &mut GruState<T, H>,
        grad: &mut Self,
    ) -> [T; I] {
        let g = &cache.gates;
        // dxz: gradient w.r.t. the input-side pre-activations [z, r, n];
        // dhz: w.r.t. the recurrent-side ones.
        let mut dxz = [T::ZERO; G];
        let mut dhz = [T::ZERO; G];
        let mut dh_prev = [T::ZERO; H];
        let mut dz_raw = [T::ZERO; H];
        for k in 0..H {
            let (z, n) = (g[k], g[2 * H + k]);
            let d = dh[k] + dstate.h[k];
            dz_raw[k] = d * (cache.h_prev[k] - n);
            dh_prev[k] = d * z;
            dxz[2 * H + k] = d * (T::ONE - z) * (T::ONE - n * n);
        }
        if RA {
            for k in 0..H {
                let (z, r) = (g[k], g[H + k]);
                let dan = dxz[2 * H + k];
                let dr = dan * cache.aux[k];
                dxz[k] = dz_raw[k] * z * (T::ONE - z);
                dxz[H + k] = dr * r * (T::ONE - r);
                dhz[k] = dxz[k];
                dhz[H + k] = dxz[H + k];
                dhz[2 * H + k] = dan * r;
            }
        } else {
            let mut dan = [T::ZERO; H];
            dan.copy_from_slice(&dxz[2 * H..]);
            let mut drh = [T::ZERO; H];
            gemv_cols_acc(M::default(), &mut drh, &tr.recurrent_t, 2 * H, &dan);
            for k in 0..H {
                let (z, r) = (g[k], g[H + k]);
                let dr = drh[k] * cache.h_prev[k];
                dh_prev[k] += drh[k] * r;
                dxz[k] = dz_raw[k] * z * (T::ONE - z);
                dxz[H + k] = dr * r * (T::ONE - r);
                dhz[k] = dxz[k];
                dhz[H + k] = dxz[H + k];
            }
        }
        pending
            .kernel
            .push(M::default(), &mut grad.kernel, &dxz, &cache.x);
        pending.recurrent.push(
            M::default(),
            &mut grad.recurrent_kernel,
            &dhz,
            &cache.h_prev,
        );
        if RA {
            let (b0, b1) = grad.bias.as_mut_slice().split_at_mut(G);
            add_assign(b0, &dxz);
            add_assign(b1, &dhz);
        } else {
            let dan: &[T; H] = dxz[2 * H..].try_into().unwrap();
            let rec = &mut grad.recurrent_kernel;
            ger_block_acc(M::default(), rec, 2 * H, dan, &cache.aux);
            add_assign(&mut grad.bias.as_mut_slice()[..G], &dxz);
        }
        gemv_acc(M::default(), &mut dh_prev, &tr.recurrent_t, &dhz);
        let mut dx = [T::ZERO; I];
        tr.input_grad(M::default(), &self.kernel, &mut dx, &dxz);
        dstate.h = dh_prev;
        dx
    }

    fn torch(&mut self) -> TorchRecurrent<'_, T> {
        let (b0, b1) = self.bias.as_mut_slice().split_at_mut(G);
        TorchRecurrent {
            kind: "gru",
            g: G,
            i: I,
            h: H,
            // PyTorch blocks r, z, n hold Keras blocks 1 (r), 0 (z), 2 (h).
            perm: &rnn_layout::GRU_TORCH_BLOCKS,
            kernel: self.kernel.as_mut_slice(),
            recurrent: self.recurrent_kernel.as_mut_slice(),
            bias_in: b0,
            bias_rec: Some(b1),
        }
    }
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const RA: bool> Cell<T>
    for GruCell<T, I, H, G, RA>
{
    type Config = ();
    const PARAMS: usize = G * (I + H) + if RA { 2 * G } else { G };

    fn zeros((): ()) -> Self {
        Self::zeros()
    }
    fn init((): (), rng: &mut Rng) -> Self {
        Self::init(rng)
    }
    recurrent_cell!(GruState<T, H>, GruCache<T, I, H, G>, G);
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const RA: bool> Leaf<T>
    for GruCell<T, I, H, G, RA>
{
    const KIND: &'static str = "gru";
    const TENSORS: usize = 3;

    fn leaf_tensor(&self, k: usize) -> &[T] {
        match k {
            0 => self.kernel.as_slice(),
            1 => self.recurrent_kernel.as_slice(),
            _ if RA => self.bias.as_slice(),
            _ => &self.bias.as_slice()[..G],
        }
    }
    fn leaf_tensor_mut(&mut self, k: usize) -> &mut [T] {
        match k {
            0 => self.kernel.as_mut_slice(),
            1 => self.recurrent_kernel.as_mut_slice(),
            _ if RA => self.bias.as_mut_slice(),
            _ => &mut self.bias.as_mut_slice()[..G],
        }
    }
    fn tensor_name(k: usize) -> &'static str {
        super::RECURRENT_TENSORS[k]
    }
    fn tensor_shape(k: usize) -> Shape {
        match k {
            0 => Shape::new(&[I, G]),
            1 => Shape::new(&[H, G]),
            _ if RA => Shape::new(&[2, G]),
            _ => Shape::new(&[G]),
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
            Layout::PyTorch if RA => self.torch().load(src, prefix, suffix, apply),
            Layout::PyTorch => Err(WeightError::NoEquivalent {
                layer: 0,
                kind: "gru",
                layout,
            }),
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
            Layout::PyTorch if RA => {
                let mut c = *self;
                c.torch().export(prefix, suffix, sink)
            }
            Layout::PyTorch => {
                return Err(WeightError::NoEquivalent {
                    layer: 0,
                    kind: "gru",
                    layout,
                })
            }
        }
        Ok(())
    }
}
