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
    fn a_zero_recurrent_bias_keeps_the_sign() {
        assert!(sum_biases(-0.0f32, 0.0).is_sign_negative());
        assert_eq!(sum_biases(1.5f64, 0.25), 1.75);
    }
}
