//! Whole models to and from safetensors files (`std`), in Keras or PyTorch naming and layout.
//!
//! Names: by default Keras `"{layer}/kernel"`, PyTorch `"{layer}.weight_ih_l0"`, where
//! `{layer}` is Keras's automatic layer name (`lstm`, `gru`, `dense`, `lstm_1`, ...); any other
//! naming goes through [`LoadOptions::names`] (a prefix and a suffix per layer, e.g. `("rnn.",
//! "_l1")` for the second layer of a stacked PyTorch `nn.LSTM` called `rnn`).
//!
//! Dtypes: F32, F64, F16 and BF16 tensors are converted to the model's scalar (F16/BF16 to f32
//! and f64 exactly; F64 to f32 rounds to nearest); a tensor of any other dtype that the model
//! uses is refused with an error naming it (an unused one is just an extra tensor). A file
//! whose header lies (offsets out of range, overlapping, not covering the data, a shape that
//! does not match the byte length), a truncated file, a missing tensor, a wrong shape or a
//! NaN/infinity is an error, never a panic. A tensor the model does not use is an error unless
//! [`LoadOptions::allow_extra`], in which case its name is reported back. [`LoadOptions::names`]
//! must give one `(prefix, suffix)` per layer.

use ::safetensors::tensor::{Dtype, SafeTensors, TensorView as StView};
use rnn_core::{Layout, Model, Real, Shape, TensorName, TensorView, WeightError, WeightSource};
use std::cell::RefCell;
use std::path::Path;

/// Why a model could not be loaded from or saved to a file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a valid safetensors file (truncated, bad header, offsets that lie, ...).
    #[error("not a valid safetensors file: {0}")]
    Format(String),
    /// A tensor of a dtype we do not convert.
    #[error("tensor `{tensor}` has dtype {dtype}; only F32, F64, F16 and BF16 are converted")]
    Dtype {
        /// The tensor.
        tensor: String,
        /// Its dtype.
        dtype: String,
    },
    /// Tensors in the file that the model does not use (unless `allow_extra`).
    #[error(
        "the file has {} tensor(s) the model does not use: {} (set allow_extra to ignore them)",
        .0.len(),
        .0.join(", ")
    )]
    Extra(Vec<String>),
    /// A tensor is missing, has the wrong shape, or holds a NaN.
    #[error("{0}")]
    Weight(#[from] WeightError),
    /// [`LoadOptions::names`] (or the `names` of [`to_bytes`]) does not give one `(prefix,
    /// suffix)` per layer.
    #[error("{given} (prefix, suffix) name pair(s) given for a model of {layers} layers")]
    Names {
        /// Layers in the model.
        layers: usize,
        /// Pairs given.
        given: usize,
    },
}

/// How to read a file.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Keras or PyTorch naming and layout.
    pub layout: Layout,
    /// `(prefix, suffix)` per layer; `None` for the default names.
    pub names: Option<Vec<(String, String)>>,
    /// Accept (and report) tensors the model does not use instead of failing.
    pub allow_extra: bool,
}

impl LoadOptions {
    /// Default names in `layout`, extra tensors refused.
    pub fn new(layout: Layout) -> Self {
        LoadOptions {
            layout,
            names: None,
            allow_extra: false,
        }
    }
}

/// All tensors of a file, converted to `T` (or the error for a dtype we do not convert, raised
/// only if the model asks for that tensor), with a record of which were asked for.
struct FileSource<T> {
    tensors: Vec<(String, Shape, Result<Vec<T>, FileError>)>,
    used: RefCell<Vec<bool>>,
}

impl<T: Real> WeightSource<T> for FileSource<T> {
    fn tensor(&self, name: &str) -> Option<TensorView<'_, T>> {
        let i = self.tensors.iter().position(|t| t.0 == name)?;
        self.used.borrow_mut()[i] = true;
        let t = &self.tensors[i];
        Some(TensorView {
            shape: t.1,
            data: t.2.as_ref().ok()?,
        })
    }
}

/// `names`, if given, must hold one `(prefix, suffix)` per layer.
fn check_names(layers: usize, names: Option<&[(String, String)]>) -> Result<(), FileError> {
    match names {
        Some(n) if n.len() != layers => Err(FileError::Names {
            layers,
            given: n.len(),
        }),
        _ => Ok(()),
    }
}

fn convert<T: Real>(name: &str, v: &StView<'_>) -> Result<Vec<T>, FileError> {
    let dtype = match v.dtype() {
        Dtype::F32 => rnn_layout::Dtype::F32,
        Dtype::F64 => rnn_layout::Dtype::F64,
        Dtype::BF16 => rnn_layout::Dtype::BF16,
        Dtype::F16 => rnn_layout::Dtype::F16,
        other => {
            return Err(FileError::Dtype {
                tensor: name.to_string(),
                dtype: format!("{other:?}"),
            })
        }
    };
    let b = v.data();
    Ok((0..b.len() / dtype.size())
        .map_while(|i| dtype.get(b, i))
        .map(T::from_f64)
        .collect())
}

/// Loads every layer of `model` from safetensors bytes. Returns the names of unused tensors
/// (always empty unless `allow_extra`).
pub fn load_bytes<M: Model>(
    model: &mut M,
    bytes: &[u8],
    opts: &LoadOptions,
) -> Result<Vec<String>, FileError> {
    check_names(M::LAYERS.len(), opts.names.as_deref())?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| FileError::Format(e.to_string()))?;
    let mut tensors = Vec::new();
    let mut names: Vec<String> = st.names().into_iter().map(|s| s.to_string()).collect();
    names.sort();
    for name in names {
        let v = st
            .tensor(&name)
            .map_err(|e| FileError::Format(e.to_string()))?;
        // A dtype we do not convert is an error only if the model uses the tensor.
        let data = convert::<M::Scalar>(&name, &v);
        tensors.push((name, Shape::new(v.shape()), data));
    }
    let n = tensors.len();
    let src = FileSource {
        tensors,
        used: RefCell::new(std::vec![false; n]),
    };
    // Load into a copy, so a failure leaves the model as it was.
    let mut fresh = M::zeros();
    fresh.copy_from(model);
    let loaded = match &opts.names {
        None => fresh.load(opts.layout, &src),
        Some(names) => names
            .iter()
            .enumerate()
            .try_for_each(|(l, (p, s))| fresh.load_layer(l, opts.layout, &src, p, s)),
    };
    let FileSource { mut tensors, used } = src;
    let used = used.into_inner();
    // A tensor the model asked for in a dtype we do not convert (seen as missing by the layer).
    if let Some(i) = (0..used.len()).find(|&i| used[i] && tensors[i].2.is_err()) {
        return Err(tensors.swap_remove(i).2.unwrap_err());
    }
    loaded?;
    let extra: Vec<String> = tensors
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(t, _)| t.0.clone())
        .collect();
    if !extra.is_empty() && !opts.allow_extra {
        return Err(FileError::Extra(extra));
    }
    model.copy_from(&fresh);
    Ok(extra)
}

/// Loads a model from a safetensors file with default names.
pub fn load<M: Model>(
    model: &mut M,
    path: impl AsRef<Path>,
    layout: Layout,
) -> Result<(), FileError> {
    load_with(model, path, &LoadOptions::new(layout)).map(|_| ())
}

/// Loads a model from a safetensors file; returns the names of unused tensors.
pub fn load_with<M: Model>(
    model: &mut M,
    path: impl AsRef<Path>,
    opts: &LoadOptions,
) -> Result<Vec<String>, FileError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| FileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    load_bytes(model, &bytes, opts)
}

/// Serializes a model as safetensors bytes (dtype F32 or F64, as the model's scalar).
pub fn to_bytes<M: Model>(
    model: &M,
    layout: Layout,
    names: Option<&[(String, String)]>,
) -> Result<Vec<u8>, FileError> {
    check_names(M::LAYERS.len(), names)?;
    let mut out: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let f64_model = M::Scalar::NAME == "f64";
    let mut sink = |name: TensorName, shape: Shape, value: &dyn Fn(usize) -> M::Scalar| {
        let mut bytes = Vec::with_capacity(shape.numel() * if f64_model { 8 } else { 4 });
        for i in 0..shape.numel() {
            let v = value(i).to_f64();
            if f64_model {
                bytes.extend_from_slice(&v.to_le_bytes());
            } else {
                bytes.extend_from_slice(&(v as f32).to_le_bytes());
            }
        }
        out.push((name.as_str().to_string(), shape.dims().to_vec(), bytes));
    };
    match names {
        None => model.export(layout, &mut sink)?,
        Some(names) => {
            for (l, (p, s)) in names.iter().enumerate() {
                model.export_layer(l, layout, p, s, &mut sink)?;
            }
        }
    }
    let dtype = if f64_model { Dtype::F64 } else { Dtype::F32 };
    let views: Vec<(String, StView<'_>)> = out
        .iter()
        .map(|(n, s, b)| StView::new(dtype, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<_, _>>()
        .map_err(|e| FileError::Format(e.to_string()))?;
    ::safetensors::serialize(views, None).map_err(|e| FileError::Format(e.to_string()))
}

/// Saves a model as a safetensors file with default names, atomically ([`write_atomic`]): on
/// any failure the file that was at `path` is left as it was.
pub fn save<M: Model>(model: &M, path: impl AsRef<Path>, layout: Layout) -> Result<(), FileError> {
    let path = path.as_ref();
    write_atomic(path, &to_bytes(model, layout, None)?).map_err(|source| FileError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never a part:
/// a temporary file in the same folder, written, synced to disk, then renamed over `path`
/// (and the folder synced, so the rename survives a crash). On any failure (disk full, a file
/// size limit, a folder that refuses the write, a killed process) the previous file at `path`
/// is untouched and the temporary file is removed (by the OS on the next boot if the process
/// was killed before it could).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".rnn-save-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename itself reaches the disk with the folder's metadata.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
