//! Integer inference: int8 weights with a scale per output row, int32 accumulation, int16
//! activations and cell state, table-based sigmoid and tanh. No float operation runs in a
//! quantized step ([`QCell::step`]); floats appear only when a model is quantized
//! ([`Quantize`], on the host or at start-up) and when its output is read back as a number.
//!
//! # Formats
//! - Activations between layers: `i16`, a real value `q * 2^e`. A recurrent layer's output
//!   is in Q0.15 (`e = -15`: its values are in (-1, 1)); the model's input has the exponent
//!   [`input_exponent`] chose from a calibration set (the smallest power of two that keeps
//!   its largest magnitude within 32767).
//! - Gate pre-activations: Q3.12 (`i16`, range [-8, 8), saturated), the tables' input.
//! - [`sigmoid_q15`] and [`tanh_q15`]: Q0.15 out, from a 257-entry table over [0, 8] (step
//!   1/32) with linear interpolation; max error over every Q3.12 input in [-8, 8) 1.2e-4
//!   (tanh) and 3.9e-5 (sigmoid), and beyond, where they saturate, 3.1e-5 and 3.4e-4
//!   (`sigmoid(8) = 1 - 3.4e-4`), tested against f64 (`tests/quant.rs`).
//! - An LSTM's cell state: Q4.11 (`i16`, range [-16, 16), saturated).
//! - Weights: `i8`, symmetric, with one scale per output row (per channel, as TFLite and
//!   CMSIS-NN), a power of two: the smallest that keeps the row's largest `|w|` within 127
//!   ([`QMatrix`]). Rescaling an accumulator is then a rounding shift (no multiplier, no
//!   64-bit multiply; the rounding shift itself uses 64-bit shifts), and the card model's
//!   weights take 5,175 bytes (1/3.7 of its 19,140 f32 bytes). Gate biases `i16` in Q3.12.
//! - A last `dense` layer outputs `i32` in Q15.16 ([`DENSE_OUT_SHIFT`]) whatever its activation
//!   (`linear`, `relu`, `tanh`, `sigmoid`); read it with [`dequantize`]. A `dense` layer with
//!   another layer after it outputs `i16`: Q3.12 (saturated at ±8) for `linear` and `relu`,
//!   Q0.15 for `tanh` and `sigmoid`. A model that ends in a recurrent layer outputs its Q0.15.
//!
//! Post-training quantization ([`quantize`]): weights per row as above, the input scale from
//! calibration data ([`input_exponent`]), every other scale fixed by the formats.

use crate::layers::{Dense, GruCell, LstmCell, RnnCell};
use crate::real::Real;

/// `round(sigmoid(k / 32) * 32768)`, `k = 0..=256` (capped at 32767); checked by the tests.
pub const SIGMOID_TABLE: [i16; 257] = [
    16384, 16640, 16896, 17151, 17407, 17661, 17916, 18169, 18421, 18673, 18923, 19173, 19420,
    19667, 19912, 20155, 20397, 20636, 20874, 21110, 21344, 21575, 21804, 22031, 22255, 22477,
    22696, 22913, 23127, 23338, 23547, 23753, 23955, 24155, 24352, 24546, 24737, 24925, 25110,
    25292, 25471, 25646, 25819, 25988, 26155, 26318, 26479, 26636, 26790, 26941, 27090, 27235,
    27377, 27516, 27653, 27786, 27917, 28045, 28169, 28292, 28411, 28528, 28642, 28753, 28862,
    28968, 29072, 29173, 29272, 29368, 29462, 29554, 29644, 29731, 29816, 29899, 29979, 30058,
    30135, 30210, 30282, 30353, 30422, 30489, 30555, 30618, 30680, 30740, 30799, 30856, 30912,
    30966, 31018, 31069, 31119, 31167, 31214, 31260, 31304, 31347, 31389, 31430, 31469, 31508,
    31545, 31581, 31616, 31651, 31684, 31716, 31747, 31778, 31807, 31836, 31864, 31891, 31917,
    31943, 31968, 31992, 32015, 32038, 32060, 32081, 32102, 32122, 32141, 32160, 32179, 32196,
    32214, 32231, 32247, 32263, 32278, 32293, 32307, 32321, 32335, 32348, 32361, 32373, 32385,
    32397, 32408, 32419, 32430, 32440, 32450, 32460, 32469, 32478, 32487, 32496, 32504, 32512,
    32520, 32527, 32535, 32542, 32549, 32555, 32562, 32568, 32574, 32580, 32586, 32592, 32597,
    32602, 32607, 32612, 32617, 32622, 32626, 32630, 32635, 32639, 32643, 32647, 32650, 32654,
    32657, 32661, 32664, 32667, 32670, 32673, 32676, 32679, 32682, 32684, 32687, 32689, 32692,
    32694, 32696, 32699, 32701, 32703, 32705, 32707, 32709, 32711, 32712, 32714, 32716, 32717,
    32719, 32720, 32722, 32723, 32725, 32726, 32727, 32728, 32730, 32731, 32732, 32733, 32734,
    32735, 32736, 32737, 32738, 32739, 32740, 32741, 32742, 32742, 32743, 32744, 32745, 32745,
    32746, 32747, 32747, 32748, 32749, 32749, 32750, 32750, 32751, 32752, 32752, 32753, 32753,
    32753, 32754, 32754, 32755, 32755, 32756, 32756, 32756, 32757, 32757,
];
/// `round(tanh(k / 32) * 32768)`, `k = 0..=256` (capped at 32767); checked by the tests.
pub const TANH_TABLE: [i16; 257] = [
    0, 1024, 2045, 3063, 4075, 5079, 6073, 7056, 8025, 8980, 9919, 10840, 11743, 12625, 13486,
    14326, 15143, 15936, 16706, 17452, 18173, 18870, 19542, 20189, 20813, 21411, 21986, 22538,
    23066, 23571, 24054, 24516, 24956, 25376, 25776, 26157, 26519, 26864, 27191, 27502, 27797,
    28076, 28341, 28592, 28830, 29055, 29268, 29470, 29660, 29840, 30010, 30170, 30322, 30465,
    30600, 30727, 30847, 30960, 31067, 31167, 31262, 31351, 31435, 31515, 31589, 31659, 31726,
    31788, 31846, 31901, 31953, 32002, 32048, 32091, 32132, 32170, 32206, 32240, 32271, 32301,
    32329, 32356, 32381, 32404, 32426, 32447, 32466, 32484, 32501, 32517, 32532, 32547, 32560,
    32573, 32584, 32596, 32606, 32616, 32625, 32634, 32642, 32649, 32657, 32663, 32670, 32676,
    32681, 32686, 32691, 32696, 32700, 32704, 32708, 32712, 32715, 32718, 32721, 32724, 32727,
    32729, 32732, 32734, 32736, 32738, 32740, 32741, 32743, 32745, 32746, 32747, 32749, 32750,
    32751, 32752, 32753, 32754, 32755, 32755, 32756, 32757, 32758, 32758, 32759, 32759, 32760,
    32760, 32761, 32761, 32762, 32762, 32762, 32763, 32763, 32763, 32764, 32764, 32764, 32764,
    32765, 32765, 32765, 32765, 32765, 32766, 32766, 32766, 32766, 32766, 32766, 32766, 32766,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
];

/// `sigmoid(x)` for `x` in Q3.12 (`x / 4096`), in Q0.15 (at most 32767). Integer only.
#[inline]
pub fn sigmoid_q15(x: i32) -> i16 {
    // sigmoid(-x) = 1 - sigmoid(x).
    let a = x.unsigned_abs().min(8 << 12);
    let v = lookup(&SIGMOID_TABLE, a);
    if x < 0 {
        (32768 - v) as i16
    } else {
        v.min(32767) as i16
    }
}

/// `tanh(x)` for `x` in Q3.12, in Q0.15 (in [-32767, 32767]). Integer only.
#[inline]
pub fn tanh_q15(x: i32) -> i16 {
    let a = x.unsigned_abs().min(8 << 12);
    let v = lookup(&TANH_TABLE, a).min(32767);
    if x < 0 {
        -v as i16
    } else {
        v as i16
    }
}

/// The table at `a` (Q3.12, `0..=8 << 12`), interpolated between the entries around it.
#[inline(always)]
fn lookup(t: &[i16; 257], a: u32) -> i32 {
    let i = (a >> 7) as usize;
    let frac = (a & 127) as i32;
    let lo = t[i.min(256)] as i32;
    let hi = t[(i + 1).min(256)] as i32;
    lo + (((hi - lo) * frac + 64) >> 7)
}

/// The Q-format of gate pre-activations: 12 fraction bits.
pub const GATE_SHIFT: u32 = 12;
/// The Q-format of recurrent outputs: 15 fraction bits.
pub const H_SHIFT: u32 = 15;
/// The Q-format of an LSTM's cell state: 11 fraction bits.
pub const C_SHIFT: u32 = 11;
/// The Q-format of a final dense layer's `i32` outputs: 16 fraction bits.
pub const DENSE_OUT_SHIFT: u32 = 16;

/// A final dense layer's output as a number (host side).
pub fn dequantize(y: i32) -> f64 {
    y as f64 / (1u64 << DENSE_OUT_SHIFT) as f64
}

/// The input's exponent `e` (scale `2^e`): the smallest that keeps the largest magnitude of
/// `data` within 32767 (-15 for all zeros).
pub fn input_exponent<T: Real>(data: impl IntoIterator<Item = T>) -> i32 {
    let m = data
        .into_iter()
        .map(|v| v.to_f64().abs())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    if m > 0.0 {
        exponent(m, 32767.0)
    } else {
        -15
    }
}

/// `x` (a real input) as an `i16` of scale `2^exp`, rounded and saturated (host side, or a
/// device with an FPU; an integer sensor reading may be shifted into this format instead).
pub fn quantize_input<T: Real>(x: T, exp: i32) -> i16 {
    let v = libm::round(libm::ldexp(x.to_f64(), exp.saturating_neg()));
    if v.is_nan() {
        return 0;
    }
    v.clamp(-32767.0, 32767.0) as i16
}

fn sat16(v: i32) -> i16 {
    v.clamp(-32768, 32767) as i16
}

/// One matrix's rows in int8, each with its own power-of-two scale: row `r` holds
/// `w[r][c] * 2^-e_r`, with `e_r` the largest exponent that keeps every `|w[r][c]|` within 127
/// (so each row uses 64 to 127 of the int8 range at its largest). With the input's scale a
/// power of two too, rescaling an accumulator into the output's format is one rounding
/// shift per row ([`QMatrix::shift`]): no multiplier to store, no 64-bit product (a library
/// call on a Cortex-M0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QMatrix<const R: usize, const C: usize> {
    /// `w[r][c]`, row `r` (an output).
    pub w: [[i8; C]; R],
    /// Per row: the right shift from the accumulator to the output format (negative: left).
    pub shift: [i8; R],
}

/// `round(acc / 2^shift)` (a left shift for a negative `shift`), saturated to `i32`.
#[inline(always)]
pub fn shift_round(acc: i32, shift: i32) -> i32 {
    if shift > 0 {
        let s = shift.min(31) as u32;
        ((acc as i64 + (1i64 << (s - 1))) >> s) as i32
    } else {
        let s = (-shift).min(31) as u32;
        (acc as i64)
            .checked_shl(s)
            .unwrap_or(0)
            .clamp(i32::MIN as i64, i32::MAX as i64) as i32
    }
}

/// The exponent `e` with `2^e` the power-of-two scale of values up to `max`: the smallest `e`
/// with `max / 2^e <= limit`.
fn exponent(max: f64, limit: f64) -> i32 {
    if !(max > 0.0 && max.is_finite()) {
        return 0;
    }
    let mut e = libm::ceil(libm::log2(max / limit)) as i32;
    // Against rounding in log2: the smallest e that fits.
    while libm::ldexp(limit, e) < max {
        e += 1;
    }
    while libm::ldexp(limit, e - 1) >= max {
        e -= 1;
    }
    e
}

impl<const R: usize, const C: usize> QMatrix<R, C> {
    /// The f64 matrix `get(r, c)`, for an input of scale `2^in_exp`, into an output with
    /// `out_shift` fraction bits.
    fn new(get: impl Fn(usize, usize) -> f64, in_exp: i32, out_shift: u32) -> Self {
        let mut m = QMatrix {
            w: [[0; C]; R],
            shift: [0; R],
        };
        for r in 0..R {
            let max = (0..C).map(|c| get(r, c).abs()).fold(0.0f64, f64::max);
            let e = exponent(max, 127.0);
            for c in 0..C {
                m.w[r][c] = libm::round(libm::ldexp(get(r, c), -e)).clamp(-127.0, 127.0) as i8;
            }
            // acc * 2^(e + in_exp) in units of 2^-out_shift: shift right by -(e + in_exp + out).
            m.shift[r] = e
                .saturating_add(in_exp)
                .saturating_add(out_shift as i32)
                .saturating_neg()
                .clamp(-31, 31) as i8;
        }
        m
    }
    /// `C * 128 * 32768` within an i32 accumulator: at most 511 inputs per row.
    const FITS: () = assert!(
        C <= 511,
        "a quantized layer takes at most 511 inputs (its i32 accumulator)"
    );

    /// Row `r`'s accumulator over `x`, rescaled.
    #[inline(always)]
    fn row(&self, r: usize, x: &[i16; C]) -> i32 {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        let mut acc = 0i32;
        for c in 0..C {
            acc += self.w[r][c] as i32 * x[c] as i32;
        }
        shift_round(acc, self.shift[r] as i32)
    }
}

/// A gate bias in Q3.12, saturated to `i16` (±8).
fn bias_q(b: f64, shift: u32) -> i16 {
    libm::round(b * (1u64 << shift) as f64).clamp(-32768.0, 32767.0) as i16
}

/// A quantized layer: integer state, integer step.
pub trait QCell: Sized {
    /// One step's input.
    type Input: Copy;
    /// One step's output.
    type Output: Copy;
    /// The state between steps (zeros at first).
    type State: Copy;
    /// The zero state.
    fn zero_state() -> Self::State;
    /// The zero state of this layer's type (for a value whose type is long to write).
    fn new_state(&self) -> Self::State {
        Self::zero_state()
    }
    /// One step. Integer arithmetic only.
    fn step(&self, state: &mut Self::State, x: &Self::Input) -> Self::Output;
}

/// What quantizes: an f32/f64 layer (or chain) becomes its integer form, given its input's
/// scale `2^in_exp`; it returns its output's exponent (-15 for a recurrent layer).
pub trait Quantize {
    /// The integer form.
    type Q: QCell;
    /// Quantizes for an input of scale `2^in_exp`.
    fn quantize(&self, in_exp: i32) -> Result<(Self::Q, i32), QuantError>;
}

/// A layer without an integer form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantError {
    /// An activation other than the integer ones (`tanh` on `rnn`, `linear` on `dense`).
    #[error(
        "`{layer}` with activation `{activation}` has no integer form (rnn: tanh; dense: linear)"
    )]
    Activation {
        /// The layer kind.
        layer: &'static str,
        /// Its activation's name.
        activation: &'static str,
    },
}

/// A quantized LSTM (Keras gates i, f, c, o; tanh and sigmoid).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QLstm<const I: usize, const H: usize, const G: usize> {
    /// Input kernel, per gate row.
    pub kernel: QMatrix<G, I>,
    /// Recurrent kernel, per gate row (input scale 2^-15).
    pub recurrent: QMatrix<G, H>,
    /// Biases in Q3.12.
    pub bias: [i16; G],
}

/// A quantized LSTM's state: `h` in Q0.15, `c` in Q4.11.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QLstmState<const H: usize> {
    /// Output.
    pub h: [i16; H],
    /// Cell state.
    pub c: [i16; H],
}

impl<const I: usize, const H: usize, const G: usize> QCell for QLstm<I, H, G> {
    type Input = [i16; I];
    type Output = [i16; H];
    type State = QLstmState<H>;
    fn zero_state() -> Self::State {
        QLstmState {
            h: [0; H],
            c: [0; H],
        }
    }
    fn step(&self, s: &mut Self::State, x: &[i16; I]) -> [i16; H] {
        let z = |r: usize| {
            let v = self
                .kernel
                .row(r, x)
                .saturating_add(self.recurrent.row(r, &s.h))
                .saturating_add(self.bias[r] as i32);
            v.clamp(-(8 << 12), (8 << 12) - 1)
        };
        let mut h = [0i16; H];
        let mut c = [0i16; H];
        for k in 0..H {
            let i = sigmoid_q15(z(k)) as i32;
            let f = sigmoid_q15(z(H + k)) as i32;
            let g = tanh_q15(z(2 * H + k)) as i32;
            let o = sigmoid_q15(z(3 * H + k)) as i32;
            // Q15 * Q11 >> 15 = Q11; Q15 * Q15 >> 19 = Q11.
            let fc = (f * s.c[k] as i32 + (1 << 14)) >> 15;
            let ig = (i * g + (1 << 18)) >> 19;
            c[k] = sat16(fc + ig);
            // tanh's input in Q12: the Q11 state doubled.
            let t = tanh_q15((c[k] as i32) << 1) as i32;
            h[k] = sat16((o * t + (1 << 14)) >> 15);
        }
        s.h = h;
        s.c = c;
        h
    }
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const B: usize> Quantize
    for LstmCell<T, I, H, G, 0, B>
{
    type Q = QLstm<I, H, G>;
    fn quantize(&self, in_exp: i32) -> Result<(QLstm<I, H, G>, i32), QuantError> {
        let k = |r: usize, c: usize| self.kernel[(r, c)].to_f64();
        let u = |r: usize, c: usize| self.recurrent_kernel[(r, c)].to_f64();
        let mut bias = [0i16; G];
        for (r, b) in bias.iter_mut().enumerate() {
            let v: f64 = (0..B).map(|j| self.bias[(r, j)].to_f64()).sum();
            *b = bias_q(v, GATE_SHIFT);
        }
        let q = QLstm {
            kernel: QMatrix::new(k, in_exp, GATE_SHIFT),
            recurrent: QMatrix::new(u, -(H_SHIFT as i32), GATE_SHIFT),
            bias,
        };
        Ok((q, -(H_SHIFT as i32)))
    }
}

/// A quantized GRU (Keras gates z, r, h), either reset mode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QGru<const I: usize, const H: usize, const G: usize, const RESET_AFTER: bool> {
    /// Input kernel, per gate row.
    pub kernel: QMatrix<G, I>,
    /// Recurrent kernel, per gate row.
    pub recurrent: QMatrix<G, H>,
    /// Input biases in Q3.12.
    pub bias: [i16; G],
    /// Recurrent biases in Q3.12 (`reset_after` only).
    pub recurrent_bias: [i16; G],
}

impl<const I: usize, const H: usize, const G: usize, const RA: bool> QCell for QGru<I, H, G, RA> {
    type Input = [i16; I];
    type Output = [i16; H];
    type State = [i16; H];
    fn zero_state() -> [i16; H] {
        [0; H]
    }
    fn step(&self, s: &mut [i16; H], x: &[i16; I]) -> [i16; H] {
        let gate = |v: i32| v.clamp(-(8 << 12), (8 << 12) - 1);
        let mut out = [0i16; H];
        let mut rh = [0i16; H];
        let mut zs = [0i32; H];
        let mut rs = [0i32; H];
        for k in 0..H {
            let z = self
                .kernel
                .row(k, x)
                .saturating_add(self.recurrent.row(k, s))
                .saturating_add(self.bias[k] as i32 + self.recurrent_bias[k] as i32);
            let r = self
                .kernel
                .row(H + k, x)
                .saturating_add(self.recurrent.row(H + k, s))
                .saturating_add(self.bias[H + k] as i32 + self.recurrent_bias[H + k] as i32);
            zs[k] = sigmoid_q15(gate(z)) as i32;
            rs[k] = sigmoid_q15(gate(r)) as i32;
            rh[k] = sat16((rs[k] * s[k] as i32 + (1 << 14)) >> 15);
        }
        for k in 0..H {
            let xh = self
                .kernel
                .row(2 * H + k, x)
                .saturating_add(self.bias[2 * H + k] as i32);
            let hh = if RA {
                // r * (U_h h + b_hh): Q15 * Q12 >> 15 = Q12.
                let u = self
                    .recurrent
                    .row(2 * H + k, s)
                    .saturating_add(self.recurrent_bias[2 * H + k] as i32);
                // Clamped at ±16 (Q12), not the gates' ±8: `r` scales it down before the
                // table, and 32767 * 65535 still fits an i32.
                let u = u.clamp(-(16 << 12), (16 << 12) - 1);
                xh.saturating_add((rs[k] * u + (1 << 14)) >> 15)
            } else {
                xh.saturating_add(self.recurrent.row(2 * H + k, &rh))
            };
            let n = tanh_q15(gate(hh)) as i32;
            // z h + (1 - z) n in Q15.
            out[k] = sat16((zs[k] * s[k] as i32 + (32768 - zs[k]) * n + (1 << 14)) >> 15);
        }
        *s = out;
        out
    }
}

impl<T: Real, const I: usize, const H: usize, const G: usize, const RA: bool> Quantize
    for GruCell<T, I, H, G, RA>
{
    type Q = QGru<I, H, G, RA>;
    fn quantize(&self, in_exp: i32) -> Result<(QGru<I, H, G, RA>, i32), QuantError> {
        let k = |r: usize, c: usize| self.kernel[(r, c)].to_f64();
        let u = |r: usize, c: usize| self.recurrent_kernel[(r, c)].to_f64();
        let (mut bias, mut rbias) = ([0i16; G], [0i16; G]);
        for r in 0..G {
            bias[r] = bias_q(self.bias[(r, 0)].to_f64(), GATE_SHIFT);
            // Without reset_after Keras has one bias (column 1 is unused and zero).
            rbias[r] = if RA {
                bias_q(self.bias[(r, 1)].to_f64(), GATE_SHIFT)
            } else {
                0
            };
        }
        let q = QGru {
            kernel: QMatrix::new(k, in_exp, GATE_SHIFT),
            recurrent: QMatrix::new(u, -(H_SHIFT as i32), GATE_SHIFT),
            bias,
            recurrent_bias: rbias,
        };
        Ok((q, -(H_SHIFT as i32)))
    }
}

/// A quantized SimpleRNN with `tanh`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QRnn<const I: usize, const H: usize> {
    /// Input kernel.
    pub kernel: QMatrix<H, I>,
    /// Recurrent kernel.
    pub recurrent: QMatrix<H, H>,
    /// Bias in Q3.12.
    pub bias: [i16; H],
}

impl<const I: usize, const H: usize> QCell for QRnn<I, H> {
    type Input = [i16; I];
    type Output = [i16; H];
    type State = [i16; H];
    fn zero_state() -> [i16; H] {
        [0; H]
    }
    fn step(&self, s: &mut [i16; H], x: &[i16; I]) -> [i16; H] {
        let mut out = [0i16; H];
        for k in 0..H {
            let v = self
                .kernel
                .row(k, x)
                .saturating_add(self.recurrent.row(k, s))
                .saturating_add(self.bias[k] as i32);
            out[k] = tanh_q15(v.clamp(-(8 << 12), (8 << 12) - 1));
        }
        *s = out;
        out
    }
}

/// Only `activation = tanh` has an integer form.
impl<T: Real, const I: usize, const H: usize, const B: usize> Quantize for RnnCell<T, I, H, B> {
    type Q = QRnn<I, H>;
    fn quantize(&self, in_exp: i32) -> Result<(QRnn<I, H>, i32), QuantError> {
        if self.activation != crate::Activation::Tanh {
            return Err(QuantError::Activation {
                layer: "rnn",
                activation: self.activation.name(),
            });
        }
        let k = |r: usize, c: usize| self.kernel[(r, c)].to_f64();
        let u = |r: usize, c: usize| self.recurrent_kernel[(r, c)].to_f64();
        let mut bias = [0i16; H];
        for (r, b) in bias.iter_mut().enumerate() {
            *b = bias_q((0..B).map(|j| self.bias[(r, j)].to_f64()).sum(), GATE_SHIFT);
        }
        let q = QRnn {
            kernel: QMatrix::new(k, in_exp, GATE_SHIFT),
            recurrent: QMatrix::new(u, -(H_SHIFT as i32), GATE_SHIFT),
            bias,
        };
        Ok((q, -(H_SHIFT as i32)))
    }
}

/// A dense layer's activation in integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum QAct {
    /// None.
    Linear = 0,
    /// `max(0, x)`.
    Relu = 1,
    /// The table tanh.
    Tanh = 2,
    /// The table sigmoid.
    Sigmoid = 3,
}

impl QAct {
    /// The integer form of an activation, if it has one.
    pub fn of(a: crate::Activation) -> Option<QAct> {
        match a {
            crate::Activation::Linear => Some(QAct::Linear),
            crate::Activation::Relu => Some(QAct::Relu),
            crate::Activation::Tanh => Some(QAct::Tanh),
            crate::Activation::Sigmoid => Some(QAct::Sigmoid),
            _ => None,
        }
    }
    /// The code a file stores ([`QTensors`]' `activation`).
    pub const fn code(self) -> i8 {
        self as i8
    }
    /// Whether the output goes through a table (then it is in Q0.15 first).
    const fn squashes(self) -> bool {
        matches!(self, QAct::Tanh | QAct::Sigmoid)
    }
    /// `v` (Q3.12 for a table, else already in the output format) through the activation.
    #[inline(always)]
    fn apply(self, v: i32) -> i32 {
        match self {
            QAct::Linear => v,
            QAct::Relu => v.max(0),
            QAct::Tanh => tanh_q15(v) as i32,
            QAct::Sigmoid => sigmoid_q15(v) as i32,
        }
    }
}

/// A quantized dense layer, last in its model: `i32` outputs in Q15.16 whatever its activation
/// (`linear`, `relu`, `tanh` or `sigmoid`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QDense<const I: usize, const O: usize> {
    /// Kernel, per output row (into Q15.16, or Q3.12 before a table).
    pub kernel: QMatrix<O, I>,
    /// Bias in the kernel's output format.
    pub bias: [i32; O],
    /// The activation.
    pub act: QAct,
}

impl<const I: usize, const O: usize> QCell for QDense<I, O> {
    type Input = [i16; I];
    type Output = [i32; O];
    type State = ();
    fn zero_state() {}
    fn step(&self, (): &mut (), x: &[i16; I]) -> [i32; O] {
        let mut y = [0i32; O];
        for (r, y) in y.iter_mut().enumerate() {
            let v = self.kernel.row(r, x).saturating_add(self.bias[r]);
            *y = if self.act.squashes() {
                // Q0.15 -> Q15.16.
                self.act.apply(v.clamp(-(8 << 12), (8 << 12) - 1)) << 1
            } else {
                self.act.apply(v)
            };
        }
        y
    }
}

/// A quantized dense layer inside a model (another layer follows): `i16` outputs, in Q3.12
/// (saturated at ±8) for `linear` and `relu`, in Q0.15 for `tanh` and `sigmoid`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QDenseInner<const I: usize, const O: usize> {
    /// Kernel, per output row (into Q3.12).
    pub kernel: QMatrix<O, I>,
    /// Bias in Q3.12.
    pub bias: [i16; O],
    /// The activation.
    pub act: QAct,
}

impl<const I: usize, const O: usize> QCell for QDenseInner<I, O> {
    type Input = [i16; I];
    type Output = [i16; O];
    type State = ();
    fn zero_state() {}
    fn step(&self, (): &mut (), x: &[i16; I]) -> [i16; O] {
        let mut y = [0i16; O];
        for (r, y) in y.iter_mut().enumerate() {
            let v = self.kernel.row(r, x).saturating_add(self.bias[r] as i32);
            *y = sat16(self.act.apply(v.clamp(-(8 << 12), (8 << 12) - 1)));
        }
        y
    }
}

/// A dense layer's kernel into `out_shift` fraction bits, and its biases there (rounded, not
/// yet saturated).
fn dense_parts<T: Real, const I: usize, const O: usize, const BIAS: bool>(
    d: &Dense<T, I, O, BIAS>,
    in_exp: i32,
    out_shift: u32,
) -> (QMatrix<O, I>, [f64; O]) {
    let k = |r: usize, c: usize| d.kernel[(r, c)].to_f64();
    let bias =
        core::array::from_fn(|r| libm::round(libm::ldexp(d.bias[r].to_f64(), out_shift as i32)));
    (QMatrix::new(k, in_exp, out_shift), bias)
}

fn dense_act<T: Real, const I: usize, const O: usize, const BIAS: bool>(
    d: &Dense<T, I, O, BIAS>,
) -> Result<QAct, QuantError> {
    QAct::of(d.activation).ok_or(QuantError::Activation {
        layer: "dense",
        activation: d.activation.name(),
    })
}

/// A last dense layer: `linear`, `relu`, `tanh` or `sigmoid`.
impl<T: Real, const I: usize, const O: usize, const BIAS: bool> Quantize for Dense<T, I, O, BIAS> {
    type Q = QDense<I, O>;
    fn quantize(&self, in_exp: i32) -> Result<(QDense<I, O>, i32), QuantError> {
        let act = dense_act(self)?;
        let shift = if act.squashes() {
            GATE_SHIFT
        } else {
            DENSE_OUT_SHIFT
        };
        let (kernel, b) = dense_parts(self, in_exp, shift);
        let bias = b.map(|v| v.clamp(i32::MIN as f64, i32::MAX as f64) as i32);
        let q = QDense { kernel, bias, act };
        Ok((q, -(DENSE_OUT_SHIFT as i32)))
    }
}

/// What quantizes when another layer follows: its output must be `i16`. Every recurrent layer
/// is the same either way; a dense layer becomes a [`QDenseInner`].
pub trait QuantizeInner {
    /// The integer form.
    type Q: QCell;
    /// Quantizes for an input of scale `2^in_exp`; returns the output's exponent.
    fn quantize_inner(&self, in_exp: i32) -> Result<(Self::Q, i32), QuantError>;
}

impl<T: Real, const I: usize, const O: usize, const BIAS: bool> QuantizeInner
    for Dense<T, I, O, BIAS>
{
    type Q = QDenseInner<I, O>;
    fn quantize_inner(&self, in_exp: i32) -> Result<(QDenseInner<I, O>, i32), QuantError> {
        let act = dense_act(self)?;
        let (kernel, b) = dense_parts(self, in_exp, GATE_SHIFT);
        let bias = b.map(|v| v.clamp(-32768.0, 32767.0) as i16);
        let q = QDenseInner { kernel, bias, act };
        let out = if act.squashes() { H_SHIFT } else { GATE_SHIFT };
        Ok((q, -(out as i32)))
    }
}

/// Recurrent layers quantize the same way wherever they stand.
macro_rules! inner_as_outer {
    ($($ty:ty, [$($g:tt)*]);* $(;)?) => {$(
        impl<$($g)*> QuantizeInner for $ty {
            type Q = <Self as Quantize>::Q;
            fn quantize_inner(&self, in_exp: i32) -> Result<(Self::Q, i32), QuantError> {
                self.quantize(in_exp)
            }
        }
    )*};
}
inner_as_outer!(
    LstmCell<T, I, H, G, 0, B>, [T: Real, const I: usize, const H: usize, const G: usize, const B: usize];
    GruCell<T, I, H, G, RA>, [T: Real, const I: usize, const H: usize, const G: usize, const RA: bool];
    RnnCell<T, I, H, B>, [T: Real, const I: usize, const H: usize, const B: usize];
);

/// Two quantized layers in sequence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QChain<A, B>(pub A, pub B);

impl<A: QCell, B: QCell<Input = A::Output>> QCell for QChain<A, B> {
    type Input = A::Input;
    type Output = B::Output;
    type State = (A::State, B::State);
    fn zero_state() -> Self::State {
        (A::zero_state(), B::zero_state())
    }
    #[inline]
    fn step(&self, s: &mut Self::State, x: &A::Input) -> B::Output {
        let y = self.0.step(&mut s.0, x);
        self.1.step(&mut s.1, &y)
    }
}

impl<A: QuantizeInner, B: Quantize> Quantize for crate::Chain<A, B>
where
    B::Q: QCell<Input = <A::Q as QCell>::Output>,
{
    type Q = QChain<A::Q, B::Q>;
    fn quantize(&self, in_exp: i32) -> Result<(Self::Q, i32), QuantError> {
        let (a, s) = self.first().quantize_inner(in_exp)?;
        let (b, s) = self.rest().quantize(s)?;
        Ok((QChain(a, b), s))
    }
}

impl<A: QuantizeInner, B: QuantizeInner> QuantizeInner for crate::Chain<A, B>
where
    B::Q: QCell<Input = <A::Q as QCell>::Output>,
{
    type Q = QChain<A::Q, B::Q>;
    fn quantize_inner(&self, in_exp: i32) -> Result<(Self::Q, i32), QuantError> {
        let (a, s) = self.first().quantize_inner(in_exp)?;
        let (b, s) = self.rest().quantize_inner(s)?;
        Ok((QChain(a, b), s))
    }
}

/// A model's chain in integers, and its input's exponent: the input's scale from
/// `calibration` ([`input_exponent`]), every other scale by the formats above.
pub fn quantize<M>(
    model: &M,
    calibration: &[M::Input],
) -> Result<(<M::Chain as Quantize>::Q, i32), QuantError>
where
    M: crate::Model,
    M::Chain: Quantize,
{
    let e = input_exponent(calibration.iter().flat_map(|x| x.as_ref().iter().copied()));
    let (q, _) = model.chain().quantize(e)?;
    Ok((q, e))
}

/// What [`QTensors::tensors`] calls for each tensor: `(layer, name, shape, data)`.
pub type TensorVisitor<'f> = dyn FnMut(usize, &'static str, &[usize], QData<'_>) + 'f;

/// One integer tensor of a quantized layer.
#[derive(Clone, Copy, Debug)]
pub enum QData<'a> {
    /// Weights, shifts.
    I8(&'a [i8]),
    /// Gate biases.
    I16(&'a [i16]),
    /// A final dense layer's biases.
    I32(&'a [i32]),
}

/// The tensors of a quantized layer or chain, for saving it (`rnn::files::save_quantized`) and
/// baking it (`rnn_model!`'s `quantize = int8`): per layer `kernel [rows, inputs]` (int8, row
/// `r` an output), `kernel_shift [rows]`, `recurrent_kernel [rows, units]` and
/// `recurrent_kernel_shift [rows]` (recurrent layers), `bias [rows]` (int16 in Q3.12; int32 in
/// Q15.16 for a dense layer) and a GRU's `recurrent_bias [rows]`.
pub trait QTensors {
    /// Layers.
    const LAYERS: usize;
    /// Calls `f(layer, name, shape, data)` for every tensor, the first layer numbered `first`.
    fn tensors(&self, first: usize, f: &mut TensorVisitor<'_>);
}

impl<const R: usize, const C: usize> QMatrix<R, C> {
    fn tensors(&self, layer: usize, names: [&'static str; 2], f: &mut TensorVisitor<'_>) {
        f(layer, names[0], &[R, C], QData::I8(self.w.as_flattened()));
        f(layer, names[1], &[R], QData::I8(&self.shift));
    }
}

const KERNEL: [&str; 2] = ["kernel", "kernel_shift"];
const RECURRENT: [&str; 2] = ["recurrent_kernel", "recurrent_kernel_shift"];

impl<const I: usize, const H: usize, const G: usize> QTensors for QLstm<I, H, G> {
    const LAYERS: usize = 1;
    fn tensors(&self, l: usize, f: &mut TensorVisitor<'_>) {
        self.kernel.tensors(l, KERNEL, f);
        self.recurrent.tensors(l, RECURRENT, f);
        f(l, "bias", &[G], QData::I16(&self.bias));
    }
}

impl<const I: usize, const H: usize, const G: usize, const RA: bool> QTensors
    for QGru<I, H, G, RA>
{
    const LAYERS: usize = 1;
    fn tensors(&self, l: usize, f: &mut TensorVisitor<'_>) {
        self.kernel.tensors(l, KERNEL, f);
        self.recurrent.tensors(l, RECURRENT, f);
        f(l, "bias", &[G], QData::I16(&self.bias));
        f(l, "recurrent_bias", &[G], QData::I16(&self.recurrent_bias));
        // The two reset modes have tensors of the same shapes: the file says which.
        f(l, "reset_after", &[1], QData::I8(&[RA as i8]));
    }
}

impl<const I: usize, const H: usize> QTensors for QRnn<I, H> {
    const LAYERS: usize = 1;
    fn tensors(&self, l: usize, f: &mut TensorVisitor<'_>) {
        self.kernel.tensors(l, KERNEL, f);
        self.recurrent.tensors(l, RECURRENT, f);
        f(l, "bias", &[H], QData::I16(&self.bias));
    }
}

impl<const I: usize, const O: usize> QTensors for QDense<I, O> {
    const LAYERS: usize = 1;
    fn tensors(&self, l: usize, f: &mut TensorVisitor<'_>) {
        self.kernel.tensors(l, KERNEL, f);
        f(l, "bias", &[O], QData::I32(&self.bias));
        f(l, "activation", &[1], QData::I8(&[self.act.code()]));
    }
}

impl<const I: usize, const O: usize> QTensors for QDenseInner<I, O> {
    const LAYERS: usize = 1;
    fn tensors(&self, l: usize, f: &mut TensorVisitor<'_>) {
        self.kernel.tensors(l, KERNEL, f);
        f(l, "bias", &[O], QData::I16(&self.bias));
        f(l, "activation", &[1], QData::I8(&[self.act.code()]));
    }
}

impl<A: QTensors, B: QTensors> QTensors for QChain<A, B> {
    const LAYERS: usize = A::LAYERS + B::LAYERS;
    fn tensors(&self, l: usize, f: &mut TensorVisitor<'_>) {
        self.0.tensors(l, f);
        self.1.tensors(l + A::LAYERS, f);
    }
}
