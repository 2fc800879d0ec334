//! Runs the hot loops with the widest vectors the host CPU has, without changing a single bit.
//!
//! A default `cargo build` for x86-64 may only assume SSE2 (4 f32 lanes). With `std` on x86-64,
//! [`widest`] checks once (cached by `std`) whether the CPU has AVX-512F or AVX2 and runs the
//! closure inside a function compiled for it, so the matrix-vector loops and activations use 16
//! or 8 lanes. Everything the closure calls is `#[inline(always)]` down to the kernels, so it is
//! compiled again for that instruction set.
//!
//! Results are bit-identical to the SSE2 build and to the Cortex-M4F: every output element is
//! computed by the same sequence of f32 operations in its own vector lane, and the fused
//! multiply-add is not enabled here (it is used only when the whole build targets it, e.g.
//! `-C target-cpu=native`, see [`crate::Real::fmadd`]). CI checks this: the firmware's outputs
//! in QEMU are compared bit for bit with the host's.
//!
//! Without `std`, on other architectures, or when the build already targets AVX-512F, the
//! closure is simply called.

/// Calls `f`, compiled for AVX-512F or AVX2 when the host CPU has them (see the module docs).
#[inline(always)]
pub fn widest<R, F: FnOnce() -> R>(f: F) -> R {
    #[cfg(all(
        feature = "std",
        target_arch = "x86_64",
        not(target_feature = "avx512f")
    ))]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { x86::avx512(f) };
        }
        #[cfg(not(target_feature = "avx2"))]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { x86::avx2(f) };
        }
    }
    f()
}

/// Which code path [`widest`] takes on this machine: `"avx512f"`, `"avx2"` or `"baseline"`
/// (what the build targets), for benchmarks and summaries.
pub fn widest_name() -> &'static str {
    #[cfg(all(
        feature = "std",
        target_arch = "x86_64",
        not(target_feature = "avx512f")
    ))]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512f (detected at run time)";
        }
        #[cfg(not(target_feature = "avx2"))]
        if std::arch::is_x86_feature_detected!("avx2") {
            return "avx2 (detected at run time)";
        }
    }
    "baseline (the build's own target features)"
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
