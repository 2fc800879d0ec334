//! Runs the hot loops with the widest vectors the host CPU has.
//!
//! A default `cargo build` for x86-64 may only assume SSE2 (4 f32 lanes). With `std` on x86-64,
//! [`widest`] checks once (cached by `std`) whether the CPU has AVX-512F or AVX2 and runs the
//! closure inside a function compiled for it, so the matrix-vector loops and activations use 16
//! or 8 lanes. The model's step and everything it calls down to the kernels and the fast
//! activations are `#[inline(always)]`, so they are compiled again for that instruction set
//! (`libm` calls, e.g. `math = exact`, stay the baseline build's functions).
//!
//! Inference goes through [`widest`], whose results are bit-identical to the SSE2 build and to
//! the Cortex-M4F: every output element is computed by the same sequence of f32 operations in its
//! own vector lane, and fused multiply-adds are not used (unless the whole build targets them,
//! e.g. `-C target-cpu=native`, see [`crate::Real::fmadd`]). CI checks this: the firmware's
//! outputs in QEMU are compared bit for bit with the host's.
//!
//! Training goes through [`widest_fused`], which also uses the CPU's fused multiply-add when it
//! has one (about 1.25x faster here): the gradients then differ from the default build's in
//! rounding only, and equal bit for bit what the baseline build computes with
//! [`crate::Fused`] maths (tested).
//!
//! Without `std`, on other architectures, or when the build already targets AVX-512F, the
//! closure is simply called.

/// The code path [`widest`] takes on this CPU.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wide {
    /// A copy compiled for AVX-512F (detected at run time).
    #[allow(dead_code)] // not constructed where the build already targets AVX-512F
    Avx512,
    /// A copy compiled for AVX2 (detected at run time).
    #[allow(dead_code)]
    Avx2,
    /// The build's own code.
    Baseline,
}

/// Which copy [`widest`] runs: the one detection, shared by [`widest`] and [`widest_name`].
#[inline(always)]
fn wide() -> Wide {
    #[cfg(all(
        feature = "std",
        target_arch = "x86_64",
        not(target_feature = "avx512f")
    ))]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Wide::Avx512;
        }
        #[cfg(not(target_feature = "avx2"))]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Wide::Avx2;
        }
    }
    Wide::Baseline
}

/// Calls `f`, compiled for AVX-512F or AVX2 when the host CPU has them (see the module docs):
/// [`widest_blocks`] for code that does not care about the register file.
#[inline(always)]
pub fn widest<R, F: FnOnce() -> R>(f: F) -> R {
    widest_blocks(
        #[inline(always)]
        |_| f(),
    )
}

/// For training: calls `f(true)` compiled for AVX-512F + FMA or AVX2 + FMA when the host CPU
/// has them, where `true` asks `f` to use fused multiply-adds ([`crate::Fused`]); otherwise
/// [`widest`]`(|| f(false))`. Fused multiply-adds round once instead of twice, so training
/// results differ from the default build's in the last bits (and are as close to the exact
/// values); inference never uses this, so its outputs stay bit-identical to the Cortex-M4F's.
/// When the build itself targets FMA (`-C target-cpu=native`), every multiply-add is already
/// fused and `f(false)` is called.
#[inline(always)]
pub fn widest_fused<R, F: FnOnce(bool) -> R>(f: F) -> R {
    widest_fused_blocks(
        #[inline(always)]
        |fused, _| f(fused),
    )
}

/// [`widest`], telling `f` whether the code it runs in has 16 vector registers rather than
/// 32 (`true` everywhere on x86-64 but in the AVX-512 copy or an AVX-512 build), so that it can
/// pick register blocks that fit ([`crate::math::Narrow`]). A constant in each copy.
#[inline(always)]
pub fn widest_blocks<R, F: FnOnce(bool) -> R>(f: F) -> R {
    widest_avx(
        #[inline(always)]
        |narrow, _| f(narrow),
    )
}

/// [`widest_blocks`], also telling `f` whether the code it runs in may use AVX2 instructions
/// (`f(narrow, avx)`; `avx` is true in the AVX2 and AVX-512 copies, and in builds that target
/// AVX2). A constant in each copy.
#[inline(always)]
pub fn widest_avx<R, F: FnOnce(bool, bool) -> R>(f: F) -> R {
    match wide() {
        #[cfg(all(
            feature = "std",
            target_arch = "x86_64",
            not(target_feature = "avx512f")
        ))]
        // SAFETY: `wide` found AVX-512F on this CPU.
        Wide::Avx512 => unsafe {
            x86::avx512(
                #[inline(always)]
                || f(false, true),
            )
        },
        #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
        // SAFETY: `wide` found AVX2 on this CPU.
        Wide::Avx2 => unsafe {
            x86::avx2(
                #[inline(always)]
                || f(true, true),
            )
        },
        _ => f(NARROW_BUILD, AVX2_BUILD),
    }
}

/// Whether this CPU has the x86-64 feature `$f`: the build targets it, or (under `std`) the
/// CPU says so (cached by `std`); without `std`, only what the build targets.
#[cfg(target_arch = "x86_64")]
macro_rules! has_feature {
    ($f:tt) => {{
        #[cfg(feature = "std")]
        let found = cfg!(target_feature = $f) || std::arch::is_x86_feature_detected!($f);
        #[cfg(not(feature = "std"))]
        let found = cfg!(target_feature = $f);
        found
    }};
}

/// Whether this CPU has AVX2 (see `has_feature!`). What the batched kernels' AVX path checks,
/// whatever a `Math` claims.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx2() -> bool {
    has_feature!("avx2")
}

/// Whether this CPU has AVX-512F (see `has_feature!`). What the stream-major kernels
/// ([`crate::many`]) check.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx512f() -> bool {
    has_feature!("avx512f")
}

/// Whether the build's own code may use AVX2.
const AVX2_BUILD: bool = cfg!(all(target_arch = "x86_64", target_feature = "avx2"));

/// Whether the build's own code has 16 vector registers (x86-64 without AVX-512).
const NARROW_BUILD: bool = cfg!(all(target_arch = "x86_64", not(target_feature = "avx512f")));

/// [`widest_fused`] with [`widest_blocks`]'s register-file answer: `f(fused, narrow)`.
#[inline(always)]
pub fn widest_fused_blocks<R, F: FnOnce(bool, bool) -> R>(f: F) -> R {
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "fma")))]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX-512F and FMA (checked just above).
            return unsafe {
                x86_fma::avx512_fma(
                    #[inline(always)]
                    |fused| f(fused, false),
                )
            };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe {
                x86_fma::avx2_fma(
                    #[inline(always)]
                    |fused| f(fused, true),
                )
            };
        }
    }
    widest_blocks(
        #[inline(always)]
        |narrow| f(false, narrow),
    )
}

/// Which code path [`widest`] takes on this machine, for benchmarks and summaries.
pub fn widest_name() -> &'static str {
    match wide() {
        Wide::Avx512 => "avx512f (detected at run time)",
        Wide::Avx2 => "avx2 (detected at run time)",
        Wide::Baseline => "baseline (the build's own target features)",
    }
}

#[cfg(all(
    feature = "std",
    target_arch = "x86_64",
    not(target_feature = "avx512f")
))]
mod x86 {
    /// `f` compiled with AVX-512F (and what it implies in LLVM) but not FMA contraction.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub unsafe fn avx512<R, F: FnOnce() -> R>(f: F) -> R {
        f()
    }

    /// `f` compiled with AVX2.
    #[cfg(not(target_feature = "avx2"))]
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn avx2<R, F: FnOnce() -> R>(f: F) -> R {
        f()
    }
}

#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "fma")))]
mod x86_fma {
    /// `f(true)` compiled with AVX-512F and FMA.
    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    pub unsafe fn avx512_fma<R, F: FnOnce(bool) -> R>(f: F) -> R {
        f(true)
    }

    /// `f(true)` compiled with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub unsafe fn avx2_fma<R, F: FnOnce(bool) -> R>(f: F) -> R {
        f(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widest_returns_the_closures_value() {
        let v = [1.5f32, -2.0, 3.25];
        assert_eq!(widest(|| v.iter().map(|x| x * 2.0).sum::<f32>()), 5.5);
        assert!(!widest_name().is_empty());
    }
}
