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

/// Dimensions a [`Shape`] keeps; a longer shape keeps its rank and first eight dimensions.
pub const SHAPE_MAX_DIMS: usize = 8;

/// A tensor shape (no allocation): its rank, and its first [`SHAPE_MAX_DIMS`] dimensions.
/// Two shapes are equal only if their ranks and kept dimensions are.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; SHAPE_MAX_DIMS],
    rank: usize,
}

impl Shape {
    /// A shape from its dimensions.
    pub fn new(dims: &[usize]) -> Self {
        let mut s = Shape {
            dims: [0; SHAPE_MAX_DIMS],
            rank: dims.len(),
        };
        let kept = dims.len().min(SHAPE_MAX_DIMS);
        s.dims[..kept].copy_from_slice(&dims[..kept]);
        s
    }
    /// The dimensions kept (all of them up to [`SHAPE_MAX_DIMS`]).
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank.min(SHAPE_MAX_DIMS)]
    }
    /// The rank (number of dimensions), also beyond [`SHAPE_MAX_DIMS`].
    pub fn rank(&self) -> usize {
        self.rank
    }
    /// Number of elements, `None` if it overflows `usize` or the shape is longer than the
    /// dimensions kept.
    pub fn checked_numel(&self) -> Option<usize> {
        if self.rank > SHAPE_MAX_DIMS {
            return None;
        }
        self.dims()
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
    }
    /// Number of elements (`usize::MAX` where [`checked_numel`](Self::checked_numel) is `None`).
    pub fn numel(&self) -> usize {
        self.checked_numel().unwrap_or(usize::MAX)
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
        if self.rank > SHAPE_MAX_DIMS {
            write!(f, ", ... ({} dimensions)", self.rank)?;
        }
        f.write_str("]")
    }
}

/// The longest [`TensorName`], in bytes.
pub const TENSOR_NAME_MAX: usize = 120;

/// A tensor name built on the stack (prefix + base name + suffix), at most
/// [`TENSOR_NAME_MAX`] bytes; a longer one is kept truncated and marked
/// ([`is_truncated`](Self::is_truncated)), and loading or exporting it is an error.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TensorName {
    buf: [u8; TENSOR_NAME_MAX],
    len: u8,
    truncated: bool,
}

impl TensorName {
    /// `prefix` + `base` + `suffix` (truncated at [`TENSOR_NAME_MAX`] bytes, on a character
    /// boundary, and marked so).
    pub fn new(prefix: &str, base: &str, suffix: &str) -> Self {
        let mut n = TensorName {
            buf: [0; TENSOR_NAME_MAX],
            len: 0,
            truncated: false,
        };
        for part in [prefix, base, suffix] {
            for ch in part.chars() {
                let mut b = [0u8; 4];
                let s = ch.encode_utf8(&mut b);
                let l = n.len as usize;
                if l + s.len() > n.buf.len() {
                    n.truncated = true;
                    return n;
                }
                n.buf[l..l + s.len()].copy_from_slice(s.as_bytes());
                n.len += s.len() as u8;
            }
        }
        n
    }
    /// Whether the name was longer than [`TENSOR_NAME_MAX`] bytes (and is cut).
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
    /// The name (its first [`TENSOR_NAME_MAX`] bytes if truncated).
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
        f.write_str(self.as_str())?;
        if self.truncated {
            f.write_str("...")?;
        }
        Ok(())
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
    /// The tensor's data length does not match its own shape (a broken source).
    #[error("layer {layer} ({kind}): tensor `{tensor}` has shape {shape} but {found} values")]
    Length {
        /// Layer index in the model (0-based).
        layer: usize,
        /// Layer kind.
        kind: &'static str,
        /// Full tensor name.
        tensor: TensorName,
        /// Its shape.
        shape: Shape,
        /// Values it holds.
        found: usize,
    },
    /// A tensor name (prefix + name + suffix) longer than [`TENSOR_NAME_MAX`] bytes.
    #[error("layer {layer} ({kind}): tensor name `{tensor}` is longer than {max} bytes", max = TENSOR_NAME_MAX)]
    NameTooLong {
        /// Layer index in the model (0-based).
        layer: usize,
        /// Layer kind.
        kind: &'static str,
        /// The name's first bytes.
        tensor: TensorName,
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
            | WeightError::Length { layer, .. }
            | WeightError::NameTooLong { layer, .. }
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
    if name.is_truncated() {
        return Err(WeightError::NameTooLong {
            layer: 0,
            kind,
            tensor: name,
        });
    }
    let t = src.tensor(name.as_str()).ok_or(WeightError::Missing {
        layer: 0,
        kind,
        tensor: name,
        expected,
    })?;
    if t.shape != expected {
        return Err(WeightError::Shape {
            layer: 0,
            kind,
            tensor: name,
            expected,
            found: t.shape,
        });
    }
    if Some(t.data.len()) != expected.checked_numel() {
        return Err(WeightError::Length {
            layer: 0,
            kind,
            tensor: name,
            shape: t.shape,
            found: t.data.len(),
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
