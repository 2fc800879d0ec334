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

/// The [`Leaf`] methods the one-bias recurrent cells (SimpleRNN, LSTM) share: three tensors
/// whose memory is Keras's layout (`$rows` gate rows), and PyTorch through their `torch()`.
macro_rules! one_bias_recurrent_layer {
    ($rows:expr) => {
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
                _ => Shape::new(&[$rows]),
            }
        }
        fn load<S: WeightSource<T> + ?Sized>(
            &mut self,
            layout: Layout,
            src: &S,
            prefix: &str,
            suffix: &str,
        ) -> Result<(), WeightError> {
            match layout {
                Layout::Keras => load_keras(self, src, prefix),
                Layout::PyTorch => self.torch().load(src, prefix, suffix),
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

use crate::weights::{fetch, Layout, Shape, Sink, TensorName, WeightError, WeightSource};

/// A recurrent layer's weight matrices transposed, built once per backward pass
/// ([`crate::Model::backward`]) so that the products `W^T v` walk contiguous columns.
#[derive(Clone, Copy, Debug)]
pub struct Transposed<T: Real, const I: usize, const H: usize, const G: usize> {
    /// `kernel^T`, `I x G`.
    pub kernel_t: nalgebra::SMatrix<T, I, G>,
    /// `recurrent_kernel^T`, `H x G`.
    pub recurrent_t: nalgebra::SMatrix<T, H, G>,
}

/// How many steps of weight-gradient updates a recurrent layer's backward pass collects before
/// applying them ([`crate::kernels::Outer`]).
pub const PENDING_STEPS: usize = 8;

/// A recurrent layer's weight-gradient updates not yet applied: made by the layer's
/// `pending()`, filled by its `backward`, applied by its `flush` (the generated backward pass
/// does all three).
#[derive(Clone, Copy, Debug)]
pub struct Pending<T: Real, const I: usize, const H: usize, const G: usize> {
    pub(crate) kernel: crate::kernels::Outer<T, G, I, PENDING_STEPS>,
    pub(crate) recurrent: crate::kernels::Outer<T, G, H, PENDING_STEPS>,
}

impl<T: Real, const I: usize, const H: usize, const G: usize> Pending<T, I, H, G> {
    /// Nothing pending.
    #[inline(always)]
    pub fn new() -> Self {
        Pending {
            kernel: crate::kernels::Outer::new(),
            recurrent: crate::kernels::Outer::new(),
        }
    }

    /// Applies the pending updates to the kernel and recurrent-kernel gradients.
    #[inline(always)]
    pub(crate) fn flush<M: crate::math::Math>(
        &mut self,
        m: M,
        kernel: &mut nalgebra::SMatrix<T, G, I>,
        recurrent_kernel: &mut nalgebra::SMatrix<T, G, H>,
    ) {
        self.kernel.flush(m, kernel);
        self.recurrent.flush(m, recurrent_kernel);
    }
}

impl<T: Real, const I: usize, const H: usize, const G: usize> Default for Pending<T, I, H, G> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real, const I: usize, const H: usize, const G: usize> Transposed<T, I, H, G> {
    /// Transposes both matrices.
    #[inline(always)]
    pub fn of(
        kernel: &nalgebra::SMatrix<T, G, I>,
        recurrent_kernel: &nalgebra::SMatrix<T, G, H>,
    ) -> Self {
        Transposed {
            kernel_t: crate::kernels::transpose(kernel),
            recurrent_t: crate::kernels::transpose(recurrent_kernel),
        }
    }

    /// `dx += kernel^T dz` (a dot product per input when the input is narrow).
    #[inline(always)]
    pub(crate) fn input_grad<M: crate::math::Math>(
        &self,
        m: M,
        kernel: &nalgebra::SMatrix<T, G, I>,
        dx: &mut [T; I],
        dz: &[T; G],
    ) {
        if I < 8 {
            crate::kernels::gemv_t_acc(m, dx, kernel, dz);
        } else {
            crate::kernels::gemv_acc(m, dx, &self.kernel_t, dz);
        }
    }
}

use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;

/// One time step's input or output: `[T; N]`, sized at compile time.
pub trait Vector<T>: Copy + AsRef<[T]> + AsMut<[T]> + Send + Sync + 'static {
    /// `N`.
    const LEN: usize;
    /// All zeros.
    fn zeros() -> Self;
}

impl<T: Real, const N: usize> Vector<T> for [T; N] {
    const LEN: usize = N;
    #[inline(always)]
    fn zeros() -> Self {
        [T::ZERO; N]
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
    type Cache: Copy + Send + Sync;
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

    /// Every parameter zero.
    fn zeros(config: Self::Config) -> Self;
    /// Keras's default initializers.
    fn init(config: Self::Config, rng: &mut Rng) -> Self;
    /// The initial state (zeros).
    fn zero_state() -> Self::State;
    /// An empty step record.
    fn zero_cache() -> Self::Cache;

    /// One time step: updates `state`, returns the output.
    fn step<M: Math>(&self, state: &mut Self::State, x: &Self::Input) -> Self::Output;
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

/// What a single layer adds to [`Cell`]: its kind, tensor names and shapes, and loading and
/// exporting in both frameworks' layouts. [`leaf_cell!`] turns these into the tensor and
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
    /// Loads every tensor from `src`.
    fn load<S: WeightSource<T> + ?Sized>(
        &mut self,
        layout: Layout,
        src: &S,
        prefix: &str,
        suffix: &str,
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
            $crate::layers::Leaf::load(self, layout, src, prefix, suffix)
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

/// Loads the Keras tensors of any layer: our memory layout is Keras's, so it is a copy.
pub(crate) fn load_keras<T: Real, L: Leaf<T>, S: WeightSource<T> + ?Sized>(
    layer: &mut L,
    src: &S,
    prefix: &str,
) -> Result<(), WeightError> {
    for k in 0..L::TENSORS {
        let name = TensorName::new(prefix, L::tensor_name(k), "");
        let data = fetch(src, L::KIND, name, L::tensor_shape(k).dims())?;
        layer.leaf_tensor_mut(k).copy_from_slice(data);
    }
    Ok(())
}

/// Exports the Keras tensors of any layer.
pub(crate) fn export_keras<T: Real, L: Leaf<T>>(layer: &L, prefix: &str, sink: &mut Sink<'_, T>) {
    for k in 0..L::TENSORS {
        let t = layer.leaf_tensor(k);
        sink(
            TensorName::new(prefix, L::tensor_name(k), ""),
            L::tensor_shape(k),
            &|i| t[i],
        );
    }
}

/// PyTorch's recurrent tensors: `weight_ih [G, I]`, `weight_hh [G, H]`, `bias_ih [G]`,
/// `bias_hh [G]`, with Keras gate block `perm[b]` stored at PyTorch block `b`.
///
/// `kernel`/`recurrent` are our column-major `G x I` / `G x H` data; `bias_in`/`bias_rec` are
/// the input and recurrent biases (for cells with one bias, `bias_rec` is `None` and the two
/// PyTorch biases are summed on load, and exported as `(bias, 0)`).
pub(crate) struct TorchRecurrent<'a, T> {
    pub kind: &'static str,
    pub g: usize,
    pub i: usize,
    pub h: usize,
    pub perm: &'a [usize],
    pub kernel: &'a mut [T],
    pub recurrent: &'a mut [T],
    pub bias_in: &'a mut [T],
    pub bias_rec: Option<&'a mut [T]>,
}

impl<T: Real> TorchRecurrent<'_, T> {
    /// Keras row of PyTorch row `r`.
    fn row(&self, r: usize) -> usize {
        rnn_layout::keras_row(self.perm, self.h, r)
    }

    pub fn load<S: WeightSource<T> + ?Sized>(
        self,
        src: &S,
        prefix: &str,
        suffix: &str,
    ) -> Result<(), WeightError> {
        let (g, i, h) = (self.g, self.i, self.h);
        let w_ih = fetch(
            src,
            self.kind,
            TensorName::new(prefix, rnn_layout::TORCH_RECURRENT[0], suffix),
            &[g, i],
        )?;
        let w_hh = fetch(
            src,
            self.kind,
            TensorName::new(prefix, rnn_layout::TORCH_RECURRENT[1], suffix),
            &[g, h],
        )?;
        let b_ih = fetch(
            src,
            self.kind,
            TensorName::new(prefix, rnn_layout::TORCH_RECURRENT[2], suffix),
            &[g],
        )?;
        let b_hh = fetch(
            src,
            self.kind,
            TensorName::new(prefix, rnn_layout::TORCH_RECURRENT[3], suffix),
            &[g],
        )?;
        if self.bias_rec.is_none() {
            // The two biases are summed: the sum must be finite too (checked before any write).
            if let Some(index) =
                (0..g).position(|r| !rnn_layout::sum_biases(b_ih[r], b_hh[r]).is_finite())
            {
                return Err(WeightError::NonFinite {
                    layer: 0,
                    kind: self.kind,
                    tensor: TensorName::new(prefix, "bias_ih + bias_hh", suffix),
                    shape: crate::weights::Shape::new(&[g]),
                    index,
                });
            }
        }
        for r in 0..g {
            let kr = self.row(r);
            for j in 0..i {
                self.kernel[j * g + kr] = w_ih[r * i + j];
            }
            for j in 0..h {
                self.recurrent[j * g + kr] = w_hh[r * h + j];
            }
        }
        for r in 0..g {
            let kr = self.row(r);
            self.bias_in[kr] = match &self.bias_rec {
                Some(_) => b_ih[r],
                None => rnn_layout::sum_biases(b_ih[r], b_hh[r]),
            };
        }
        if let Some(rec) = self.bias_rec {
            for r in 0..g {
                rec[rnn_layout::keras_row(self.perm, h, r)] = b_hh[r];
            }
        }
        Ok(())
    }

    pub fn export(self, prefix: &str, suffix: &str, sink: &mut Sink<'_, T>) {
        let (g, i, h) = (self.g, self.i, self.h);
        let row = |r: usize| rnn_layout::keras_row(self.perm, h, r);
        let (k, u, bi) = (&*self.kernel, &*self.recurrent, &*self.bias_in);
        sink(
            TensorName::new(prefix, rnn_layout::TORCH_RECURRENT[0], suffix),
            Shape::new(&[g, i]),
            &|n| k[(n % i) * g + row(n / i)],
        );
        sink(
            TensorName::new(prefix, rnn_layout::TORCH_RECURRENT[1], suffix),
            Shape::new(&[g, h]),
            &|n| u[(n % h) * g + row(n / h)],
        );
        sink(
            TensorName::new(prefix, rnn_layout::TORCH_RECURRENT[2], suffix),
            Shape::new(&[g]),
            &|n| bi[row(n)],
        );
        match &self.bias_rec {
            Some(br) => {
                let br = &**br;
                sink(
                    TensorName::new(prefix, rnn_layout::TORCH_RECURRENT[3], suffix),
                    Shape::new(&[g]),
                    &|n| br[row(n)],
                )
            }
            None => sink(
                TensorName::new(prefix, rnn_layout::TORCH_RECURRENT[3], suffix),
                Shape::new(&[g]),
                &|_| T::ZERO,
            ),
        }
    }
}

mod dense;
mod gru;
mod lstm;
mod simple_rnn;

pub use dense::{Dense, DenseCache};
pub use gru::{GruCache, GruCell, GruState};
pub use lstm::{LstmCache, LstmCell, LstmState};
pub use simple_rnn::{RnnCache, RnnCell, RnnState};
