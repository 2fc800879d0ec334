//! Reading and writing weights by tensor name, in Keras or PyTorch layout, with no allocation.
//!
//! A [`WeightSource`] hands out tensors by full name; every cell knows its tensors' names,
//! shapes and layout conversions (transposes, gate permutations, PyTorch's two biases). A shape
//! that does not fit, a missing name or a NaN is a [`WeightError`] naming the tensor and both
//! shapes, never a panic. The `std` feature adds safetensors files on top (`rnn::files`).

use crate::real::Real;
use core::fmt;

/// Which framework's naming and memory layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `kernel [in, gates*units]`, `recurrent_kernel [units, gates*units]`, `bias`; gates i,f,c,o
    /// (LSTM) and z,r,h (GRU). Exactly our memory layout.
    Keras,
    /// `weight_ih_l{k} [gates*units, in]`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`;
    /// gates i,f,g,o (LSTM) and r,z,n (GRU); `Linear`: `weight [out, in]`, `bias`.
    PyTorch,
}

/// A tensor shape of up to four dimensions.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; 4],
    len: u8,
}

impl Shape {
    /// A shape from its dimensions (at most four; extra ones are dropped).
    pub fn new(dims: &[usize]) -> Self {
        let mut s = Shape {
            dims: [0; 4],
            len: dims.len().min(4) as u8,
        };
        s.dims[..s.len as usize].copy_from_slice(&dims[..s.len as usize]);
        s
    }
    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.len as usize]
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.dims().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// A tensor name built on the stack (prefix + base name + suffix), at most 120 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TensorName {
    buf: [u8; 120],
    len: u8,
}

impl TensorName {
    /// `prefix` + `base` + `suffix` (truncated at 120 bytes, on a character boundary).
    pub fn new(prefix: &str, base: &str, suffix: &str) -> Self {
        let mut n = TensorName {
            buf: [0; 120],
            len: 0,
        };
        for part in [prefix, base, suffix] {
            for ch in part.chars() {
                let mut b = [0u8; 4];
                let s = ch.encode_utf8(&mut b);
                let l = n.len as usize;
                if l + s.len() > n.buf.len() {
                    return n;
                }
                n.buf[l..l + s.len()].copy_from_slice(s.as_bytes());
                n.len += s.len() as u8;
            }
        }
        n
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        // Only whole UTF-8 characters are ever copied in.
        core::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for TensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for TensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A borrowed tensor: its shape and row-major (C order) data.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a, T> {
    /// Dimensions.
    pub shape: Shape,
    /// Row-major data, `shape.numel()` values.
    pub data: &'a [T],
}

/// Anything that can hand out tensors by full name: a safetensors file, a map, a test fixture.
pub trait WeightSource<T> {
    /// The tensor called `name`, or `None` if there is none.
    fn tensor(&self, name: &str) -> Option<TensorView<'_, T>>;
}

/// Why a weight could not be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WeightError {
    /// No tensor of that name.
    #[error("layer {layer} ({kind}): tensor `{tensor}` is missing (expected shape {expected})")]
    Missing {
        /// Layer index in the model (0-based).
        layer: usize,
        /// Layer kind (`"lstm"`, ...).
        kind: &'static str,
        /// Full tensor name looked up.
        tensor: TensorName,
        /// The shape it should have had.
        expected: Shape,
    },
    /// The tensor exists with the wrong shape (or a data length that does not match its shape).
    #[error("layer {layer} ({kind}): tensor `{tensor}` has shape {found}, expected {expected}")]
    Shape {
        /// Layer index in the model (0-based).
        layer: usize,
        /// Layer kind.
        kind: &'static str,
        /// Full tensor name.
        tensor: TensorName,
        /// Shape the layer needs.
        expected: Shape,
        /// Shape found.
        found: Shape,
    },
    /// The layer has no equivalent in that layout (Keras GRU with `reset_after = false` in
    /// PyTorch).
    #[error("layer {layer} ({kind}): this configuration has no {layout:?} equivalent (a GRU with reset_after = false exists only in Keras)")]
    NoEquivalent {
        /// Layer index in the model (0-based).
        layer: usize,
        /// Layer kind.
        kind: &'static str,
        /// The layout asked for.
        layout: Layout,
    },
    /// A list of per-layer names whose length is not the model's number of layers.
    #[error("{given} (prefix, suffix) name pair(s) given for a model of {layers} layers")]
    NameCount {
        /// Layers in the model.
        layers: usize,
        /// `(prefix, suffix)` pairs given.
        given: usize,
    },
    /// A layer index past the model's last layer.
    #[error("layer {layer} does not exist: the model has {layers} layers")]
    NoLayer {
        /// The index asked for.
        layer: usize,
        /// Layers in the model.
        layers: usize,
    },
    /// The tensor holds a NaN or an infinity.
    #[error("layer {layer} ({kind}): tensor `{tensor}` {shape} holds a NaN or infinity at flat index {index}")]
    NonFinite {
        /// Layer index in the model (0-based).
        layer: usize,
        /// Layer kind.
        kind: &'static str,
        /// Full tensor name.
        tensor: TensorName,
        /// Shape of the tensor.
        shape: Shape,
        /// Flat index of the first bad value.
        index: usize,
    },
}

impl WeightError {
    /// The same error attributed to layer `layer` of a model.
    pub fn at_layer(mut self, l: usize) -> Self {
        match &mut self {
            WeightError::Missing { layer, .. }
            | WeightError::Shape { layer, .. }
            | WeightError::NoEquivalent { layer, .. }
            | WeightError::NonFinite { layer, .. } => *layer = l,
            WeightError::NameCount { .. } | WeightError::NoLayer { .. } => {}
        }
        self
    }
}

/// Looks up `name`, checks its shape and finiteness, and returns its row-major data.
pub fn fetch<'a, T: Real, S: WeightSource<T> + ?Sized>(
    src: &'a S,
    kind: &'static str,
    name: TensorName,
    expected: &[usize],
) -> Result<&'a [T], WeightError> {
    let expected = Shape::new(expected);
    let t = src.tensor(name.as_str()).ok_or(WeightError::Missing {
        layer: 0,
        kind,
        tensor: name,
        expected,
    })?;
    if t.shape != expected || t.data.len() != expected.numel() {
        return Err(WeightError::Shape {
            layer: 0,
            kind,
            tensor: name,
            expected,
            found: t.shape,
        });
    }
    if let Some(index) = t.data.iter().position(|v| !v.is_finite()) {
        return Err(WeightError::NonFinite {
            layer: 0,
            kind,
            tensor: name,
            shape: t.shape,
            index,
        });
    }
    Ok(t.data)
}

/// A receiver of exported tensors: `(name, shape, value at row-major index)`.
pub type Sink<'a, T> = dyn FnMut(TensorName, Shape, &dyn Fn(usize) -> T) + 'a;

/// A fixed list of named tensors over borrowed slices: a `WeightSource` for tests and baked
/// weights.
#[derive(Clone, Copy, Debug)]
pub struct SliceSource<'a, T> {
    /// `(name, shape, data)` triples.
    pub tensors: &'a [(&'a str, &'a [usize], &'a [T])],
}

impl<T> WeightSource<T> for SliceSource<'_, T> {
    fn tensor(&self, name: &str) -> Option<TensorView<'_, T>> {
        self.tensors
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, s, d)| TensorView {
                shape: Shape::new(s),
                data: d,
            })
    }
}
