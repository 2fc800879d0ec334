//! Activation maths: the fast f32 approximation (default) and the exact functions.
//!
//! `std`'s and `libm`'s `tanhf`/`expf` cost about 5 ns a call and, on a Cortex-M4F, `libm`'s f32
//! functions compute in software f64. The default [`Fast`] uses a branch-free rational
//! approximation of `tanh` (the 13/6 odd/even form Eigen uses), and `sigmoid(x) = 0.5 + 0.5 *
//! tanh(x / 2)` (with the halvings folded into the coefficients, the same bits). Measured
//! against f64 over every finite f32, the maximum absolute error is 4.03e-7 for `tanh` and
//! 2.31e-7 for `sigmoid` (the numerator evaluated by Estrin's scheme); the tests assert the
//! bounds [`TANH_F32_MAX_ABS_ERROR`] and [`SIGMOID_F32_MAX_ABS_ERROR`] (1e-6) on 22 million inputs in
//! every run and on every f32 in an ignored test (`cargo test --release -p rnn-core
//! --features std -- --ignored every_f32`). [`Exact`] computes
//! `tanh` and `1 / (1 + e^-x)` through `libm`. For `f64` both are exact.

use crate::real::Real;

/// Proven bound (tested) on `|tanh_f32(x) - tanh(x)|` over f32.
pub const TANH_F32_MAX_ABS_ERROR: f64 = 1.0e-6;
/// Proven bound (tested) on the fast sigmoid's absolute error over f32.
pub const SIGMOID_F32_MAX_ABS_ERROR: f64 = 1.0e-6;

/// Which implementation of the activation functions a model uses.
pub trait Math: Copy + Default + Send + Sync + 'static {
    /// Name shown in summaries.
    const NAME: &'static str;
    /// Hyperbolic tangent.
    fn tanh<T: Real>(x: T) -> T;
    /// Logistic sigmoid.
    fn sigmoid<T: Real>(x: T) -> T;
    /// Whether [`madd`](Self::madd) rounds once ([`Fused`]) or as the build does
    /// ([`Real::fmadd`]).
    const FUSED: bool = false;
    /// Rows per register block in the matrix-vector kernels ([`crate::kernels::gemv_acc`]):
    /// 128 on x86-64 (eight AVX-512 registers per accumulator), 16 elsewhere; [`Narrow`] makes
    /// it 32 for CPUs with 16 vector registers (AVX2). Never changes a result.
    const BLOCK: usize = DEFAULT_BLOCK;
    /// Whether the code runs where 256-bit AVX2 instructions may be used (set by [`Avx`], from
    /// the run-time dispatch): the batched kernels ([`crate::lanes`]) then use explicit AVX
    /// intrinsics for `f32`, with the same operations (and results) as the portable code.
    const AVX: bool = false;
    /// The multiply-add every kernel uses: `a * b + c`.
    #[inline(always)]
    fn madd<T: Real>(a: T, b: T, c: T) -> T {
        if Self::FUSED {
            a.fused_madd(b, c)
        } else {
            a.fmadd(b, c)
        }
    }
    /// [`tanh`](Self::tanh) with fused multiply-adds (what [`Fused`] uses).
    #[inline(always)]
    fn tanh_fused<T: Real>(x: T) -> T {
        Self::tanh(x)
    }
    /// [`sigmoid`](Self::sigmoid) with fused multiply-adds (what [`Fused`] uses).
    #[inline(always)]
    fn sigmoid_fused<T: Real>(x: T) -> T {
        Self::sigmoid(x)
    }
}

/// The functions of a wrapper `Math` that only changes constants: `M`'s, unchanged.
macro_rules! forward_maths {
    () => {
        #[inline(always)]
        fn tanh<T: Real>(x: T) -> T {
            M::tanh(x)
        }
        #[inline(always)]
        fn sigmoid<T: Real>(x: T) -> T {
            M::sigmoid(x)
        }
        #[inline(always)]
        fn madd<T: Real>(a: T, b: T, c: T) -> T {
            M::madd(a, b, c)
        }
        #[inline(always)]
        fn tanh_fused<T: Real>(x: T) -> T {
            M::tanh_fused(x)
        }
        #[inline(always)]
        fn sigmoid_fused<T: Real>(x: T) -> T {
            M::sigmoid_fused(x)
        }
    };
}

/// `M` with every multiply-add fused (rounded once). Training on the host runs with it when the
/// CPU has FMA ([`crate::simd::widest_fused`]): results differ from the default build's only in
/// rounding. Inference never does, so its results stay bit-identical to the Cortex-M4F's.
#[derive(Debug, PartialEq, Eq)]
pub struct Fused<M>(core::marker::PhantomData<M>);

impl<M> Clone for Fused<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Fused<M> {}
impl<M> Default for Fused<M> {
    fn default() -> Self {
        Fused(core::marker::PhantomData)
    }
}

/// Rows per register block unless a [`Math`] says otherwise.
#[cfg(target_arch = "x86_64")]
pub const DEFAULT_BLOCK: usize = 128;
/// Rows per register block unless a [`Math`] says otherwise (a microcontroller has no vector
/// registers; small blocks keep the accumulators off its stack).
#[cfg(not(target_arch = "x86_64"))]
pub const DEFAULT_BLOCK: usize = 16;

/// `M` with 32-row register blocks, for a register file of 16 vector registers (AVX2): two
/// accumulators of four 256-bit registers each stay in registers, where 64-row blocks spill.
/// The same results as `M`, bit for bit. On other architectures, `M` unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Narrow<M>(M);

impl<M: Math> Math for Narrow<M> {
    const NAME: &'static str = M::NAME;
    const FUSED: bool = M::FUSED;
    const AVX: bool = M::AVX;
    #[cfg(target_arch = "x86_64")]
    const BLOCK: usize = 32;
    #[cfg(not(target_arch = "x86_64"))]
    const BLOCK: usize = M::BLOCK;
    forward_maths!();
}

/// `M`, in code compiled with AVX2 (the run-time dispatch's AVX2 and AVX-512 copies, or a build
/// that targets AVX2): the batched kernels may use 256-bit intrinsics. The same results as `M`,
/// bit for bit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Avx<M>(M);

impl<M: Math> Math for Avx<M> {
    const NAME: &'static str = M::NAME;
    const FUSED: bool = M::FUSED;
    const BLOCK: usize = M::BLOCK;
    const AVX: bool = true;
    forward_maths!();
}

impl<M: Math> Math for Fused<M> {
    const NAME: &'static str = M::NAME;
    const FUSED: bool = true;
    const AVX: bool = M::AVX;
    const BLOCK: usize = M::BLOCK;
    #[inline(always)]
    fn tanh<T: Real>(x: T) -> T {
        M::tanh_fused(x)
    }
    #[inline(always)]
    fn sigmoid<T: Real>(x: T) -> T {
        M::sigmoid_fused(x)
    }
}

/// Rational approximation for `f32` (exact for `f64`): the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fast;

/// `libm`'s functions: bit-for-bit what a careful scalar implementation computes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exact;

impl Math for Fast {
    const NAME: &'static str = "fast";
    #[inline(always)]
    fn tanh<T: Real>(x: T) -> T {
        x.fast_tanh()
    }
    #[inline(always)]
    fn sigmoid<T: Real>(x: T) -> T {
        x.fast_sigmoid()
    }
    #[inline(always)]
    fn tanh_fused<T: Real>(x: T) -> T {
        x.fast_tanh_fused()
    }
    #[inline(always)]
    fn sigmoid_fused<T: Real>(x: T) -> T {
        x.fast_sigmoid_fused()
    }
}

impl Math for Exact {
    const NAME: &'static str = "exact";
    #[inline(always)]
    fn tanh<T: Real>(x: T) -> T {
        x.tanh()
    }
    #[inline(always)]
    fn sigmoid<T: Real>(x: T) -> T {
        T::ONE / (T::ONE + (-x).exp())
    }
}

/// Branch-free rational approximation of `tanh` for f32 (Eigen's coefficients).
///
/// Clamps to ±7.905311 (where the f32 result rounds to ±1) and returns `x` itself for
/// `|x| < 0.0004`, where `tanh(x) = x` to f32 precision.
#[inline(always)]
pub fn tanh_f32(x_in: f32) -> f32 {
    tanh_f32_with::<false>(x_in)
}

/// [`tanh_f32`] with fused multiply-adds (rounded once; training on FMA hosts).
#[inline(always)]
pub fn tanh_f32_fused(x_in: f32) -> f32 {
    tanh_f32_with::<true>(x_in)
}

/// The fast sigmoid for `f32`: `0.5 + 0.5 * tanh_f32(x / 2)`, bit for bit (tested), with the
/// halvings folded into the coefficients. Scaling by a power of two commutes with rounding, so
/// `tanh_f32`'s every intermediate value at `x / 2` is a power of two times this one's at `x`;
/// the two multiplies it saves were on the step's critical path (each gate waits on one).
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    0.5 + tanh_f32_scaled::<false, true>(x)
}

/// [`sigmoid_f32`] with fused multiply-adds (training on FMA hosts): bit for bit
/// `fma(tanh_f32_fused(x / 2), 0.5, 0.5)`.
#[inline(always)]
pub fn sigmoid_f32_fused(x: f32) -> f32 {
    0.5 + tanh_f32_scaled::<true, true>(x)
}

/// The fast sigmoid for `f64`: `0.5 + 0.5 * tanh(x / 2)`, exact `tanh`.
#[inline(always)]
pub fn sigmoid_f64(x: f64) -> f64 {
    0.5 + 0.5 * libm::tanh(x * 0.5)
}

/// [`sigmoid_f64`] with one rounding for the final multiply-add.
#[inline(always)]
pub fn sigmoid_f64_fused(x: f64) -> f64 {
    libm::tanh(x * 0.5).fused_madd(0.5, 0.5)
}

#[inline(always)]
fn tanh_f32_with<const FUSED: bool>(x_in: f32) -> f32 {
    tanh_f32_scaled::<FUSED, false>(x_in)
}

/// `tanh_f32(x)`, or with `HALF` `0.5 * tanh_f32(x / 2)` (see [`sigmoid_f32`]): every
/// coefficient of the sigmoid's form is the tanh's times a power of two.
#[inline(always)]
#[allow(clippy::excessive_precision)] // the published coefficients, as written
fn tanh_f32_scaled<const FUSED: bool, const HALF: bool>(x_in: f32) -> f32 {
    let madd = |a: f32, b: f32, c: f32| {
        if FUSED {
            a.fused_madd(b, c)
        } else {
            a.fmadd(b, c)
        }
    };
    // With `HALF`, y = x / 2: y^2 = x^2 / 4, so the coefficient of y^(2k) scales by 4^-k;
    // the numerator's y factor and the result's 0.5 make the denominator 4 q.
    const QUARTERS: [f32; 7] = [
        1.0,
        0.25,
        0.0625,
        0.015625,
        0.003_906_25,
        0.000_976_562_5,
        0.000_244_140_625,
    ];
    let s = |v: f32, k: usize| if HALF { v * QUARTERS[k] } else { v };
    let clamp: f32 = if HALF { 2.0 * 7.905_311 } else { 7.905_311 };
    let small: f32 = if HALF { 0.0008 } else { 0.0004 };
    let a1: f32 = 4.893_524_6e-3;
    let a3: f32 = s(6.372_619_3e-4, 1);
    let a5: f32 = s(1.485_722_4e-5, 2);
    let a7: f32 = s(5.122_297e-8, 3);
    let a9: f32 = s(-8.604_671_5e-11, 4);
    let a11: f32 = s(2.000_187_9e-13, 5);
    let a13: f32 = s(-2.760_768_5e-16, 6);
    let q4 = if HALF { 4.0 } else { 1.0 };
    let b0: f32 = q4 * 4.893_525_2e-3;
    let b2: f32 = q4 * s(2.268_434_6e-3, 1);
    let b4: f32 = q4 * s(1.185_347_1e-4, 2);
    let b6: f32 = q4 * s(1.198_258_4e-6, 3);
    let x = x_in.clamp(-clamp, clamp);
    // Estrin's scheme in y = x^2: the numerator's degree-6 polynomial as pairs joined by y^2
    // and y^4, so its longest chain is three multiply-adds after y^4 instead of six in a row
    // (Horner). Streaming steps wait on their activations, so this shortens the step itself.
    // `min(x_in^2, clamp^2)` is `x * x` (both square one of the same two values, rounded the
    // same way) one operation sooner: the clamp of `x` itself is only needed at the end.
    // Below, at least `floor` (just under `small^2`): for tiny `x` the products `x^8 * f1`,
    // `x^4 * e1`, ... would be subnormal, and a subnormal result costs AMD's and Intel's cores
    // a microcode assist (criterion, fed one input over and over so that some gates sat near
    // zero: 135 ns a step instead of 102). Those inputs take the small branch at the end, so
    // nothing returned changes; with the floor, the smallest product is about 4e-38, normal.
    // (A NaN square fails both comparisons and stays NaN.) Fused multiply-adds round only
    // their sums, which are normal, so where every multiply-add is fused the floor is left
    // out (it costs an operation on the chain, measured slower there).
    let fused = FUSED || cfg!(all(feature = "std", target_feature = "fma"));
    let floor: f32 = match (fused, HALF) {
        (true, _) => 0.0,
        (false, true) => 6.0e-7,
        (false, false) => 1.5e-7,
    };
    let (sq, c2) = (x_in * x_in, clamp * clamp);
    let x2 = if sq > c2 {
        c2
    } else if !fused && sq < floor {
        floor
    } else {
        sq
    };
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let e0 = madd(x2, a3, a1);
    let e1 = madd(x2, a7, a5);
    let e2 = madd(x2, a11, a9);
    let f0 = madd(x4, e1, e0);
    let f1 = madd(x4, a13, e2);
    let p = madd(x8, f1, f0) * x;
    let q = madd(x4, madd(x2, b6, b4), madd(x2, b2, b0));
    let r = p / q;
    // For |x| < 0.0004, tanh(x) = x in f32. `x` rather than `x_in` (equal there: the clamp does
    // not move it): selecting `x_in` itself let LLVM turn in-place loops (`*v = tanh(*v)`) into
    // masked stores, ~20 cycles a vector on AMD Zen 3 (the store is skipped where the value would
    // not change); the same bits either way.
    if libm::fabsf(x_in) < small {
        if HALF {
            x * 0.25
        } else {
            x
        }
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// Walks every 97th f32 bit pattern in [-10, 10] plus the edges; compares with f64 maths.
    fn max_error(f: impl Fn(f32) -> f32, exact: impl Fn(f64) -> f64) -> f64 {
        let mut worst = 0.0f64;
        let mut check = |x: f32| {
            let e = (f(x) as f64 - exact(x as f64)).abs();
            if e > worst {
                worst = e;
            }
        };
        let lo = 10.0f32.to_bits();
        let mut b = 0u32;
        while b <= lo {
            let x = f32::from_bits(b);
            check(x);
            check(-x);
            b += 97;
        }
        for x in [
            0.0,
            1e-30,
            3.9e-4,
            4.0e-4,
            7.9,
            7.905_311,
            8.0,
            20.0,
            1e30,
            f32::MAX,
        ] {
            check(x);
            check(-x);
        }
        worst
    }

    #[test]
    fn fast_tanh_error_is_within_the_stated_bound() {
        let e = max_error(tanh_f32, libm::tanh);
        assert!(e < TANH_F32_MAX_ABS_ERROR, "max abs error {e:e}");
    }

    #[test]
    fn fused_variants_are_within_the_stated_bounds() {
        let e = max_error(tanh_f32_fused, libm::tanh);
        assert!(e < TANH_F32_MAX_ABS_ERROR, "tanh: max abs error {e:e}");
        let e = max_error(Fused::<Fast>::sigmoid::<f32>, |x| 1.0 / (1.0 + (-x).exp()));
        assert!(
            e < SIGMOID_F32_MAX_ABS_ERROR,
            "sigmoid: max abs error {e:e}"
        );
    }

    #[test]
    fn fast_sigmoid_error_is_within_the_stated_bound() {
        let e = max_error(Fast::sigmoid::<f32>, |x| 1.0 / (1.0 + (-x).exp()));
        assert!(e < SIGMOID_F32_MAX_ABS_ERROR, "max abs error {e:e}");
    }

    /// Every non-negative finite f32 (the function is odd), against f64 `tanh`, plain and fused:
    /// a few minutes in release, so not part of the default run:
    /// `cargo test --release -p rnn-core --features std -- --ignored every_f32`.
    #[test]
    #[ignore]
    fn fast_tanh_and_sigmoid_bounds_hold_for_every_f32() {
        let (mut wt, mut ws) = (0.0f64, 0.0f64);
        let (mut wtf, mut wsf) = (0.0f64, 0.0f64);
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        for b in 0..0x7f80_0000u32 {
            let x = f32::from_bits(b);
            let t = libm::tanh(x as f64);
            wt = wt.max((tanh_f32(x) as f64 - t).abs());
            wtf = wtf.max((tanh_f32_fused(x) as f64 - t).abs());
            for y in [x, -x] {
                let s = sig(y as f64);
                ws = ws.max((Fast::sigmoid(y) as f64 - s).abs());
                wsf = wsf.max((Fused::<Fast>::sigmoid(y) as f64 - s).abs());
            }
        }
        std::println!("max abs error over every f32: tanh {wt:e}, sigmoid {ws:e}");
        std::println!("fused (training on FMA hosts): tanh {wtf:e}, sigmoid {wsf:e}");
        assert!(wt < TANH_F32_MAX_ABS_ERROR && ws < SIGMOID_F32_MAX_ABS_ERROR);
        assert!(wtf < TANH_F32_MAX_ABS_ERROR && wsf < SIGMOID_F32_MAX_ABS_ERROR);
    }

    /// The folded sigmoid is `0.5 + 0.5 * tanh_f32(x / 2)` bit for bit, plain and fused.
    #[test]
    fn folded_sigmoid_equals_the_tanh_form() {
        let lo = 40.0f32.to_bits();
        let mut b = 0u32;
        let check = |x: f32| {
            let want = 0.5 + 0.5 * tanh_f32(x * 0.5);
            assert_eq!(sigmoid_f32(x).to_bits(), want.to_bits(), "x = {x:e}");
            let want = tanh_f32_fused(x * 0.5).fused_madd(0.5, 0.5);
            assert_eq!(
                sigmoid_f32_fused(x).to_bits(),
                want.to_bits(),
                "fused, x = {x:e}"
            );
        };
        while b <= lo {
            let x = f32::from_bits(b);
            check(x);
            check(-x);
            b += 61;
        }
        for x in [
            0.0,
            7.9e-4,
            8.0e-4,
            15.810_622,
            16.0,
            1e30,
            f32::MAX,
            f32::INFINITY,
        ] {
            check(x);
            check(-x);
        }
        assert!(sigmoid_f32(f32::NAN).is_nan());
    }

    #[test]
    fn fast_tanh_is_odd_and_saturates() {
        for x in [0.1f32, 0.5, 1.0, 3.0, 9.0] {
            assert_eq!(tanh_f32(-x), -tanh_f32(x));
        }
        assert!(tanh_f32(100.0) <= 1.0 && tanh_f32(100.0) > 0.99999);
        assert_eq!(tanh_f32(1e-5), 1e-5);
    }
}
