//! The Keras and PyTorch weight layout rules, each written once: used by the `rnn_model!`
//! macro for baked weights (at compile time) and by the runtime loaders (`rnn-core`'s layers,
//! `rnn-host`'s safetensors files).
//!
//! Our memory layout is Keras's: a kernel `[I, G]` (row-major) is stored as a column-major
//! `G x I` matrix, so loading Keras is a copy. PyTorch stores `weight_ih [G, I]` (Keras
//! transposed), with its gate blocks in another order for the GRU, and two biases
//! (`bias_ih + bias_hh` is Keras's one bias for SimpleRNN and LSTM).
//!
//! ```
//! use rnn_layout::{keras_row, GRU_TORCH_BLOCKS};
//! // PyTorch's GRU rows are r, z, n; Keras's are z, r, h: PyTorch row 0 (r, unit 0) is Keras row H.
//! assert_eq!(keras_row(&GRU_TORCH_BLOCKS, 4, 0), 4);
//! ```
#![no_std]
#![deny(missing_docs)]

/// Element types a stored tensor may have that we convert (safetensors' names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// IEEE half.
    F16,
    /// bfloat16 (the top half of an f32).
    BF16,
    /// IEEE single.
    F32,
    /// IEEE double.
    F64,
}

impl Dtype {
    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            Dtype::F16 | Dtype::BF16 => 2,
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }

    /// Element `i` of little-endian `bytes`, exactly as f64 (every F16, BF16 and F32 value is
    /// an f64 value; NaN and infinities are kept). `None` past the end.
    #[inline]
    pub fn get(self, bytes: &[u8], i: usize) -> Option<f64> {
        let n = self.size();
        let b = bytes.get(i.checked_mul(n)?..i.checked_mul(n)?.checked_add(n)?)?;
        Some(match self {
            Dtype::F16 => half::f16::from_le_bytes([b[0], b[1]]).to_f64(),
            Dtype::BF16 => half::bf16::from_le_bytes([b[0], b[1]]).to_f64(),
            Dtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
            Dtype::F64 => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        })
    }
}

/// PyTorch gate block `b` of an LSTM holds Keras block `LSTM_TORCH_BLOCKS[b]`: both are
/// i, f, g (c), o.
pub const LSTM_TORCH_BLOCKS: [usize; 4] = [0, 1, 2, 3];
/// PyTorch gate block `b` of a GRU holds Keras block `GRU_TORCH_BLOCKS[b]`: PyTorch r, z, n;
/// Keras z, r, h.
pub const GRU_TORCH_BLOCKS: [usize; 3] = [1, 0, 2];
/// SimpleRNN has one block.
pub const RNN_TORCH_BLOCKS: [usize; 1] = [0];

/// The Keras gate row of PyTorch gate row `r`, for `h` units and gate-block order `blocks`.
#[inline]
pub const fn keras_row(blocks: &[usize], h: usize, r: usize) -> usize {
    blocks[r / h] * h + r % h
}

/// Where element `(r, j)` of a PyTorch weight `[G, N]` (row-major, gate blocks `blocks`) goes
/// in our column-major `G x N` storage of the Keras kernel `[N, G]`.
#[inline]
pub const fn torch_weight_index(blocks: &[usize], h: usize, g: usize, r: usize, j: usize) -> usize {
    j * g + keras_row(blocks, h, r)
}

/// Keras's one bias from PyTorch's two (`bias_ih + bias_hh`), for SimpleRNN and LSTM. A zero
/// `bias_hh` (what we export) leaves `bias_ih` as it is, so a -0.0 bias keeps its sign and
/// save/load round-trips bit for bit (`-0.0 + 0.0` would be `+0.0`).
#[inline]
pub fn sum_biases<T: Copy + PartialEq + core::ops::Add<Output = T> + Default>(
    b_ih: T,
    b_hh: T,
) -> T {
    if b_hh == T::default() {
        b_ih
    } else {
        b_ih + b_hh
    }
}

/// PyTorch's four tensors of a recurrent layer: `weight_ih [G, I]`, `weight_hh [G, H]`,
/// `bias_ih [G]`, `bias_hh [G]`, row-major.
#[derive(Clone, Copy, Debug)]
pub struct TorchRecurrent<'a, T> {
    /// `weight_ih`.
    pub w_ih: &'a [T],
    /// `weight_hh`.
    pub w_hh: &'a [T],
    /// `bias_ih`.
    pub b_ih: &'a [T],
    /// `bias_hh`.
    pub b_hh: &'a [T],
}

/// Our storage of a recurrent layer: the kernel and recurrent kernel as column-major `G x I`
/// and `G x H` (Keras's row-major `[I, G]` and `[H, G]`), the bias, and the recurrent bias of
/// cells that keep two (Keras's GRU with `reset_after`, whose bias is `[2, G]`).
#[derive(Debug)]
pub struct KerasRecurrent<'a, T> {
    /// `kernel`, `G * I` values.
    pub kernel: &'a mut [T],
    /// `recurrent_kernel`, `G * H` values.
    pub recurrent: &'a mut [T],
    /// `bias` (its input row for a two-bias cell), `G` values.
    pub bias: &'a mut [T],
    /// The recurrent bias row of a two-bias cell; `None` sums PyTorch's two biases into `bias`.
    pub recurrent_bias: Option<&'a mut [T]>,
}

/// Converts PyTorch's recurrent tensors (gate blocks `blocks`, `i` inputs, `h` units) into our
/// layout: transposes the weights, reorders the gate blocks, and sums the biases
/// ([`sum_biases`]) unless the cell keeps both.
///
/// # Panics
/// If a slice is shorter than its shape (callers check the shapes first).
pub fn recurrent_from_torch<T>(
    blocks: &[usize],
    i: usize,
    h: usize,
    src: &TorchRecurrent<'_, T>,
    mut dst: KerasRecurrent<'_, T>,
) where
    T: Copy + PartialEq + core::ops::Add<Output = T> + Default,
{
    let g = blocks.len() * h;
    for r in 0..g {
        let kr = keras_row(blocks, h, r);
        for j in 0..i {
            dst.kernel[j * g + kr] = src.w_ih[r * i + j];
        }
        for j in 0..h {
            dst.recurrent[j * g + kr] = src.w_hh[r * h + j];
        }
        match dst.recurrent_bias.as_deref_mut() {
            None => dst.bias[kr] = sum_biases(src.b_ih[r], src.b_hh[r]),
            Some(rec) => {
                dst.bias[kr] = src.b_ih[r];
                rec[kr] = src.b_hh[r];
            }
        }
    }
}

/// PyTorch `Linear.weight [O, I]` (row-major) into our column-major `O x I` kernel (Keras's
/// `[I, O]` row-major): the same numbers, transposed.
pub fn linear_from_torch<T: Copy>(o: usize, i: usize, weight: &[T], kernel: &mut [T]) {
    for r in 0..o {
        for j in 0..i {
            kernel[j * o + r] = weight[r * i + j];
        }
    }
}

/// Keras's tensor names of a recurrent layer (SimpleRNN, LSTM, GRU).
pub const KERAS_RECURRENT: [&str; 3] = ["kernel", "recurrent_kernel", "bias"];
/// Keras's tensor names of a Dense layer.
pub const KERAS_DENSE: [&str; 2] = ["kernel", "bias"];
/// PyTorch's tensor names of a recurrent layer, before the `_l{k}` suffix.
pub const TORCH_RECURRENT: [&str; 4] = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];
/// PyTorch's tensor names of a `Linear` layer.
pub const TORCH_LINEAR: [&str; 2] = ["weight", "bias"];
/// PyTorch's suffix for the first layer of an `nn.RNN`/`nn.LSTM`/`nn.GRU`.
pub const TORCH_DEFAULT_SUFFIX: &str = "_l0";
/// Between Keras's layer name and tensor name (`"lstm/kernel"`).
pub const KERAS_SEPARATOR: &str = "/";
/// Between a PyTorch module name and tensor name (`"lstm.weight_ih_l0"`).
pub const TORCH_SEPARATOR: &str = ".";

/// Every activation: Keras's name and the variant of `rnn_core::Activation`, in that enum's
/// order. The macro parses and emits with it; the runtime names activations with it.
pub const ACTIVATIONS: [(&str, &str); 14] = [
    ("linear", "Linear"),
    ("relu", "Relu"),
    ("sigmoid", "Sigmoid"),
    ("tanh", "Tanh"),
    ("softmax", "Softmax"),
    ("elu", "Elu"),
    ("selu", "Selu"),
    ("gelu", "Gelu"),
    ("swish", "Swish"),
    ("softplus", "Softplus"),
    ("softsign", "Softsign"),
    ("hard_sigmoid", "HardSigmoid"),
    ("leaky_relu", "LeakyRelu"),
    ("exponential", "Exponential"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_and_bfloat_decode_exactly() {
        // 1.0, the smallest subnormal, -inf, NaN in F16; 1.0 and -2.0 in BF16.
        let f16 = [0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc, 0x01, 0x7e];
        assert_eq!(Dtype::F16.get(&f16, 0), Some(1.0));
        assert_eq!(Dtype::F16.get(&f16, 1), Some(2f64.powi(-24)));
        assert_eq!(Dtype::F16.get(&f16, 2), Some(f64::NEG_INFINITY));
        assert!(Dtype::F16.get(&f16, 3).unwrap().is_nan());
        assert_eq!(Dtype::F16.get(&f16, 4), None);
        let bf16 = [0x80, 0x3f, 0x00, 0xc0];
        assert_eq!(Dtype::BF16.get(&bf16, 0), Some(1.0));
        assert_eq!(Dtype::BF16.get(&bf16, 1), Some(-2.0));
        assert_eq!(
            Dtype::F32.get(&bf16, 0),
            Some(f32::from_le_bytes(bf16) as f64)
        );
        assert_eq!(Dtype::F64.get(&bf16, 0), None);
        assert_eq!(Dtype::F64.get(&[0; 8], usize::MAX), None);
    }

    #[test]
    fn gru_blocks_swap_r_and_z() {
        let h = 2;
        let rows: [usize; 6] = core::array::from_fn(|r| keras_row(&GRU_TORCH_BLOCKS, h, r));
        assert_eq!(rows, [2, 3, 0, 1, 4, 5]);
        assert_eq!(
            torch_weight_index(&LSTM_TORCH_BLOCKS, 1, 4, 3, 2),
            2 * 4 + 3
        );
    }

    #[test]
    fn recurrent_and_linear_conversions() {
        // A GRU with one unit: PyTorch rows r, z, n are Keras rows 1, 0, 2.
        let (w_ih, w_hh, b_ih, b_hh) = (
            [1.0, 2.0, 3.0],
            [4.0, 5.0, 6.0],
            [7.0, 8.0, 9.0],
            [0.5, 0.0, 1.0],
        );
        let src = TorchRecurrent {
            w_ih: &w_ih,
            w_hh: &w_hh,
            b_ih: &b_ih,
            b_hh: &b_hh,
        };
        let (mut k, mut u, mut b, mut br) = ([0.0; 3], [0.0; 3], [0.0; 3], [0.0; 3]);
        recurrent_from_torch(
            &GRU_TORCH_BLOCKS,
            1,
            1,
            &src,
            KerasRecurrent {
                kernel: &mut k,
                recurrent: &mut u,
                bias: &mut b,
                recurrent_bias: Some(&mut br),
            },
        );
        assert_eq!(
            (k, u, b, br),
            (
                [2.0, 1.0, 3.0],
                [5.0, 4.0, 6.0],
                [8.0, 7.0, 9.0],
                [0.0, 0.5, 1.0]
            )
        );
        // One bias: the sum, with a zero recurrent bias leaving the input bias as it is.
        recurrent_from_torch(
            &GRU_TORCH_BLOCKS,
            1,
            1,
            &src,
            KerasRecurrent {
                kernel: &mut k,
                recurrent: &mut u,
                bias: &mut b,
                recurrent_bias: None,
            },
        );
        assert_eq!(b, [8.0, 7.5, 10.0]);
        let mut kernel = [0.0; 6];
        linear_from_torch(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut kernel);
        assert_eq!(kernel, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    #[test]
    fn a_zero_recurrent_bias_keeps_the_sign() {
        assert!(sum_biases(-0.0f32, 0.0).is_sign_negative());
        assert_eq!(sum_biases(1.5f64, 0.25), 1.75);
    }
}
