//! Keras's default initializers: `glorot_uniform` kernels, `orthogonal` recurrent kernels,
//! `zeros` biases (and `unit_forget_bias` for the LSTM, set by the cell).
//!
//! The random streams are ours (seeded [`Rng`]), not TensorFlow's: the distributions match
//! Keras, the exact draws cannot.

use crate::real::Real;
use crate::rng::Rng;
use nalgebra::SMatrix;

/// Glorot (Xavier) uniform: `U(-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`.
///
/// For a Keras kernel of shape `[fan_in, fan_out]`.
pub fn glorot_uniform<T: Real>(w: &mut [T], fan_in: usize, fan_out: usize, rng: &mut Rng) {
    let limit = libm::sqrt(6.0 / (fan_in + fan_out) as f64);
    for v in w.iter_mut() {
        *v = T::from_f64(rng.uniform_in(-limit, limit));
    }
}

/// Keras `Orthogonal(gain=1)`: a QR-orthogonalised standard normal matrix with the signs of
/// `R`'s diagonal folded in, so the result is Haar-distributed.
///
/// For our column-major `R x C` storage of a Keras `[C, R]` recurrent kernel with `R >= C`, the
/// columns (Keras's rows) come out orthonormal, as Keras makes them. Computed in f64 by modified
/// Gram-Schmidt (equivalent to Householder QR up to rounding).
pub fn orthogonal<T: Real, const R: usize, const C: usize>(
    w: &mut SMatrix<T, R, C>,
    rng: &mut Rng,
) {
    let mut a = SMatrix::<f64, R, C>::zeros();
    orthogonal_in(w.as_mut_slice(), R, C, rng, a.as_mut_slice());
}

/// [`orthogonal`] over a column-major `r x c` slice, with `scratch` (at least `r * c` values)
/// for the f64 work matrix: the same values from the same `rng`, for a matrix too large to
/// have its scratch on the stack.
///
/// # Panics
/// If `w` or `scratch` holds fewer than `r * c` values.
pub fn orthogonal_in<T: Real>(w: &mut [T], r: usize, c: usize, rng: &mut Rng, scratch: &mut [f64]) {
    let (rows, cols) = (r, c);
    let a = &mut scratch[..rows * cols];
    let at = |i: usize, j: usize| j * rows + i;
    for v in a.iter_mut() {
        *v = rng.normal();
    }
    if rows >= cols {
        for j in 0..cols {
            for k in 0..j {
                let d: f64 = (0..rows).map(|i| a[at(i, j)] * a[at(i, k)]).sum();
                for i in 0..rows {
                    a[at(i, j)] -= d * a[at(i, k)];
                }
            }
            let n = libm::sqrt((0..rows).map(|i| a[at(i, j)] * a[at(i, j)]).sum::<f64>());
            for i in 0..rows {
                a[at(i, j)] /= n;
            }
        }
    } else {
        for i in 0..rows {
            for k in 0..i {
                let d: f64 = (0..cols).map(|j| a[at(i, j)] * a[at(k, j)]).sum();
                for j in 0..cols {
                    a[at(i, j)] -= d * a[at(k, j)];
                }
            }
            let n = libm::sqrt((0..cols).map(|j| a[at(i, j)] * a[at(i, j)]).sum::<f64>());
            for j in 0..cols {
                a[at(i, j)] /= n;
            }
        }
    }
    for (d, s) in w[..rows * cols].iter_mut().zip(a.iter()) {
        *d = T::from_f64(*s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_columns_are_orthonormal() {
        let mut w = SMatrix::<f64, 12, 3>::zeros();
        orthogonal(&mut w, &mut Rng::new(1));
        let g = w.transpose() * w;
        assert!((g - SMatrix::<f64, 3, 3>::identity()).abs().max() < 1e-12);
        let mut s = SMatrix::<f32, 5, 5>::zeros();
        orthogonal(&mut s, &mut Rng::new(2));
        let g = s.transpose() * s;
        assert!((g - SMatrix::<f32, 5, 5>::identity()).abs().max() < 1e-5);
    }

    #[test]
    fn glorot_stays_in_its_limit_and_fills_it() {
        let mut w = [0.0f64; 4000];
        glorot_uniform(&mut w, 32, 64, &mut Rng::new(5));
        let l = (6.0f64 / 96.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= l));
        let max = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(max > 0.99 * l);
        let var = w.iter().map(|v| v * v).sum::<f64>() / 4000.0;
        assert!((var - l * l / 3.0).abs() < 0.1 * l * l / 3.0);
    }
}
