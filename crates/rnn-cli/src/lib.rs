//! `rnn import` and `rnn inspect`: from a PyTorch `state_dict` saved as safetensors
//! (`safetensors.torch.save_file(model.state_dict(), path)`) to the `rnn_model!` line that
//! declares the same model and a weights file under `rnn`'s own names.
//!
//! # What is recognized
//! Each module prefix (`lstm.`, `encoder.rnn.`, ...) is one PyTorch module:
//! - `nn.LSTM`, `nn.GRU`, `nn.RNN`: `weight_ih_l{k}` `[G, I]`, `weight_hh_l{k}` `[G, H]` (and
//!   `bias_ih_l{k}`, `bias_hh_l{k}`): the kind from `G / H` (4 LSTM, 3 GRU, 1 RNN), one of our
//!   layers per `l{k}`; `_reverse` tensors (bidirectional) and `proj_size` are refused;
//! - `nn.Linear`: `weight [O, I]` (and `bias [O]`): a `dense`;
//! - `nn.Embedding`: `weight [V, D]` alone, as the first module: an `embedding`;
//! - `nn.LayerNorm`: `weight [H]` and `bias [H]`: a `layer_norm` (PyTorch's epsilon must have
//!   been 1e-3, Keras's; a warning says so).
//!
//! The safetensors format keeps no module order, so the modules are chained by their widths
//! (each module's input is the previous one's output); when widths allow more than one order,
//! `--order` gives it. What a state_dict does not hold is assumed and said: an `nn.RNN`'s
//! nonlinearity (`tanh`, or `--rnn-activation relu`) and any activation between modules
//! (none).

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::BTreeMap;

/// A file we cannot turn into a model, and why.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImportError {
    /// A file that cannot be read as what it looks like (safetensors, HDF5, zip, JSON).
    #[error("{0}")]
    Format(String),
    /// A module whose tensors match no layer we have.
    #[error("module `{module}`: {why}")]
    Unsupported {
        /// The module prefix.
        module: String,
        /// What is wrong.
        why: String,
    },
    /// The modules' widths allow no chain, or more than one.
    #[error("{0}")]
    Order(String),
}

/// One tensor: shape and dtype.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Its name in the file.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its dtype, as safetensors names it.
    pub dtype: String,
}

/// A layer of ours, made from (part of) one PyTorch module.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// `lstm`, `gru`, `rnn`, `dense`, `embedding` or `layer_norm`.
    pub kind: &'static str,
    /// Input width (the vocabulary for an embedding).
    pub input: usize,
    /// Output width.
    pub units: usize,
    /// The module it comes from, and the PyTorch tensor names it reads, with our tensor name
    /// suffix for each (`weight_ih_l0`, ...).
    pub module: String,
    /// `(file name, our suffix)` for each tensor.
    pub tensors: Vec<(String, String)>,
    /// Whether it has biases.
    pub bias: bool,
}

/// The model a file holds: its layers in order, and what was assumed.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Layers, first to last.
    pub layers: Vec<Layer>,
    /// Assumptions the file could not settle.
    pub notes: Vec<String>,
}

/// Every tensor of a file, sorted by name.
pub fn tensors(bytes: &[u8]) -> Result<Vec<Tensor>, ImportError> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| ImportError::Format(format!("not a safetensors file: {e}")))?;
    let mut out: Vec<Tensor> = st
        .iter()
        .map(|(n, v)| Tensor {
            name: n.to_string(),
            shape: v.shape().to_vec(),
            dtype: format!("{:?}", v.dtype()),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn module_of(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => ("", name),
    }
}

/// The layers one module gives, from its tensors (name after the prefix, shape).
fn module_layers(
    module: &str,
    ts: &BTreeMap<String, Vec<usize>>,
    notes: &mut Vec<String>,
    rnn_act: &str,
) -> Result<Vec<Layer>, ImportError> {
    let bad = |why: String| ImportError::Unsupported {
        module: module.to_string(),
        why,
    };
    let full = |t: &str| {
        if module.is_empty() {
            t.to_string()
        } else {
            format!("{module}.{t}")
        }
    };
    if ts.keys().any(|k| k.starts_with("weight_ih_l")) {
        if ts.keys().any(|k| k.ends_with("_reverse")) {
            return Err(bad("a bidirectional recurrent module (`_reverse` tensors): import it as two directions is not supported yet".into()));
        }
        if ts.keys().any(|k| k.starts_with("weight_hr_l")) {
            return Err(bad(
                "an LSTM with `proj_size` (`weight_hr_l*`): no such layer in rnn".into(),
            ));
        }
        let mut layers = Vec::new();
        for k in 0.. {
            let (ih, hh) = (format!("weight_ih_l{k}"), format!("weight_hh_l{k}"));
            let (Some(wi), Some(wh)) = (ts.get(&ih), ts.get(&hh)) else {
                if k == 0 {
                    return Err(bad("`weight_ih_l0` without `weight_hh_l0`".into()));
                }
                break;
            };
            let (&[g, i], &[g2, h]) = (wi.as_slice(), wh.as_slice()) else {
                return Err(bad(format!("`{ih}` / `{hh}` are not matrices")));
            };
            if g != g2 || h == 0 || g % h != 0 {
                return Err(bad(format!(
                    "`{ih}` {wi:?} and `{hh}` {wh:?} do not fit one recurrent layer"
                )));
            }
            let kind = match g / h {
                4 => "lstm",
                3 => "gru",
                1 => "rnn",
                n => {
                    return Err(bad(format!(
                        "{n} gate blocks: not an LSTM (4), GRU (3) or RNN (1)"
                    )))
                }
            };
            let bias = ts.contains_key(&format!("bias_ih_l{k}"));
            if bias != ts.contains_key(&format!("bias_hh_l{k}")) {
                return Err(bad(format!(
                    "layer {k} has one of `bias_ih` and `bias_hh` only"
                )));
            }
            if !bias {
                return Err(bad("a recurrent module with `bias=False`: rnn's recurrent layers always have biases (set them to zero and re-save)".into()));
            }
            let mut tensors = Vec::new();
            for t in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
                tensors.push((full(&format!("{t}_l{k}")), format!("{t}_l0")));
            }
            if kind == "rnn" {
                notes.push(format!(
                    "`{module}` layer {k} is an nn.RNN: its nonlinearity is not in the file; assumed `{rnn_act}` (--rnn-activation)"
                ));
            }
            layers.push(Layer {
                kind,
                input: i,
                units: h,
                module: module.to_string(),
                tensors,
                bias,
            });
        }
        let known = layers.len() * 4;
        if ts.len() != known {
            let extra: Vec<&String> = ts
                .keys()
                .filter(|k| {
                    !layers
                        .iter()
                        .any(|l| l.tensors.iter().any(|t| full(k) == t.0))
                })
                .collect();
            return Err(bad(format!("tensors rnn has no place for: {extra:?}")));
        }
        return Ok(layers);
    }
    let keys: Vec<&str> = ts.keys().map(|k| k.as_str()).collect();
    match (keys.as_slice(), ts.get("weight").map(|s| s.as_slice())) {
        (["bias", "weight"], Some(&[o, i])) if ts["bias"] == [o] => Ok(vec![Layer {
            kind: "dense",
            input: i,
            units: o,
            module: module.into(),
            tensors: vec![(full("weight"), "weight".into()), (full("bias"), "bias".into())],
            bias: true,
        }]),
        (["bias", "weight"], Some(&[h])) if ts["bias"] == [h] => {
            notes.push(format!("`{module}` is read as an nn.LayerNorm({h}): rnn uses Keras's epsilon 1e-3, so it must have been trained with `eps=1e-3`"));
            Ok(vec![Layer {
                kind: "layer_norm",
                input: h,
                units: h,
                module: module.into(),
                tensors: vec![(full("weight"), "weight".into()), (full("bias"), "bias".into())],
                bias: true,
            }])
        }
        (["weight"], Some(&[v, d])) => {
            notes.push(format!("`{module}` (a weight without a bias) is read as an nn.Embedding({v}, {d}); an nn.Linear(bias=False) would be `dense({d}, {v}, use_bias = false)`"));
            Ok(vec![Layer {
                kind: "embedding",
                input: v,
                units: d,
                module: module.into(),
                tensors: vec![(full("weight"), "weight".into())],
                bias: false,
            }])
        }
        _ => Err(bad(format!(
            "tensors {:?} match no layer rnn has (nn.LSTM, nn.GRU, nn.RNN, nn.Linear, nn.Embedding, nn.LayerNorm)",
            ts.iter().map(|(k, s)| format!("{k} {s:?}")).collect::<Vec<_>>()
        ))),
    }
}

/// The model a PyTorch state_dict holds. `order`: module prefixes first to last, when the
/// widths cannot settle it; `rnn_act`: an `nn.RNN`'s nonlinearity (`tanh` or `relu`).
pub fn plan(list: &[Tensor], order: Option<&[String]>, rnn_act: &str) -> Result<Plan, ImportError> {
    if list.iter().any(|t| t.name.contains('/')) && !list.iter().any(|t| t.name.contains('.')) {
        return Err(ImportError::Order(
            "these are Keras-style names (`layer/kernel`): this importer reads PyTorch state_dicts; a Keras-layout file of rnn's names loads directly with `rnn::files::load(&mut model, path, rnn::Layout::Keras)`".into(),
        ));
    }
    let mut modules: BTreeMap<String, BTreeMap<String, Vec<usize>>> = BTreeMap::new();
    for t in list {
        let (m, n) = module_of(&t.name);
        if !["F32", "F64", "F16", "BF16"].contains(&t.dtype.as_str()) {
            return Err(ImportError::Unsupported {
                module: m.into(),
                why: format!(
                    "tensor `{}` has dtype {}; rnn reads F32, F64, F16 and BF16",
                    t.name, t.dtype
                ),
            });
        }
        modules
            .entry(m.to_string())
            .or_default()
            .insert(n.to_string(), t.shape.clone());
    }
    if modules.is_empty() {
        return Err(ImportError::Order("the file holds no tensors".into()));
    }
    let mut notes = Vec::new();
    let mut parts: Vec<(String, Vec<Layer>)> = Vec::new();
    for (m, ts) in &modules {
        parts.push((m.clone(), module_layers(m, ts, &mut notes, rnn_act)?));
    }
    let chain: Vec<usize> = match order {
        Some(o) => {
            let mut idx = Vec::new();
            for name in o {
                let i = parts.iter().position(|p| &p.0 == name).ok_or_else(|| {
                    ImportError::Order(format!(
                        "--order names `{name}`, which is not a module of the file ({:?})",
                        parts.iter().map(|p| &p.0).collect::<Vec<_>>()
                    ))
                })?;
                idx.push(i);
            }
            let mut seen = idx.clone();
            seen.sort_unstable();
            seen.dedup();
            if idx.len() != parts.len() || seen.len() != idx.len() {
                return Err(ImportError::Order(format!(
                    "--order must name every module once: {:?}",
                    parts.iter().map(|p| &p.0).collect::<Vec<_>>()
                )));
            }
            idx
        }
        None => order_by_widths(&parts)?,
    };
    let mut layers = Vec::new();
    for &i in &chain {
        for l in &parts[i].1 {
            if let Some(prev) = layers.last().map(|p: &Layer| p.units) {
                let want = l.input;
                if l.kind == "embedding" {
                    return Err(ImportError::Order(format!(
                        "`{}` looks like an embedding but is not the first module",
                        l.module
                    )));
                }
                if prev != want {
                    return Err(ImportError::Order(format!(
                        "module `{}` takes {want} inputs, but the module before it outputs {prev}",
                        l.module
                    )));
                }
            }
            layers.push(l.clone());
        }
    }
    if parts.len() > 1 {
        notes.push("no activation is assumed between modules (a PyTorch forward may apply one; add it to the line if so)".into());
    }
    Ok(Plan { layers, notes })
}

/// The one order in which every module's input width is the previous one's output (an
/// embedding, if any, first).
fn order_by_widths(parts: &[(String, Vec<Layer>)]) -> Result<Vec<usize>, ImportError> {
    let n = parts.len();
    if n > 8 {
        return Err(ImportError::Order(format!(
            "{n} modules: give their order with --order (first to last): {}",
            parts
                .iter()
                .map(|p| p.0.clone())
                .collect::<Vec<_>>()
                .join(",")
        )));
    }
    let (ins, outs): (Vec<usize>, Vec<usize>) = parts
        .iter()
        .map(|p| (p.1[0].input, p.1.last().map_or(0, |l| l.units)))
        .unzip();
    let mut found: Vec<Vec<usize>> = Vec::new();
    let mut path = Vec::new();
    fn walk(
        path: &mut Vec<usize>,
        n: usize,
        ins: &[usize],
        outs: &[usize],
        parts: &[(String, Vec<Layer>)],
        found: &mut Vec<Vec<usize>>,
    ) {
        if found.len() > 1 {
            return;
        }
        if path.len() == n {
            found.push(path.clone());
            return;
        }
        for j in 0..n {
            if path.contains(&j) {
                continue;
            }
            let emb = parts[j].1[0].kind == "embedding";
            let fits = match path.last() {
                None => true,
                Some(&p) => !emb && outs[p] == ins[j],
            };
            if fits {
                path.push(j);
                walk(path, n, ins, outs, parts, found);
                path.pop();
            }
        }
    }
    walk(&mut path, n, &ins, &outs, parts, &mut found);
    let names = || {
        parts
            .iter()
            .map(|p| p.0.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    match found.len() {
        0 => Err(ImportError::Order(format!("no order of the modules {} chains their widths (each module's input the previous one's output)", names()))),
        1 => Ok(found.remove(0)),
        _ => Err(ImportError::Order(format!("the widths allow more than one order of the modules {}: give it with --order, e.g. --order {}", names(), names()))),
    }
}

/// The `rnn_model!` body for a plan: `lstm(4, 6) -> lstm(6) -> dense(2)`.
pub fn model_line(plan: &Plan, rnn_act: &str) -> String {
    plan.layers
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let act = if l.kind == "rnn" && rnn_act != "tanh" {
                format!(", activation = {rnn_act}")
            } else {
                String::new()
            };
            if k == 0 || l.kind == "embedding" {
                format!("{}({}, {}{act})", l.kind, l.input, l.units)
            } else if l.kind == "layer_norm" {
                format!("{}({})", l.kind, l.units)
            } else {
                format!("{}({}{act})", l.kind, l.units)
            }
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Keras's automatic layer names for the plan (`lstm`, `lstm_1`, `dense`), as `rnn_model!`
/// names its layers.
pub fn keras_names(plan: &Plan) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    plan.layers
        .iter()
        .map(|l| {
            let stem = match l.kind {
                "rnn" => "simple_rnn",
                "layer_norm" => "layer_normalization",
                k => k,
            };
            let c = counts.entry(stem).or_default();
            let name = if *c == 0 {
                stem.to_string()
            } else {
                format!("{stem}_{c}")
            };
            *c += 1;
            name
        })
        .collect()
}

/// The file's tensors renamed to `rnn`'s PyTorch-layout names (`{layer}.weight_ih_l0`, ...),
/// values and dtypes untouched: loadable with `rnn::files::load(&mut model, path,
/// rnn::Layout::PyTorch)` into the model [`model_line`] declares.
pub fn renamed(bytes: &[u8], plan: &Plan) -> Result<Vec<u8>, ImportError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| ImportError::Format(e.to_string()))?;
    let names = keras_names(plan);
    let mut views: Vec<(String, TensorView<'_>)> = Vec::new();
    for (l, name) in plan.layers.iter().zip(&names) {
        for (file, suffix) in &l.tensors {
            let v = st
                .tensor(file)
                .map_err(|e| ImportError::Format(e.to_string()))?;
            let dtype: Dtype = v.dtype();
            let t = TensorView::new(dtype, v.shape().to_vec(), v.data())
                .map_err(|e| ImportError::Format(e.to_string()))?;
            views.push((format!("{name}.{suffix}"), t));
        }
    }
    safetensors::serialize(views, None).map_err(|e| ImportError::Format(e.to_string()))
}

/// A Keras-like summary of a plan: layer, kind, output width, parameters (as Keras counts:
/// PyTorch's two recurrent biases are one).
pub fn summary(plan: &Plan) -> String {
    let names = keras_names(plan);
    let mut s = format!(
        "{:<24} {:<12} {:>8} {:>10}\n",
        "Layer", "Kind", "Output", "Params"
    );
    let mut total = 0;
    for (l, n) in plan.layers.iter().zip(&names) {
        let g = match l.kind {
            "lstm" => 4,
            "gru" => 3,
            _ => 1,
        };
        let p = match l.kind {
            "lstm" | "rnn" => g * l.units * (l.input + l.units + 1),
            "gru" => g * l.units * (l.input + l.units + 2),
            "dense" => l.units * (l.input + 1),
            "layer_norm" => 2 * l.units,
            _ => l.input * l.units,
        };
        total += p;
        s += &format!("{:<24} {:<12} {:>8} {:>10}\n", n, l.kind, l.units, p);
    }
    s += &format!("Total params: {total}\n");
    s
}

/// Keras 3 files: a `.keras` archive (its `config.json` gives the layers' order, kinds and
/// options) or a bare `.weights.h5` (layers inferred from the shapes, as for PyTorch).
pub mod keras {
    use super::{keras_names, order_by_widths, ImportError, Layer, Plan};
    use serde_json::Value;

    /// A Keras layer's tensors (`vars/0..`), by index: shape and f32 values.
    type Vars = Vec<(Vec<usize>, Vec<f32>)>;

    fn h5_err(e: impl std::fmt::Display) -> ImportError {
        ImportError::Format(format!("HDF5: {e}"))
    }

    /// The config (for a `.keras` archive) and the weights file's bytes.
    pub fn open(bytes: &[u8]) -> Result<(Option<Value>, Vec<u8>), ImportError> {
        if !bytes.starts_with(b"PK") {
            return Ok((None, bytes.to_vec()));
        }
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| ImportError::Format(format!(".keras archive: {e}")))?;
        let mut read = |name: &str| -> Result<Vec<u8>, ImportError> {
            use std::io::Read;
            let mut f = z
                .by_name(name)
                .map_err(|e| ImportError::Format(format!(".keras archive: {name}: {e}")))?;
            let mut v = Vec::new();
            f.read_to_end(&mut v)
                .map_err(|e| ImportError::Format(format!(".keras archive: {name}: {e}")))?;
            Ok(v)
        };
        let config: Value = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| ImportError::Format(format!("config.json: {e}")))?;
        Ok((Some(config), read("model.weights.h5")?))
    }

    /// Every layer group under `layers/` with its variables.
    fn layer_vars(h5: &hdf5_pure::File) -> Result<Vec<(String, Vars)>, ImportError> {
        let layers = h5.group("layers").map_err(h5_err)?;
        let mut out = Vec::new();
        for name in layers.groups().map_err(h5_err)? {
            let g = layers.group(&name).map_err(h5_err)?;
            let vars_path = if g.groups().map_err(h5_err)?.iter().any(|s| s == "cell") {
                format!("layers/{name}/cell/vars")
            } else {
                format!("layers/{name}/vars")
            };
            let vg = h5.group(&vars_path).map_err(h5_err)?;
            let mut idx: Vec<usize> = vg
                .datasets()
                .map_err(h5_err)?
                .iter()
                .filter_map(|d| d.parse().ok())
                .collect();
            idx.sort_unstable();
            let mut vars = Vec::new();
            for i in idx {
                let d = h5.dataset(&format!("{vars_path}/{i}")).map_err(h5_err)?;
                let shape: Vec<usize> = d
                    .shape()
                    .map_err(h5_err)?
                    .iter()
                    .map(|&s| s as usize)
                    .collect();
                let v: Vec<f32> = d.read_f32().map_err(h5_err)?;
                vars.push((shape, v));
            }
            if !vars.is_empty() {
                out.push((name, vars));
            }
        }
        Ok(out)
    }

    /// The layer one Keras layer gives, from its class (if known) and its variables.
    fn layer_of(
        name: &str,
        class: Option<&str>,
        cfg: Option<&Value>,
        vars: &Vars,
        notes: &mut Vec<String>,
    ) -> Result<KLayer, ImportError> {
        let bad = |why: String| ImportError::Unsupported {
            module: name.to_string(),
            why,
        };
        let shapes: Vec<&[usize]> = vars.iter().map(|v| v.0.as_slice()).collect();
        let opt = |k: &str| cfg.and_then(|c| c.get(k));
        let act = opt("activation")
            .and_then(Value::as_str)
            .map(str::to_string);
        let recurrent = |kind: &'static str,
                         gates: usize,
                         notes: &mut Vec<String>|
         -> Result<KLayer, ImportError> {
            let (&[i, g], &[h, g2]) = (shapes[0], shapes[1]) else {
                return Err(bad(format!(
                    "variables {shapes:?} do not fit a recurrent layer"
                )));
            };
            if g != g2 || g != gates * h {
                return Err(bad(format!(
                    "variables {shapes:?} do not fit {kind}({i}, {h})"
                )));
            }
            let mut options = Vec::new();
            if kind == "gru" && shapes[2] == [g] {
                options.push("reset_after = false".to_string());
            }
            if kind == "rnn" {
                match act.as_deref() {
                    Some("tanh") => {}
                    Some(a) => options.push(format!("activation = {a}")),
                    None => notes.push(format!("`{name}` is a SimpleRNN: its activation is not in a .weights.h5; assumed tanh")),
                }
            }
            if opt("use_bias").and_then(Value::as_bool) == Some(false) || vars.len() != 3 {
                return Err(bad(
                    "a recurrent layer without a bias: rnn's recurrent layers always have one"
                        .into(),
                ));
            }
            Ok(KLayer {
                kind,
                input: i,
                units: h,
                options,
                names: ["kernel", "recurrent_kernel", "bias"].to_vec(),
            })
        };
        let from_shapes = match (class, shapes.as_slice()) {
            (Some("LSTM"), _) => return recurrent("lstm", 4, notes),
            (Some("GRU"), _) => return recurrent("gru", 3, notes),
            (Some("SimpleRNN"), _) => return recurrent("rnn", 1, notes),
            (Some("Dense"), _) | (None, [[_, _], [_]]) => {
                if !(1..=2).contains(&shapes.len()) {
                    return Err(bad(format!("a Dense layer with variables {shapes:?}: a kernel and a bias are expected (a quantized Keras layer is not read)")));
                }
                let (&[i, o], has_bias) = (shapes[0], shapes.len() == 2) else {
                    return Err(bad(format!("variables {shapes:?} do not fit a Dense layer")));
                };
                let mut options = Vec::new();
                match act.as_deref() {
                    Some("linear") => {}
                    Some(a) => options.push(format!("activation = {a}")),
                    None => notes.push(format!("`{name}` is a Dense layer: its activation is not in a .weights.h5; assumed linear")),
                }
                if !has_bias {
                    options.push("use_bias = false".into());
                }
                let names = if has_bias { vec!["kernel", "bias"] } else { vec!["kernel"] };
                return Ok(KLayer { kind: "dense", input: i, units: o, options, names });
            }
            (Some("Embedding"), [[v, d]]) | (None, [[v, d]]) => {
                return Ok(KLayer { kind: "embedding", input: *v, units: *d, options: vec![], names: vec!["embeddings"] });
            }
            (Some("LayerNormalization"), [[h], [h2]]) if h == h2 => {
                let eps = opt("epsilon").and_then(Value::as_f64).unwrap_or(1e-3);
                if (eps - 1e-3).abs() > 1e-12 {
                    return Err(bad(format!("LayerNormalization with epsilon = {eps}: rnn's layer_norm uses Keras's default 1e-3")));
                }
                return Ok(KLayer { kind: "layer_norm", input: *h, units: *h, options: vec![], names: vec!["gamma", "beta"] });
            }
            (None, [[_, g], [h, g2], b]) if g == g2 && *h > 0 && g % h == 0 => {
                let _ = b;
                g / h
            }
            (Some(c), _) => return Err(bad(format!("Keras layer class `{c}` has no counterpart in rnn (LSTM, GRU, SimpleRNN, Dense, Embedding, LayerNormalization)"))),
            _ => return Err(bad(format!("variables {shapes:?} match no layer rnn has"))),
        };
        match from_shapes {
            4 => recurrent("lstm", 4, notes),
            3 => recurrent("gru", 3, notes),
            1 => recurrent("rnn", 1, notes),
            n => Err(bad(format!(
                "{n} gate blocks: not an LSTM, GRU or SimpleRNN"
            ))),
        }
    }

    struct KLayer {
        kind: &'static str,
        input: usize,
        units: usize,
        options: Vec<String>,
        names: Vec<&'static str>,
    }

    impl KLayer {
        /// As a plan's layer, from the Keras layer `name`.
        fn layer(&self, name: &str) -> Layer {
            Layer {
                kind: self.kind,
                input: self.input,
                units: self.units,
                module: name.to_string(),
                tensors: vec![],
                bias: true,
            }
        }
    }

    /// The model a Keras file holds, its `rnn_model!` line, and its tensors renamed to our
    /// Keras-layout names (`lstm/kernel`, ...): safetensors bytes for
    /// `rnn::files::load(&mut model, path, rnn::Layout::Keras)`.
    pub fn import(bytes: &[u8]) -> Result<(Plan, String, Vec<u8>), ImportError> {
        let (config, h5) = open(bytes)?;
        let h5 = hdf5_pure::File::from_bytes(h5).map_err(h5_err)?;
        let vars = layer_vars(&h5)?;
        let mut notes = Vec::new();
        // With a config: its order and classes (the input layer skipped).
        let order: Vec<(String, Option<String>, Option<Value>)> = match &config {
            Some(c) => {
                let layers = c["config"]["layers"].as_array().ok_or_else(|| ImportError::Format("config.json: no `config.layers` (a Sequential or functional model is expected)".into()))?;
                let mut o = Vec::new();
                for l in layers {
                    let class = l["class_name"].as_str().unwrap_or("");
                    let name = l["config"]["name"].as_str().unwrap_or("").to_string();
                    if class == "InputLayer" {
                        continue;
                    }
                    let ins = l["inbound_nodes"].as_array().map_or(0, |n| n.len());
                    if ins > 1 {
                        return Err(ImportError::Unsupported {
                            module: name,
                            why: "a layer called more than once".into(),
                        });
                    }
                    o.push((name, Some(class.to_string()), Some(l["config"].clone())));
                }
                o
            }
            None => vars.iter().map(|(n, _)| (n.clone(), None, None)).collect(),
        };
        let mut ks = Vec::new();
        for (name, class, cfg) in &order {
            let v = vars.iter().find(|(n, _)| n == name);
            let Some((_, v)) = v else {
                if class.as_deref().is_some_and(|c| c == "Dropout") {
                    notes.push(format!(
                        "`{name}` (Dropout) is left out: the identity at inference"
                    ));
                    continue;
                }
                return Err(ImportError::Unsupported {
                    module: name.clone(),
                    why: format!(
                        "no weights for this layer ({})",
                        class.as_deref().unwrap_or("?")
                    ),
                });
            };
            ks.push((
                name.clone(),
                layer_of(name, class.as_deref(), cfg.as_ref(), v, &mut notes)?,
                v,
            ));
        }
        // Without a config the order comes from the widths.
        let chain: Vec<usize> = if config.is_some() {
            (0..ks.len()).collect()
        } else {
            let parts: Vec<(String, Vec<Layer>)> = ks
                .iter()
                .map(|(n, k, _)| (n.clone(), vec![k.layer(n)]))
                .collect();
            order_by_widths(&parts)?
        };
        let mut layers = Vec::new();
        let mut options = Vec::new();
        for &i in &chain {
            let (n, k, _) = &ks[i];
            if let Some(prev) = layers.last().map(|l: &Layer| l.units) {
                if k.kind == "embedding" || prev != k.input {
                    return Err(ImportError::Order(format!(
                        "layer `{n}` takes {} inputs, but the layer before it outputs {prev}",
                        k.input
                    )));
                }
            }
            layers.push(k.layer(n));
            options.push(k.options.clone());
        }
        let plan = Plan { layers, notes };
        let names = keras_names(&plan);
        let mut views = Vec::new();
        let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (&i, our) in chain.iter().zip(&names) {
            let (_, k, v) = &ks[i];
            for (t, (shape, vals)) in k.names.iter().zip(v.iter()) {
                data.push((
                    format!("{our}/{t}"),
                    shape.clone(),
                    vals.iter().flat_map(|x| x.to_le_bytes()).collect(),
                ));
            }
        }
        for (n, s, b) in &data {
            let t = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map_err(|e| ImportError::Format(e.to_string()))?;
            views.push((n.clone(), t));
        }
        let bytes =
            safetensors::serialize(views, None).map_err(|e| ImportError::Format(e.to_string()))?;
        let line = plan
            .layers
            .iter()
            .zip(&options)
            .enumerate()
            .map(|(j, (l, o))| {
                let opts: String = o.iter().map(|x| format!(", {x}")).collect();
                if j == 0 || l.kind == "embedding" {
                    format!("{}({}, {}{opts})", l.kind, l.input, l.units)
                } else {
                    format!("{}({}{opts})", l.kind, l.units)
                }
            })
            .collect::<Vec<_>>()
            .join(" -> ");
        Ok((plan, line, bytes))
    }
}

/// RTNeural's JSON files: its Keras export (`{"in_shape", "layers": [{"type", "shape",
/// "weights", "activation"}]}`, read as RTNeural's `json_parser::parseJson` reads it: LSTM and
/// GRU weights in Keras's layout and gate order, a GRU's bias `[2][3H]` (Keras
/// `reset_after = true`), dense `[kernel [I][O], bias [O]]`, the activation on the layer or as
/// an `"activation"` layer after a dense one), and its PyTorch workflow's state_dict as JSON
/// (`{name: nested lists}`, what its `torch_helpers.h` reads), imported as a PyTorch
/// state_dict.
pub mod rtneural {
    use super::{keras_names, plan, ImportError, Layer, Plan, Tensor};
    use serde_json::Value;

    fn bad(module: &str, why: impl Into<String>) -> ImportError {
        ImportError::Unsupported {
            module: module.to_string(),
            why: why.into(),
        }
    }

    /// A nested JSON array of numbers: its shape and values (row-major).
    fn flatten(v: &Value, what: &str) -> Result<(Vec<usize>, Vec<f32>), ImportError> {
        fn walk(
            v: &Value,
            depth: usize,
            shape: &mut Vec<usize>,
            out: &mut Vec<f32>,
        ) -> Result<(), String> {
            match v {
                Value::Array(a) => {
                    if shape.len() == depth {
                        shape.push(a.len());
                    } else if shape[depth] != a.len() {
                        return Err("ragged array".into());
                    }
                    for x in a {
                        walk(x, depth + 1, shape, out)?;
                    }
                    Ok(())
                }
                Value::Number(n) => {
                    if shape.len() != depth {
                        return Err("ragged array".into());
                    }
                    out.push(n.as_f64().ok_or("not a number")? as f32);
                    Ok(())
                }
                _ => Err("not a number".into()),
            }
        }
        let (mut shape, mut out) = (Vec::new(), Vec::new());
        walk(v, 0, &mut shape, &mut out).map_err(|e| bad(what, e))?;
        Ok((shape, out))
    }

    /// `(model line, plan, safetensors bytes, whether the names are Keras's)` for an RTNeural
    /// JSON file.
    pub fn import(text: &str) -> Result<(String, Plan, Vec<u8>, bool), ImportError> {
        import_with(text, None, "tanh")
    }

    /// [`import`] with `--order` and `--rnn-activation` (used by the PyTorch flavour).
    pub fn import_with(
        text: &str,
        order: Option<&[String]>,
        rnn_act: &str,
    ) -> Result<(String, Plan, Vec<u8>, bool), ImportError> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| ImportError::Format(format!("JSON: {e}")))?;
        if doc.get("layers").is_some() {
            keras_export(&doc)
        } else {
            torch_export(&doc, order, rnn_act)
        }
    }

    fn serialize(data: &[(String, Vec<usize>, Vec<u8>)]) -> Result<Vec<u8>, ImportError> {
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = data
            .iter()
            .map(|(n, s, b)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .map(|v| (n.clone(), v))
                    .map_err(|e| ImportError::Format(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        safetensors::serialize(views, None).map_err(|e| ImportError::Format(e.to_string()))
    }

    fn bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn keras_export(doc: &Value) -> Result<(String, Plan, Vec<u8>, bool), ImportError> {
        let input = doc["in_shape"]
            .as_array()
            .and_then(|s| s.last())
            .and_then(Value::as_u64)
            .ok_or_else(|| ImportError::Format("`in_shape` is not [null, null, inputs]".into()))?
            as usize;
        let mut layers: Vec<Layer> = Vec::new();
        let mut acts: Vec<String> = Vec::new();
        let mut weights: Vec<Vec<(Vec<usize>, Vec<f32>)>> = Vec::new();
        let list = doc["layers"]
            .as_array()
            .ok_or_else(|| ImportError::Format("`layers` is not an array".into()))?;
        for (k, l) in list.iter().enumerate() {
            let ty = l["type"].as_str().unwrap_or("");
            let what = format!("layer {k} ({ty})");
            let act = l["activation"].as_str().unwrap_or("").to_string();
            let units = l["shape"]
                .as_array()
                .and_then(|s| s.last())
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize;
            let prev = layers.last().map_or(input, |p| p.units);
            if ty == "activation" {
                match (layers.last(), acts.last_mut()) {
                    (Some(p), Some(a)) if p.kind == "dense" && a.is_empty() => *a = act,
                    _ => return Err(bad(&what, "an activation layer not right after a linear dense layer: rnn has activations on dense layers only")),
                }
                continue;
            }
            let ws = l["weights"]
                .as_array()
                .ok_or_else(|| bad(&what, "no `weights`"))?;
            let ws: Vec<(Vec<usize>, Vec<f32>)> = ws
                .iter()
                .map(|w| flatten(w, &what))
                .collect::<Result<_, _>>()?;
            let (kind, gates) = match ty {
                "lstm" => ("lstm", 4),
                "gru" => ("gru", 3),
                "dense" | "time-distributed-dense" => ("dense", 1),
                other => return Err(bad(&what, format!("RTNeural layer type `{other}` has no counterpart in rnn (lstm, gru, dense, activation)"))),
            };
            let want: Vec<Vec<usize>> = match kind {
                "lstm" => vec![
                    vec![prev, 4 * units],
                    vec![units, 4 * units],
                    vec![4 * units],
                ],
                "gru" => vec![
                    vec![prev, 3 * units],
                    vec![units, 3 * units],
                    vec![2, 3 * units],
                ],
                _ => vec![vec![prev, units], vec![units]],
            };
            let _ = gates;
            let shapes: Vec<Vec<usize>> = ws.iter().map(|w| w.0.clone()).collect();
            let dense_nobias = kind == "dense" && shapes.len() == 1 && shapes[0] == want[0];
            if shapes != want && !dense_nobias {
                return Err(bad(&what, format!("weights of shapes {shapes:?}; a {kind} of {units} units after {prev} inputs needs {want:?}")));
            }
            // RTNeural's exporter writes the cell's activation ("tanh") on recurrent layers
            // and its loader ignores it: so do we.
            layers.push(Layer {
                kind,
                input: prev,
                units,
                module: what,
                tensors: vec![],
                bias: !dense_nobias,
            });
            acts.push(if kind == "dense" { act } else { String::new() });
            weights.push(ws);
        }
        if layers.is_empty() {
            return Err(ImportError::Format("no layers".into()));
        }
        let plan = Plan {
            layers,
            notes: vec![],
        };
        let names = keras_names(&plan);
        let mut data = Vec::new();
        for ((l, ws), n) in plan.layers.iter().zip(&weights).zip(&names) {
            let tn: &[&str] = if l.kind == "dense" {
                &["kernel", "bias"]
            } else {
                &["kernel", "recurrent_kernel", "bias"]
            };
            for (t, (shape, v)) in tn.iter().zip(ws) {
                data.push((format!("{n}/{t}"), shape.clone(), bytes(v)));
            }
        }
        let line = plan
            .layers
            .iter()
            .zip(&acts)
            .enumerate()
            .map(|(j, (l, a))| {
                let mut o = String::new();
                if !a.is_empty() && a != "linear" {
                    o += &format!(", activation = {a}");
                }
                if !l.bias {
                    o += ", use_bias = false";
                }
                if j == 0 {
                    format!("{}({}, {}{o})", l.kind, l.input, l.units)
                } else {
                    format!("{}({}{o})", l.kind, l.units)
                }
            })
            .collect::<Vec<_>>()
            .join(" -> ");
        Ok((line, plan, serialize(&data)?, true))
    }

    fn torch_export(
        doc: &Value,
        order: Option<&[String]>,
        rnn_act: &str,
    ) -> Result<(String, Plan, Vec<u8>, bool), ImportError> {
        let map = doc.as_object().ok_or_else(|| {
            ImportError::Format(
                "neither RTNeural's Keras export (`layers`) nor a state_dict object".into(),
            )
        })?;
        let mut list = Vec::new();
        let mut values = std::collections::BTreeMap::new();
        for (k, v) in map {
            let (shape, data) = flatten(v, k)?;
            list.push(Tensor {
                name: k.clone(),
                shape,
                dtype: "F32".into(),
            });
            values.insert(k.clone(), data);
        }
        let p = plan(&list, order, rnn_act)?;
        let names = keras_names(&p);
        let mut data = Vec::new();
        for (l, n) in p.layers.iter().zip(&names) {
            for (file, suffix) in &l.tensors {
                let t = list
                    .iter()
                    .find(|t| &t.name == file)
                    .expect("planned from the list");
                data.push((
                    format!("{n}.{suffix}"),
                    t.shape.clone(),
                    bytes(&values[file]),
                ));
            }
        }
        let line = super::model_line(&p, rnn_act);
        Ok((line, p, serialize(&data)?, false))
    }
}
