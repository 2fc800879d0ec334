//! The layers: one file per cell, each generic over its scalar and const sizes.
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

/// The [`Layer`] methods the one-bias recurrent cells (SimpleRNN, LSTM) share: three tensors
/// whose memory is Keras's layout (`$rows` gate rows), and PyTorch through their `torch()`.
/// The backward-pass helpers every recurrent cell has (inside its inherent `impl`, where `T`,
/// `I`, `H` are in scope): `pending`, `flush` and `transposed`. `$g` is the gate rows.
macro_rules! backward_helpers {
    ($g:tt) => {
        /// Nothing pending, for [`backward`](Self::backward).
        #[must_use = "pass it to every `backward` call, then to `flush`"]
        #[inline(always)]
        pub fn pending(&self) -> Pending<T, I, H, $g> {
            Pending::new()
        }

        /// Applies the weight-gradient updates `backward` left pending to `self` (a gradient).
        #[inline(always)]
        pub fn flush<M: Math>(&mut self, pending: &mut Pending<T, I, H, $g>) {
            pending.flush(M::default(), &mut self.kernel, &mut self.recurrent_kernel);
        }

        /// The transposed weights [`backward`](Self::backward) takes.
        #[inline(always)]
        pub fn transposed(&self) -> Transposed<T, I, H, $g> {
            Transposed::of(&self.kernel, &self.recurrent_kernel)
        }
    };
}

macro_rules! one_bias_recurrent_layer {
    ($rows:expr) => {
        fn tensor(&self, k: usize) -> &[T] {
            match k {
                0 => self.kernel.as_slice(),
                1 => self.recurrent_kernel.as_slice(),
                _ => self.bias.as_slice(),
            }
        }
        fn tensor_mut(&mut self, k: usize) -> &mut [T] {
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
const RECURRENT_TENSORS: [&str; 3] = ["kernel", "recurrent_kernel", "bias"];

mod dense;
mod gru;
mod lstm;
mod rnn;

pub use dense::{Dense, DenseCache};
pub use gru::{GruCache, GruCell, GruState};
pub use lstm::{LstmCache, LstmCell, LstmState};
pub use rnn::{RnnCache, RnnCell, RnnState};

use crate::io::{fetch, Layout, Shape, Sink, TensorName, WeightError, WeightSource};

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

use crate::real::Real;

/// What every layer offers the generated model: its parameter tensors (Keras names, shapes and
/// memory layout), and loading and exporting in both frameworks' layouts.
pub trait Layer<T: Real>: Sized {
    /// Keras-like kind name (`"lstm"`, `"gru"`, `"simple_rnn"`, `"dense"`).
    const KIND: &'static str;
    /// Number of trainable parameters (as Keras counts them).
    const PARAMS: usize;
    /// Number of parameter tensors.
    const TENSORS: usize;
    /// Tensor `k` as a flat slice in Keras layout (row-major Keras shape).
    fn tensor(&self, k: usize) -> &[T];
    /// Tensor `k`, mutable.
    fn tensor_mut(&mut self, k: usize) -> &mut [T];
    /// Keras name of tensor `k` (`"kernel"`, `"recurrent_kernel"`, `"bias"`).
    fn tensor_name(k: usize) -> &'static str;
    /// Keras shape of tensor `k`.
    fn tensor_shape(k: usize) -> Shape;
    /// Loads every tensor from `src`, named `prefix + base + suffix` (the suffix, such as
    /// `_l0`, applies to PyTorch recurrent names only).
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

/// Loads the Keras tensors of any layer: our memory layout is Keras's, so it is a copy.
pub(crate) fn load_keras<T: Real, L: Layer<T>, S: WeightSource<T> + ?Sized>(
    layer: &mut L,
    src: &S,
    prefix: &str,
) -> Result<(), WeightError> {
    for k in 0..L::TENSORS {
        let name = TensorName::new(prefix, L::tensor_name(k), "");
        let data = fetch(src, L::KIND, name, L::tensor_shape(k).dims())?;
        layer.tensor_mut(k).copy_from_slice(data);
    }
    Ok(())
}

/// Exports the Keras tensors of any layer.
pub(crate) fn export_keras<T: Real, L: Layer<T>>(layer: &L, prefix: &str, sink: &mut Sink<'_, T>) {
    for k in 0..L::TENSORS {
        let t = layer.tensor(k);
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
        self.perm[r / self.h] * self.h + r % self.h
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
            TensorName::new(prefix, "weight_ih", suffix),
            &[g, i],
        )?;
        let w_hh = fetch(
            src,
            self.kind,
            TensorName::new(prefix, "weight_hh", suffix),
            &[g, h],
        )?;
        let b_ih = fetch(
            src,
            self.kind,
            TensorName::new(prefix, "bias_ih", suffix),
            &[g],
        )?;
        let b_hh = fetch(
            src,
            self.kind,
            TensorName::new(prefix, "bias_hh", suffix),
            &[g],
        )?;
        if self.bias_rec.is_none() {
            // The two biases are summed: the sum must be finite too (checked before any write).
            if let Some(index) = (0..g).position(|r| !(b_ih[r] + b_hh[r]).is_finite()) {
                return Err(WeightError::NonFinite {
                    layer: 0,
                    kind: self.kind,
                    tensor: TensorName::new(prefix, "bias_ih + bias_hh", suffix),
                    shape: crate::io::Shape::new(&[g]),
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
            match &self.bias_rec {
                Some(_) => self.bias_in[kr] = b_ih[r],
                // `b + 0.0` turns a -0.0 bias into +0.0; skip the zero we export as `bias_hh`
                // so that save/load round-trips bit for bit.
                None if b_hh[r] == T::ZERO => self.bias_in[kr] = b_ih[r],
                None => self.bias_in[kr] = b_ih[r] + b_hh[r],
            }
        }
        if let Some(rec) = self.bias_rec {
            for r in 0..g {
                rec[self.perm[r / h] * h + r % h] = b_hh[r];
            }
        }
        Ok(())
    }

    pub fn export(self, prefix: &str, suffix: &str, sink: &mut Sink<'_, T>) {
        let (g, i, h) = (self.g, self.i, self.h);
        let row = |r: usize| self.perm[r / h] * h + r % h;
        let (k, u, bi) = (&*self.kernel, &*self.recurrent, &*self.bias_in);
        sink(
            TensorName::new(prefix, "weight_ih", suffix),
            Shape::new(&[g, i]),
            &|n| k[(n % i) * g + row(n / i)],
        );
        sink(
            TensorName::new(prefix, "weight_hh", suffix),
            Shape::new(&[g, h]),
            &|n| u[(n % h) * g + row(n / h)],
        );
        sink(
            TensorName::new(prefix, "bias_ih", suffix),
            Shape::new(&[g]),
            &|n| bi[row(n)],
        );
        match &self.bias_rec {
            Some(br) => {
                let br = &**br;
                sink(
                    TensorName::new(prefix, "bias_hh", suffix),
                    Shape::new(&[g]),
                    &|n| br[row(n)],
                )
            }
            None => sink(
                TensorName::new(prefix, "bias_hh", suffix),
                Shape::new(&[g]),
                &|_| T::ZERO,
            ),
        }
    }
}
