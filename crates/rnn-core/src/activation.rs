//! Element-wise activations of dense and simple recurrent layers.

use crate::math::Math;
use crate::real::Real;

/// An activation as Keras names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Identity (Keras `linear`).
    Linear,
    /// `max(0, x)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `e^x_i / sum_j e^x_j` over the layer's outputs (only allowed as the last layer).
    Softmax,
}

impl Activation {
    /// The Keras name (`"linear"`, `"relu"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
        }
    }

    /// Applies the activation in place.
    #[inline(always)]
    pub fn apply<M: Math, T: Real>(self, v: &mut [T]) {
        match self {
            Activation::Linear => {}
            // NaN stays NaN, as in Keras and PyTorch (a plain `max` would make it 0).
            Activation::Relu => v.iter_mut().for_each(|x| {
                if *x < T::ZERO {
                    *x = T::ZERO
                }
            }),
            Activation::Sigmoid => v.iter_mut().for_each(|x| *x = M::sigmoid(*x)),
            Activation::Tanh => v.iter_mut().for_each(|x| *x = M::tanh(*x)),
            Activation::Softmax => softmax(v),
        }
    }

    /// Turns `d` (gradient w.r.t. the activated output `y`) into the gradient w.r.t. the
    /// pre-activation, in place. `y` is the activated output.
    #[inline(always)]
    pub fn backprop<T: Real>(self, y: &[T], d: &mut [T]) {
        match self {
            Activation::Linear => {}
            Activation::Relu => {
                for (d, &y) in d.iter_mut().zip(y) {
                    if y <= T::ZERO {
                        *d = T::ZERO;
                    }
                }
            }
            Activation::Sigmoid => {
                for (d, &y) in d.iter_mut().zip(y) {
                    *d *= y * (T::ONE - y);
                }
            }
            Activation::Tanh => {
                for (d, &y) in d.iter_mut().zip(y) {
                    *d *= T::ONE - y * y;
                }
            }
            Activation::Softmax => {
                let mut dot = T::ZERO;
                for (&d, &y) in d.iter().zip(y) {
                    dot += d * y;
                }
                for (d, &y) in d.iter_mut().zip(y) {
                    *d = y * (*d - dot);
                }
            }
        }
    }
}

/// Numerically stable softmax in place (subtracts the maximum first, exact `exp`).
pub fn softmax<T: Real>(v: &mut [T]) {
    let mut m = v[0];
    for &x in v.iter() {
        m = m.max(x);
    }
    let mut sum = T::ZERO;
    for x in v.iter_mut() {
        *x = (*x - m).exp();
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::Exact;

    #[test]
    fn softmax_backprop_matches_finite_differences() {
        let z = [0.3f64, -1.2, 2.0];
        let w = [0.7f64, -0.1, 0.4];
        let f = |z: [f64; 3]| {
            let mut y = z;
            Activation::Softmax.apply::<Exact, f64>(&mut y);
            y.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>()
        };
        let mut y = z;
        Activation::Softmax.apply::<Exact, f64>(&mut y);
        let mut d = w;
        Activation::Softmax.backprop(&y, &mut d);
        for i in 0..3 {
            let (mut p, mut m) = (z, z);
            p[i] += 1e-6;
            m[i] -= 1e-6;
            let fd = (f(p) - f(m)) / 2e-6;
            assert!((fd - d[i]).abs() < 1e-8, "{i}: {fd} vs {}", d[i]);
        }
    }
}
