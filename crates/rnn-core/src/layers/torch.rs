//! Loading and exporting a layer's tensors in Keras's layout (a copy: it is our memory layout)
//! and PyTorch's (transposes, gate permutations, two biases; the rules are `rnn-layout`'s).

use super::Leaf;
use crate::real::Real;
use crate::weights::{fetch, Shape, Sink, TensorName, WeightError, WeightSource};

/// Loads the Keras tensors of any layer: our memory layout is Keras's, so it is a copy. With
/// `apply` false it only checks that every tensor would load.
pub(crate) fn load_keras<T: Real, L: Leaf<T>, S: WeightSource<T> + ?Sized>(
    layer: &mut L,
    src: &S,
    prefix: &str,
    apply: bool,
) -> Result<(), WeightError> {
    let get = |k| {
        fetch(
            src,
            L::KIND,
            TensorName::new(prefix, L::tensor_name(k), ""),
            L::tensor_shape(k).dims(),
        )
    };
    // Every tensor present, of its shape and finite, before any is written.
    for k in 0..L::TENSORS {
        get(k)?;
    }
    if apply {
        for k in 0..L::TENSORS {
            layer.leaf_tensor_mut(k).copy_from_slice(get(k)?);
        }
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
    pub fn load<S: WeightSource<T> + ?Sized>(
        self,
        src: &S,
        prefix: &str,
        suffix: &str,
        apply: bool,
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
        if !apply {
            return Ok(());
        }
        let src = rnn_layout::TorchRecurrent {
            w_ih,
            w_hh,
            b_ih,
            b_hh,
        };
        let dst = rnn_layout::KerasRecurrent {
            kernel: self.kernel,
            recurrent: self.recurrent,
            bias: self.bias_in,
            recurrent_bias: self.bias_rec,
        };
        rnn_layout::recurrent_from_torch(self.perm, i, h, &src, dst);
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
