//! The plain dynamic baseline: the same maths with nalgebra `DMatrix`/`DVector` and std's
//! activation functions, as naive dynamic code is written (a fresh vector per product).
//! Weights are copied from a generated model, and the bench checks both agree before timing.

use nalgebra::{DMatrix, DVector};

pub struct DynLstm {
    w: DMatrix<f32>,
    u: DMatrix<f32>,
    b: DVector<f32>,
    h: usize,
}

pub struct DynGru {
    w: DMatrix<f32>,
    u: DMatrix<f32>,
    bi: DVector<f32>,
    br: DVector<f32>,
    h: usize,
}

pub struct DynDense {
    w: DMatrix<f32>,
    b: DVector<f32>,
}

pub struct DynCard {
    pub lstm: DynLstm,
    pub gru: DynGru,
    pub dense: DynDense,
}

pub struct DynState {
    h1: DVector<f32>,
    c1: DVector<f32>,
    h2: DVector<f32>,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// A column-major `rows x cols` matrix from Keras-layout data (`[cols, rows]` row-major).
fn from_keras(data: &[f32], rows: usize, cols: usize) -> DMatrix<f32> {
    DMatrix::from_column_slice(rows, cols, data)
}

impl DynCard {
    /// From the Keras-layout tensors of `lstm(i, h) -> gru(h) -> dense(1)`: 8 tensors.
    pub fn from_tensors(t: &[&[f32]], i: usize, h: usize) -> Self {
        DynCard {
            lstm: DynLstm {
                w: from_keras(t[0], 4 * h, i),
                u: from_keras(t[1], 4 * h, h),
                b: DVector::from_column_slice(t[2]),
                h,
            },
            gru: DynGru {
                w: from_keras(t[3], 3 * h, h),
                u: from_keras(t[4], 3 * h, h),
                bi: DVector::from_column_slice(&t[5][..3 * h]),
                br: DVector::from_column_slice(&t[5][3 * h..]),
                h,
            },
            dense: DynDense {
                w: from_keras(t[6], 1, h),
                b: DVector::from_column_slice(t[7]),
            },
        }
    }

    pub fn zero_state(&self) -> DynState {
        DynState {
            h1: DVector::zeros(self.lstm.h),
            c1: DVector::zeros(self.lstm.h),
            h2: DVector::zeros(self.gru.h),
        }
    }

    pub fn step(&self, s: &mut DynState, x: &DVector<f32>) -> DVector<f32> {
        let l = &self.lstm;
        let h = l.h;
        let z = &l.w * x + &l.u * &s.h1 + &l.b;
        let i = z.rows(0, h).map(sigmoid);
        let f = z.rows(h, h).map(sigmoid);
        let g = z.rows(2 * h, h).map(f32::tanh);
        let o = z.rows(3 * h, h).map(sigmoid);
        s.c1 = f.component_mul(&s.c1) + i.component_mul(&g);
        s.h1 = o.component_mul(&s.c1.map(f32::tanh));
        let g2 = &self.gru;
        let h = g2.h;
        let xz = &g2.w * &s.h1 + &g2.bi;
        let hz = &g2.u * &s.h2 + &g2.br;
        let zg = (xz.rows(0, h) + hz.rows(0, h)).map(sigmoid);
        let r = (xz.rows(h, h) + hz.rows(h, h)).map(sigmoid);
        let n = (xz.rows(2 * h, h) + r.component_mul(&hz.rows(2 * h, h))).map(f32::tanh);
        s.h2 = zg.component_mul(&s.h2) + (DVector::from_element(h, 1.0) - &zg).component_mul(&n);
        &self.dense.w * &s.h2 + &self.dense.b
    }

    /// A whole sequence from the zero state; the last step's output.
    pub fn forward_last(&self, xs: &[DVector<f32>]) -> f32 {
        let mut s = self.zero_state();
        let mut last = 0.0;
        for x in xs {
            last = self.step(&mut s, x)[0];
        }
        last
    }
}
