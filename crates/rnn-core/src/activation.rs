//! Element-wise activations of dense and simple recurrent layers.

use crate::math::Math;
use crate::real::Real;

/// An activation as Keras names it, with Keras 3's definitions and default parameters.
///
/// Keras quirks we follow (and PyTorch users should know): `leaky_relu` has slope **0.2** on
/// negative inputs (PyTorch's default is 0.01); `hard_sigmoid` is `relu6(x + 3) / 6` (Keras 2
/// used `0.2 x + 0.5`; PyTorch's `Hardsigmoid` is the Keras 3 one); `gelu` is the exact erf form
/// (`approximate = False`); `swish` is `x * sigmoid(x)` (PyTorch's `SiLU`); `selu` uses
/// TensorFlow's constants.
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
    /// `e^x_i / sum_j e^x_j` over the layer's outputs.
    Softmax,
    /// `x` if `x > 0`, else `e^x - 1` (alpha 1).
    Elu,
    /// `scale * elu(x, alpha)` with TensorFlow's `alpha = 1.6732632...`, `scale = 1.0507009...`.
    Selu,
    /// `0.5 x (1 + erf(x / sqrt 2))`, the exact form.
    Gelu,
    /// `x * sigmoid(x)` (Keras `swish` / `silu`).
    Swish,
    /// `ln(1 + e^x)`, computed as `ln(1 + e^-|x|) + max(x, 0)`.
    Softplus,
    /// `x / (1 + |x|)`.
    Softsign,
    /// `relu6(x + 3) / 6`: 0 below -3, 1 above 3, `x / 6 + 1/2` between.
    HardSigmoid,
    /// `x` if `x >= 0`, else `0.2 x` (Keras's default slope).
    LeakyRelu,
    /// `e^x`.
    Exponential,
}

/// Every activation, in the enum's order (that of `rnn_layout::ACTIVATIONS`).
pub const ACTIVATIONS: [Activation; 14] = [
    Activation::Linear,
    Activation::Relu,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Softmax,
    Activation::Elu,
    Activation::Selu,
    Activation::Gelu,
    Activation::Swish,
    Activation::Softplus,
    Activation::Softsign,
    Activation::HardSigmoid,
    Activation::LeakyRelu,
    Activation::Exponential,
];

/// SELU's alpha (TensorFlow's `tf.nn.selu`).
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
/// SELU's scale (TensorFlow's `tf.nn.selu`).
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
/// Keras 3's `leaky_relu` slope for negative inputs.
pub const LEAKY_RELU_SLOPE: f64 = 0.2;

impl Activation {
    /// The Keras name (`"linear"`, `"relu"`, ...).
    pub const fn name(self) -> &'static str {
        rnn_layout::ACTIVATIONS[self as usize].0
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
            _ => v.iter_mut().for_each(|x| *x = self.scalar::<M, T>(*x)),
        }
    }

    /// The element-wise activations other than the four fast paths of [`apply`](Self::apply).
    #[inline]
    fn scalar<M: Math, T: Real>(self, x: T) -> T {
        let (zero, one) = (T::ZERO, T::ONE);
        match self {
            Activation::Elu => {
                if x > zero {
                    x
                } else {
                    x.exp_m1()
                }
            }
            Activation::Selu => {
                let s = T::from_f64(SELU_SCALE);
                if x > zero {
                    s * x
                } else {
                    s * (T::from_f64(SELU_ALPHA) * x.exp_m1())
                }
            }
            Activation::Gelu => {
                let half = T::from_f64(0.5);
                half * x * (one + (x * T::from_f64(core::f64::consts::FRAC_1_SQRT_2)).erf())
            }
            Activation::Swish => x * M::sigmoid(x),
            Activation::Softplus => (-x.abs()).exp().ln_1p() + x.max(zero),
            Activation::Softsign => x / (one + x.abs()),
            Activation::HardSigmoid => {
                let y = x + T::from_f64(3.0);
                let y = if y < zero {
                    zero
                } else if y > T::from_f64(6.0) {
                    T::from_f64(6.0)
                } else {
                    y
                };
                y / T::from_f64(6.0)
            }
            Activation::LeakyRelu => {
                if x < zero {
                    T::from_f64(LEAKY_RELU_SLOPE) * x
                } else {
                    x
                }
            }
            Activation::Exponential => x.exp(),
            // The others have their own paths in `apply`.
            _ => x,
        }
    }

    /// Turns `d` (gradient w.r.t. the activated output `y`) into the gradient w.r.t. the
    /// pre-activation `z`, in place; `y` is the activation of `z`.
    #[inline(always)]
    pub fn backprop<M: Math, T: Real>(self, z: &[T], y: &[T], d: &mut [T]) {
        let (zero, one) = (T::ZERO, T::ONE);
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
            _ => {
                for ((d, &z), &y) in d.iter_mut().zip(z).zip(y) {
                    let g = match self {
                        Activation::Elu => {
                            if z > zero {
                                one
                            } else {
                                y + one
                            }
                        }
                        Activation::Selu => {
                            let s = T::from_f64(SELU_SCALE);
                            if z > zero {
                                s
                            } else {
                                y + s * T::from_f64(SELU_ALPHA)
                            }
                        }
                        Activation::Gelu => {
                            let half = T::from_f64(0.5);
                            let cdf = half
                                * (one + (z * T::from_f64(core::f64::consts::FRAC_1_SQRT_2)).erf());
                            // 1 / sqrt(2 pi)
                            let pdf = T::from_f64(0.398_942_280_401_432_7) * (-half * z * z).exp();
                            cdf + z * pdf
                        }
                        Activation::Swish => {
                            let s = M::sigmoid(z);
                            s * (one + z * (one - s))
                        }
                        Activation::Softplus => {
                            // sigmoid(z), exactly.
                            one / (one + (-z).exp())
                        }
                        Activation::Softsign => {
                            let a = one + z.abs();
                            one / (a * a)
                        }
                        Activation::HardSigmoid => {
                            if z > T::from_f64(-3.0) && z < T::from_f64(3.0) {
                                one / T::from_f64(6.0)
                            } else {
                                zero
                            }
                        }
                        Activation::LeakyRelu => {
                            if z > zero {
                                one
                            } else {
                                T::from_f64(LEAKY_RELU_SLOPE)
                            }
                        }
                        Activation::Exponential => y,
                        _ => one,
                    };
                    *d *= g;
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
        Activation::Softmax.backprop::<Exact, f64>(&z, &y, &mut d);
        for i in 0..3 {
            let (mut p, mut m) = (z, z);
            p[i] += 1e-6;
            m[i] -= 1e-6;
            let fd = (f(p) - f(m)) / 2e-6;
            assert!((fd - d[i]).abs() < 1e-8, "{i}: {fd} vs {}", d[i]);
        }
    }

    #[test]
    fn every_activation_backprop_matches_finite_differences() {
        // Points away from the kinks (0 for relu, elu, selu, leaky_relu; +-3 for
        // hard_sigmoid), on both sides of them.
        let z = [-3.7f64, -1.3, -0.4, 0.25, 0.9, 2.2, 4.1];
        let w = [0.3f64, -0.8, 0.5, 1.1, -0.2, 0.7, -0.6];
        for act in ACTIVATIONS {
            let f = |z: [f64; 7]| {
                let mut y = z;
                act.apply::<Exact, f64>(&mut y);
                y.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>()
            };
            let mut y = z;
            act.apply::<Exact, f64>(&mut y);
            let mut d = w;
            act.backprop::<Exact, f64>(&z, &y, &mut d);
            for i in 0..7 {
                let (mut p, mut m) = (z, z);
                p[i] += 1e-6;
                m[i] -= 1e-6;
                let fd = (f(p) - f(m)) / 2e-6;
                assert!(
                    (fd - d[i]).abs() < 1e-7 * (1.0 + fd.abs()),
                    "{}: z = {}: finite difference {fd} vs backprop {}",
                    act.name(),
                    z[i],
                    d[i]
                );
            }
        }
    }

    #[test]
    fn activations_follow_their_definitions() {
        // Values against the formulas, including the Keras quirks named in the docs.
        let y = |a: Activation, x: f64| {
            let mut v = [x];
            a.apply::<Exact, f64>(&mut v);
            v[0]
        };
        assert_eq!(y(Activation::LeakyRelu, -2.0), -0.4);
        assert_eq!(y(Activation::HardSigmoid, 1.5), 0.75);
        assert_eq!(y(Activation::HardSigmoid, -4.0), 0.0);
        assert_eq!(y(Activation::HardSigmoid, 9.0), 1.0);
        assert!((y(Activation::Gelu, 1.0) - 0.841_344_746_068_543).abs() < 1e-15);
        assert!((y(Activation::Softplus, 30.0) - 30.0).abs() < 1e-12);
        assert!((y(Activation::Softplus, -30.0) - (-30.0f64).exp()).abs() < 1e-25);
        assert!(
            (y(Activation::Selu, -1.0)
                - 1.050_700_987_355_480_5 * 1.673_263_242_354_377_3 * ((-1.0f64).exp() - 1.0))
                .abs()
                < 1e-15
        );
        assert!(y(Activation::Elu, f64::NAN).is_nan());
        assert!(y(Activation::LeakyRelu, f64::NAN).is_nan());
        for (k, a) in ACTIVATIONS.iter().enumerate() {
            assert_eq!(
                ACTIVATIONS.iter().position(|b| b.name() == a.name()),
                Some(k)
            );
        }
    }
}
