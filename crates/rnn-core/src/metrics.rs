//! Evaluation metrics over slices of predictions and targets.

use crate::real::Real;

/// Mean squared error over all elements (of the common length of both slices).
pub fn mse<T: Real>(pred: &[T], target: &[T]) -> f64 {
    mean(pred.iter().zip(target).map(|(p, y)| {
        let d = p.to_f64() - y.to_f64();
        d * d
    }))
}

/// Mean absolute error over all elements.
pub fn mae<T: Real>(pred: &[T], target: &[T]) -> f64 {
    mean(
        pred.iter()
            .zip(target)
            .map(|(p, y)| (p.to_f64() - y.to_f64()).abs()),
    )
}

/// Root mean squared error.
pub fn rmse<T: Real>(pred: &[T], target: &[T]) -> f64 {
    libm::sqrt(mse(pred, target))
}

/// Fraction of rows (of width `k`) whose arg-max agrees (0 when `k` is 0).
pub fn categorical_accuracy<T: Real>(pred: &[T], target: &[T], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    let argmax = |r: &[T]| {
        let mut b = 0;
        for i in 1..r.len() {
            if r[i] > r[b] {
                b = i;
            }
        }
        b
    };
    mean(
        pred.chunks(k)
            .zip(target.chunks(k))
            .map(|(p, y)| (argmax(p) == argmax(y)) as u8 as f64),
    )
}

fn mean(it: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for v in it {
        s += v;
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn metrics_on_known_values() {
        let p = [1.0f32, 2.0, 3.0];
        let y = [1.0f32, 0.0, 5.0];
        assert_eq!(super::mse(&p, &y), 8.0 / 3.0);
        assert_eq!(super::mae(&p, &y), 4.0 / 3.0);
        assert_eq!(
            super::categorical_accuracy(&[0.1f32, 0.9, 0.8, 0.2], &[0.0f32, 1.0, 0.0, 1.0], 2),
            0.5
        );
    }
}
