//! Shared test helpers: reading the framework fixtures in `tests/fixtures/data/`.
#![allow(dead_code)]

use rnn::{Layout, Model, Real, Shape, TensorView, WeightSource};
use serde_json::Value;

/// A fixture file produced by `tests/fixtures/generate.py`.
pub struct Fixture {
    pub v: Value,
    pub name: String,
}

impl Fixture {
    pub fn load(name: &str) -> Fixture {
        let path = format!(
            "{}/tests/fixtures/data/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Fixture {
            v: serde_json::from_str(&text).unwrap(),
            name: name.to_string(),
        }
    }
    pub fn layout(&self) -> Layout {
        match self.v["framework"].as_str().unwrap() {
            "keras" => Layout::Keras,
            _ => Layout::PyTorch,
        }
    }
    pub fn batch(&self) -> usize {
        self.v["batch"].as_u64().unwrap() as usize
    }
}

/// `{"shape": [...], "data": [...]}` as (shape, f64 data).
pub fn tensor(v: &Value) -> (Vec<usize>, Vec<f64>) {
    let shape = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_f64().unwrap())
        .collect();
    (shape, data)
}

/// Every layer's tensors, named `L{layer}/{name}`.
pub struct JsonSource<T> {
    pub tensors: Vec<(String, Shape, Vec<T>)>,
}

impl<T: Real> JsonSource<T> {
    pub fn layers(fx: &Fixture, key: &str) -> Self {
        Self::of(&fx.v[key], key == "layers")
    }
    /// A list of per-layer `{name: tensor}` maps.
    pub fn layers_of(v: &Value) -> Self {
        Self::of(v, false)
    }
    fn of(v: &Value, described: bool) -> Self {
        let mut tensors = Vec::new();
        for (l, layer) in v.as_array().unwrap().iter().enumerate() {
            let map = if described { &layer["tensors"] } else { layer };
            for (name, t) in map.as_object().unwrap() {
                let (shape, data) = tensor(t);
                tensors.push((
                    format!("L{l}/{name}"),
                    Shape::new(&shape),
                    data.into_iter().map(T::from_f64).collect(),
                ));
            }
        }
        JsonSource { tensors }
    }
    pub fn get(&self, name: &str) -> &[T] {
        &self
            .tensors
            .iter()
            .find(|t| t.0 == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .2
    }
}

impl<T: Real> WeightSource<T> for JsonSource<T> {
    fn tensor(&self, name: &str) -> Option<TensorView<'_, T>> {
        self.tensors
            .iter()
            .find(|t| t.0 == name)
            .map(|t| TensorView {
                shape: t.1,
                data: &t.2,
            })
    }
}

/// Per-layer `(prefix, suffix)` for a fixture's names.
pub fn names(n: usize) -> Vec<(String, &'static str)> {
    (0..n).map(|l| (format!("L{l}/"), "_l0")).collect()
}

/// Loads a fixture's weights into a fresh model.
pub fn model_from<M: Model>(fx: &Fixture) -> M {
    let src = JsonSource::<M::Scalar>::layers(fx, "layers");
    let n = names(M::LAYERS.len());
    let refs: Vec<(&str, &str)> = n.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let mut m = M::zeros();
    m.load_named(fx.layout(), &src, &refs)
        .unwrap_or_else(|e| panic!("{}: {e}", fx.name));
    m
}

/// How much of the tolerance `|got - want| <= atol + rtol * |want|` (numpy's `allclose`) the
/// worst element uses: the comparison passes when this is at most 1.
pub fn tol_used(got: &[f64], want: &[f64], rtol: f64, atol: f64) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(g, w)| {
            let e = (g - w).abs() / (atol + rtol * w.abs());
            // f64::max would drop a NaN: a NaN anywhere must fail the comparison.
            if e.is_nan() {
                f64::INFINITY
            } else {
                e
            }
        })
        .fold(0.0, f64::max)
}

pub fn to_f64<T: Real>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.to_f64()).collect()
}

/// Central finite differences (step 1e-6) of `loss` w.r.t. every parameter of `m`, each
/// against `grads` (`|fd - g| <= 1e-7 + 1e-5 |g|`); returns how many were checked (every
/// parameter).
pub fn finite_differences<M: Model<Scalar = f64>>(
    m: &mut M,
    grads: &M,
    mut loss: impl FnMut(&M) -> f64,
) -> usize {
    let mut checked = 0;
    for k in 0..M::TENSORS {
        for i in 0..m.tensor(k).len() {
            let h = 1e-6;
            let w = m.tensor(k)[i];
            m.tensor_mut(k)[i] = w + h;
            let up = loss(m);
            m.tensor_mut(k)[i] = w - h;
            let down = loss(m);
            m.tensor_mut(k)[i] = w;
            let (fd, g) = ((up - down) / (2.0 * h), grads.tensor(k)[i]);
            assert!(
                (fd - g).abs() <= 1e-7 + 1e-5 * g.abs(),
                "{:?}[{i}]: backward {g}, finite differences {fd}",
                M::tensor_info(k)
            );
            checked += 1;
        }
    }
    checked
}
