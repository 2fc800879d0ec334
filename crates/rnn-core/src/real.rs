//! The scalar types a model can use: `f32` (the default) and `f64`.

use core::fmt::{Debug, Display};
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A floating-point scalar usable in every cell, loss and optimizer.
///
/// Implemented for `f32` and `f64`. The elementary functions go through the `libm` crate, so
/// they are available without `std`; `fast_tanh` is the f32 rational approximation from
/// [`crate::math`] for `f32` and the exact function for `f64`.
pub trait Real:
    nalgebra::Scalar
    + Copy
    + Default
    + PartialOrd
    + Debug
    + Display
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Name used in errors and summaries (`"f32"`, `"f64"`).
    const NAME: &'static str;
    /// Converts from `f64` (rounding to nearest for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// `e^self`.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `ln(1 + self)`, accurate near zero.
    fn ln_1p(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Exact hyperbolic tangent (libm).
    fn tanh(self) -> Self;
    /// `e^self - 1`, accurate near zero (libm).
    fn exp_m1(self) -> Self;
    /// The error function (libm).
    fn erf(self) -> Self;
    /// `self * b + c`: one fused multiply-add when the target has FMA and `std` is on (so
    /// `-C target-cpu=native` uses it), else a multiply and an add. Results may differ in the
    /// last bit between the two; each build is deterministic.
    fn fmadd(self, b: Self, c: Self) -> Self;
    /// `self * b + c` rounded once: `mul_add` under `std` (one instruction where the code is
    /// compiled with FMA, see [`crate::simd::widest_fused`]), `libm`'s `fma` without it.
    fn fused_madd(self, b: Self, c: Self) -> Self;
    /// Fast hyperbolic tangent: a rational approximation for `f32`, exact for `f64`.
    fn fast_tanh(self) -> Self;
    /// [`fast_tanh`](Self::fast_tanh) with fused multiply-adds ([`fused_madd`](Self::fused_madd)).
    fn fast_tanh_fused(self) -> Self;
    /// `0.5 + 0.5 * fast_tanh(self / 2)`, the fast sigmoid (for `f32` computed without the
    /// two halvings, with the same bits: [`crate::math::sigmoid_f32`]).
    fn fast_sigmoid(self) -> Self;
    /// [`fast_sigmoid`](Self::fast_sigmoid) with fused multiply-adds.
    fn fast_sigmoid_fused(self) -> Self;
    /// `true` unless NaN or infinite.
    fn is_finite(self) -> bool;
    /// The larger of two values (NaN-agnostic, branch-free where possible).
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        if self > other {
            self
        } else {
            other
        }
    }
    /// The smaller of two values.
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        if self < other {
            self
        } else {
            other
        }
    }
}

/// `impl Real` for one float type, with its libm functions and its fast `tanh`.
macro_rules! impl_real {
    ($t:ident, $exp:ident, $ln:ident, $ln_1p:ident, $sqrt:ident, $abs:ident, $tanh:ident, $fma:ident, $fast_tanh:path, $fast_tanh_fused:path, $fast_sigmoid:path, $fast_sigmoid_fused:path, $expm1:ident, $erf:ident) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NAME: &'static str = stringify!($t);
            #[inline(always)]
            fn fmadd(self, b: Self, c: Self) -> Self {
                #[cfg(all(feature = "std", target_feature = "fma"))]
                {
                    self.mul_add(b, c)
                }
                #[cfg(not(all(feature = "std", target_feature = "fma")))]
                {
                    self * b + c
                }
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                libm::$exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                libm::$ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                libm::$ln_1p(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                libm::$sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                libm::$abs(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                libm::$tanh(self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                libm::$expm1(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                libm::$erf(self)
            }
            #[inline(always)]
            fn fused_madd(self, b: Self, c: Self) -> Self {
                #[cfg(feature = "std")]
                {
                    self.mul_add(b, c)
                }
                #[cfg(not(feature = "std"))]
                {
                    libm::$fma(self, b, c)
                }
            }
            #[inline(always)]
            fn fast_tanh(self) -> Self {
                $fast_tanh(self)
            }
            #[inline(always)]
            fn fast_tanh_fused(self) -> Self {
                $fast_tanh_fused(self)
            }
            #[inline(always)]
            fn fast_sigmoid(self) -> Self {
                $fast_sigmoid(self)
            }
            #[inline(always)]
            fn fast_sigmoid_fused(self) -> Self {
                $fast_sigmoid_fused(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
        }
    };
}

impl_real!(
    f32,
    expf,
    logf,
    log1pf,
    sqrtf,
    fabsf,
    tanhf,
    fmaf,
    crate::math::tanh_f32,
    crate::math::tanh_f32_fused,
    crate::math::sigmoid_f32,
    crate::math::sigmoid_f32_fused,
    expm1f,
    erff
);
impl_real!(
    f64,
    exp,
    log,
    log1p,
    sqrt,
    fabs,
    tanh,
    fma,
    libm::tanh,
    libm::tanh,
    crate::math::sigmoid_f64,
    crate::math::sigmoid_f64_fused,
    expm1,
    erf
);
