// Over 400 lines: about 390 of code (bounded reading, checks against the model, conversion to our layout) and 280 of tests.
//! Baked weights: `weights = "model.safetensors"` is read at compile time (relative to the
//! crate's manifest), every tensor is checked against the declared model, and the values are
//! converted to our layout so `expand` can emit them as constant data. Every problem is a
//! compile error at the path, naming the tensor and both shapes.
//!
//! Only a regular file of at most [`MAX_FILE`] bytes (256 MiB) is read: a FIFO or a device
//! (`/dev/zero`) would hang the compiler or exhaust its memory. Text from the file (tensor
//! names, the parser's messages) is quoted in errors at most [`MAX_QUOTED`] characters long,
//! control characters escaped, and at most [`MAX_LISTED`] names are listed.

use crate::ir::Layer;
use safetensors::tensor::{Dtype, SafeTensors};
use std::io::Read;
use std::path::Path;
use syn::LitStr;

/// The largest weights file `weights = "..."` reads: 256 MiB (checked before reading, and
/// the read itself stops there, should the file grow meanwhile).
pub const MAX_FILE: u64 = 256 << 20;
/// The most characters of a name from the file quoted in an error.
const MAX_QUOTED: usize = 64;
/// The most extra tensor names an error lists.
const MAX_LISTED: usize = 10;

/// `s` (a name or message from the file) for an error: at most `max` characters, control
/// characters escaped (`\n`, `\u{1b}`), and `…` when it was cut.
fn bounded(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `n` bytes in MiB, rounded up to a tenth (so a file just over the limit never reads as the
/// limit): `300 MiB`, `256.1 MiB`.
fn mib(n: u64) -> String {
    let tenths = (u128::from(n) * 10).div_ceil(1 << 20);
    if tenths % 10 == 0 {
        format!("{} MiB", tenths / 10)
    } else {
        format!("{}.{} MiB", tenths / 10, tenths % 10)
    }
}

/// What a path that is not a regular file is, for the error.
fn kind_of(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "neither a file nor a directory"
    }
}

/// At most `limit` bytes from `r`; more is an error (a file that grew after its size was
/// checked).
fn read_bounded(r: impl Read, limit: u64, shown: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    r.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read weights file `{shown}`: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "`{shown}` grew past {} while it was read; baked weights files are limited to {}",
            mib(limit),
            mib(limit)
        ));
    }
    Ok(bytes)
}

/// The file's bytes, if it is a regular file of at most `limit` bytes: its type and size are
/// checked before it is opened (opening a FIFO blocks until a writer comes).
fn read_file(path: &Path, shown: &str, limit: u64) -> Result<Vec<u8>, String> {
    let cannot = |e: std::io::Error| format!("cannot read weights file `{}`: {e}", path.display());
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        return Err(format!(
            "`{shown}` is not a regular file (it is {}); `weights = \"...\"` reads a safetensors file",
            kind_of(meta.file_type())
        ));
    }
    if meta.len() > limit {
        return Err(format!(
            "`{shown}` is {}; baked weights files are limited to {}",
            mib(meta.len()),
            mib(limit)
        ));
    }
    read_bounded(std::fs::File::open(path).map_err(cannot)?, limit, shown)
}

#[derive(Debug)]
/// One layer's tensors in our memory layout (what `Layer::tensor(k)` exposes), as f64.
pub struct BakedLayer {
    pub kernel: Vec<f64>,
    pub recurrent: Vec<f64>,
    /// `G` values, or `2G` for a GRU and a two-bias layer (input bias then recurrent bias).
    pub bias: Vec<f64>,
    /// A fourth tensor (an attention's output kernel).
    pub extra: Vec<f64>,
}

#[derive(Debug)]
pub struct Baked {
    /// Absolute path, for `include_bytes!` (so cargo rebuilds when the file changes).
    pub path: String,
    pub layers: Vec<BakedLayer>,
    /// The tensors the layers read.
    pub used: Vec<String>,
    /// Every tensor in the file.
    pub names: Vec<String>,
}

fn convert(name: &str, v: &safetensors::tensor::TensorView<'_>) -> Result<Vec<f64>, String> {
    let dtype = match v.dtype() {
        Dtype::F32 => rnn_layout::Dtype::F32,
        Dtype::F64 => rnn_layout::Dtype::F64,
        Dtype::BF16 => rnn_layout::Dtype::BF16,
        Dtype::F16 => rnn_layout::Dtype::F16,
        other => {
            return Err(format!(
                "tensor `{name}` has dtype {other:?}; only F32, F64, F16 and BF16 can be baked"
            ))
        }
    };
    let b = v.data();
    Ok((0..b.len() / dtype.size())
        .map_while(|i| dtype.get(b, i))
        .collect())
}

fn fmt_shape(s: &[usize]) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

struct File<'a> {
    st: SafeTensors<'a>,
    path: &'a str,
    /// Round every value to f32, as the runtime loader does for an f32 model.
    f32: bool,
}

/// `v` in the model's precision (f32 values are kept in f64 exactly).
fn round(v: f64, f32: bool) -> f64 {
    if f32 {
        v as f32 as f64
    } else {
        v
    }
}

impl File<'_> {
    fn get(
        &self,
        layer: usize,
        kind: &str,
        name: &str,
        shape: &[usize],
    ) -> Result<Vec<f64>, String> {
        let v = self.st.tensor(name).map_err(|_| {
            format!(
                "{}: layer {layer} ({kind}) needs tensor `{name}` of shape {}, which the file does not have",
                self.path,
                fmt_shape(shape)
            )
        })?;
        if v.shape() != shape {
            return Err(format!(
                "{}: layer {layer} ({kind}): tensor `{name}` has shape {}, but the model needs {}",
                self.path,
                fmt_shape(v.shape()),
                fmt_shape(shape)
            ));
        }
        let d: Vec<f64> = convert(name, &v)?
            .into_iter()
            .map(|x| round(x, self.f32))
            .collect();
        if let Some(i) = d.iter().position(|x| !x.is_finite()) {
            return Err(format!(
                "{}: tensor `{name}` holds a NaN or infinity at flat index {i}",
                self.path
            ));
        }
        Ok(d)
    }
}

/// The file `weights = "..."` names (relative to the crate's manifest): its path, its name as
/// written, its bytes.
fn read_weights(lit: &LitStr) -> syn::Result<(std::path::PathBuf, String, Vec<u8>)> {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let path = std::path::Path::new(&dir).join(lit.value());
    let shown = lit.value();
    let bytes = read_file(&path, &shown, MAX_FILE).map_err(|m| syn::Error::new(lit.span(), m))?;
    Ok((path, shown, bytes))
}

/// The bytes as safetensors, or an error at the literal.
fn parse<'a>(bytes: &'a [u8], shown: &str, lit: &LitStr) -> syn::Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| {
        syn::Error::new(
            lit.span(),
            format!(
                "{shown}: not a valid safetensors file: {}",
                bounded(&e.to_string(), 4 * MAX_QUOTED)
            ),
        )
    })
}

/// The file's tensors not in `used`, listed for a message (sorted, at most `MAX_LISTED`, each
/// quoted and bounded), or `None`.
fn unused(st: &SafeTensors<'_>, used: &[String]) -> Option<String> {
    let mut extra: Vec<&str> = st
        .names()
        .into_iter()
        .filter(|n| !used.iter().any(|u| u == n))
        .collect();
    extra.sort();
    if extra.is_empty() {
        return None;
    }
    let mut listed = extra
        .iter()
        .take(MAX_LISTED)
        .map(|n| format!("`{}`", bounded(n, MAX_QUOTED)))
        .collect::<Vec<_>>()
        .join(", ");
    if extra.len() > MAX_LISTED {
        listed += &format!(" and {} more", extra.len() - MAX_LISTED);
    }
    Some(listed)
}

/// Reads and checks the file for `layers`; `torch` selects PyTorch names and layout.
/// `half`: the file holds an encoder-decoder's two halves, so tensors this half does not
/// read are the other's (the caller checks that each is read by one of them).
pub fn load(
    layers: &[Layer],
    lit: &LitStr,
    torch: bool,
    f32: bool,
    half: bool,
) -> syn::Result<Baked> {
    let err = |m: String| syn::Error::new(lit.span(), m);
    let (path, shown, bytes) = read_weights(lit)?;
    let st = parse(&bytes, &shown, lit)?;
    let file = File {
        st,
        path: &shown,
        f32,
    };
    let mut used = Vec::new();
    let mut out = Vec::new();
    for (l, layer) in layers.iter().enumerate() {
        if ["embedding", "attention"].contains(&layer.kind.name) && !torch {
            let p = &layer.keras_name;
            let kind = layer.kind.name;
            let (i, u) = (layer.input, layer.units);
            let bl = if kind == "embedding" {
                let name = format!("{p}/embeddings");
                let kernel = file.get(l, kind, &name, &[i, u]).map_err(err)?;
                used.push(name);
                BakedLayer {
                    kernel,
                    recurrent: Vec::new(),
                    bias: Vec::new(),
                    extra: Vec::new(),
                }
            } else {
                let (e, dot) = (layer.memory.0, layer.merge == 1);
                let a = if dot { 0 } else { u };
                let mut get = |t: &str, shape: &[usize]| {
                    let name = format!("{p}/{t}");
                    let v = file.get(l, kind, &name, shape).map_err(err);
                    used.push(name);
                    v
                };
                let (q, k, sc) = if dot {
                    (Vec::new(), Vec::new(), Vec::new())
                } else {
                    (
                        get("query_kernel", &[i, a])?,
                        get("key_kernel", &[e, a])?,
                        get("scale", &[a])?,
                    )
                };
                BakedLayer {
                    kernel: q,
                    recurrent: k,
                    bias: sc,
                    extra: get("output_kernel", &[e + i, u])?,
                }
            };
            out.push(bl);
            continue;
        }
        if !["rnn", "lstm", "gru", "dense"].contains(&layer.kind.name) {
            return Err(err(format!(
                "layer {l} (`{}`) cannot be baked from a file yet; load its weights at run time",
                layer.kind.name
            )));
        }
        if layer.drop.iter().any(|r| *r > 0.0) {
            return Err(err(format!(
                "layer {l} (`{}` with dropout) cannot be baked from a file yet; load its weights at run time",
                layer.kind.name
            )));
        }
        if layer.flag("peephole") {
            return Err(err(format!(
                "layer {l} (`lstm`, peephole = true) cannot be baked from a file yet; load its weights at run time"
            )));
        }
        let (i, h, g) = (layer.input, layer.units, layer.gate_rows());
        let kind = layer.kind.name;
        let p = &layer.keras_name;
        let bl = if !torch {
            let mut names = vec![format!("{p}/kernel")];
            let kernel = file.get(l, kind, &names[0], &[i, g]).map_err(err)?;
            let (recurrent, bias) = if layer.kind.is("dense") && !layer.flag("use_bias") {
                (Vec::new(), vec![0.0; h])
            } else if layer.kind.is("dense") {
                names.push(format!("{p}/bias"));
                (Vec::new(), file.get(l, kind, &names[1], &[h]).map_err(err)?)
            } else {
                names.push(format!("{p}/recurrent_kernel"));
                names.push(format!("{p}/bias"));
                let r = file.get(l, kind, &names[1], &[h, g]).map_err(err)?;
                let b = match (layer.kind.name, layer.flag("reset_after")) {
                    ("gru", true) => file.get(l, kind, &names[2], &[2, g]).map_err(err)?,
                    ("gru", false) => {
                        let mut b = file.get(l, kind, &names[2], &[g]).map_err(err)?;
                        b.resize(2 * g, 0.0);
                        b
                    }
                    _ if layer.biases == 2 => file.get(l, kind, &names[2], &[2, g]).map_err(err)?,
                    _ => file.get(l, kind, &names[2], &[g]).map_err(err)?,
                };
                (r, b)
            };
            used.extend(names);
            BakedLayer {
                kernel,
                recurrent,
                bias,
                extra: Vec::new(),
            }
        } else if layer.kind.is("dense") {
            let (wn, bn) = (format!("{p}.weight"), format!("{p}.bias"));
            let w = file.get(l, kind, &wn, &[h, i]).map_err(err)?;
            let b = if layer.flag("use_bias") {
                let b = file.get(l, kind, &bn, &[h]).map_err(err)?;
                used.push(bn);
                b
            } else {
                vec![0.0; h]
            };
            used.push(wn);
            let mut kernel = vec![0.0; h * i];
            rnn_layout::linear_from_torch(h, i, &w, &mut kernel);
            BakedLayer {
                kernel,
                recurrent: Vec::new(),
                bias: b,
                extra: Vec::new(),
            }
        } else {
            if layer.kind.is("gru") && !layer.flag("reset_after") {
                return Err(err(format!(
                    "layer {l} (gru, reset_after = false) has no PyTorch equivalent; use `layout = keras`"
                )));
            }
            let names: Vec<String> = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
                .iter()
                .map(|b| format!("{p}.{b}_l0"))
                .collect();
            let w_ih = file.get(l, kind, &names[0], &[g, i]).map_err(err)?;
            let w_hh = file.get(l, kind, &names[1], &[g, h]).map_err(err)?;
            let b_ih = file.get(l, kind, &names[2], &[g]).map_err(err)?;
            let b_hh = file.get(l, kind, &names[3], &[g]).map_err(err)?;
            used.extend(names);
            let perm: &[usize] = match layer.kind.name {
                "gru" => &rnn_layout::GRU_TORCH_BLOCKS,
                "lstm" => &rnn_layout::LSTM_TORCH_BLOCKS,
                _ => &rnn_layout::RNN_TORCH_BLOCKS,
            };
            let two_biases = layer.kind.is("gru") || layer.biases == 2;
            let mut kernel = vec![0.0; g * i];
            let mut recurrent = vec![0.0; g * h];
            let mut bias = vec![0.0; if two_biases { 2 * g } else { g }];
            let (b_in, b_rec) = bias.split_at_mut(g);
            // As the runtime loader, in the model's precision (the bias sum rounds).
            if file.f32 {
                let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
                let (wi, wh, bi, bh) = (f(&w_ih), f(&w_hh), f(&b_ih), f(&b_hh));
                let (mut k, mut u) = (vec![0f32; g * i], vec![0f32; g * h]);
                let (mut b0, mut b1) = (vec![0f32; g], vec![0f32; g]);
                let src = rnn_layout::TorchRecurrent {
                    w_ih: &wi,
                    w_hh: &wh,
                    b_ih: &bi,
                    b_hh: &bh,
                };
                let dst = rnn_layout::KerasRecurrent {
                    kernel: &mut k,
                    recurrent: &mut u,
                    bias: &mut b0,
                    recurrent_bias: two_biases.then_some(&mut b1[..]),
                };
                rnn_layout::recurrent_from_torch(perm, i, h, &src, dst);
                let back = |d: &mut [f64], s: &[f32]| {
                    d.iter_mut().zip(s).for_each(|(d, s)| *d = *s as f64)
                };
                back(&mut kernel, &k);
                back(&mut recurrent, &u);
                back(b_in, &b0);
                back(b_rec, &b1);
            } else {
                let src = rnn_layout::TorchRecurrent {
                    w_ih: &w_ih,
                    w_hh: &w_hh,
                    b_ih: &b_ih,
                    b_hh: &b_hh,
                };
                let dst = rnn_layout::KerasRecurrent {
                    kernel: &mut kernel,
                    recurrent: &mut recurrent,
                    bias: b_in,
                    recurrent_bias: two_biases.then_some(b_rec),
                };
                rnn_layout::recurrent_from_torch(perm, i, h, &src, dst);
            }
            if let Some(r) = (0..g).find(|&r| !bias[r].is_finite()) {
                return Err(err(format!(
                    "{shown}: layer {l} ({kind}): `{p}.bias_ih_l0 + {p}.bias_hh_l0` overflows at index {r}"
                )));
            }
            BakedLayer {
                kernel,
                recurrent,
                bias,
                extra: Vec::new(),
            }
        };
        out.push(bl);
    }
    let names: Vec<String> = file.st.names().into_iter().map(str::to_string).collect();
    if let (Some(listed), false) = (unused(&file.st, &used), half) {
        return Err(err(format!(
            "{shown}: the file has tensor(s) the model does not use: {listed}"
        )));
    }
    Ok(Baked {
        path: path.display().to_string(),
        layers: out,
        used,
        names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::ModelDef;

    fn check(model: &str, file: &str, torch: bool) -> Result<Baked, String> {
        let def: ModelDef = syn::parse_str(model).unwrap();
        let m = crate::check::validate(&def).map_err(|e| e.to_string())?;
        let lit = LitStr::new(
            &format!("../../tests/fixtures/data/{file}"),
            proc_macro2::Span::call_site(),
        );
        load(&m.layers, &lit, torch, true, false).map_err(|e| e.to_string())
    }

    #[test]
    fn the_card_files_bake() {
        let b = check(
            "struct M { lstm(32, 16) -> gru(16) -> dense(1) }",
            "ours_card_torch.safetensors",
            true,
        )
        .unwrap();
        assert_eq!(b.layers.len(), 3);
        assert_eq!(b.layers[0].kernel.len(), 64 * 32);
        assert_eq!(b.layers[1].bias.len(), 96);
        check(
            "struct M { lstm(32, 16) -> gru(16) -> dense(1) }",
            "ours_card_keras.safetensors",
            false,
        )
        .unwrap();
    }

    #[test]
    fn a_wrong_shape_names_the_tensor_and_both_shapes() {
        let e = check(
            "struct M { lstm(32, 8) -> gru(16) -> dense(1) }",
            "ours_card_keras.safetensors",
            false,
        )
        .unwrap_err();
        assert!(
            e.contains("tensor `lstm/kernel` has shape [32, 64], but the model needs [32, 32]"),
            "{e}"
        );
        let e = check(
            "struct M { lstm(32, 16) -> gru(16) -> dense(2) }",
            "ours_card_torch.safetensors",
            true,
        )
        .unwrap_err();
        assert!(
            e.contains("tensor `dense.weight` has shape [1, 16], but the model needs [2, 16]"),
            "{e}"
        );
    }

    #[test]
    fn missing_extra_and_unreadable_files_are_errors() {
        let e = check(
            "struct M { lstm(32, 16) -> lstm(16) -> dense(1) }",
            "ours_card_keras.safetensors",
            false,
        )
        .unwrap_err();
        assert!(
            e.contains("needs tensor `lstm_1/kernel` of shape [16, 64]"),
            "{e}"
        );
        let e = check(
            "struct M { lstm(32, 16) -> gru(16) }",
            "ours_card_keras.safetensors",
            false,
        )
        .unwrap_err();
        assert!(
            e.contains("does not use: `dense/bias`, `dense/kernel`"),
            "{e}"
        );
        let e = check(
            "struct M { lstm(32, 16) }",
            "no_such_file.safetensors",
            false,
        )
        .unwrap_err();
        assert!(e.contains("cannot read weights file"), "{e}");
        let e = check("struct M { lstm(32, 16) }", "ours_card.json", false).unwrap_err();
        assert!(e.contains("not a valid safetensors file"), "{e}");
        let e = check(
            "struct M { gru(32, 16, reset_after = false) }",
            "ours_card_torch.safetensors",
            true,
        )
        .unwrap_err();
        assert!(e.contains("no PyTorch equivalent"), "{e}");
    }

    #[test]
    fn a_value_beyond_f32_is_a_compile_error_not_a_panic() {
        use safetensors::tensor::TensorView;
        let w: Vec<u8> = [1e300f64, 0.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let b: Vec<u8> = 0.25f64.to_le_bytes().to_vec();
        let views = vec![
            (
                "dense/kernel".to_string(),
                TensorView::new(Dtype::F64, vec![2, 1], &w).unwrap(),
            ),
            (
                "dense/bias".to_string(),
                TensorView::new(Dtype::F64, vec![1], &b).unwrap(),
            ),
        ];
        let bytes = safetensors::serialize(views, None).unwrap();
        let path =
            std::env::temp_dir().join(format!("rnn-macros-big-{}.safetensors", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let def: ModelDef = syn::parse_str("struct M { dense(2, 1) }").unwrap();
        let m = crate::check::validate(&def).unwrap();
        let lit = LitStr::new(path.to_str().unwrap(), proc_macro2::Span::call_site());
        let e = load(&m.layers, &lit, false, true, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tensor `dense/kernel` holds a NaN or infinity at flat index 0"),
            "{e}"
        );
        // In an f64 model the same file is fine.
        assert!(load(&m.layers, &lit, false, false, false).is_ok());
        let _ = std::fs::remove_file(path);
    }
    /// A fresh directory for one test's files.
    fn temp_dir(test: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rnn-macros-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// `load` of a dense(2, 1) model from `path`, on another thread: a regression that opens
    /// a FIFO would block forever, and fails here after 20 s instead.
    fn load_path(path: &Path) -> Result<Baked, String> {
        let path = path.to_str().unwrap().to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let def: ModelDef = syn::parse_str("struct M { dense(2, 1) }").unwrap();
            let m = crate::check::validate(&def).unwrap();
            let lit = LitStr::new(&path, proc_macro2::Span::call_site());
            let _ = tx.send(load(&m.layers, &lit, false, true, false).map_err(|e| e.to_string()));
        });
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .expect("reading the weights file did not return (it blocked or read forever)")
    }

    #[test]
    fn a_fifo_is_refused_without_opening_it() {
        let dir = temp_dir("fifo");
        let fifo = dir.join("weights.safetensors");
        match std::process::Command::new("mkfifo").arg(&fifo).status() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("skipped: no mkfifo");
                return;
            }
            r => assert!(r.unwrap().success(), "mkfifo failed"),
        }
        let e = load_path(&fifo).unwrap_err();
        assert!(
            e.contains(&format!(
                "`{}` is not a regular file (it is a FIFO)",
                fifo.display()
            )),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_device_and_a_directory_are_refused() {
        if Path::new("/dev/zero").exists() {
            let e = load_path(Path::new("/dev/zero")).unwrap_err();
            assert!(
                e.contains("`/dev/zero` is not a regular file (it is a character device)"),
                "{e}"
            );
        }
        let dir = temp_dir("dir");
        let e = load_path(&dir).unwrap_err();
        assert!(
            e.contains("is not a regular file (it is a directory)"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_file_over_the_limit_is_refused_unread() {
        let dir = temp_dir("big");
        let path = dir.join("x.safetensors");
        // Sparse: its size is checked, its bytes are never read.
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(300 << 20).unwrap();
        let e = load_path(&path).unwrap_err();
        assert!(
            e.contains(&format!(
                "`{}` is 300 MiB; baked weights files are limited to 256 MiB",
                path.display()
            )),
            "{e}"
        );
        f.set_len(MAX_FILE + 1).unwrap();
        let e = load_path(&path).unwrap_err();
        assert!(
            e.contains("is 256.1 MiB; baked weights files are limited to 256 MiB"),
            "{e}"
        );
        drop(f);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_file_that_grows_is_read_only_up_to_the_limit() {
        // An endless reader stands in for a file that grows after its size was checked.
        let e = read_bounded(std::io::repeat(0), 3 << 20, "w.safetensors").unwrap_err();
        assert_eq!(
            e,
            "`w.safetensors` grew past 3 MiB while it was read; baked weights files are limited to 3 MiB"
        );
        assert_eq!(read_bounded(&[1u8, 2, 3][..], 3, "w").unwrap(), [1, 2, 3]);
        assert_eq!(mib(MAX_FILE), "256 MiB");
        assert_eq!(mib(1), "0.1 MiB");
    }

    #[test]
    fn names_from_the_file_are_quoted_bounded() {
        use safetensors::tensor::TensorView;
        let one = 0.5f32.to_le_bytes();
        let two: Vec<u8> = [0.5f32, 0.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut views = vec![
            (
                "dense/kernel".to_string(),
                TensorView::new(Dtype::F32, vec![2, 1], &two).unwrap(),
            ),
            (
                "dense/bias".to_string(),
                TensorView::new(Dtype::F32, vec![1], &one).unwrap(),
            ),
        ];
        for i in 0..15 {
            let name = format!("{i:02}\n\u{1b}[31m{}", "x".repeat(10_000));
            views.push((name, TensorView::new(Dtype::F32, vec![1], &one).unwrap()));
        }
        let dir = temp_dir("names");
        let path = dir.join("hostile.safetensors");
        std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
        let e = load_path(&path).unwrap_err();
        assert!(e.len() < 2000, "{} bytes: {e}", e.len());
        assert!(!e.contains('\n') && !e.contains('\u{1b}'), "{e}");
        let first = format!("`00\\n\\u{{1b}}[31m{}…`", "x".repeat(MAX_QUOTED - 8));
        assert!(e.contains(&first), "{e}");
        assert!(e.contains("`09\\n") && !e.contains("`10\\n"), "{e}");
        assert!(e.ends_with(" and 5 more"), "{e}");

        // The parser's own messages quote the header (serde's "unknown variant `...`").
        let header = format!(
            r#"{{"t":{{"dtype":"{}","shape":[1],"data_offsets":[0,4]}}}}"#,
            "Q".repeat(10_000)
        );
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend([0; 4]);
        std::fs::write(&path, bytes).unwrap();
        let e = load_path(&path).unwrap_err();
        assert!(e.contains("not a valid safetensors file"), "{e}");
        assert!(e.len() < 1000 && e.contains('…'), "{} bytes: {e}", e.len());
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A quantized model's integer tensors, read at compile time (`quantize = int8`).
#[derive(Debug)]
pub struct QBaked {
    /// Absolute path, for `include_bytes!`.
    pub path: String,
    /// Per layer, its tensors by name (values widened to i64).
    pub layers: Vec<Vec<(&'static str, Vec<i64>)>>,
    /// The input's exponent.
    pub input_exponent: i32,
}

/// The integer tensors a quantized layer has: name, dtype, shape (`last`: the model's last
/// layer, whose dense form outputs `i32`).
pub fn quantized_tensors(layer: &Layer, last: bool) -> Vec<(&'static str, Dtype, Vec<usize>)> {
    let (i, h) = (layer.input, layer.units);
    let g = layer.gate_rows();
    let mut t = vec![
        ("kernel", Dtype::I8, vec![g, i]),
        ("kernel_shift", Dtype::I8, vec![g]),
    ];
    if layer.kind.is("dense") {
        let b = if last { Dtype::I32 } else { Dtype::I16 };
        t.push(("bias", b, vec![h]));
        t.push(("activation", Dtype::I8, vec![1]));
        return t;
    }
    t.push(("recurrent_kernel", Dtype::I8, vec![g, h]));
    t.push(("recurrent_kernel_shift", Dtype::I8, vec![g]));
    t.push(("bias", Dtype::I16, vec![g]));
    if layer.kind.is("gru") {
        t.push(("recurrent_bias", Dtype::I16, vec![g]));
        t.push(("reset_after", Dtype::I8, vec![1]));
    }
    t
}

/// Reads the file `rnn::files::save_quantized` wrote for `layers`: every tensor present, of
/// its dtype and shape, and no other.
pub fn load_quantized(layers: &[Layer], lit: &LitStr) -> syn::Result<QBaked> {
    let err = |m: String| syn::Error::new(lit.span(), m);
    let (path, shown, bytes) = read_weights(lit)?;
    let st = parse(&bytes, &shown, lit)?;
    let ints = |name: &str, dtype: Dtype, shape: &[usize]| -> Result<Vec<i64>, String> {
        let v = st.tensor(name).map_err(|_| {
            format!(
                "{shown}: needs tensor `{name}` ({dtype:?}, shape {}), which the file does not have",
                fmt_shape(shape)
            )
        })?;
        if v.dtype() != dtype || v.shape() != shape {
            return Err(format!(
                "{shown}: tensor `{name}` is {:?} of shape {}, but the quantized model needs {dtype:?} of shape {}",
                v.dtype(),
                fmt_shape(v.shape()),
                fmt_shape(shape)
            ));
        }
        let d = v.data();
        Ok(match dtype {
            Dtype::I8 => d.iter().map(|&b| b as i8 as i64).collect(),
            Dtype::I16 => d
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)
                .collect(),
            _ => d
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                .collect(),
        })
    };
    let mut used = vec!["input_exponent".to_string()];
    let input_exponent = ints("input_exponent", Dtype::I32, &[1]).map_err(err)?[0] as i32;
    let mut out = Vec::new();
    for (l, layer) in layers.iter().enumerate() {
        let mut ts = Vec::new();
        for (t, dtype, shape) in quantized_tensors(layer, l + 1 == layers.len()) {
            let name = format!("{}/{t}", layer.keras_name);
            let v = ints(&name, dtype, &shape).map_err(err)?;
            if t == "activation" {
                let want = crate::ir::qact_code(layer.activation);
                if v.first().copied() != want.map(i64::from) {
                    return Err(err(format!(
                        "{shown}: layer {l} was quantized with activation code {:?}, but the model line declares `{}` (code {want:?}: 0 linear, 1 relu, 2 tanh, 3 sigmoid); quantize the model this line declares",
                        v.first(),
                        layer.activation.name()
                    )));
                }
            }
            if t == "reset_after" {
                let want = i64::from(layer.flag("reset_after"));
                if v.first().copied() != Some(want) {
                    return Err(err(format!(
                        "{shown}: layer {l} (gru) was quantized with reset_after = {}, but the model line declares reset_after = {}; quantize the model this line declares",
                        v.first().copied() == Some(1),
                        want == 1
                    )));
                }
            }
            if t.ends_with("kernel") && v.contains(&-128) {
                return Err(err(format!(
                    "{shown}: tensor `{name}` holds -128; quantized weights are in [-127, 127]"
                )));
            }
            ts.push((t, v));
            used.push(name);
        }
        out.push(ts);
    }
    if let Some(listed) = unused(&st, &used) {
        return Err(err(format!(
            "{shown}: the file has tensor(s) the quantized model does not use: {listed}"
        )));
    }
    Ok(QBaked {
        path: path.display().to_string(),
        layers: out,
        input_exponent,
    })
}
