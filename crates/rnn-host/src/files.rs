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
use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Why a model could not be loaded from or saved to a file.
// `Weight` holds a `WeightError`, which carries its tensor name inline (the core allocates
// nothing), so it is larger than the other variants on purpose.
#[allow(clippy::large_enum_variant)]
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
    /// Tensors in the file that the model does not use (unless `allow_extra`). The message
    /// names the first ten, each cut at 64 characters.
    #[error(
        "the file has {} tensor(s) the model does not use: {} (set allow_extra to ignore them)",
        .0.len(),
        listed(.0)
    )]
    Extra(Vec<String>),
    /// A finite value beyond the model's scalar (`1e300` into an f32 model).
    #[error(
        "tensor `{tensor}` holds {value:e} at flat index {index}, beyond the range of {scalar}"
    )]
    Range {
        /// The tensor (its first 64 characters).
        tensor: String,
        /// Flat index of the value.
        index: usize,
        /// The value.
        value: f64,
        /// The model's scalar.
        scalar: &'static str,
    },
    /// A tensor name (prefix + name + suffix) longer than the 120 bytes a name may have.
    #[error("the tensor name `{0}` is longer than {max} bytes", max = rnn_core::weights::TENSOR_NAME_MAX)]
    NameTooLong(String),
    /// Two tensors the model would write have the same name (two layers given the same
    /// prefix and suffix).
    #[error("two tensors would be saved as `{0}`: give each layer its own (prefix, suffix)")]
    Duplicate(String),
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

/// The first ten names, each cut at 64 characters, and how many more there are.
fn listed(names: &[String]) -> String {
    let mut s: Vec<String> = names
        .iter()
        .take(10)
        .map(|n| format!("`{}`", shown(n)))
        .collect();
    if names.len() > 10 {
        s.push(format!("and {} more", names.len() - 10));
    }
    s.join(", ")
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
/// A safetensors file as a [`WeightSource`]: each tensor is converted to the model's scalar
/// only when a layer asks for it (an unused tensor, however large, is never converted).
struct FileSource<'a, T> {
    st: &'a SafeTensors<'a>,
    data: HashMap<&'a str, OnceCell<Result<Vec<T>, FileError>>>,
}

impl<'a, T: Real> FileSource<'a, T> {
    fn new(st: &'a SafeTensors<'a>) -> Self {
        let data = st.iter().map(|(n, _)| (n, OnceCell::new())).collect();
        FileSource { st, data }
    }
    /// The conversion error of a tensor a layer asked for, if any (the first by name).
    fn into_conversion_error(self) -> Option<FileError> {
        let mut bad: Vec<(&str, FileError)> = self
            .data
            .into_iter()
            .filter_map(|(n, c)| Some((n, c.into_inner()?.err()?)))
            .collect();
        bad.sort_by_key(|(n, _)| *n);
        bad.into_iter().next().map(|(_, e)| e)
    }
}

impl<T: Real> WeightSource<T> for FileSource<'_, T> {
    fn tensor(&self, name: &str) -> Option<TensorView<'_, T>> {
        let cell = self.data.get(name)?;
        let v = self.st.tensor(name).ok()?;
        let data = cell.get_or_init(|| convert::<T>(name, &v));
        Some(TensorView {
            shape: Shape::new(v.shape()),
            data: data.as_ref().ok()?,
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

/// At most 64 characters of a name from a file, for error messages.
fn shown(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &name[..i]),
        None => name.to_string(),
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
                tensor: shown(name),
                dtype: format!("{other:?}"),
            })
        }
    };
    let b = v.data();
    let mut out = Vec::with_capacity(b.len() / dtype.size());
    for (index, x) in (0..b.len() / dtype.size())
        .map_while(|i| dtype.get(b, i))
        .enumerate()
    {
        let t = T::from_f64(x);
        // A finite value the model's scalar cannot hold (1e300 into f32) is its own error,
        // not "a NaN or infinity".
        if x.is_finite() && !t.is_finite() {
            return Err(FileError::Range {
                tensor: shown(name),
                index,
                value: x,
                scalar: T::NAME,
            });
        }
        out.push(t);
    }
    Ok(out)
}

/// The tensor names `model` reads and writes in `layout` (with `names` per layer, if given).
fn model_names<M: Model>(
    model: &M,
    layout: Layout,
    names: Option<&[(String, String)]>,
) -> Result<Vec<String>, FileError> {
    let mut out = Vec::new();
    let mut sink = |name: TensorName, _: Shape, _: &dyn Fn(usize) -> M::Scalar| {
        out.push(name.as_str().to_string());
    };
    match names {
        None => model.export(layout, &mut sink)?,
        Some(names) => {
            for (l, (p, s)) in names.iter().enumerate() {
                model.export_layer(l, layout, p, s, &mut sink)?;
            }
        }
    }
    Ok(out)
}

/// Loads every layer of `model` from safetensors bytes, all or nothing: on any error the
/// model is unchanged. Returns the names of unused tensors (always empty unless
/// `allow_extra`). Memory: the file's bytes plus the tensors the model uses, converted.
pub fn load_bytes<M: Model>(
    model: &mut M,
    bytes: &[u8],
    opts: &LoadOptions,
) -> Result<Vec<String>, FileError> {
    check_names(M::LAYERS.len(), opts.names.as_deref())?;
    check_header(bytes)?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| FileError::Format(shown_error(&e)))?;
    let pairs: Vec<(String, String)> = match &opts.names {
        Some(n) => n.clone(),
        None => M::LAYERS
            .iter()
            .map(|info| {
                let (p, s) = rnn_core::model::default_names(info.name, opts.layout);
                (p.as_str().to_string(), s.to_string())
            })
            .collect(),
    };
    let src = FileSource::<M::Scalar>::new(&st);
    // 1. Every tensor the model needs is there, of its shape, finite (nothing written yet).
    let checked = (0..pairs.len())
        .try_for_each(|l| model.check_layer(l, opts.layout, &src, &pairs[l].0, &pairs[l].1));
    if let Err(e) = checked {
        // A tensor the model asked for in a dtype we do not convert, or out of range, looks
        // missing or non-finite to the layer: report why.
        return Err(src.into_conversion_error().unwrap_or(FileError::Weight(e)));
    }
    // 2. No tensor the model does not use, unless allowed (found from the names alone: an
    //    unused tensor is never converted).
    let wanted: HashSet<String> = model_names(model, opts.layout, Some(&pairs))?
        .into_iter()
        .collect();
    let mut extra: Vec<String> = st
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !wanted.contains(*n))
        .map(str::to_string)
        .collect();
    extra.sort();
    if !extra.is_empty() && !opts.allow_extra {
        return Err(FileError::Extra(extra));
    }
    // 3. Load: every check passed, so this writes every layer.
    for (l, (p, s)) in pairs.iter().enumerate() {
        model.load_layer(l, opts.layout, &src, p, s)?;
    }
    Ok(extra)
}

/// The largest safetensors header [`load_bytes`] parses: 16 MiB, room for about 200,000
/// tensor entries (a model has a few per layer). A larger header is refused before it is
/// parsed, so a hostile file cannot make a load take seconds and gigabytes.
pub const MAX_HEADER_BYTES: u64 = 16 << 20;

fn check_header(bytes: &[u8]) -> Result<(), FileError> {
    if let Some(n) = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    {
        if n > MAX_HEADER_BYTES {
            return Err(FileError::Format(format!(
                "the header is {n} bytes; headers over {MAX_HEADER_BYTES} bytes (16 MiB) are refused"
            )));
        }
    }
    Ok(())
}

/// A safetensors error message, bounded (it may quote a hostile header).
fn shown_error(e: &impl std::fmt::Display) -> String {
    let m = e.to_string();
    match m.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &m[..i]),
        None => m,
    }
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
    let mut out = Tensors::new::<M>();
    out.add(model, layout, names)?;
    out.serialize(None)
}

/// Tensors gathered from one or more models, then serialized as one safetensors file (what
/// [`to_bytes`] and the training checkpoints write).
pub(crate) struct Tensors {
    f64: bool,
    out: Vec<(String, Vec<usize>, Vec<u8>)>,
}

impl Tensors {
    pub(crate) fn new<M: Model>() -> Self {
        Tensors {
            f64: M::Scalar::NAME == "f64",
            out: Vec::new(),
        }
    }

    /// Adds every tensor of `model`, with the default names or one `(prefix, suffix)` per
    /// layer.
    pub(crate) fn add<M: Model>(
        &mut self,
        model: &M,
        layout: Layout,
        names: Option<&[(String, String)]>,
    ) -> Result<(), FileError> {
        check_names(M::LAYERS.len(), names)?;
        let f64_model = self.f64;
        let out = &mut self.out;
        let mut too_long: Option<String> = None;
        let mut sink = |name: TensorName, shape: Shape, value: &dyn Fn(usize) -> M::Scalar| {
            if name.is_truncated() {
                too_long.get_or_insert_with(|| shown(name.as_str()));
                return;
            }
            // The model's own shapes: small and known at compile time.
            let n = shape.checked_numel().unwrap_or(0);
            let mut bytes = Vec::with_capacity(n * if f64_model { 8 } else { 4 });
            for i in 0..n {
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
        match too_long {
            Some(name) => Err(FileError::NameTooLong(name)),
            None => Ok(()),
        }
    }

    /// The safetensors bytes, with `metadata` in the header if given.
    pub(crate) fn serialize(
        &self,
        metadata: Option<HashMap<String, String>>,
    ) -> Result<Vec<u8>, FileError> {
        let mut seen = HashSet::new();
        if let Some((n, _, _)) = self.out.iter().find(|(n, _, _)| !seen.insert(n.as_str())) {
            return Err(FileError::Duplicate(shown(n)));
        }
        let dtype = if self.f64 { Dtype::F64 } else { Dtype::F32 };
        let views: Vec<(String, StView<'_>)> = self
            .out
            .iter()
            .map(|(n, s, b)| StView::new(dtype, s.clone(), b).map(|v| (n.clone(), v)))
            .collect::<Result<_, _>>()
            .map_err(|e| FileError::Format(e.to_string()))?;
        ::safetensors::serialize(views, metadata).map_err(|e| FileError::Format(e.to_string()))
    }
}

/// The header metadata of safetensors bytes (empty when it has none).
pub(crate) fn metadata(bytes: &[u8]) -> Result<HashMap<String, String>, FileError> {
    check_header(bytes)?;
    let (_, m) =
        SafeTensors::read_metadata(bytes).map_err(|e| FileError::Format(shown_error(&e)))?;
    Ok(m.metadata().clone().unwrap_or_default())
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

/// Saves an encoder-decoder model as one safetensors file, atomically ([`write_atomic`]):
/// the encoder's tensors then the decoder's, with their default names (Keras's automatic
/// layer names, counted across both halves, so none repeats). What `weights = "..."` bakes.
pub fn save_seq2seq<S: rnn_core::seq2seq::Seq2Seq>(
    model: &S,
    path: impl AsRef<Path>,
    layout: Layout,
) -> Result<(), FileError> {
    let path = path.as_ref();
    let mut out = Tensors::new::<S::Encoder>();
    out.add(model.encoder(), layout, None)?;
    out.add(model.decoder(), layout, None)?;
    write_atomic(path, &out.serialize(None)?).map_err(|source| FileError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Loads both halves of an encoder-decoder model from one safetensors file (as
/// [`save_seq2seq`] writes it), all or nothing: on any error the model is unchanged, and a
/// tensor neither half uses is an error ([`FileError::Extra`]).
pub fn load_seq2seq<S: rnn_core::seq2seq::Seq2Seq>(
    model: &mut S,
    path: impl AsRef<Path>,
    layout: Layout,
) -> Result<(), FileError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| FileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let opts = LoadOptions {
        allow_extra: true,
        ..LoadOptions::new(layout)
    };
    let mut enc = crate::boxed::zeros::<S::Encoder>();
    let enc_extra = load_bytes(&mut *enc, &bytes, &opts)?;
    let mut dec = crate::boxed::zeros::<S::Decoder>();
    let dec_extra: HashSet<String> = load_bytes(&mut *dec, &bytes, &opts)?.into_iter().collect();
    // Unused by both: extra for the encoder and for the decoder.
    let extra: Vec<String> = enc_extra
        .into_iter()
        .filter(|n| dec_extra.contains(n))
        .collect();
    if !extra.is_empty() {
        return Err(FileError::Extra(extra));
    }
    model.encoder_mut().copy_from(&enc);
    model.decoder_mut().copy_from(&dec);
    Ok(())
}

/// Saves a quantized model (`rnn::quant`) as a safetensors file of integer tensors,
/// atomically: every tensor of [`QTensors`](rnn_core::quant::QTensors) named
/// `"{layer}/{tensor}"` with `M`'s layer names (Keras's automatic names, as [`save`]), and
/// `input_exponent` (int32 `[1]`). What `rnn_model!`'s `quantize = int8; weights = "..."`
/// bakes in.
pub fn save_quantized<M: Model, Q: rnn_core::quant::QTensors>(
    q: &Q,
    input_exponent: i32,
    path: impl AsRef<Path>,
) -> Result<(), FileError> {
    use rnn_core::quant::QData;
    let path = path.as_ref();
    if Q::LAYERS != M::LAYERS.len() {
        return Err(FileError::Format(format!(
            "the quantized chain has {} layers, the model {}",
            Q::LAYERS,
            M::LAYERS.len()
        )));
    }
    let mut out: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    q.tensors(0, &mut |l, name, shape, data| {
        let (dtype, bytes): (Dtype, Vec<u8>) = match data {
            QData::I8(v) => (Dtype::I8, v.iter().map(|&x| x as u8).collect()),
            QData::I16(v) => (Dtype::I16, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            QData::I32(v) => (Dtype::I32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        };
        out.push((
            format!("{}/{name}", M::LAYERS[l].name),
            dtype,
            shape.to_vec(),
            bytes,
        ));
    });
    out.push((
        "input_exponent".into(),
        Dtype::I32,
        vec![1],
        input_exponent.to_le_bytes().to_vec(),
    ));
    let views: Vec<(String, StView<'_>)> = out
        .iter()
        .map(|(n, d, s, b)| StView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<_, _>>()
        .map_err(|e| FileError::Format(e.to_string()))?;
    let bytes =
        ::safetensors::serialize(views, None).map_err(|e| FileError::Format(e.to_string()))?;
    write_atomic(path, &bytes).map_err(|source| FileError::Io {
        path: path.display().to_string(),
        source,
    })
}
