//! Matrix-vector products for many independent streams at once, stream-major: what the
//! batched step ([`crate::Cell::step_many`], `Model::step_batch`) runs.
//!
//! One stream's product `W x` waits on its adds: each row's partial sums form a chain as long
//! as the matrix is wide, and a small model's step is mostly such waiting. `S` streams have
//! `S` times as many independent chains; here a block of rows of `W` is loaded once and
//! multiplied into a group of streams, each with its own accumulators, so the vector units
//! stay busy and every weight is read once per group instead of once per stream.
//!
//! Every row of every stream is summed in [`crate::kernels::gemv_acc`]'s order (four partial
//! sums by column mod 4 when `R <= 16`, else one over the even and one over the odd columns,
//! then added to `out`), so the results are bit-identical to `S` single-stream products
//! (tested), whatever the blocking. The grouped code is written with explicit AVX-512F or AVX2
//! intrinsics for `f32` (portable code grouped this way was vectorized across the streams by
//! LLVM, through gathers and scatters, 20 times slower); elsewhere the streams run one after
//! another through `gemv_acc`.

use crate::kernels::gemv_acc;
use crate::math::Math;
use crate::real::Real;
use nalgebra::SMatrix;

/// `out[s] += W x[s]` for `S` streams, bit-identical to `S` calls of [`gemv_acc`].
///
/// With `f32`, unfused maths and AVX-512F (in the run-time dispatch's AVX-512 copy or a build
/// that targets it): rows in blocks of 16 lanes, streams in groups of 8 (4 for matrices of at
/// most 16 rows, which keep four partial sums). With AVX2 (16 vector registers, blocks of 8
/// lanes): groups of 4 and 2.
#[inline(always)]
pub fn gemv_many_acc<M: Math, T: Real, const R: usize, const C: usize, const S: usize>(
    m: M,
    out: &mut [[T; R]; S],
    w: &SMatrix<T, R, C>,
    x: &[[T; C]; S],
) {
    #[cfg(target_arch = "x86_64")]
    if !M::FUSED && S > 1 && core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>() {
        let (o, wp, xp) = (
            out.as_mut_ptr() as *mut f32,
            w.data.0.as_ptr() as *const f32,
            x.as_ptr() as *const f32,
        );
        if M::BLOCK >= 64 && crate::simd::has_avx512f() {
            // SAFETY: the CPU has AVX-512F; `T` is `f32`, so `out` is `S` rows of `R` `f32`,
            // `x` `S` rows of `C`, and `w` `C` columns of `R` (nalgebra's column-major storage).
            unsafe { x86::gemv_many::<x86::Avx512>(o, wp, R, C, xp, S) };
            return;
        }
        if M::AVX && crate::simd::has_avx2() {
            // SAFETY: as above, with AVX2.
            unsafe { x86::gemv_many::<x86::Avx2>(o, wp, R, C, xp, S) };
            return;
        }
    }
    for s in 0..S {
        gemv_acc(m, &mut out[s], w, &x[s]);
    }
}

/// `out += W x` for one stream, `f32`, in code compiled for AVX-512F, for a matrix larger
/// than the level-1 cache (over 48 KiB) with `R > 16` and `C >= 16`: [`gemv_acc`]'s sums in
/// its order, with `x` broadcast from registers instead of from memory (a 512-bit register is
/// loaded per 16 columns and each column's value spread by two shuffles of it), so every load
/// slot carries weights streaming in from L2. On the Zen 5 we measured, `gru(64, 128)`'s step
/// took 1.88 us instead of 2.30; for matrices in L1 the shuffles cost more than the loads they
/// save (the card model's step 116 ns instead of 104), so those keep [`gemv_acc`]'s loop.
/// Returns `false`, doing nothing, where it does not apply.
#[inline(always)]
pub(crate) fn gemv_one_acc<M: Math, T: Real, const R: usize, const C: usize>(
    out: &mut [T; R],
    w: &SMatrix<T, R, C>,
    x: &[T; C],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if R > crate::kernels::NARROW
        && C >= 16
        && R * C * core::mem::size_of::<T>() > 48 * 1024
        && !M::FUSED
        && M::BLOCK >= 64
        && core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>()
        && crate::simd::has_avx512f()
    {
        // SAFETY: the CPU has AVX-512F; `T` is `f32`, so `out` is `R` `f32`, `x` `C`, and `w`
        // `C` columns of `R`.
        unsafe {
            x86::gemv_one(
                out.as_mut_ptr() as *mut f32,
                w.data.0.as_ptr() as *const f32,
                R,
                C,
                x.as_ptr() as *const f32,
            )
        };
        return true;
    }
    let _ = (out, w, x);
    false
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use crate::kernels::NARROW;
    use core::arch::x86_64::*;

    /// One vector of `f32` lanes and the operations the kernels need, each exactly the scalar
    /// operation lane by lane (a multiply-add is fused only where [`crate::Real::fmadd`] is).
    pub trait Vector: Copy {
        /// Lanes.
        const N: usize;
        /// Streams per group when each keeps two partial sums (`R > 16`).
        const G2: usize;
        /// Streams per group when each keeps four (`R <= 16`).
        const G4: usize;
        /// Which lanes a block of `n <= N` rows uses.
        type Mask: Copy;
        unsafe fn mask(n: usize) -> Self::Mask;
        unsafe fn load(m: Self::Mask, p: *const f32) -> Self;
        unsafe fn store(m: Self::Mask, p: *mut f32, v: Self);
        unsafe fn splat(p: *const f32) -> Self;
        unsafe fn zero() -> Self;
        unsafe fn add(a: Self, b: Self) -> Self;
        unsafe fn madd(w: Self, x: Self, acc: Self) -> Self;
    }

    /// 16 lanes, 32 registers.
    #[derive(Clone, Copy)]
    pub struct Avx512(__m512);

    impl Vector for Avx512 {
        const N: usize = 16;
        const G2: usize = 8;
        const G4: usize = 4;
        type Mask = __mmask16;
        #[inline(always)]
        unsafe fn mask(n: usize) -> __mmask16 {
            if n >= 16 {
                0xffff
            } else {
                ((1u32 << n) - 1) as u16
            }
        }
        #[inline(always)]
        unsafe fn load(m: __mmask16, p: *const f32) -> Self {
            unsafe { Avx512(_mm512_maskz_loadu_ps(m, p)) }
        }
        #[inline(always)]
        unsafe fn store(m: __mmask16, p: *mut f32, v: Self) {
            unsafe { _mm512_mask_storeu_ps(p, m, v.0) }
        }
        #[inline(always)]
        unsafe fn splat(p: *const f32) -> Self {
            unsafe { Avx512(_mm512_set1_ps(*p)) }
        }
        #[inline(always)]
        unsafe fn zero() -> Self {
            unsafe { Avx512(_mm512_setzero_ps()) }
        }
        #[inline(always)]
        unsafe fn add(a: Self, b: Self) -> Self {
            unsafe { Avx512(_mm512_add_ps(a.0, b.0)) }
        }
        #[inline(always)]
        unsafe fn madd(w: Self, x: Self, acc: Self) -> Self {
            #[cfg(all(feature = "std", target_feature = "fma"))]
            unsafe {
                Avx512(_mm512_fmadd_ps(w.0, x.0, acc.0))
            }
            #[cfg(not(all(feature = "std", target_feature = "fma")))]
            unsafe {
                Avx512(_mm512_add_ps(_mm512_mul_ps(w.0, x.0), acc.0))
            }
        }
    }

    /// 8 lanes, 16 registers.
    #[derive(Clone, Copy)]
    pub struct Avx2(__m256);

    impl Vector for Avx2 {
        const N: usize = 8;
        const G2: usize = 4;
        const G4: usize = 2;
        type Mask = (bool, __m256i);
        #[inline(always)]
        unsafe fn mask(n: usize) -> (bool, __m256i) {
            unsafe {
                let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
                (
                    n >= 8,
                    _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), lanes),
                )
            }
        }
        #[inline(always)]
        unsafe fn load((full, m): (bool, __m256i), p: *const f32) -> Self {
            unsafe {
                if full {
                    Avx2(_mm256_loadu_ps(p))
                } else {
                    Avx2(_mm256_maskload_ps(p, m))
                }
            }
        }
        #[inline(always)]
        unsafe fn store((full, m): (bool, __m256i), p: *mut f32, v: Self) {
            unsafe {
                if full {
                    _mm256_storeu_ps(p, v.0)
                } else {
                    _mm256_maskstore_ps(p, m, v.0)
                }
            }
        }
        #[inline(always)]
        unsafe fn splat(p: *const f32) -> Self {
            unsafe { Avx2(_mm256_set1_ps(*p)) }
        }
        #[inline(always)]
        unsafe fn zero() -> Self {
            unsafe { Avx2(_mm256_setzero_ps()) }
        }
        #[inline(always)]
        unsafe fn add(a: Self, b: Self) -> Self {
            unsafe { Avx2(_mm256_add_ps(a.0, b.0)) }
        }
        #[inline(always)]
        unsafe fn madd(w: Self, x: Self, acc: Self) -> Self {
            #[cfg(all(feature = "std", target_feature = "fma"))]
            unsafe {
                Avx2(_mm256_fmadd_ps(w.0, x.0, acc.0))
            }
            #[cfg(not(all(feature = "std", target_feature = "fma")))]
            unsafe {
                Avx2(_mm256_add_ps(_mm256_mul_ps(w.0, x.0), acc.0))
            }
        }
    }

    /// `out[s] += W x[s]` for `s` streams: `out` is `s` rows of `r`, `x` `s` rows of `c`,
    /// `w` column-major (`c` columns of `r`).
    ///
    /// # Safety
    /// The pointers must cover those sizes and the CPU must have `V`'s instructions.
    #[inline(always)]
    pub unsafe fn gemv_many<V: Vector>(
        out: *mut f32,
        w: *const f32,
        r: usize,
        c: usize,
        x: *const f32,
        s: usize,
    ) {
        let mut s0 = 0;
        // SAFETY (all calls): streams `s0 .. s0 + G` exist; the caller's promise for the rest.
        unsafe {
            if r > NARROW {
                while s0 + V::G2 <= s {
                    if V::G2 == 8 {
                        two::<V, 8>(out, w, r, c, x, s0);
                    } else {
                        two::<V, 4>(out, w, r, c, x, s0);
                    }
                    s0 += V::G2;
                }
                if s0 + 4 <= s {
                    two::<V, 4>(out, w, r, c, x, s0);
                    s0 += 4;
                }
                if s0 + 2 <= s {
                    two::<V, 2>(out, w, r, c, x, s0);
                    s0 += 2;
                }
                if s0 < s {
                    two::<V, 1>(out, w, r, c, x, s0);
                }
            } else {
                while s0 + V::G4 <= s {
                    if V::G4 == 4 {
                        four::<V, 4>(out, w, r, c, x, s0);
                    } else {
                        four::<V, 2>(out, w, r, c, x, s0);
                    }
                    s0 += V::G4;
                }
                if s0 + 2 <= s {
                    four::<V, 2>(out, w, r, c, x, s0);
                    s0 += 2;
                }
                if s0 < s {
                    four::<V, 1>(out, w, r, c, x, s0);
                }
            }
        }
    }

    /// `out += W x`, one stream, AVX-512 (see `super::gemv_one_acc`): rows in blocks of up
    /// to 8 vectors (128 rows), two partial sums per row (even and odd columns).
    ///
    /// # Safety
    /// The pointers must cover `r` outputs, `c` columns of `r` weights and `c` inputs, `c`
    /// must be at least 16, and the CPU must have AVX-512F.
    #[inline(always)]
    pub unsafe fn gemv_one(out: *mut f32, w: *const f32, r: usize, c: usize, x: *const f32) {
        let mut r0 = 0;
        // SAFETY (all calls): the caller's promise; each block stays inside the `r` rows.
        unsafe {
            while r - r0 >= 128 {
                one_block::<8>(out, w, r, c, x, r0);
                r0 += 128;
            }
            match (r - r0).div_ceil(16) {
                0 => {}
                1 => one_block::<1>(out, w, r, c, x, r0),
                2 => one_block::<2>(out, w, r, c, x, r0),
                3 => one_block::<3>(out, w, r, c, x, r0),
                4 => one_block::<4>(out, w, r, c, x, r0),
                5 => one_block::<5>(out, w, r, c, x, r0),
                6 => one_block::<6>(out, w, r, c, x, r0),
                _ => one_block::<7>(out, w, r, c, x, r0),
            }
        }
    }

    /// Rows `r0 .. min(r0 + 16 NB, r)` of `gemv_one`.
    #[inline(always)]
    unsafe fn one_block<const NB: usize>(
        out: *mut f32,
        w: *const f32,
        r: usize,
        c: usize,
        x: *const f32,
        r0: usize,
    ) {
        // SAFETY: rows `r0 + 16 v ..` under their masks are inside every column; `x` has `c`
        // values and the 16-column chunks end at or before `c`.
        unsafe {
            let m: [__mmask16; NB] =
                core::array::from_fn(|v| Avx512::mask(r.saturating_sub(r0 + 16 * v)));
            let mut a0 = [Avx512::zero(); NB];
            let mut a1 = [Avx512::zero(); NB];
            // Column `j`'s value into every lane: its 128-bit lane spread to all four, then its
            // element within the lane (two shuffles, no load).
            macro_rules! column {
                ($lane:expr, $e:literal, $j:expr, $acc:ident) => {{
                    let b = Avx512(_mm512_permute_ps::<{ $e * 0x55 }>($lane));
                    let col = w.add($j * r + r0);
                    for v in 0..NB {
                        $acc[v] = Avx512::madd(Avx512::load(m[v], col.add(16 * v)), b, $acc[v]);
                    }
                }};
            }
            macro_rules! lane {
                ($xv:expr, $k:literal, $j0:expr) => {{
                    let l = _mm512_shuffle_f32x4::<{ $k * 0x55 }>($xv, $xv);
                    let j = $j0 + 4 * $k;
                    column!(l, 0, j, a0);
                    column!(l, 1, j + 1, a1);
                    column!(l, 2, j + 2, a0);
                    column!(l, 3, j + 3, a1);
                }};
            }
            let mut j = 0;
            while j + 16 <= c {
                let xv = _mm512_loadu_ps(x.add(j));
                lane!(xv, 0, j);
                lane!(xv, 1, j);
                lane!(xv, 2, j);
                lane!(xv, 3, j);
                j += 16;
            }
            // The last columns (fewer than 16) from memory, keeping the parity: `j` is even.
            while j < c {
                let b = Avx512::splat(x.add(j));
                let col = w.add(j * r + r0);
                if j % 2 == 0 {
                    for v in 0..NB {
                        a0[v] = Avx512::madd(Avx512::load(m[v], col.add(16 * v)), b, a0[v]);
                    }
                } else {
                    for v in 0..NB {
                        a1[v] = Avx512::madd(Avx512::load(m[v], col.add(16 * v)), b, a1[v]);
                    }
                }
                j += 1;
            }
            for v in 0..NB {
                let o = out.add(r0 + 16 * v);
                Avx512::store(
                    m[v],
                    o,
                    Avx512::add(Avx512::load(m[v], o), Avx512::add(a0[v], a1[v])),
                );
            }
        }
    }

    /// Streams `s0 .. s0 + G`, rows in blocks of `V::N`, two partial sums (even and odd
    /// columns) per row.
    #[inline(always)]
    unsafe fn two<V: Vector, const G: usize>(
        out: *mut f32,
        w: *const f32,
        r: usize,
        c: usize,
        x: *const f32,
        s0: usize,
    ) {
        let mut r0 = 0;
        while r0 < r {
            // SAFETY: rows `r0 .. r0 + n` of every column and stream are inside the arrays;
            // masked lanes are neither read nor written.
            unsafe {
                let m = V::mask(r - r0);
                let mut a0 = [V::zero(); G];
                let mut a1 = [V::zero(); G];
                let mut j = 0;
                while j + 2 <= c {
                    let c0 = V::load(m, w.add(j * r + r0));
                    let c1 = V::load(m, w.add((j + 1) * r + r0));
                    for g in 0..G {
                        let xg = x.add((s0 + g) * c + j);
                        a0[g] = V::madd(c0, V::splat(xg), a0[g]);
                        a1[g] = V::madd(c1, V::splat(xg.add(1)), a1[g]);
                    }
                    j += 2;
                }
                if j < c {
                    let c0 = V::load(m, w.add(j * r + r0));
                    for g in 0..G {
                        a0[g] = V::madd(c0, V::splat(x.add((s0 + g) * c + j)), a0[g]);
                    }
                }
                for g in 0..G {
                    let o = out.add((s0 + g) * r + r0);
                    V::store(m, o, V::add(V::load(m, o), V::add(a0[g], a1[g])));
                }
            }
            r0 += V::N;
        }
    }

    /// Streams `s0 .. s0 + G` of a matrix of at most 16 rows, four partial sums (columns mod
    /// 4) per row.
    #[inline(always)]
    unsafe fn four<V: Vector, const G: usize>(
        out: *mut f32,
        w: *const f32,
        r: usize,
        c: usize,
        x: *const f32,
        s0: usize,
    ) {
        let mut r0 = 0;
        while r0 < r {
            // SAFETY: as in `two`.
            unsafe {
                let m = V::mask(r - r0);
                let mut a = [[V::zero(); 4]; G];
                let mut j = 0;
                while j + 4 <= c {
                    for q in 0..4 {
                        let cq = V::load(m, w.add((j + q) * r + r0));
                        for g in 0..G {
                            a[g][q] = V::madd(cq, V::splat(x.add((s0 + g) * c + j + q)), a[g][q]);
                        }
                    }
                    j += 4;
                }
                let mut q = 0;
                while j < c {
                    let cq = V::load(m, w.add(j * r + r0));
                    for g in 0..G {
                        a[g][q] = V::madd(cq, V::splat(x.add((s0 + g) * c + j)), a[g][q]);
                    }
                    j += 1;
                    q += 1;
                }
                for g in 0..G {
                    let o = out.add((s0 + g) * r + r0);
                    let sum = V::add(V::add(a[g][0], a[g][1]), V::add(a[g][2], a[g][3]));
                    V::store(m, o, V::add(V::load(m, o), sum));
                }
            }
            r0 += V::N;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::{Avx, Fused, Narrow};
    use crate::Fast;

    /// Every path (AVX-512, AVX2 where the CPU has them, the portable loop) against
    /// single-stream products, bit for bit, over shapes with and without row remainders.
    fn check<M: Math, const R: usize, const C: usize, const S: usize>() {
        let w = SMatrix::<f32, R, C>::from_fn(|r, c| ((r * 31 + c * 17) % 23) as f32 / 7.0 - 1.5);
        let x: [[f32; C]; S] = core::array::from_fn(|s| {
            core::array::from_fn(|j| ((s * 13 + j * 5) % 19) as f32 / 9.0 - 1.0)
        });
        let mut many: [[f32; R]; S] =
            core::array::from_fn(|s| core::array::from_fn(|r| (s + r) as f32 * 0.25));
        let mut one = many;
        gemv_many_acc(M::default(), &mut many, &w, &x);
        for s in 0..S {
            gemv_acc(M::default(), &mut one[s], &w, &x[s]);
        }
        for s in 0..S {
            for r in 0..R {
                assert_eq!(
                    many[s][r].to_bits(),
                    one[s][r].to_bits(),
                    "{} R {R} C {C} S {S}: stream {s} row {r}",
                    core::any::type_name::<M>()
                );
            }
        }
    }

    fn shapes<M: Math>() {
        check::<M, 64, 32, 8>();
        check::<M, 48, 16, 13>();
        check::<M, 24, 1, 5>();
        check::<M, 37, 7, 3>();
        check::<M, 16, 16, 9>();
        check::<M, 10, 128, 7>();
        check::<M, 1, 16, 6>();
        check::<M, 3, 5, 2>();
        check::<M, 160, 8, 32>();
    }

    /// `gemv_acc` (which takes `gemv_one_acc`'s AVX-512 path where the CPU has it) against a
    /// scalar sum in its documented order, bit for bit.
    fn single<M: Math, const R: usize, const C: usize>() {
        let w = SMatrix::<f32, R, C>::from_fn(|r, c| ((r * 29 + c * 13) % 31) as f32 / 11.0 - 1.3);
        let x: [f32; C] = core::array::from_fn(|j| ((j * 7) % 17) as f32 / 5.0 - 1.6);
        let mut got: [f32; R] = core::array::from_fn(|r| r as f32 * 0.125);
        let mut want = got;
        gemv_acc(M::default(), &mut got, &w, &x);
        for (r, o) in want.iter_mut().enumerate() {
            let (mut a0, mut a1) = (0.0f32, 0.0f32);
            for j in 0..C {
                if j % 2 == 0 {
                    a0 = M::madd(w[(r, j)], x[j], a0);
                } else {
                    a1 = M::madd(w[(r, j)], x[j], a1);
                }
            }
            *o += a0 + a1;
        }
        for r in 0..R {
            assert_eq!(got[r].to_bits(), want[r].to_bits(), "R {R} C {C} row {r}");
        }
    }

    #[test]
    fn single_stream_products_keep_their_order() {
        single::<Fast, 64, 32>();
        single::<Fast, 48, 16>();
        single::<Fast, 160, 40>();
        single::<Fast, 37, 20>();
        single::<Fast, 17, 16>();
        // Fused multiply-adds (training on FMA hosts), with and without row remainders.
        single::<Fused<Fast>, 160, 40>();
        single::<Fused<Fast>, 150, 13>();
        single::<Fused<Fast>, 161, 8>();
        single::<Fast, 130, 17>();
        single::<Fast, 384, 64>();
        single::<Fast, 256, 33>();
        single::<Narrow<Fast>, 160, 40>();
        single::<Narrow<Fast>, 37, 20>();
    }

    #[test]
    fn grouped_products_equal_single_stream_products() {
        shapes::<Fast>();
        shapes::<Narrow<Fast>>();
        shapes::<Avx<Narrow<Fast>>>();
        shapes::<Avx<Fast>>();
    }
}
