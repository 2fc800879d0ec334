//! Many independent streams at once: the batched step ([`crate::Model::step_batch`]).
//!
//! `L` streams share one pass over the weights. Every value a layer computes is held as
//! `[[T; L]; N]`: element `k` of the `L` streams side by side, one stream per vector lane, so a
//! weight is loaded once and multiplied into all `L` streams with one vector instruction, and
//! the activations run across streams without any horizontal step.
//!
//! Each stream's every output element is computed by the same sequence of operations as the
//! single-stream [`crate::Cell::step`]: the kernels here sum each row in
//! [`crate::kernels::gemv_acc`]'s order (four partial sums by column mod 4 for matrices of at
//! most 16 rows, else even and odd columns), and the element-wise code is the same expressions
//! lane by lane. So a batched step is bit-identical to `L` single steps (tested), on every
//! instruction set.

use crate::activation::{softmax, Activation};
use crate::layers::{Cell, Vector};
use crate::math::Math;
use crate::real::Real;
use nalgebra::SMatrix;

// Matrices at most this tall get four partial sums: `kernels::gemv_acc`'s threshold.
use crate::kernels::NARROW;

/// Whether the AVX path may run: `T` is `f32`, eight lanes, unfused maths that say they run
/// where AVX2 may be used, and (whatever a `Math` claims) a CPU that has AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn avx_path<M: Math, T: Real, const L: usize>() -> bool {
    M::AVX
        && !M::FUSED
        && L == 8
        && core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>()
        && crate::simd::has_avx2()
}

/// `out[r][l] += (W x_l)[r]` for `L` vectors `x_l` side by side (`x[j][l]` is element `j` of
/// stream `l`), each row summed in [`crate::kernels::gemv_acc`]'s order.
#[inline(always)]
pub fn gemv_lanes_acc<M: Math, T: Real, const R: usize, const C: usize, const L: usize>(
    out: &mut [[T; L]; R],
    w: &SMatrix<T, R, C>,
    x: &[[T; L]; C],
) {
    #[cfg(target_arch = "x86_64")]
    if avx_path::<M, T, L>() {
        // SAFETY: `avx_path` checked that the CPU has AVX2, that `T` is `f32` and `L` is 8, so
        // `out` is `R` rows of eight `f32`, `x` is `C` rows of eight, and `w` is `C` columns
        // of `R` `f32` (nalgebra's column-major storage).
        unsafe {
            avx::gemv(
                out.as_mut_ptr() as *mut f32,
                w.data.0.as_ptr() as *const f32,
                R,
                C,
                x.as_ptr() as *const f32,
            )
        };
        return;
    }
    let mut r0 = 0;
    if R <= NARROW {
        while r0 + 2 <= R {
            rows4::<M, T, R, C, L, 2>(out, w, r0, x);
            r0 += 2;
        }
        if r0 < R {
            rows4::<M, T, R, C, L, 1>(out, w, r0, x);
        }
    } else {
        // Eight rows of two partial sums each where there are 32 vector registers (AVX-512),
        // four where there are 16.
        if M::BLOCK >= 64 {
            while r0 + 8 <= R {
                rows2::<M, T, R, C, L, 8>(out, w, r0, x);
                r0 += 8;
            }
        }
        while r0 + 4 <= R {
            rows2::<M, T, R, C, L, 4>(out, w, r0, x);
            r0 += 4;
        }
        while r0 < R {
            rows2::<M, T, R, C, L, 1>(out, w, r0, x);
            r0 += 1;
        }
    }
}

/// Rows `r0 .. r0 + RB` with four partial sums (columns mod 4).
#[inline(always)]
fn rows4<M: Math, T: Real, const R: usize, const C: usize, const L: usize, const RB: usize>(
    out: &mut [[T; L]; R],
    w: &SMatrix<T, R, C>,
    r0: usize,
    x: &[[T; L]; C],
) {
    let cols = &w.data.0;
    let mut a = [[[T::ZERO; L]; RB]; 4];
    let mut j = 0;
    while j + 4 <= C {
        for q in 0..4 {
            let xq = &x[j + q];
            for rr in 0..RB {
                let wv = cols[j + q][r0 + rr];
                for l in 0..L {
                    a[q][rr][l] = M::madd(wv, xq[l], a[q][rr][l]);
                }
            }
        }
        j += 4;
    }
    let mut q = 0;
    while j < C {
        let xq = &x[j];
        for rr in 0..RB {
            let wv = cols[j][r0 + rr];
            for l in 0..L {
                a[q][rr][l] = M::madd(wv, xq[l], a[q][rr][l]);
            }
        }
        j += 1;
        q += 1;
    }
    for rr in 0..RB {
        let mut o = out[r0 + rr];
        for l in 0..L {
            o[l] += (a[0][rr][l] + a[1][rr][l]) + (a[2][rr][l] + a[3][rr][l]);
        }
        out[r0 + rr] = o;
    }
}

/// Rows `r0 .. r0 + RB` with two partial sums (even and odd columns).
#[inline(always)]
fn rows2<M: Math, T: Real, const R: usize, const C: usize, const L: usize, const RB: usize>(
    out: &mut [[T; L]; R],
    w: &SMatrix<T, R, C>,
    r0: usize,
    x: &[[T; L]; C],
) {
    let cols = &w.data.0;
    let mut a0 = [[T::ZERO; L]; RB];
    let mut a1 = [[T::ZERO; L]; RB];
    let mut j = 0;
    while j + 2 <= C {
        let (x0, x1) = (&x[j], &x[j + 1]);
        for rr in 0..RB {
            let (w0, w1) = (cols[j][r0 + rr], cols[j + 1][r0 + rr]);
            for l in 0..L {
                a0[rr][l] = M::madd(w0, x0[l], a0[rr][l]);
                a1[rr][l] = M::madd(w1, x1[l], a1[rr][l]);
            }
        }
        j += 2;
    }
    if j < C {
        for rr in 0..RB {
            let w0 = cols[j][r0 + rr];
            for l in 0..L {
                a0[rr][l] = M::madd(w0, x[j][l], a0[rr][l]);
            }
        }
    }
    for rr in 0..RB {
        let mut o = out[r0 + rr];
        for l in 0..L {
            o[l] += a0[rr][l] + a1[rr][l];
        }
        out[r0 + rr] = o;
    }
}

/// `out[r][l] += (W[row0 .. row0 + N, :] x_l)[r]`, each row summed column by column from
/// `out`, as [`crate::kernels::gemv_block_acc`].
#[inline(always)]
pub fn gemv_block_lanes_acc<
    M: Math,
    T: Real,
    const R: usize,
    const C: usize,
    const N: usize,
    const L: usize,
>(
    out: &mut [[T; L]; N],
    w: &SMatrix<T, R, C>,
    row0: usize,
    x: &[[T; L]; C],
) {
    assert!(
        row0 <= R && N <= R - row0,
        "rows {row0}..{} of a {R}-row matrix",
        row0 + N
    );
    #[cfg(target_arch = "x86_64")]
    if avx_path::<M, T, L>() {
        // SAFETY: as in `gemv_lanes_acc`; rows `row0 .. row0 + N` are inside `R` (asserted).
        unsafe {
            avx::gemv_block(
                out.as_mut_ptr() as *mut f32,
                w.data.0.as_ptr() as *const f32,
                R,
                C,
                row0,
                N,
                x.as_ptr() as *const f32,
            )
        };
        return;
    }
    for (col, xj) in w.data.0.iter().zip(x.iter()) {
        for r in 0..N {
            let wv = col[row0 + r];
            for l in 0..L {
                out[r][l] = M::madd(wv, xj[l], out[r][l]);
            }
        }
    }
}

/// The kernels above with explicit 256-bit intrinsics for eight `f32` lanes: LLVM's vectorizer
/// did not always pick the lane dimension for the portable code (seen: shuffles across rows, 7.6
/// cycles per vector multiply-add instead of under 1). The same operations in the same order:
/// `Real::fmadd` is a multiply then an add unless the whole build targets FMA, where it is one
/// fused multiply-add, and so is [`madd`] here.
#[cfg(target_arch = "x86_64")]
mod avx {
    use core::arch::x86_64::*;

    /// `w * x + acc`, exactly as `f32::fmadd` (see the module docs).
    #[inline(always)]
    unsafe fn madd(w: __m256, x: __m256, acc: __m256) -> __m256 {
        #[cfg(all(feature = "std", target_feature = "fma"))]
        {
            _mm256_fmadd_ps(w, x, acc)
        }
        #[cfg(not(all(feature = "std", target_feature = "fma")))]
        {
            _mm256_add_ps(_mm256_mul_ps(w, x), acc)
        }
    }

    /// `gemv_lanes_acc` for `r` rows, `c` columns, eight lanes: `out` is `r` rows of eight,
    /// `w` column-major (`c` columns of `r`), `x` `c` rows of eight.
    #[inline(always)]
    pub unsafe fn gemv(out: *mut f32, w: *const f32, r: usize, c: usize, x: *const f32) {
        let mut r0 = 0;
        unsafe {
            if r <= super::NARROW {
                while r0 + 2 <= r {
                    rows4::<2>(out, w, r, c, r0, x);
                    r0 += 2;
                }
                if r0 < r {
                    rows4::<1>(out, w, r, c, r0, x);
                }
            } else {
                while r0 + 4 <= r {
                    rows2::<4>(out, w, r, c, r0, x);
                    r0 += 4;
                }
                while r0 < r {
                    rows2::<1>(out, w, r, c, r0, x);
                    r0 += 1;
                }
            }
        }
    }

    /// Rows `r0 .. r0 + RB`, two partial sums (even and odd columns).
    #[inline(always)]
    unsafe fn rows2<const RB: usize>(
        out: *mut f32,
        w: *const f32,
        r: usize,
        c: usize,
        r0: usize,
        x: *const f32,
    ) {
        unsafe {
            let mut a0 = [_mm256_setzero_ps(); RB];
            let mut a1 = [_mm256_setzero_ps(); RB];
            let mut j = 0;
            while j + 2 <= c {
                let x0 = _mm256_loadu_ps(x.add(j * 8));
                let x1 = _mm256_loadu_ps(x.add(j * 8 + 8));
                let c0 = w.add(j * r + r0);
                let c1 = w.add((j + 1) * r + r0);
                for rr in 0..RB {
                    a0[rr] = madd(_mm256_broadcast_ss(&*c0.add(rr)), x0, a0[rr]);
                    a1[rr] = madd(_mm256_broadcast_ss(&*c1.add(rr)), x1, a1[rr]);
                }
                j += 2;
            }
            if j < c {
                let x0 = _mm256_loadu_ps(x.add(j * 8));
                let c0 = w.add(j * r + r0);
                for rr in 0..RB {
                    a0[rr] = madd(_mm256_broadcast_ss(&*c0.add(rr)), x0, a0[rr]);
                }
            }
            for rr in 0..RB {
                let o = out.add((r0 + rr) * 8);
                _mm256_storeu_ps(
                    o,
                    _mm256_add_ps(_mm256_loadu_ps(o), _mm256_add_ps(a0[rr], a1[rr])),
                );
            }
        }
    }

    /// Rows `r0 .. r0 + RB`, four partial sums (columns mod 4).
    #[inline(always)]
    unsafe fn rows4<const RB: usize>(
        out: *mut f32,
        w: *const f32,
        r: usize,
        c: usize,
        r0: usize,
        x: *const f32,
    ) {
        unsafe {
            let mut a = [[_mm256_setzero_ps(); RB]; 4];
            let mut j = 0;
            while j + 4 <= c {
                for q in 0..4 {
                    let xq = _mm256_loadu_ps(x.add((j + q) * 8));
                    let cq = w.add((j + q) * r + r0);
                    for rr in 0..RB {
                        a[q][rr] = madd(_mm256_broadcast_ss(&*cq.add(rr)), xq, a[q][rr]);
                    }
                }
                j += 4;
            }
            let mut q = 0;
            while j < c {
                let xq = _mm256_loadu_ps(x.add(j * 8));
                let cq = w.add(j * r + r0);
                for rr in 0..RB {
                    a[q][rr] = madd(_mm256_broadcast_ss(&*cq.add(rr)), xq, a[q][rr]);
                }
                j += 1;
                q += 1;
            }
            for rr in 0..RB {
                let o = out.add((r0 + rr) * 8);
                let s = _mm256_add_ps(
                    _mm256_add_ps(a[0][rr], a[1][rr]),
                    _mm256_add_ps(a[2][rr], a[3][rr]),
                );
                _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), s));
            }
        }
    }

    /// `gemv_block_lanes_acc`: rows `row0 .. row0 + n` of `w`, each summed column by column
    /// from `out` (`n` rows of eight).
    #[inline(always)]
    pub unsafe fn gemv_block(
        out: *mut f32,
        w: *const f32,
        r: usize,
        c: usize,
        row0: usize,
        n: usize,
        x: *const f32,
    ) {
        unsafe {
            let mut k = 0;
            while k + 4 <= n {
                let mut a = [_mm256_setzero_ps(); 4];
                for (i, a) in a.iter_mut().enumerate() {
                    *a = _mm256_loadu_ps(out.add((k + i) * 8));
                }
                for j in 0..c {
                    let xj = _mm256_loadu_ps(x.add(j * 8));
                    let cj = w.add(j * r + row0 + k);
                    for (i, a) in a.iter_mut().enumerate() {
                        *a = madd(_mm256_broadcast_ss(&*cj.add(i)), xj, *a);
                    }
                }
                for (i, a) in a.iter().enumerate() {
                    _mm256_storeu_ps(out.add((k + i) * 8), *a);
                }
                k += 4;
            }
            while k < n {
                let mut a = _mm256_loadu_ps(out.add(k * 8));
                for j in 0..c {
                    let xj = _mm256_loadu_ps(x.add(j * 8));
                    a = madd(_mm256_broadcast_ss(&*w.add(j * r + row0 + k)), xj, a);
                }
                _mm256_storeu_ps(out.add(k * 8), a);
                k += 1;
            }
        }
    }
}

/// `L` copies of `v` side by side: a bias broadcast to every stream.
#[inline(always)]
pub fn splat<T: Real, const N: usize, const L: usize>(v: &[T; N]) -> [[T; L]; N] {
    let mut out = [[T::ZERO; L]; N];
    for k in 0..N {
        out[k] = [v[k]; L];
    }
    out
}

/// [`Activation::apply`] to each of the `L` streams in `v`: element-wise activations across
/// all lanes at once, softmax stream by stream (the same operations either way).
#[inline(always)]
pub fn activate<M: Math, T: Real, const N: usize, const L: usize>(
    act: Activation,
    v: &mut [[T; L]; N],
) {
    match act {
        Activation::Softmax => {
            for l in 0..L {
                let mut s = [T::ZERO; N];
                for k in 0..N {
                    s[k] = v[k][l];
                }
                softmax(&mut s);
                for k in 0..N {
                    v[k][l] = s[k];
                }
            }
        }
        _ => act.apply::<M, T>(v.as_flattened_mut()),
    }
}

/// Lanes of `f32` per group: eight fill a 256-bit register.
const F32_LANES: usize = 8;
/// Lanes of `f64` per group.
const F64_LANES: usize = 4;

/// `B` single steps of `cell`, one per stream, run as groups of streams side by side (eight
/// `f32` or four `f64` streams per group; streams left over run one by one). Bit-identical to
/// calling [`Cell::step`] on each stream.
#[inline(always)]
pub fn step_batch<T: Real, C: Cell<T>, M: Math, const B: usize>(
    cell: &C,
    states: &mut [C::State; B],
    xs: &[C::Input; B],
) -> [C::Output; B] {
    let mut out = [C::Output::zeros(); B];
    let mut b0 = 0;
    if core::mem::size_of::<T>() == 4 {
        while b0 + F32_LANES <= B {
            group::<T, C, M, F32_LANES>(cell, states, xs, &mut out, b0);
            b0 += F32_LANES;
        }
    }
    while b0 + F64_LANES <= B {
        group::<T, C, M, F64_LANES>(cell, states, xs, &mut out, b0);
        b0 += F64_LANES;
    }
    while b0 < B {
        out[b0] = cell.step::<M>(&mut states[b0], &xs[b0]);
        b0 += 1;
    }
    out
}

/// Streams `b0 .. b0 + L` of [`step_batch`], side by side.
#[inline(always)]
fn group<T: Real, C: Cell<T>, M: Math, const L: usize>(
    cell: &C,
    states: &mut [C::State],
    xs: &[C::Input],
    out: &mut [C::Output],
    b0: usize,
) {
    let mut s = C::to_lanes::<L>(
        #[inline(always)]
        |l| states[b0 + l],
    );
    let x = <C::Input as Vector<T>>::to_lanes::<L>(
        #[inline(always)]
        |l| xs[b0 + l],
    );
    let y = cell.step_lanes::<M, L>(&mut s, &x);
    for l in 0..L {
        states[b0 + l] = C::lane::<L>(&s, l);
        out[b0 + l] = <C::Output as Vector<T>>::lane::<L>(&y, l);
    }
}
