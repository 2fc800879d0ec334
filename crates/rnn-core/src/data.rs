//! Data without a heap: the seeds' synthetic series, sliding windows, splits and shuffled
//! mini-batches, all over caller-owned slices.

use crate::real::Real;
use crate::rng::Rng;

/// The seeds' `generate_time_series(batch, n_steps)`: each row is
/// `0.5 sin((t - o1)(10 f1 + 10)) + 0.2 sin((t - o2)(20 f2 + 20)) + 0.1 (u - 0.5)` over
/// `t = linspace(0, 1, n_steps)`, with `f1, f2, o1, o2, u ~ U[0, 1)` per row (noise per step).
///
/// Writes `batch * n_steps` values, row-major, into `out` (which must hold that many).
pub fn generate_time_series<T: Real>(rng: &mut Rng, batch: usize, n_steps: usize, out: &mut [T]) {
    if n_steps == 0 {
        return;
    }
    assert!(
        out.len() >= batch * n_steps,
        "generate_time_series: out holds {} < {}",
        out.len(),
        batch * n_steps
    );
    let den = if n_steps > 1 {
        (n_steps - 1) as f64
    } else {
        1.0
    };
    for row in out.chunks_exact_mut(n_steps).take(batch) {
        let (f1, f2, o1, o2) = (rng.uniform(), rng.uniform(), rng.uniform(), rng.uniform());
        for (i, v) in row.iter_mut().enumerate() {
            let t = i as f64 / den;
            let mut s = 0.5 * libm::sin((t - o1) * (f1 * 10.0 + 10.0));
            s += 0.2 * libm::sin((t - o2) * (f2 * 20.0 + 20.0));
            *v = T::from_f64(s);
        }
        for v in row.iter_mut() {
            *v += T::from_f64(0.1 * (rng.uniform() - 0.5));
        }
    }
}

/// Views `N` consecutive items starting at `start` as a fixed-size array (no copy), or `None`
/// past the end.
pub fn window<X, const N: usize>(series: &[X], start: usize) -> Option<&[X; N]> {
    series.get(start..start.checked_add(N)?)?.try_into().ok()
}

/// Sliding windows of `N` inputs, each followed by `horizon` targets: yields
/// `(inputs, targets)` for every start position, with no copy.
pub fn windows<X, const N: usize>(
    series: &[X],
    horizon: usize,
) -> impl Iterator<Item = (&[X; N], &[X])> {
    // Saturating: a horizon near usize::MAX gives no windows, never an overflow.
    let count = series
        .len()
        .saturating_add(1)
        .saturating_sub(N.saturating_add(horizon));
    (0..count).map(move |s| {
        let w: &[X; N] = series[s..s + N]
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        (w, &series[s + N..s + N + horizon])
    })
}

/// Splits `data` into train / validation / test at `n_train` and `n_train + n_valid`
/// (clamped to the data's length).
pub fn split3<X>(data: &[X], n_train: usize, n_valid: usize) -> (&[X], &[X], &[X]) {
    let a = n_train.min(data.len());
    let b = n_train.saturating_add(n_valid).min(data.len());
    (&data[..a], &data[a..b], &data[b..])
}

/// Shuffled mini-batches of indices over caller-owned storage.
///
/// `order` holds `0..len` permuted; each epoch reshuffles it in place with the seeded [`Rng`].
pub struct Batches<'a> {
    order: &'a mut [usize],
    batch: usize,
}

impl<'a> Batches<'a> {
    /// Batches of `batch` indices over `order.len()` samples.
    pub fn new(order: &'a mut [usize], batch: usize) -> Self {
        for (i, o) in order.iter_mut().enumerate() {
            *o = i;
        }
        Batches {
            order,
            batch: batch.max(1),
        }
    }
    /// Reshuffles and returns the epoch's batches (the last one may be shorter).
    pub fn epoch(&mut self, rng: &mut Rng) -> core::slice::Chunks<'_, usize> {
        rng.shuffle(self.order);
        self.order.chunks(self.batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_is_bounded_and_seeded() {
        let mut a = [0.0f32; 10 * 51];
        let mut b = [0.0f32; 10 * 51];
        generate_time_series(&mut Rng::new(42), 10, 51, &mut a);
        generate_time_series(&mut Rng::new(42), 10, 51, &mut b);
        assert_eq!(a, b);
        assert!(a.iter().all(|v| v.abs() <= 0.75));
        assert!(a.iter().any(|v| v.abs() > 0.3));
    }

    #[test]
    fn windows_cover_the_series_without_copies() {
        let s: [[f32; 1]; 10] = core::array::from_fn(|i| [i as f32]);
        let w: heapless_check::Vec3 = windows::<_, 3>(&s, 2)
            .map(|(x, y)| (x[0][0], y[1][0]))
            .collect();
        assert_eq!(w.len(), 6);
        assert_eq!(w.0[0], (0.0, 4.0));
        assert_eq!(w.0[5], (5.0, 9.0));
        assert!(core::ptr::eq(
            window::<_, 3>(&s, 2).unwrap().as_ptr(),
            s[2..5].as_ptr()
        ));
        assert!(window::<_, 3>(&s, 8).is_none());
    }

    mod heapless_check {
        /// A collector for the test that needs no allocator.
        pub struct Vec3(pub [(f32, f32); 6], pub usize);
        impl Vec3 {
            pub fn len(&self) -> usize {
                self.1
            }
        }
        impl FromIterator<(f32, f32)> for Vec3 {
            fn from_iter<I: IntoIterator<Item = (f32, f32)>>(it: I) -> Self {
                let mut v = Vec3([(0.0, 0.0); 6], 0);
                for x in it {
                    v.0[v.1] = x;
                    v.1 += 1;
                }
                v
            }
        }
    }

    #[test]
    fn batches_permute_all_indices() {
        let mut order = [0usize; 10];
        let mut b = Batches::new(&mut order, 4);
        let mut seen = [false; 10];
        let mut sizes = [0usize; 3];
        for (i, chunk) in b.epoch(&mut Rng::new(1)).enumerate() {
            sizes[i] = chunk.len();
            for &j in chunk {
                seen[j] = true;
            }
        }
        assert_eq!(sizes, [4, 4, 2]);
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn split3_clamps() {
        let d = [1, 2, 3, 4, 5];
        assert_eq!(split3(&d, 2, 2), (&d[..2], &d[2..4], &d[4..]));
        assert_eq!(split3(&d, 4, 4), (&d[..4], &d[4..], &d[5..]));
        assert_eq!(
            split3(&d, usize::MAX, usize::MAX),
            (&d[..], &d[5..], &d[5..])
        );
        assert_eq!(split3(&d, 1, usize::MAX), (&d[..1], &d[1..], &d[5..]));
    }

    #[test]
    fn windows_with_huge_horizons_are_empty_not_a_panic() {
        let s = [0u8; 10];
        assert_eq!(windows::<_, 3>(&s, usize::MAX).count(), 0);
        assert_eq!(windows::<_, 3>(&s, usize::MAX - 2).count(), 0);
        assert_eq!(windows::<_, 3>(&s, 7).count(), 1);
    }
}
