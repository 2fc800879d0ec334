//! Attention over an encoder's hidden states, inside a decoder (see [`crate::seq2seq`]).
//!
//! At decoder step `t`, with the decoder's hidden state `hd` (this layer's input) and the
//! encoder's outputs `he_1 .. he_N` (the memory, held in this layer's state):
//!
//! - Bahdanau's additive score (`DOT = false`): `s_i = v^T tanh(W_e he_i + W_d hd)`, as
//!   Keras's `AdditiveAttention(use_scale=True)` called on `query = Dense(A, use_bias=False)(hd)`
//!   and `key = Dense(A, use_bias=False)(he)`, with `value = he`;
//! - Luong's dot score (`DOT = true`): `s_i = hd . he_i`, as Keras's `Attention()` (needs
//!   `E = H`);
//!
//! then `a = softmax(s)`, the context `c = sum_i a_i he_i`, and the output
//! `tanh(W_c [c; hd])` (a `Dense(U, tanh, use_bias=False)` on `Concatenate()([c, hd])`). The
//! weights `a` of the latest step stay readable in the state ([`AttentionState::weights`]).
//!
//! The memory's keys `W_e he_i` are computed once per source sequence by
//! [`Attention::memory`]; their gradient goes back to `W_e` and the encoder through
//! [`Attention::memory_backward`].

use super::{export_keras, load_keras, Cell, Leaf, Vector};
use crate::activation::softmax;
use crate::init::glorot_uniform;
use crate::kernels::{gemv_acc, gemv_t_acc, ger_acc};
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{Layout, Shape, Sink, WeightError, WeightSource};
use nalgebra::{SMatrix, SVector};

/// Attention over `N` encoder states of width `E`, queried by a decoder state of width `H`.
///
/// # Generics
/// `T` scalar, `H` query (decoder state) width, `E` encoder state width, `N` source steps,
/// `A` additive score units (0 for the dot score), `U` outputs, `C = E + H` (checked at
/// compile time), `DOT` the score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Attention<
    T: Real,
    const H: usize,
    const E: usize,
    const N: usize,
    const A: usize,
    const U: usize,
    const C: usize,
    const DOT: bool,
> {
    /// `W_d`, Keras `query_kernel [H, A]` (additive only).
    pub query_kernel: SMatrix<T, A, H>,
    /// `W_e`, Keras `key_kernel [E, A]` (additive only).
    pub key_kernel: SMatrix<T, A, E>,
    /// `v`, Keras `scale [A]` (additive only).
    pub scale: SVector<T, A>,
    /// `W_c`, Keras `output_kernel [E + H, U]`: rows `0..E` multiply the context, then `hd`.
    pub output_kernel: SMatrix<T, U, C>,
}

/// The memory a decoder attends over, and the weights of its latest step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionState<T, const E: usize, const N: usize, const A: usize> {
    /// The encoder's outputs `he_i` (the values).
    pub values: [[T; E]; N],
    /// `W_e he_i` (the keys; empty for the dot score, whose keys are the values).
    pub keys: [[T; A]; N],
    /// The attention weights of the latest step (sum 1; in a gradient, unused).
    pub weights: [T; N],
}

impl<T: Real, const E: usize, const N: usize, const A: usize> AttentionState<T, E, N, A> {
    /// All zeros.
    pub const fn zeros() -> Self {
        AttentionState {
            values: [[T::ZERO; E]; N],
            keys: [[T::ZERO; A]; N],
            weights: [T::ZERO; N],
        }
    }
}

/// What one training step records.
#[derive(Clone, Copy, Debug)]
pub struct AttentionCache<
    T,
    const E: usize,
    const N: usize,
    const A: usize,
    const U: usize,
    const C: usize,
> {
    /// `[c; hd]`.
    z: [T; C],
    /// The weights.
    a: [T; N],
    /// `tanh(W_e he_i + W_d hd)` per source step (additive).
    t: [[T; A]; N],
    /// The memory's values.
    values: [[T; E]; N],
    /// The output.
    u: [T; U],
}

impl<T: Real, const E: usize, const N: usize, const A: usize, const U: usize, const C: usize>
    AttentionCache<T, E, N, A, U, C>
{
    /// An empty record.
    pub const fn zeros() -> Self {
        AttentionCache {
            z: [T::ZERO; C],
            a: [T::ZERO; N],
            t: [[T::ZERO; A]; N],
            values: [[T::ZERO; E]; N],
            u: [T::ZERO; U],
        }
    }
}

impl<
        T: Real,
        const H: usize,
        const E: usize,
        const N: usize,
        const A: usize,
        const U: usize,
        const C: usize,
        const DOT: bool,
    > Attention<T, H, E, N, A, U, C, DOT>
{
    const SIZES_OK: () = {
        assert!(C == E + H, "Attention: C must be E + H");
        assert!(N > 0, "Attention: the memory needs at least one step");
        assert!(
            !DOT || (E == H && A == 0),
            "Attention: the dot score needs E = H and A = 0"
        );
        assert!(DOT || A > 0, "Attention: the additive score needs A > 0");
    };

    /// All parameters zero.
    pub fn zeros() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::SIZES_OK;
        Attention {
            query_kernel: crate::kernels::zm(),
            key_kernel: crate::kernels::zm(),
            scale: crate::kernels::zm(),
            output_kernel: crate::kernels::zm(),
        }
    }

    /// Keras's defaults: every kernel `glorot_uniform` (as the `Dense` layers), and `scale`
    /// `glorot_uniform` over its one axis (Keras's `AdditiveAttention`: `U(±sqrt(3 / A))`).
    pub fn init(rng: &mut Rng) -> Self {
        let mut c = Self::zeros();
        if !DOT {
            glorot_uniform(c.query_kernel.as_mut_slice(), H, A, rng);
            glorot_uniform(c.key_kernel.as_mut_slice(), E, A, rng);
            glorot_uniform(c.scale.as_mut_slice(), A, A, rng);
        }
        glorot_uniform(c.output_kernel.as_mut_slice(), C, U, rng);
        c
    }

    /// The memory of one source sequence: its values and (additive) keys `W_e he_i`.
    pub fn memory<M: Math>(&self, values: &[[T; E]; N]) -> AttentionState<T, E, N, A> {
        #[allow(clippy::let_unit_value)]
        let () = Self::SIZES_OK;
        let mut s = AttentionState::zeros();
        s.values = *values;
        if !DOT {
            for (k, v) in s.keys.iter_mut().zip(values) {
                gemv_acc(M::default(), k, &self.key_kernel, v);
            }
        }
        s
    }

    /// Backward through [`memory`](Self::memory): `dmem` is the gradient w.r.t. the memory
    /// (what the decoder's backward pass leaves in this layer's state gradient); adds the
    /// key kernel's gradient into `grad` and the values' into `dvalues`.
    pub fn memory_backward<M: Math>(
        &self,
        dmem: &AttentionState<T, E, N, A>,
        values: &[[T; E]; N],
        grad: &mut Self,
        dvalues: &mut [[T; E]; N],
    ) {
        #[allow(clippy::let_unit_value)]
        let () = Self::SIZES_OK;
        for i in 0..N {
            for e in 0..E {
                dvalues[i][e] += dmem.values[i][e];
            }
            if !DOT {
                gemv_t_acc(
                    M::default(),
                    &mut dvalues[i],
                    &self.key_kernel,
                    &dmem.keys[i],
                );
                ger_acc(
                    M::default(),
                    &mut grad.key_kernel,
                    &dmem.keys[i],
                    &values[i],
                );
            }
        }
    }

    /// One step: the output, the weights written into `mem`, the record into `cache`.
    #[inline(always)]
    fn attend<M: Math>(
        &self,
        mem: &mut AttentionState<T, E, N, A>,
        hd: &[T; H],
        mut cache: Option<&mut AttentionCache<T, E, N, A, U, C>>,
    ) -> [T; U] {
        // Fields are public, so a value may not come from `zeros`: checked here too.
        #[allow(clippy::let_unit_value)]
        let () = Self::SIZES_OK;
        let mut s = [T::ZERO; N];
        if DOT {
            for i in 0..N {
                let mut d = T::ZERO;
                for k in 0..E.min(H) {
                    d += hd[k] * mem.values[i][k];
                }
                s[i] = d;
            }
        } else {
            let mut q = [T::ZERO; A];
            gemv_acc(M::default(), &mut q, &self.query_kernel, hd);
            for i in 0..N {
                let mut t = [T::ZERO; A];
                let mut d = T::ZERO;
                for a in 0..A {
                    t[a] = M::tanh(mem.keys[i][a] + q[a]);
                    d += self.scale[a] * t[a];
                }
                s[i] = d;
                if let Some(c) = cache.as_deref_mut() {
                    c.t[i] = t;
                }
            }
        }
        softmax(&mut s);
        let mut z = [T::ZERO; C];
        for i in 0..N {
            for e in 0..E {
                z[e] += s[i] * mem.values[i][e];
            }
        }
        z[E..].copy_from_slice(hd);
        let mut u = [T::ZERO; U];
        gemv_acc(M::default(), &mut u, &self.output_kernel, &z);
        for v in u.iter_mut() {
            *v = M::tanh(*v);
        }
        mem.weights = s;
        if let Some(c) = cache {
            c.z = z;
            c.a = s;
            c.values = mem.values;
            c.u = u;
        }
        u
    }
}

impl<
        T: Real,
        const H: usize,
        const E: usize,
        const N: usize,
        const A: usize,
        const U: usize,
        const C: usize,
        const DOT: bool,
    > Cell<T> for Attention<T, H, E, N, A, U, C, DOT>
{
    type Config = ();
    type Input = [T; H];
    type Output = [T; U];
    type State = AttentionState<T, E, N, A>;
    type Cache = AttentionCache<T, E, N, A, U, C>;
    type Transposed = ();
    type Pending = ();
    const PARAMS: usize = if DOT { 0 } else { A * (H + E + 1) } + C * U;

    leaf_cell!();

    fn zeros((): ()) -> Self {
        Self::zeros()
    }
    fn init((): (), rng: &mut Rng) -> Self {
        Self::init(rng)
    }
    #[inline(always)]
    fn zero_state() -> Self::State {
        AttentionState::zeros()
    }
    #[inline(always)]
    fn zero_cache() -> Self::Cache {
        AttentionCache::zeros()
    }
    #[inline(always)]
    fn step<M: Math>(&self, state: &mut Self::State, x: &[T; H]) -> [T; U] {
        self.attend::<M>(state, x, None)
    }
    type StateLanes<const L: usize> = [Self::State; L];
    #[inline(always)]
    fn to_lanes<const L: usize>(get: impl Fn(usize) -> Self::State) -> [Self::State; L] {
        core::array::from_fn(get)
    }
    #[inline(always)]
    fn lane<const L: usize>(lanes: &[Self::State; L], l: usize) -> Self::State {
        lanes[l]
    }
    #[inline(always)]
    fn step_lanes<M: Math, const L: usize>(
        &self,
        state: &mut [Self::State; L],
        x: &[[T; L]; H],
    ) -> [[T; L]; U] {
        // Lane by lane through the same function: the same bits as `step`.
        let mut out = [[T::ZERO; L]; U];
        for l in 0..L {
            let y = self.attend::<M>(&mut state[l], &<[T; H] as Vector<T>>::lane::<L>(x, l), None);
            for k in 0..U {
                out[k][l] = y[k];
            }
        }
        out
    }
    #[inline(always)]
    fn step_train<M: Math>(
        &self,
        state: &mut Self::State,
        x: &[T; H],
        cache: &mut Self::Cache,
    ) -> [T; U] {
        self.attend::<M>(state, x, Some(cache))
    }
    #[inline(always)]
    fn transposed(&self) {}
    #[inline(always)]
    fn pending() {}
    #[inline(always)]
    fn flush<M: Math>(_: &mut Self, (): &mut ()) {}
    fn backward<M: Math>(
        &self,
        (): &(),
        (): &mut (),
        cache: &Self::Cache,
        dy: &[T; U],
        _wrt_logits: bool,
        dstate: &mut Self::State,
        grad: &mut Self,
    ) -> [T; H] {
        #[allow(clippy::let_unit_value)]
        let () = Self::SIZES_OK;
        // u = tanh(W_c z)
        let mut dpre = [T::ZERO; U];
        for k in 0..U {
            dpre[k] = dy[k] * (T::ONE - cache.u[k] * cache.u[k]);
        }
        ger_acc(M::default(), &mut grad.output_kernel, &dpre, &cache.z);
        let mut dz = [T::ZERO; C];
        gemv_t_acc(M::default(), &mut dz, &self.output_kernel, &dpre);
        let mut dhd = [T::ZERO; H];
        dhd.copy_from_slice(&dz[E..]);
        // c = sum_i a_i he_i
        let mut da = [T::ZERO; N];
        for i in 0..N {
            let mut d = T::ZERO;
            for e in 0..E {
                d += dz[e] * cache.values[i][e];
                dstate.values[i][e] += cache.a[i] * dz[e];
            }
            da[i] = d;
        }
        // a = softmax(s)
        let mut dot = T::ZERO;
        for i in 0..N {
            dot += cache.a[i] * da[i];
        }
        let mut ds = [T::ZERO; N];
        for i in 0..N {
            ds[i] = cache.a[i] * (da[i] - dot);
        }
        let hd = &cache.z[E..];
        if DOT {
            for i in 0..N {
                for k in 0..E.min(H) {
                    dhd[k] += ds[i] * cache.values[i][k];
                    dstate.values[i][k] += ds[i] * hd[k];
                }
            }
        } else {
            let mut dq = [T::ZERO; A];
            for i in 0..N {
                for a in 0..A {
                    let t = cache.t[i][a];
                    grad.scale[a] += ds[i] * t;
                    let dp = ds[i] * self.scale[a] * (T::ONE - t * t);
                    dstate.keys[i][a] += dp;
                    dq[a] += dp;
                }
            }
            let mut h = [T::ZERO; H];
            h.copy_from_slice(hd);
            ger_acc(M::default(), &mut grad.query_kernel, &dq, &h);
            gemv_t_acc(M::default(), &mut dhd, &self.query_kernel, &dq);
        }
        dhd
    }
}

/// Keras-style names: the two `Dense` kernels, `AdditiveAttention`'s `scale`, the output
/// `Dense`'s kernel.
const NAMES: [&str; 4] = ["query_kernel", "key_kernel", "scale", "output_kernel"];

impl<
        T: Real,
        const H: usize,
        const E: usize,
        const N: usize,
        const A: usize,
        const U: usize,
        const C: usize,
        const DOT: bool,
    > Leaf<T> for Attention<T, H, E, N, A, U, C, DOT>
{
    const KIND: &'static str = "attention";
    const TENSORS: usize = if DOT { 1 } else { 4 };

    fn leaf_tensor(&self, k: usize) -> &[T] {
        match k + if DOT { 3 } else { 0 } {
            0 => self.query_kernel.as_slice(),
            1 => self.key_kernel.as_slice(),
            2 => self.scale.as_slice(),
            _ => self.output_kernel.as_slice(),
        }
    }
    fn leaf_tensor_mut(&mut self, k: usize) -> &mut [T] {
        match k + if DOT { 3 } else { 0 } {
            0 => self.query_kernel.as_mut_slice(),
            1 => self.key_kernel.as_mut_slice(),
            2 => self.scale.as_mut_slice(),
            _ => self.output_kernel.as_mut_slice(),
        }
    }
    fn tensor_name(k: usize) -> &'static str {
        NAMES[(k + if DOT { 3 } else { 0 }).min(3)]
    }
    fn tensor_shape(k: usize) -> Shape {
        match k + if DOT { 3 } else { 0 } {
            0 => Shape::new(&[H, A]),
            1 => Shape::new(&[E, A]),
            2 => Shape::new(&[A]),
            _ => Shape::new(&[C, U]),
        }
    }
    /// PyTorch has no such layer: both layouts use these names and Keras's shapes.
    fn load<S: WeightSource<T> + ?Sized>(
        &mut self,
        _layout: Layout,
        src: &S,
        prefix: &str,
        _suffix: &str,
        apply: bool,
    ) -> Result<(), WeightError> {
        load_keras(self, src, prefix, apply)
    }
    fn export(
        &self,
        _layout: Layout,
        prefix: &str,
        _suffix: &str,
        sink: &mut Sink<'_, T>,
    ) -> Result<(), WeightError> {
        export_keras(self, prefix, sink);
        Ok(())
    }
}
