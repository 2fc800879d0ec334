//! The layers: the [`Cell`] trait every layer implements, and one file per layer, each
//! generic over its scalar and const sizes.
//!
//! # Generics
//! - `T`: the scalar ([`Real`]: `f32` or `f64`).
//! - `I`: input width; `H`: units (state width); `O`: dense outputs.
//! - `G`: fused gate rows, `4 * H` for the LSTM and `3 * H` for the GRU. Stable Rust cannot
//!   write `4 * H` in a type, so the macro passes it and the cell checks it at compile time.
//!
//! Storage is Keras's layout exactly: nalgebra's column-major `G x I` matrix holds the bytes of a
//! row-major Keras `kernel [I, G]`, so column `j` (the weights multiplying input `j`) is
//! contiguous: the hot loop is an axpy per input, see [`crate::kernels`].
/// The [`Leaf`] methods the SimpleRNN and LSTM cells share: three tensors whose memory is
/// Keras's layout (`$rows` gate rows, `$biases` bias columns: 1 as Keras, 2 as PyTorch's
/// `bias_ih` and `bias_hh`, a `[2, rows]` Keras tensor as the GRU's), and PyTorch through their
/// `torch()`.
macro_rules! one_bias_recurrent_layer {
    ($rows:expr, $biases:expr) => {
        fn leaf_tensor(&self, k: usize) -> &[T] {
            match k {
                0 => self.kernel.as_slice(),
                1 => self.recurrent_kernel.as_slice(),
                _ => self.bias.as_slice(),
            }
        }
        fn leaf_tensor_mut(&mut self, k: usize) -> &mut [T] {
            match k {
                0 => self.kernel.as_mut_slice(),
                1 => self.recurrent_kernel.as_mut_slice(),
                _ => self.bias.as_mut_slice(),
            }
        }
        fn tensor_name(k: usize) -> &'static str {
            super::RECURRENT_TENSORS[k]
        }
        fn tensor_shape(k: usize) -> Shape {
            match k {
                0 => Shape::new(&[I, $rows]),
                1 => Shape::new(&[H, $rows]),
                _ if $biases == 2 => Shape::new(&[2, $rows]),
                _ => Shape::new(&[$rows]),
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
                Layout::PyTorch => self.torch().load(src, prefix, suffix, apply),
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
                    c.torch().export(prefix, suffix, sink)
                }
            }
            Ok(())
        }
    };
}
/// Keras's names of a recurrent layer's tensors.
const RECURRENT_TENSORS: [&str; 3] = rnn_layout::KERAS_RECURRENT;

use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{Layout, Shape, Sink, WeightError, WeightSource};

/// One time step's input or output: `[T; N]`, sized at compile time.
pub trait Vector<T>: Copy + AsRef<[T]> + AsMut<[T]> + Send + Sync + 'static {
    /// `N`.
    const LEN: usize;
    /// All zeros.
    fn zeros() -> Self;
    /// `L` vectors side by side, one per lane: `[[T; L]; N]` (see [`crate::lanes`]).
    type Lanes<const L: usize>: Copy;
    /// `L` vectors side by side, lane `l` being `get(l)`.
    fn to_lanes<const L: usize>(get: impl Fn(usize) -> Self) -> Self::Lanes<L>;
    /// Lane `l`.
    fn lane<const L: usize>(lanes: &Self::Lanes<L>, l: usize) -> Self;
}

impl<T: Real, const N: usize> Vector<T> for [T; N] {
    const LEN: usize = N;
    #[inline(always)]
    fn zeros() -> Self {
        [T::ZERO; N]
    }
    type Lanes<const L: usize> = [[T; L]; N];
    #[inline(always)]
    fn to_lanes<const L: usize>(get: impl Fn(usize) -> Self) -> [[T; L]; N] {
        // Row by row, each row's lanes built in registers: scalar stores into the array
        // followed by vector loads of it would stall store-to-load forwarding.
        let mut out = [[T::ZERO; L]; N];
        for k in 0..N {
            let mut v = [T::ZERO; L];
            for l in 0..L {
                v[l] = get(l)[k];
            }
            out[k] = v;
        }
        out
    }
    #[inline(always)]
    fn lane<const L: usize>(lanes: &[[T; L]; N], l: usize) -> Self {
        let mut v = [T::ZERO; N];
        for k in 0..N {
            v[k] = lanes[k][l];
        }
        v
    }
}

/// The states of `L` recurrent streams side by side: `h[k][l]` is unit `k` of stream `l`
/// (`c` is used by the LSTM only). See [`crate::lanes`].
#[derive(Clone, Copy, Debug)]
pub struct StateLanes<T, const H: usize, const L: usize> {
    /// Hidden states.
    pub h: [[T; L]; H],
    /// LSTM cell states (zeros for other layers).
    pub c: [[T; L]; H],
}

impl<T: Real, const H: usize, const L: usize> StateLanes<T, H, L> {
    /// Stream `l`'s hidden state.
    #[inline(always)]
    pub fn h_of(&self, l: usize) -> [T; H] {
        <[T; H] as Vector<T>>::lane::<L>(&self.h, l)
    }
    /// Stream `l`'s cell state.
    #[inline(always)]
    pub fn c_of(&self, l: usize) -> [T; H] {
        <[T; H] as Vector<T>>::lane::<L>(&self.c, l)
    }
    /// Lane `l` holding hidden state `h(l)` and cell state `c(l)`.
    #[inline(always)]
    pub fn of(h: impl Fn(usize) -> [T; H], c: impl Fn(usize) -> [T; H]) -> Self {
        StateLanes {
            h: <[T; H] as Vector<T>>::to_lanes::<L>(h),
            c: <[T; H] as Vector<T>>::to_lanes::<L>(c),
        }
    }
}

/// Where a parameter tensor lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Layer index.
    pub layer: usize,
    /// Keras name within the layer (`"kernel"`, ...).
    pub name: &'static str,
    /// Keras shape.
    pub shape: Shape,
}

/// What every layer is: a cell that maps one time step's input to one output, carrying a
/// state, and that can record the step and run it backward. A [`Chain`](crate::Chain) of
/// cells is a cell too, so everything written for one cell (streaming step, sequences, BPTT)
/// works for any model.
///
/// A new layer is one file implementing this trait; see `ARCHITECTURE.md`.
///
/// # Conventions
/// - `backward` takes the gradient `dy` w.r.t. this step's output (w.r.t. the final dense
///   layer's pre-activation when `wrt_logits`), adds the parameter gradients into `grad`
///   (some through `pending`, applied every few steps and by [`flush`](Self::flush)), updates
///   `dstate` (in: w.r.t. this step's output state; out: w.r.t. the previous one) and returns
///   the input gradient. `tr` must be [`transposed`](Self::transposed) of these weights.
/// - Tensors are Keras's, in Keras's memory layout (row-major Keras shape).
pub trait Cell<T: Real>: Copy + Send + Sync + Sized {
    /// What building the cell needs besides its sizes: the activation, or `()`.
    type Config: Copy;
    /// One step's input, `[T; I]`.
    type Input: Vector<T>;
    /// One step's output, `[T; O]`.
    type Output: Vector<T>;
    /// The state carried between steps (`()` for a stateless layer); also the shape of its
    /// gradient.
    type State: Copy + Send + Sync;
    /// What one training step records for the backward pass.
    type Cache: Copy + Send + Sync + 'static;
    /// The weights transposed once per backward pass, so that `W^T v` walks contiguous columns.
    type Transposed: Copy + Send + Sync;
    /// Weight-gradient updates collected over several steps, not yet applied to `grad`.
    type Pending;

    /// Number of layers (1 for a single cell).
    const LAYERS: usize;
    /// Trainable parameters, as Keras counts them.
    const PARAMS: usize;
    /// Number of parameter tensors.
    const TENSORS: usize;
    /// The vocabulary when the cell reads token ids (an embedding; a chain: its first
    /// layer's), else 0.
    const VOCAB: usize = 0;
    /// Whether the cell runs step by step. A layer that reads the whole sequence (a
    /// bidirectional one) is `false`, and so is any chain holding one: only its sequence
    /// methods ([`seq_forward`](Self::seq_forward), [`seq_forward_train`](Self::seq_forward_train),
    /// [`seq_backward`](Self::seq_backward)) compute anything, and [`Streams`] is not
    /// implemented for it.
    const STREAMS: bool = true;
    /// Whether the cell (a chain: any of its layers) drops units in training.
    const DROPOUT: bool = false;

    /// Every parameter zero.
    fn zeros(config: Self::Config) -> Self;
    /// Keras's default initializers.
    fn init(config: Self::Config, rng: &mut Rng) -> Self;
    /// The initial state (zeros).
    fn zero_state() -> Self::State;
    /// An empty step record.
    fn zero_cache() -> Self::Cache;

    /// f64 scratch values [`reinit`](Self::reinit) needs (the orthogonal initializer's work
    /// matrix).
    const INIT_SCRATCH: usize = 0;
    /// Writes [`zeros`](Self::zeros) into `slot` without building the cell on the stack
    /// first, where a large layer's weights may not fit.
    ///
    /// # Safety
    /// `slot` must be valid for writes and aligned; it need not be initialized.
    unsafe fn zeros_in_place(slot: *mut Self, config: Self::Config) {
        // SAFETY: the caller's promise.
        unsafe { slot.write(Self::zeros(config)) }
    }
    /// Draws the weights again, in place, exactly as [`init`](Self::init) draws them (the
    /// same values from the same `rng`); `scratch` holds at least
    /// [`INIT_SCRATCH`](Self::INIT_SCRATCH) values.
    fn reinit(&mut self, config: Self::Config, rng: &mut Rng, scratch: &mut [f64]) {
        let _ = scratch;
        *self = Self::init(config, rng);
    }
    /// Writes [`transposed`](Self::transposed) into `slot` without building it on the stack.
    ///
    /// # Safety
    /// `slot` must be valid for writes and aligned; it need not be initialized.
    unsafe fn transposed_in_place(&self, slot: *mut Self::Transposed) {
        // SAFETY: the caller's promise.
        unsafe { slot.write(self.transposed()) }
    }

    /// One time step: updates `state`, returns the output.
    fn step<M: Math>(&self, state: &mut Self::State, x: &Self::Input) -> Self::Output;
    /// The states of `L` streams side by side (see [`crate::lanes`]).
    type StateLanes<const L: usize>: Copy;
    /// `L` states side by side, lane `l` being `get(l)`.
    fn to_lanes<const L: usize>(get: impl Fn(usize) -> Self::State) -> Self::StateLanes<L>;
    /// Stream `l`'s state.
    fn lane<const L: usize>(lanes: &Self::StateLanes<L>, l: usize) -> Self::State;
    /// [`step`](Self::step) for `L` independent streams side by side, bit-identical to `L`
    /// single steps.
    fn step_lanes<M: Math, const L: usize>(
        &self,
        state: &mut Self::StateLanes<L>,
        x: &<Self::Input as Vector<T>>::Lanes<L>,
    ) -> <Self::Output as Vector<T>>::Lanes<L>;
    /// [`step`](Self::step) for `S` independent streams, each with its own state and input
    /// (stream-major, unlike [`step_lanes`](Self::step_lanes)): bit-identical to `S` single
    /// steps. The recurrent and dense layers run their matrix products for all the streams
    /// at once ([`crate::many::gemv_many_acc`]), whose independent sums keep the vector
    /// units busy where one stream waits on latencies; other layers step the streams one by
    /// one ([`step_each`]).
    #[inline(always)]
    fn step_many<M: Math, const S: usize>(
        &self,
        states: &mut [Self::State; S],
        xs: &[Self::Input; S],
    ) -> [Self::Output; S] {
        step_each(xs, |s, x| self.step::<M>(&mut states[s], x))
    }
    /// [`step`](Self::step), recording what [`backward`](Self::backward) needs into `cache`.
    fn step_train<M: Math>(
        &self,
        state: &mut Self::State,
        x: &Self::Input,
        cache: &mut Self::Cache,
    ) -> Self::Output;
    /// The transposed weights [`backward`](Self::backward) takes.
    fn transposed(&self) -> Self::Transposed;
    /// Nothing pending, for a backward pass.
    fn pending() -> Self::Pending;
    /// Backward through one recorded step (see the trait's conventions).
    #[allow(clippy::too_many_arguments)]
    fn backward<M: Math>(
        &self,
        tr: &Self::Transposed,
        pending: &mut Self::Pending,
        cache: &Self::Cache,
        dy: &Self::Output,
        wrt_logits: bool,
        dstate: &mut Self::State,
        grad: &mut Self,
    ) -> Self::Input;
    /// Applies what `backward` left pending to `grad`: call once after the last step.
    fn flush<M: Math>(grad: &mut Self, pending: &mut Self::Pending);
    /// Runs a whole sequence from the zero state (step by step; a chain that cannot stream
    /// runs it layer by layer).
    #[inline(always)]
    fn seq_forward<M: Math, const N: usize>(
        &self,
        xs: &[Self::Input; N],
        ys: &mut [Self::Output; N],
    ) {
        stepwise_forward::<T, Self, M, N>(self, xs, ys);
    }
    /// [`seq_forward`](Self::seq_forward) recording step `t` into `part` of `caches[t]` (a
    /// chain hands each layer its part of the chain's records).
    #[inline(always)]
    fn seq_forward_train<M: Math, const N: usize, C: 'static, P: Part<C, Out = Self::Cache>>(
        &self,
        xs: &[Self::Input; N],
        caches: &mut [C; N],
        part: P,
        ys: &mut [Self::Output; N],
    ) {
        stepwise_forward_train::<T, Self, M, N, C, P>(self, xs, caches, part, ys);
    }
    /// Backpropagation through a sequence [`seq_forward_train`](Self::seq_forward_train)
    /// recorded: adds the parameter gradients into `grad` (pending updates flushed) and
    /// writes every step's input gradient into `dxs`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn seq_backward<M: Math, const N: usize, C: 'static, P: Part<C, Out = Self::Cache>>(
        &self,
        tr: &Self::Transposed,
        caches: &[C; N],
        part: P,
        dys: &[Self::Output; N],
        wrt_logits: bool,
        grad: &mut Self,
        dxs: &mut [Self::Input; N],
    ) {
        stepwise_backward::<T, Self, M, N, C, P>(
            self, tr, caches, part, dys, wrt_logits, grad, dxs,
        );
    }

    /// Writes the dropout masks of one training sequence into its records, `part` of each of
    /// `caches` (drawn from `rng`; all ones, no dropout, without it). A layer without dropout
    /// does nothing.
    #[inline(always)]
    fn draw_masks<const N: usize, K: 'static, P: Part<K, Out = Self::Cache>>(
        &self,
        caches: &mut [K; N],
        part: P,
        rng: Option<&mut Rng>,
    ) {
        let _ = (caches, part, rng);
    }

    /// The pre-activation a final dense layer recorded (for cross-entropy from logits), or
    /// `None` when the output is not a dense layer's.
    #[inline(always)]
    fn logits(cache: &Self::Cache) -> Option<Self::Output> {
        let _ = cache;
        None
    }

    /// Parameter tensor `k` (`k < TENSORS`) as a flat slice in Keras layout.
    fn tensor(&self, k: usize) -> &[T];
    /// Tensor `k`, mutable.
    fn tensor_mut(&mut self, k: usize) -> &mut [T];
    /// Layer, Keras name and Keras shape of tensor `k`.
    fn tensor_info(k: usize) -> TensorInfo;
    /// Loads layer `layer`'s tensors, named `prefix + base + suffix` (the suffix, such as
    /// `_l0`, applies to PyTorch recurrent names only)..
    fn load_layer<S: WeightSource<T> + ?Sized>(
        &mut self,
        layer: usize,
        layout: Layout,
        src: &S,
        prefix: &str,
        suffix: &str,
    ) -> Result<(), WeightError>;
    /// What [`load_layer`](Self::load_layer) would do, without writing anything: `Ok` when
    /// every tensor of layer `layer` is present, of its shape and finite.
    fn check_layer<S: WeightSource<T> + ?Sized>(
        &mut self,
        layer: usize,
        layout: Layout,
        src: &S,
        prefix: &str,
        suffix: &str,
    ) -> Result<(), WeightError>;
    /// Hands layer `layer`'s tensors, converted to `layout`, to `sink`.
    fn export_layer(
        &self,
        layer: usize,
        layout: Layout,
        prefix: &str,
        suffix: &str,
        sink: &mut Sink<'_, T>,
    ) -> Result<(), WeightError>;
}

/// Where a layer's record is inside a chain's per-step record `C`: the whole of it, or the
/// first or second part of a pair (a chain's record is `(first's, rest's)`).
pub trait Part<C: 'static>: Copy {
    /// The record found.
    type Out: 'static;
    /// The part of `c`.
    fn get<'a>(&self, c: &'a C) -> &'a Self::Out;
    /// The part of `c`, mutable.
    fn get_mut<'a>(&self, c: &'a mut C) -> &'a mut Self::Out;
}

/// A pair's two types.
pub trait Pair: 'static {
    /// The first.
    type A: 'static;
    /// The second.
    type B: 'static;
    /// Both, mutable.
    fn both(&mut self) -> (&mut Self::A, &mut Self::B);
    /// Both.
    fn pair(&self) -> (&Self::A, &Self::B);
}

impl<X: 'static, Y: 'static> Pair for (X, Y) {
    type A = X;
    type B = Y;
    #[inline(always)]
    fn both(&mut self) -> (&mut X, &mut Y) {
        (&mut self.0, &mut self.1)
    }
    #[inline(always)]
    fn pair(&self) -> (&X, &Y) {
        (&self.0, &self.1)
    }
}

/// The whole record.
pub struct Whole<C>(core::marker::PhantomData<fn() -> C>);

impl<C> Whole<C> {
    /// The projection to the whole record.
    pub const fn new() -> Self {
        Whole(core::marker::PhantomData)
    }
}
impl<C> Clone for Whole<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for Whole<C> {}
impl<C> Default for Whole<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: 'static> Part<C> for Whole<C> {
    type Out = C;
    #[inline(always)]
    fn get<'a>(&self, c: &'a C) -> &'a C {
        c
    }
    #[inline(always)]
    fn get_mut<'a>(&self, c: &'a mut C) -> &'a mut C {
        c
    }
}

/// The first of the pair that `P` finds.
#[derive(Clone, Copy, Debug)]
pub struct First<P>(pub P);

impl<C: 'static, P: Part<C>> Part<C> for First<P>
where
    P::Out: Pair,
{
    type Out = <P::Out as Pair>::A;
    #[inline(always)]
    fn get<'a>(&self, c: &'a C) -> &'a Self::Out {
        self.0.get(c).pair().0
    }
    #[inline(always)]
    fn get_mut<'a>(&self, c: &'a mut C) -> &'a mut Self::Out {
        self.0.get_mut(c).both().0
    }
}

/// The second of the pair that `P` finds.
#[derive(Clone, Copy, Debug)]
pub struct Second<P>(pub P);

impl<C: 'static, P: Part<C>> Part<C> for Second<P>
where
    P::Out: Pair,
{
    type Out = <P::Out as Pair>::B;
    #[inline(always)]
    fn get<'a>(&self, c: &'a C) -> &'a Self::Out {
        self.0.get(c).pair().1
    }
    #[inline(always)]
    fn get_mut<'a>(&self, c: &'a mut C) -> &'a mut Self::Out {
        self.0.get_mut(c).both().1
    }
}

/// [`Cell::seq_forward`] step by step (what a streaming cell or chain runs).
#[inline(always)]
pub(crate) fn stepwise_forward<T: Real, C: Cell<T>, M: Math, const N: usize>(
    c: &C,
    xs: &[C::Input; N],
    ys: &mut [C::Output; N],
) {
    let mut s = C::zero_state();
    for t in 0..N {
        ys[t] = c.step::<M>(&mut s, &xs[t]);
    }
}

/// [`Cell::seq_forward_train`] step by step.
#[inline(always)]
pub(crate) fn stepwise_forward_train<
    T: Real,
    C: Cell<T>,
    M: Math,
    const N: usize,
    K: 'static,
    P: Part<K, Out = C::Cache>,
>(
    c: &C,
    xs: &[C::Input; N],
    caches: &mut [K; N],
    part: P,
    ys: &mut [C::Output; N],
) {
    let mut s = C::zero_state();
    for t in 0..N {
        ys[t] = c.step_train::<M>(&mut s, &xs[t], part.get_mut(&mut caches[t]));
    }
}

/// [`Cell::seq_backward`] step by step, last to first, then the pending updates applied.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn stepwise_backward<
    T: Real,
    C: Cell<T>,
    M: Math,
    const N: usize,
    K: 'static,
    P: Part<K, Out = C::Cache>,
>(
    c: &C,
    tr: &C::Transposed,
    caches: &[K; N],
    part: P,
    dys: &[C::Output; N],
    wrt_logits: bool,
    grad: &mut C,
    dxs: &mut [C::Input; N],
) {
    let mut pending = C::pending();
    let mut ds = C::zero_state();
    for t in (0..N).rev() {
        dxs[t] = c.backward::<M>(
            tr,
            &mut pending,
            part.get(&caches[t]),
            &dys[t],
            wrt_logits,
            &mut ds,
            grad,
        );
    }
    C::flush::<M>(grad, &mut pending);
}

/// A cell that runs step by step: every layer but a bidirectional one, and chains of them.
/// The streaming methods of [`Model`](crate::Model) (`step`, `step_batch`, `step_token`) need
/// it.
#[diagnostic::on_unimplemented(
    message = "this model cannot run step by step: a `bidirectional` layer reads the whole sequence",
    label = "its layers include a bidirectional one",
    note = "run whole sequences with `forward`, `forward_last` or `forward_tokens`; a streaming model has no bidirectional layer"
)]
pub trait Streams {}

/// What a single layer adds to [`Cell`]: its kind, tensor names and shapes, and loading and
/// exporting in both frameworks' layouts. The crate's `leaf_cell!` turns these into the tensor and
/// weights items of [`Cell`].
pub trait Leaf<T: Real>: Sized {
    /// Keras-like kind name (`"lstm"`, `"gru"`, `"simple_rnn"`, `"dense"`).
    const KIND: &'static str;
    /// Number of parameter tensors.
    const TENSORS: usize;
    /// Keras name of tensor `k` (`"kernel"`, `"recurrent_kernel"`, `"bias"`).
    fn tensor_name(k: usize) -> &'static str;
    /// Keras shape of tensor `k`.
    fn tensor_shape(k: usize) -> Shape;
    /// Tensor `k` as a flat slice in Keras layout.
    fn leaf_tensor(&self, k: usize) -> &[T];
    /// Tensor `k`, mutable.
    fn leaf_tensor_mut(&mut self, k: usize) -> &mut [T];
    /// Loads every tensor from `src`, all or nothing: every tensor is checked before any is
    /// written. With `apply` false it only checks.
    fn load<S: WeightSource<T> + ?Sized>(
        &mut self,
        layout: Layout,
        src: &S,
        prefix: &str,
        suffix: &str,
        apply: bool,
    ) -> Result<(), WeightError>;
    /// Hands every tensor, converted to `layout`, to `sink`.
    fn export(
        &self,
        layout: Layout,
        prefix: &str,
        suffix: &str,
        sink: &mut Sink<'_, T>,
    ) -> Result<(), WeightError>;
}

/// `S` streams one after another: `step(s, &xs[s])` for each, the outputs in order (what
/// [`Cell::step_many`] does for a layer without a grouped version).
#[inline(always)]
pub fn step_each<T, X, Y: Vector<T>, const S: usize>(
    xs: &[X; S],
    mut step: impl FnMut(usize, &X) -> Y,
) -> [Y; S] {
    let mut out = [Y::zeros(); S];
    for (s, (o, x)) in out.iter_mut().zip(xs).enumerate() {
        *o = step(s, x);
    }
    out
}

/// The [`Cell`] items every single layer writes the same way, from its [`Leaf`] impl.
macro_rules! leaf_cell {
    () => {
        const LAYERS: usize = 1;
        const TENSORS: usize = <Self as $crate::layers::Leaf<T>>::TENSORS;
        #[inline(always)]
        fn tensor(&self, k: usize) -> &[T] {
            $crate::layers::Leaf::leaf_tensor(self, k)
        }
        #[inline(always)]
        fn tensor_mut(&mut self, k: usize) -> &mut [T] {
            $crate::layers::Leaf::leaf_tensor_mut(self, k)
        }
        fn tensor_info(k: usize) -> $crate::layers::TensorInfo {
            $crate::layers::TensorInfo {
                layer: 0,
                name: <Self as $crate::layers::Leaf<T>>::tensor_name(k),
                shape: <Self as $crate::layers::Leaf<T>>::tensor_shape(k),
            }
        }
        fn load_layer<S: $crate::weights::WeightSource<T> + ?Sized>(
            &mut self,
            _layer: usize,
            layout: $crate::weights::Layout,
            src: &S,
            prefix: &str,
            suffix: &str,
        ) -> Result<(), $crate::weights::WeightError> {
            $crate::layers::Leaf::load(self, layout, src, prefix, suffix, true)
        }
        fn check_layer<S: $crate::weights::WeightSource<T> + ?Sized>(
            &mut self,
            _layer: usize,
            layout: $crate::weights::Layout,
            src: &S,
            prefix: &str,
            suffix: &str,
        ) -> Result<(), $crate::weights::WeightError> {
            $crate::layers::Leaf::load(self, layout, src, prefix, suffix, false)
        }
        fn export_layer(
            &self,
            _layer: usize,
            layout: $crate::weights::Layout,
            prefix: &str,
            suffix: &str,
            sink: &mut $crate::weights::Sink<'_, T>,
        ) -> Result<(), $crate::weights::WeightError> {
            $crate::layers::Leaf::export(self, layout, prefix, suffix, sink)
        }
    };
}

/// The [`Cell`] items of a layer without state or pending updates (dense, embedding, layer
/// normalization, dropout).
macro_rules! stateless_cell {
    () => {
        #[inline(always)]
        fn zero_state() {}
        type StateLanes<const L: usize> = ();
        #[inline(always)]
        fn to_lanes<const L: usize>(_: impl Fn(usize)) {}
        #[inline(always)]
        fn lane<const L: usize>((): &(), _: usize) {}
        #[inline(always)]
        fn pending() {}
        #[inline(always)]
        fn flush<M: Math>(_: &mut Self, (): &mut ()) {}
    };
}

/// The [`Cell`] items a recurrent layer forwards to its inherent methods (`$state`, `$cache`
/// its types, `$g` its gate rows).
macro_rules! recurrent_cell {
    ($state:ty, $cache:ty, $g:tt) => {
        type Input = [T; I];
        type Output = [T; H];
        type State = $state;
        type Cache = $cache;
        type Transposed = Transposed<T, I, H, $g>;
        type Pending = Pending<T, I, H, $g>;

        leaf_cell!();

        #[inline(always)]
        fn zero_state() -> $state {
            <$state>::zeros()
        }
        #[inline(always)]
        fn zero_cache() -> $cache {
            <$cache>::zeros()
        }
        #[inline(always)]
        fn step<M: Math>(&self, state: &mut $state, x: &[T; I]) -> [T; H] {
            Self::step::<M>(self, state, x)
        }
        #[inline(always)]
        fn step_many<M: Math, const S: usize>(
            &self,
            states: &mut [$state; S],
            xs: &[[T; I]; S],
        ) -> [[T; H]; S] {
            Self::step_many::<M, S>(self, states, xs)
        }
        type StateLanes<const L: usize> = $crate::layers::StateLanes<T, H, L>;
        #[inline(always)]
        fn to_lanes<const L: usize>(get: impl Fn(usize) -> $state) -> Self::StateLanes<L> {
            $crate::layers::StateLanes::of(
                #[inline(always)]
                |l| get(l).h,
                #[inline(always)]
                |l| Self::cell_state(&get(l)),
            )
        }
        #[inline(always)]
        fn lane<const L: usize>(lanes: &Self::StateLanes<L>, l: usize) -> $state {
            Self::lane(lanes, l)
        }
        #[inline(always)]
        fn step_lanes<M: Math, const L: usize>(
            &self,
            state: &mut Self::StateLanes<L>,
            x: &[[T; L]; I],
        ) -> [[T; L]; H] {
            Self::step_lanes::<M, L>(self, state, x)
        }
        #[inline(always)]
        fn step_train<M: Math>(
            &self,
            state: &mut $state,
            x: &[T; I],
            cache: &mut $cache,
        ) -> [T; H] {
            Self::step_train::<M>(self, state, x, cache)
        }
        #[inline(always)]
        fn transposed(&self) -> Transposed<T, I, H, $g> {
            Transposed::of(&self.kernel, &self.recurrent_kernel)
        }
        const INIT_SCRATCH: usize = $g * H;
        unsafe fn zeros_in_place(slot: *mut Self, config: Self::Config) {
            // SAFETY: the caller's promise; the fields are plain matrices of `T`.
            unsafe {
                $crate::kernels::zero_in_place(core::ptr::addr_of_mut!((*slot).kernel));
                $crate::kernels::zero_in_place(core::ptr::addr_of_mut!((*slot).recurrent_kernel));
                $crate::kernels::zero_in_place(core::ptr::addr_of_mut!((*slot).bias));
                Self::set_config(slot, config);
            }
        }
        fn reinit(&mut self, config: Self::Config, rng: &mut Rng, scratch: &mut [f64]) {
            self.fill_init(config, rng, scratch);
        }
        unsafe fn transposed_in_place(&self, slot: *mut Transposed<T, I, H, $g>) {
            // SAFETY: the caller's promise.
            unsafe { Transposed::write_of(slot, &self.kernel, &self.recurrent_kernel) }
        }
        #[inline(always)]
        fn pending() -> Pending<T, I, H, $g> {
            Pending::new()
        }
        #[inline(always)]
        fn backward<M: Math>(
            &self,
            tr: &Transposed<T, I, H, $g>,
            pending: &mut Pending<T, I, H, $g>,
            cache: &$cache,
            dy: &[T; H],
            _wrt_logits: bool,
            dstate: &mut $state,
            grad: &mut Self,
        ) -> [T; I] {
            Self::backward::<M>(self, tr, pending, cache, dy, dstate, grad)
        }
        #[inline(always)]
        fn flush<M: Math>(grad: &mut Self, pending: &mut Pending<T, I, H, $g>) {
            pending.flush(M::default(), &mut grad.kernel, &mut grad.recurrent_kernel);
        }
    };
}

mod backward;
mod torch;

pub use backward::{Pending, Transposed, PENDING_STEPS};
pub(crate) use torch::{export_keras, load_keras, TorchRecurrent};

mod attention;
mod bidirectional;
mod dense;
mod dropout;
mod embedding;
mod gru;
mod layer_norm;
mod ln_rnn;
mod lstm;
mod recurrent_dropout;
mod simple_rnn;

pub use attention::{Attention, AttentionCache, AttentionState};
pub use bidirectional::{
    Bidirectional, BidirectionalCache, MERGE_AVE, MERGE_CONCAT, MERGE_MUL, MERGE_SUM,
};
pub use dense::{Dense, DenseCache};
pub use dropout::{Dropout, DropoutCache};
pub use embedding::{Embedding, EmbeddingCache};
pub use gru::{GruCache, GruCell, GruState};
pub use layer_norm::{LayerNorm, LayerNormCache, LAYER_NORM_EPSILON};
pub use ln_rnn::{LnRnnCache, LnRnnCell};
pub use lstm::{LstmCache, LstmCell, LstmState, PEEPHOLE_TENSORS};
pub use recurrent_dropout::{Dropped, DroppedCache, Hidden};
pub use simple_rnn::{RnnCache, RnnCell, RnnState};

impl<T: Real, const I: usize, const O: usize, const BIAS: bool> Streams for Dense<T, I, O, BIAS> {}
impl<T: Real, const V: usize, const D: usize> Streams for Embedding<T, V, D> {}
impl<T: Real, const H: usize> Streams for Dropout<T, H> {}
impl<T: Real, const I: usize, const H: usize, const G: usize, const RA: bool> Streams
    for GruCell<T, I, H, G, RA>
{
}
impl<T: Real, const H: usize> Streams for LayerNorm<T, H> {}
impl<
        T: Real,
        const H: usize,
        const E: usize,
        const N: usize,
        const A: usize,
        const U: usize,
        const C: usize,
        const DOT: bool,
    > Streams for Attention<T, H, E, N, A, U, C, DOT>
{
}
impl<T: Real, const I: usize, const H: usize> Streams for LnRnnCell<T, I, H> {}
impl<T: Real, const I: usize, const H: usize, const G: usize, const P: usize, const B: usize>
    Streams for LstmCell<T, I, H, G, P, B>
{
}
impl<T: Real, const I: usize, const H: usize, const B: usize> Streams for RnnCell<T, I, H, B> {}
