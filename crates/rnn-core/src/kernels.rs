// Over 400 lines: every hot loop in one place (matrix-vector, transposed, outer products, register blocks), so their shared block sizes and accumulation orders stay in view.
//! The hot loops: matrix-vector products over column-major fixed-size storage.
//!
//! nalgebra's `SMatrix<T, R, C>` stores `[[T; R]; C]` (column-major). Walking it column by column
//! as `y += W[:, j] * x[j]` (an axpy with a fixed trip count `R`) lets the compiler vectorize
//! every column without a horizontal reduction; this was 2.5x faster than nalgebra's generic
//! product for our sizes. The backward pass's products `W^T v` run the same kernel over
//! transposed copies of the weights ([`transpose`], built once per batch); [`gemv_t_acc`] (a dot
//! product per column) is left for narrow inputs. Rank-one weight-gradient updates are collected
//! over several steps ([`Outer`]). Every multiply-add goes through [`Math::madd`], so training
//! can use fused multiply-adds ([`crate::Fused`]) while inference keeps the build's own.

use crate::math::Math;
use crate::real::Real;
use nalgebra::SMatrix;

/// `out += W x` for `W: R x C`.
///
/// Register-blocked: for each block of at most [`Math::BLOCK`] rows (all rows at once when
/// `R <= BLOCK`; the block is 64, 32 or 16 rows), two local accumulators walk all columns (`acc += W[block, j] * x[j]`, an axpy on
/// contiguous memory), so the partial sums stay in registers and two dependency chains per
/// vector are in flight; matrices of at most 16 rows get four accumulators. Each row's sum is
/// computed in the same order whatever the vector width and block size, so results do not
/// depend on the instruction set.
#[inline(always)]
pub fn gemv_acc<M: Math, T: Real, const R: usize, const C: usize>(
    _m: M,
    out: &mut [T; R],
    w: &SMatrix<T, R, C>,
    x: &[T; C],
) {
    if R <= NARROW {
        gemv_rows4::<M, T, R, C>(_m, out, w, x);
    } else if crate::many::gemv_one_acc::<M, T, R, C>(out, w, x) {
        // Done with explicit AVX-512 (the inputs broadcast from registers).
    } else if R <= M::BLOCK {
        gemv_rows::<M, T, R, C, R>(_m, out, w, 0, x);
    } else {
        // `M::BLOCK` as a const parameter, one branch per block size (stable Rust cannot
        // write `{ M::BLOCK }` there); only one survives in each copy.
        let mut r0 = 0;
        while r0 + M::BLOCK <= R {
            match M::BLOCK {
                128 => gemv_rows::<M, T, R, C, 128>(_m, out, w, r0, x),
                64 => gemv_rows::<M, T, R, C, 64>(_m, out, w, r0, x),
                32 => gemv_rows::<M, T, R, C, 32>(_m, out, w, r0, x),
                _ => gemv_rows::<M, T, R, C, 16>(_m, out, w, r0, x),
            }
            r0 += M::BLOCK;
        }
        // Then smaller blocks (the 32 rows left of 160 under 128-row blocks, the 48 gate rows
        // of a GRU of 16 units under 32-row blocks).
        if M::BLOCK > 64 && r0 + 64 <= R {
            gemv_rows::<M, T, R, C, 64>(_m, out, w, r0, x);
            r0 += 64;
        }
        if M::BLOCK > 32 && r0 + 32 <= R {
            gemv_rows::<M, T, R, C, 32>(_m, out, w, r0, x);
            r0 += 32;
        }
        while r0 + 16 <= R {
            gemv_rows::<M, T, R, C, 16>(_m, out, w, r0, x);
            r0 += 16;
        }
        // The remaining rows, one at a time in the same order as `gemv_rows`.
        let cols = &w.data.0;
        for r in r0..R {
            let (mut a0, mut a1) = (T::ZERO, T::ZERO);
            let mut j = 0;
            while j + 2 <= C {
                a0 = M::madd(cols[j][r], x[j], a0);
                a1 = M::madd(cols[j + 1][r], x[j + 1], a1);
                j += 2;
            }
            if j < C {
                a0 = M::madd(cols[j][r], x[j], a0);
            }
            out[r] += a0 + a1;
        }
    }
}

/// Matrices at most this tall get four accumulators (shorter vectors, longer column walks: the
/// backward pass's `W^T v` for 16 units walks 64 columns).
pub(crate) const NARROW: usize = 16;

/// `out += W x` for a short `W` (`R <= NARROW`) with four accumulators (columns mod 4).
#[inline(always)]
fn gemv_rows4<M: Math, T: Real, const R: usize, const C: usize>(
    _m: M,
    out: &mut [T; R],
    w: &SMatrix<T, R, C>,
    x: &[T; C],
) {
    let cols = &w.data.0;
    let mut a = [[T::ZERO; R]; 4];
    let mut j = 0;
    while j + 4 <= C {
        for q in 0..4 {
            let (c, xq) = (&cols[j + q], x[j + q]);
            for r in 0..R {
                a[q][r] = M::madd(c[r], xq, a[q][r]);
            }
        }
        j += 4;
    }
    let mut q = 0;
    while j < C {
        for r in 0..R {
            a[q][r] = M::madd(cols[j][r], x[j], a[q][r]);
        }
        j += 1;
        q += 1;
    }
    // Whole-array load and store: element-wise updates through `out` were scalarised.
    let mut o = *out;
    for r in 0..R {
        o[r] += (a[0][r] + a[1][r]) + (a[2][r] + a[3][r]);
    }
    *out = o;
}

/// `out[r0 .. r0 + B] += W[r0 .. r0 + B, :] x` with two accumulators (even and odd columns).
#[inline(always)]
fn gemv_rows<M: Math, T: Real, const R: usize, const C: usize, const B: usize>(
    _m: M,
    out: &mut [T; R],
    w: &SMatrix<T, R, C>,
    r0: usize,
    x: &[T; C],
) {
    let cols = &w.data.0;
    // Plain zero-initialised locals (not `array::from_fn`, which is not always inlined).
    let mut a0 = [T::ZERO; B];
    let mut a1 = [T::ZERO; B];
    let mut j = 0;
    while j + 2 <= C {
        let (x0, x1) = (x[j], x[j + 1]);
        let c0: &[T; B] = cols[j][r0..r0 + B].try_into().unwrap();
        let c1: &[T; B] = cols[j + 1][r0..r0 + B].try_into().unwrap();
        prefetch_ahead::<T, R, C, B>(cols, j, r0);
        for r in 0..B {
            a0[r] = M::madd(c0[r], x0, a0[r]);
            a1[r] = M::madd(c1[r], x1, a1[r]);
        }
        j += 2;
    }
    if j < C {
        let c0: &[T; B] = cols[j][r0..r0 + B].try_into().unwrap();
        for r in 0..B {
            a0[r] = M::madd(c0[r], x[j], a0[r]);
        }
    }
    let o: &mut [T; B] = (&mut out[r0..r0 + B]).try_into().unwrap();
    let mut v = *o;
    for r in 0..B {
        v[r] += a0[r] + a1[r];
    }
    *o = v;
}

/// Columns ahead of a product's walk that [`prefetch_ahead`] asks for.
#[cfg(target_arch = "x86_64")]
const PREFETCH_COLUMNS: usize = 8;

/// For a matrix too large for the level-1 cache (over 48 KiB), asks for the rows `r0 .. r0 +
/// B` of the columns [`PREFETCH_COLUMNS`] ahead (two columns per call, the walk's step): a
/// hint, with no effect on results.
#[inline(always)]
fn prefetch_ahead<T: Real, const R: usize, const C: usize, const B: usize>(
    cols: &[[T; R]; C],
    j: usize,
    r0: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if R * C * core::mem::size_of::<T>() > 48 * 1024 && j + PREFETCH_COLUMNS + 1 < C {
        let line = 64 / core::mem::size_of::<T>();
        for q in 0..2 {
            let col = &cols[j + PREFETCH_COLUMNS + q];
            let mut r = r0;
            while r < r0 + B {
                // SAFETY: `r < R`: a pointer inside the column; prefetching never faults.
                unsafe {
                    core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                        col.as_ptr().add(r) as *const i8,
                    )
                };
                r += line;
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (cols, j, r0);
}

/// `W^T` as a new column-major matrix (the backward pass's products `W^T v` then walk
/// contiguous columns, like [`gemv_acc`], instead of reducing dot products horizontally).
#[inline(always)]
pub fn transpose<T: Real, const R: usize, const C: usize>(
    w: &SMatrix<T, R, C>,
) -> SMatrix<T, C, R> {
    let mut t = zm::<T, C, R>();
    for (c, col) in w.data.0.iter().enumerate() {
        for (r, &v) in col.iter().enumerate() {
            t.data.0[r][c] = v;
        }
    }
    t
}

/// Writes `w^T` into `out`, element by element, never building it on the stack.
///
/// # Safety
/// `out` must be valid for writes and aligned; it need not be initialized.
pub unsafe fn transpose_in_place<T: Real, const R: usize, const C: usize>(
    w: &SMatrix<T, R, C>,
    out: *mut SMatrix<T, C, R>,
) {
    // An `SMatrix<T, C, R>` is `[[T; C]; R]` (column-major array storage): element (c, r)
    // is at `r * C + c`.
    let base = out as *mut T;
    for (c, col) in w.data.0.iter().enumerate() {
        for (r, &v) in col.iter().enumerate() {
            // SAFETY: `r * C + c < R * C`, inside `out`.
            unsafe { base.add(r * C + c).write(v) };
        }
    }
}

/// Writes zeros into every element of `m`, never building a matrix on the stack.
///
/// # Safety
/// `m` must be valid for writes and aligned; it need not be initialized.
pub unsafe fn zero_in_place<T: Real, const R: usize, const C: usize>(m: *mut SMatrix<T, R, C>) {
    let base = m as *mut T;
    for i in 0..R * C {
        // SAFETY: inside the `R * C` elements of `m`.
        unsafe { base.add(i).write(T::ZERO) };
    }
}

/// `out += W[:, col0 .. col0 + N] v` for a block of `N` columns of `W: R x C`.
#[inline(always)]
pub fn gemv_cols_acc<M: Math, T: Real, const R: usize, const C: usize, const N: usize>(
    _m: M,
    out: &mut [T; R],
    w: &SMatrix<T, R, C>,
    col0: usize,
    v: &[T; N],
) {
    let cols: &[[T; R]; N] = w.data.0[col0..col0 + N].try_into().unwrap();
    let mut a0 = [T::ZERO; R];
    let mut a1 = [T::ZERO; R];
    let mut j = 0;
    while j + 2 <= N {
        for r in 0..R {
            a0[r] = M::madd(cols[j][r], v[j], a0[r]);
            a1[r] = M::madd(cols[j + 1][r], v[j + 1], a1[r]);
        }
        j += 2;
    }
    if j < N {
        for r in 0..R {
            a0[r] = M::madd(cols[j][r], v[j], a0[r]);
        }
    }
    for r in 0..R {
        out[r] += a0[r] + a1[r];
    }
}

/// `out += W[rows, :] x` for the row block `ROW0 .. ROW0 + N` of `W`.
#[inline(always)]
pub fn gemv_block_acc<M: Math, T: Real, const R: usize, const C: usize, const N: usize>(
    _m: M,
    out: &mut [T; N],
    w: &SMatrix<T, R, C>,
    row0: usize,
    x: &[T; C],
) {
    for (col, &xj) in w.data.0.iter().zip(x.iter()) {
        let col: &[T; N] = col[row0..row0 + N].try_into().unwrap();
        for r in 0..N {
            out[r] = M::madd(col[r], xj, out[r]);
        }
    }
}

/// Dot product of two equal-length slices with eight accumulators.
#[inline(always)]
pub fn dot<M: Math, T: Real>(_m: M, a: &[T], b: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let n8 = a.len() / 8 * 8;
    let (a8, ar) = a.split_at(n8);
    let (b8, br) = b.split_at(n8);
    for (ca, cb) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for l in 0..8 {
            acc[l] = M::madd(ca[l], cb[l], acc[l]);
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (&x, &y) in ar.iter().zip(br) {
        s += x * y;
    }
    s
}

/// `out += W^T v` for `W: R x C` (one dot product per column).
///
/// Four columns at a time, each with its own 8-lane accumulator, so four independent
/// dependency chains are in flight instead of one.
#[inline(always)]
pub fn gemv_t_acc<M: Math, T: Real, const R: usize, const C: usize>(
    _m: M,
    out: &mut [T; C],
    w: &SMatrix<T, R, C>,
    v: &[T; R],
) {
    let cols = &w.data.0;
    let r8 = R / 8 * 8;
    let mut c = 0;
    while c + 4 <= C {
        let (mut a0, mut a1, mut a2, mut a3) =
            ([T::ZERO; 8], [T::ZERO; 8], [T::ZERO; 8], [T::ZERO; 8]);
        let mut k = 0;
        while k < r8 {
            let vv: &[T; 8] = v[k..k + 8].try_into().unwrap();
            let c0: &[T; 8] = cols[c][k..k + 8].try_into().unwrap();
            let c1: &[T; 8] = cols[c + 1][k..k + 8].try_into().unwrap();
            let c2: &[T; 8] = cols[c + 2][k..k + 8].try_into().unwrap();
            let c3: &[T; 8] = cols[c + 3][k..k + 8].try_into().unwrap();
            for l in 0..8 {
                a0[l] = M::madd(c0[l], vv[l], a0[l]);
            }
            for l in 0..8 {
                a1[l] = M::madd(c1[l], vv[l], a1[l]);
            }
            for l in 0..8 {
                a2[l] = M::madd(c2[l], vv[l], a2[l]);
            }
            for l in 0..8 {
                a3[l] = M::madd(c3[l], vv[l], a3[l]);
            }
            k += 8;
        }
        for (q, a) in [a0, a1, a2, a3].iter().enumerate() {
            let mut s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
            for k in r8..R {
                s = M::madd(cols[c + q][k], v[k], s);
            }
            out[c + q] += s;
        }
        c += 4;
    }
    for (o, col) in out[c..].iter_mut().zip(&cols[c..]) {
        *o += dot(_m, col, v);
    }
}

/// `dW += v x^T` (rank-one update) for `dW: R x C`.
#[inline(always)]
pub fn ger_acc<M: Math, T: Real, const R: usize, const C: usize>(
    _m: M,
    dw: &mut SMatrix<T, R, C>,
    v: &[T; R],
    x: &[T; C],
) {
    for (col, &xj) in dw.data.0.iter_mut().zip(x.iter()) {
        for r in 0..R {
            col[r] = M::madd(v[r], xj, col[r]);
        }
    }
}

/// Rank-one updates `dW += v x^T` collected over up to `K` steps and applied together: each
/// column of `dW` is then read and written once per `K` steps, with the sum over the steps kept
/// in registers, instead of once per step.
#[derive(Clone, Copy, Debug)]
pub struct Outer<T, const R: usize, const C: usize, const K: usize> {
    v: [[T; R]; K],
    x: [[T; C]; K],
    n: usize,
}

impl<T: Real, const R: usize, const C: usize, const K: usize> Outer<T, R, C, K> {
    const AT_LEAST_ONE: () = assert!(K > 0, "Outer needs K > 0");

    /// Nothing collected.
    #[inline(always)]
    pub fn new() -> Self {
        let () = Self::AT_LEAST_ONE;
        Outer {
            v: [[T::ZERO; R]; K],
            x: [[T::ZERO; C]; K],
            n: 0,
        }
    }

    /// Collects `v x^T`, applying everything to `dw` when `K` are pending.
    #[inline(always)]
    pub fn push<M: Math>(&mut self, _m: M, dw: &mut SMatrix<T, R, C>, v: &[T; R], x: &[T; C]) {
        self.v[self.n] = *v;
        self.x[self.n] = *x;
        self.n += 1;
        if self.n == K {
            self.flush(_m, dw);
        }
    }

    /// Applies what is pending to `dw`.
    #[inline(always)]
    pub fn flush<M: Math>(&mut self, _m: M, dw: &mut SMatrix<T, R, C>) {
        let n = self.n.min(K);
        for (j, col) in dw.data.0.iter_mut().enumerate() {
            let mut acc = [T::ZERO; R];
            for k in 0..n {
                let xj = self.x[k][j];
                for r in 0..R {
                    acc[r] = M::madd(self.v[k][r], xj, acc[r]);
                }
            }
            // Whole-column load and store (element-wise updates in place were scalarised).
            let mut c = *col;
            for r in 0..R {
                c[r] += acc[r];
            }
            *col = c;
        }
        self.n = 0;
    }
}

impl<T: Real, const R: usize, const C: usize, const K: usize> Default for Outer<T, R, C, K> {
    fn default() -> Self {
        Self::new()
    }
}

/// `dW[rows, :] += v x^T` for the row block `row0 .. row0 + N`.
#[inline(always)]
pub fn ger_block_acc<M: Math, T: Real, const R: usize, const C: usize, const N: usize>(
    _m: M,
    dw: &mut SMatrix<T, R, C>,
    row0: usize,
    v: &[T; N],
    x: &[T; C],
) {
    for (col, &xj) in dw.data.0.iter_mut().zip(x.iter()) {
        let col: &mut [T; N] = (&mut col[row0..row0 + N]).try_into().unwrap();
        for r in 0..N {
            col[r] = M::madd(v[r], xj, col[r]);
        }
    }
}

/// `a += b` element-wise.
#[inline(always)]
pub fn add_assign<T: Real>(a: &mut [T], b: &[T]) {
    for (a, &b) in a.iter_mut().zip(b) {
        *a += b;
    }
}

/// A zero matrix for any [`Real`] (nalgebra's `zeros` wants `num_traits::Zero`).
#[inline(always)]
pub const fn zm<T: Real, const R: usize, const C: usize>() -> SMatrix<T, R, C> {
    SMatrix::from_array_storage(nalgebra::ArrayStorage([[T::ZERO; R]; C]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{SMatrix, SVector};

    #[test]
    fn products_match_nalgebra() {
        let w = SMatrix::<f64, 5, 3>::from_fn(|r, c| (r as f64 + 1.0) * 0.3 - c as f64 * 0.7);
        let x = [0.5, -1.0, 2.0];
        let v = [1.0, 2.0, -3.0, 0.25, 9.0];
        let mut y = [0.0; 5];
        gemv_acc(crate::Fast, &mut y, &w, &x);
        let want = w * SVector::<f64, 3>::from(x);
        for i in 0..5 {
            assert!((y[i] - want[i]).abs() < 1e-12);
        }
        let mut z = [0.0; 3];
        gemv_t_acc(crate::Fast, &mut z, &w, &v);
        let want = w.transpose() * SVector::<f64, 5>::from(v);
        for i in 0..3 {
            assert!((z[i] - want[i]).abs() < 1e-12);
        }
        let mut d = SMatrix::<f64, 5, 3>::zeros();
        ger_acc(crate::Fast, &mut d, &v, &x);
        assert_eq!(
            d,
            SVector::<f64, 5>::from(v) * SVector::<f64, 3>::from(x).transpose()
        );
        let mut yb = [0.0; 2];
        gemv_block_acc(crate::Fast, &mut yb, &w, 2, &x);
        assert_eq!(&yb[..], &want_block(&w, &x)[..]);
    }

    fn want_block(w: &SMatrix<f64, 5, 3>, x: &[f64; 3]) -> [f64; 2] {
        let full = w * SVector::<f64, 3>::from(*x);
        [full[2], full[3]]
    }

    #[test]
    fn blocked_products_cover_blocks_and_remainders() {
        let w = SMatrix::<f64, 37, 5>::from_fn(|r, c| ((r * 7 + c * 3) % 11) as f64 - 5.0);
        let x = [0.5, -1.0, 2.0, 0.25, 3.0];
        let v: [f64; 37] = core::array::from_fn(|i| (i % 5) as f64 - 2.0);
        let mut y = [1.0; 37];
        gemv_acc(crate::Fast, &mut y, &w, &x);
        let want = w * SVector::<f64, 5>::from(x);
        for i in 0..37 {
            assert_eq!(y[i], want[i] + 1.0);
        }
        let mut z = [0.0; 5];
        gemv_t_acc(crate::Fast, &mut z, &w, &v);
        let want = w.transpose() * SVector::<f64, 37>::from(v);
        for i in 0..5 {
            assert_eq!(z[i], want[i]);
        }
    }

    #[test]
    fn dot_handles_remainders() {
        let a: [f64; 19] = core::array::from_fn(|i| i as f64);
        let b: [f64; 19] = core::array::from_fn(|i| 1.0 - i as f64 * 0.5);
        let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(crate::Fast, &a, &b) - want).abs() < 1e-9);
    }
}
