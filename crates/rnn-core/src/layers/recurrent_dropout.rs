//! A recurrent layer's own `dropout` and `recurrent_dropout` options, as Keras's recurrent
//! cells apply them: masks drawn once per sequence and used at every step.

use super::{Cell, First, GruState, LstmState, Part, RnnState, TensorInfo, Vector};
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{Layout, Sink, WeightError, WeightSource};

/// The hidden state `h` of a recurrent cell's state, which recurrent dropout masks.
pub trait Hidden<T, const H: usize> {
    /// `h`, mutable.
    fn hidden_mut(&mut self) -> &mut [T; H];
}

impl<T, const H: usize> Hidden<T, H> for RnnState<T, H> {
    fn hidden_mut(&mut self) -> &mut [T; H] {
        &mut self.h
    }
}
impl<T, const H: usize> Hidden<T, H> for LstmState<T, H> {
    fn hidden_mut(&mut self) -> &mut [T; H] {
        &mut self.h
    }
}
impl<T, const H: usize> Hidden<T, H> for GruState<T, H> {
    fn hidden_mut(&mut self) -> &mut [T; H] {
        &mut self.h
    }
}

/// `C` with Keras's `dropout = d` and `recurrent_dropout = r` in training: the step's input
/// times a mask over its `I` inputs, and (recurrent dropout, SimpleRNN only here) the previous
/// output times a mask over its `H` units before the recurrent kernel, each mask 0 with
/// probability `d` (`r`) and `1 / (1 - d)` otherwise, drawn once per sequence and reused at
/// every step (Keras's `DropoutRNNCell`). At inference, exactly `C`.
///
/// For LSTM and GRU, Keras uses one input mask for all gates when `recurrent_dropout = 0` (its
/// `implementation = 2`), and so does this; with `recurrent_dropout > 0` it switches to one
/// mask per gate for the inputs and one per gate for the previous output (`implementation =
/// 1`; the GRU's final blend keeps the unmasked state). That is computed here as the cell with
/// each gate block's kernel columns scaled by its input mask and recurrent-kernel columns by
/// its state mask, a copy made at every training step (and its gradient masked the same way):
/// exact, but slower than the other modes.
///
/// # Generics
/// `T` scalar, `C` the cell, `I` its inputs, `H` its units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropped<T: Real, C, const I: usize, const H: usize> {
    /// The cell.
    pub cell: C,
    /// Keras `dropout`: the fraction of inputs dropped, in `[0, 1)`.
    pub dropout: f64,
    /// Keras `recurrent_dropout`: the fraction of the previous output dropped, in `[0, 1)`.
    pub recurrent_dropout: f64,
    scalar: core::marker::PhantomData<fn() -> T>,
}

/// Gate blocks a per-gate mask set holds at most (the LSTM's four).
pub const MAX_GATES: usize = 4;

/// One step's record: the cell's, and the masks (the same at every step of a sequence): per
/// gate block for an LSTM or GRU with recurrent dropout, else only the first of each.
pub type DroppedCache<C, T, const I: usize, const H: usize> =
    (C, ([[T; I]; MAX_GATES], [[T; H]; MAX_GATES]));

fn mask<T: Real, const K: usize>(rate: f64, rng: Option<&mut Rng>) -> [T; K] {
    let mut m = [T::ONE; K];
    if let Some(rng) = rng.filter(|_| rate > 0.0) {
        let keep = T::from_f64(1.0 / (1.0 - rate));
        for v in &mut m {
            *v = if rng.uniform() < rate { T::ZERO } else { keep };
        }
    }
    m
}

impl<T, C, const I: usize, const H: usize> Cell<T> for Dropped<T, C, I, H>
where
    T: Real,
    C: Cell<T, Input = [T; I], Output = [T; H]>,
    C::State: Hidden<T, H>,
{
    type Config = (C::Config, [f64; 2]);
    type Input = [T; I];
    type Output = [T; H];
    type State = C::State;
    type Cache = DroppedCache<C::Cache, T, I, H>;
    type Transposed = C::Transposed;
    type Pending = C::Pending;

    const LAYERS: usize = C::LAYERS;
    const PARAMS: usize = C::PARAMS;
    const TENSORS: usize = C::TENSORS;
    const DROPOUT: bool = true;
    const INIT_SCRATCH: usize = C::INIT_SCRATCH;

    fn zeros((config, [d, r]): Self::Config) -> Self {
        Dropped {
            cell: C::zeros(config),
            dropout: d,
            recurrent_dropout: r,
            scalar: core::marker::PhantomData,
        }
    }
    fn init((config, [d, r]): Self::Config, rng: &mut Rng) -> Self {
        Dropped {
            cell: C::init(config, rng),
            dropout: d,
            recurrent_dropout: r,
            scalar: core::marker::PhantomData,
        }
    }
    unsafe fn zeros_in_place(slot: *mut Self, (config, [d, r]): Self::Config) {
        // SAFETY: the caller's promise; the fields are the cell and two floats.
        unsafe {
            C::zeros_in_place(core::ptr::addr_of_mut!((*slot).cell), config);
            core::ptr::addr_of_mut!((*slot).dropout).write(d);
            core::ptr::addr_of_mut!((*slot).recurrent_dropout).write(r);
        }
    }
    fn reinit(&mut self, (config, [d, r]): Self::Config, rng: &mut Rng, scratch: &mut [f64]) {
        self.cell.reinit(config, rng, scratch);
        self.dropout = d;
        self.recurrent_dropout = r;
    }
    unsafe fn transposed_in_place(&self, slot: *mut C::Transposed) {
        // SAFETY: the caller's promise.
        unsafe { self.cell.transposed_in_place(slot) }
    }
    #[inline(always)]
    fn zero_state() -> C::State {
        C::zero_state()
    }
    #[inline(always)]
    fn zero_cache() -> Self::Cache {
        (
            C::zero_cache(),
            ([[T::ONE; I]; MAX_GATES], [[T::ONE; H]; MAX_GATES]),
        )
    }
    #[inline(always)]
    fn step<M: Math>(&self, state: &mut C::State, x: &[T; I]) -> [T; H] {
        self.cell.step::<M>(state, x)
    }
    type StateLanes<const L: usize> = C::StateLanes<L>;
    #[inline(always)]
    fn to_lanes<const L: usize>(get: impl Fn(usize) -> C::State) -> C::StateLanes<L> {
        C::to_lanes(get)
    }
    #[inline(always)]
    fn lane<const L: usize>(lanes: &C::StateLanes<L>, l: usize) -> C::State {
        C::lane(lanes, l)
    }
    #[inline(always)]
    fn step_lanes<M: Math, const L: usize>(
        &self,
        state: &mut C::StateLanes<L>,
        x: &<[T; I] as Vector<T>>::Lanes<L>,
    ) -> <[T; H] as Vector<T>>::Lanes<L> {
        self.cell.step_lanes::<M, L>(state, x)
    }
    #[inline(always)]
    fn step_train<M: Math>(
        &self,
        state: &mut C::State,
        x: &[T; I],
        cache: &mut Self::Cache,
    ) -> [T; H] {
        if self.per_gate() {
            let masked = self.masked(&cache.1);
            return masked.step_train::<M>(state, x, &mut cache.0);
        }
        let (xm, hm) = (cache.1 .0[0], cache.1 .1[0]);
        let mut x = *x;
        for (v, m) in x.iter_mut().zip(&xm) {
            *v *= *m;
        }
        if self.recurrent_dropout > 0.0 {
            for (v, m) in state.hidden_mut().iter_mut().zip(&hm) {
                *v *= *m;
            }
        }
        self.cell.step_train::<M>(state, &x, &mut cache.0)
    }
    #[inline(always)]
    fn transposed(&self) -> C::Transposed {
        self.cell.transposed()
    }
    #[inline(always)]
    fn pending() -> C::Pending {
        C::pending()
    }
    #[inline(always)]
    fn backward<M: Math>(
        &self,
        tr: &C::Transposed,
        pending: &mut C::Pending,
        cache: &Self::Cache,
        dy: &[T; H],
        wrt_logits: bool,
        dstate: &mut C::State,
        grad: &mut Self,
    ) -> [T; I] {
        if self.per_gate() {
            return self.backward_per_gate::<M>(cache, dy, wrt_logits, dstate, grad);
        }
        let mut dx = self.cell.backward::<M>(
            tr,
            pending,
            &cache.0,
            dy,
            wrt_logits,
            dstate,
            &mut grad.cell,
        );
        let (xm, hm) = (&cache.1 .0[0], &cache.1 .1[0]);
        for (v, m) in dx.iter_mut().zip(xm) {
            *v *= *m;
        }
        if self.recurrent_dropout > 0.0 {
            // The gradient reached the masked previous output.
            for (v, m) in dstate.hidden_mut().iter_mut().zip(hm) {
                *v *= *m;
            }
        }
        dx
    }
    #[inline(always)]
    fn flush<M: Math>(grad: &mut Self, pending: &mut C::Pending) {
        C::flush::<M>(&mut grad.cell, pending);
    }
    fn draw_masks<const N: usize, K: 'static, P: Part<K, Out = Self::Cache>>(
        &self,
        caches: &mut [K; N],
        part: P,
        mut rng: Option<&mut Rng>,
    ) {
        // One mask set per sequence, at every step (Keras's cached dropout masks): one per
        // gate block with recurrent dropout on an LSTM or GRU (Keras's `implementation = 1`).
        let blocks = if self.per_gate() { Self::gates() } else { 1 };
        let mut xm = [[T::ONE; I]; MAX_GATES];
        let mut hm = [[T::ONE; H]; MAX_GATES];
        for m in xm.iter_mut().take(blocks) {
            *m = mask::<T, I>(self.dropout, rng.as_deref_mut());
        }
        for m in hm.iter_mut().take(blocks) {
            *m = mask::<T, H>(self.recurrent_dropout, rng.as_deref_mut());
        }
        for c in caches.iter_mut() {
            part.get_mut(c).1 = (xm, hm);
        }
        self.cell.draw_masks(caches, First(part), rng);
    }
    #[inline(always)]
    fn logits(cache: &Self::Cache) -> Option<[T; H]> {
        C::logits(&cache.0)
    }
    fn tensor(&self, k: usize) -> &[T] {
        self.cell.tensor(k)
    }
    fn tensor_mut(&mut self, k: usize) -> &mut [T] {
        self.cell.tensor_mut(k)
    }
    fn tensor_info(k: usize) -> TensorInfo {
        C::tensor_info(k)
    }
    fn load_layer<S: WeightSource<T> + ?Sized>(
        &mut self,
        layer: usize,
        layout: Layout,
        src: &S,
        prefix: &str,
        suffix: &str,
    ) -> Result<(), WeightError> {
        self.cell.load_layer(layer, layout, src, prefix, suffix)
    }
    fn check_layer<S: WeightSource<T> + ?Sized>(
        &mut self,
        layer: usize,
        layout: Layout,
        src: &S,
        prefix: &str,
        suffix: &str,
    ) -> Result<(), WeightError> {
        self.cell.check_layer(layer, layout, src, prefix, suffix)
    }
    fn export_layer(
        &self,
        layer: usize,
        layout: Layout,
        prefix: &str,
        suffix: &str,
        sink: &mut Sink<'_, T>,
    ) -> Result<(), WeightError> {
        self.cell.export_layer(layer, layout, prefix, suffix, sink)
    }
}

impl<T: Real, C: super::Streams, const I: usize, const H: usize> super::Streams
    for Dropped<T, C, I, H>
{
}

impl<T, C, const I: usize, const H: usize> Dropped<T, C, I, H>
where
    T: Real,
    C: Cell<T, Input = [T; I], Output = [T; H]>,
    C::State: Hidden<T, H>,
{
    /// Gate blocks of the cell (its kernel, Keras `[I, gates * H]`).
    fn gates() -> usize {
        C::tensor_info(0).shape.dims()[1] / H
    }

    /// Keras's `implementation = 1`: per-gate masks.
    fn per_gate(&self) -> bool {
        Self::gates() > 1 && self.recurrent_dropout > 0.0
    }

    /// The factor of element `n` of tensor `k` of a cell whose kernels have `rows` rows (the
    /// kernel's and recurrent kernel's columns scaled by their gate block's masks; 1
    /// elsewhere).
    fn factor(
        k: usize,
        n: usize,
        rows: usize,
        masks: &([[T; I]; MAX_GATES], [[T; H]; MAX_GATES]),
    ) -> T {
        let (col, row) = (n / rows, n % rows);
        match k {
            0 => masks.0[row / H][col],
            1 => masks.1[row / H][col],
            _ => T::ONE,
        }
    }

    /// The cell with the masks folded into its kernels.
    fn masked(&self, masks: &([[T; I]; MAX_GATES], [[T; H]; MAX_GATES])) -> C {
        let (mut c, rows) = (self.cell, Self::gates() * H);
        for k in 0..2 {
            for (n, w) in c.tensor_mut(k).iter_mut().enumerate() {
                *w *= Self::factor(k, n, rows, masks);
            }
        }
        c
    }

    /// Backward through one step of the per-gate mode: through the masked cell, its weight
    /// gradients masked as its weights were, into `grad`.
    fn backward_per_gate<M: Math>(
        &self,
        cache: &DroppedCache<C::Cache, T, I, H>,
        dy: &[T; H],
        wrt_logits: bool,
        dstate: &mut C::State,
        grad: &mut Self,
    ) -> [T; I] {
        let masked = self.masked(&cache.1);
        let tr = masked.transposed();
        let mut step = self.cell;
        for k in 0..C::TENSORS {
            step.tensor_mut(k).iter_mut().for_each(|v| *v = T::ZERO);
        }
        let mut pending = C::pending();
        let dx = masked.backward::<M>(
            &tr,
            &mut pending,
            &cache.0,
            dy,
            wrt_logits,
            dstate,
            &mut step,
        );
        C::flush::<M>(&mut step, &mut pending);
        let rows = Self::gates() * H;
        for k in 0..C::TENSORS {
            let g = grad.cell.tensor_mut(k);
            for (n, (g, d)) in g.iter_mut().zip(step.tensor(k)).enumerate() {
                *g += *d * Self::factor(k, n, rows, &cache.1);
            }
        }
        dx
    }
}
