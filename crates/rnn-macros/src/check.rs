//! Validation: turns the parsed text into a model whose every size is known, collecting every
//! mistake as an error at the token that caused it.

use crate::ir::{Act, Kind, Layer, Model};
use crate::layers::{self, LayerKind};
use crate::options::{check_options, ident_value, ungrouped, width};
use crate::parse::{LayerDef, ModelDef};
use crate::suggest::closest;
use proc_macro2::Span;
use syn::{Expr, Lit};

/// Collects errors instead of stopping at the first (serde's `Ctxt`).
#[derive(Default)]
pub(crate) struct Errors(pub(crate) Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
    pub(crate) fn at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }
    pub(crate) fn spanned(&mut self, t: impl quote::ToTokens, msg: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(t, msg));
    }
}

/// Checks a model; every problem becomes an error at its token.
pub fn validate(def: &ModelDef) -> syn::Result<Model<'_>> {
    let mut errs = Errors::default();
    let mut scalar = "f32";
    let mut exact_math = false;
    let mut weights: Option<syn::LitStr> = None;
    let mut torch_layout = false;
    let mut torch_params = false;
    let mut quantize: Option<&crate::parse::Opt> = None;
    let mut seen: Vec<String> = Vec::new();
    crate::names::check_name(&def.name, &mut errs);
    crate::names::check_attrs(def, &mut errs);
    for o in &def.options {
        let name = o.name.to_string();
        if seen.contains(&name) {
            errs.spanned(&o.name, format!("model option `{name}` is given twice"));
            continue;
        }
        seen.push(name.clone());
        let v = ident_value(&o.value).map(|i| i.to_string());
        match (name.as_str(), v.as_deref()) {
            ("scalar", Some("f32")) => scalar = "f32",
            ("scalar", Some("f64")) => scalar = "f64",
            ("scalar", _) => {
                let v = &o.value;
                errs.spanned(
                    v,
                    format!("expected `f32` or `f64`, found `{}`", quote::quote!(#v)),
                )
            }
            ("math", Some("fast")) => exact_math = false,
            ("math", Some("exact")) => exact_math = true,
            ("math", _) => {
                let v = &o.value;
                errs.spanned(
                    v,
                    format!("expected `fast` or `exact`, found `{}`", quote::quote!(#v)),
                )
            }
            ("weights", _) => match ungrouped(&o.value) {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => weights = Some(s.clone()),
                v => errs.spanned(
                    v,
                    format!(
                        "expected a file path in quotes, found `{}`",
                        quote::quote!(#v)
                    ),
                ),
            },
            ("quantize", Some("int8")) => quantize = Some(o),
            ("quantize", _) => {
                let v = &o.value;
                errs.spanned(
                    v,
                    format!("expected `int8` (int8 weights, int16 activations), found `{}`", quote::quote!(#v)),
                )
            }
            ("layout", Some("keras")) => torch_layout = false,
            ("layout", Some("pytorch")) => torch_layout = true,
            ("params", Some("keras")) => torch_params = false,
            ("params", Some("pytorch")) => torch_params = true,
            ("params", _) => {
                let v = &o.value;
                errs.spanned(
                    v,
                    format!(
                        "expected `keras` or `pytorch`, found `{}`",
                        quote::quote!(#v)
                    ),
                )
            }
            ("layout", _) => {
                let v = &o.value;
                errs.spanned(
                    v,
                    format!(
                        "expected `keras` or `pytorch`, found `{}`",
                        quote::quote!(#v)
                    ),
                )
            }
            ("source_len" | "target_len" | "start" | "end", _) => errs.spanned(
                &o.name,
                format!("model option `{name}` applies to an encoder-decoder model, `encoder => decoder`, and this model has no `=>`"),
            ),
            _ => {
                let hint = closest(&name, &["scalar", "math", "weights", "layout", "params", "quantize"])
                    .map(|c| format!("did you mean `{c}`? "))
                    .unwrap_or_default();
                errs.spanned(&o.name, format!("unknown model option `{name}`; {hint}model options are `scalar = f32 | f64`, `math = fast | exact`, `weights = \"file.safetensors\"`, `layout = keras | pytorch`, `params = keras | pytorch` and `quantize = int8`"))
            }
        }
    }
    if let Some(o) = def.options.iter().find(|o| o.name == "layout") {
        if !seen.iter().any(|s| s == "weights") {
            errs.spanned(
                &o.name,
                "`layout` applies to `weights = \"...\"`, which this model does not have; remove it \
                 (a file loaded at run time takes its layout as an argument, e.g. \
                 `rnn::files::load(&mut model, path, rnn::Layout::PyTorch)`)",
            );
        }
    }
    if def.layers.is_empty() {
        errs.at(
            def.brace_span,
            format!(
                "empty model `{}`: expected at least one layer, e.g. `lstm(32, 16) -> dense(1)`",
                def.name
            ),
        );
    }
    let mut layers: Vec<Layer> = Vec::new();
    // Keras's automatic names: one counter per kind (a decoder's continue its encoder's).
    let mut counts: Vec<(&str, usize)> = def.name_counts.clone();
    let mut prev: Option<(usize, String)> = None; // (output width, description) of the previous valid layer
    let mut chain_ok = true;
    for (idx, l) in def.layers.iter().enumerate() {
        match check_layer(l, idx, prev.as_ref(), &mut errs) {
            Some(mut layer) => {
                if torch_params {
                    if let Some(inner) = layer.inner.as_mut().filter(|i| i.kind.bias_param) {
                        inner.biases = 2;
                    }
                    if layer.kind.bias_param {
                        layer.biases = 2;
                    } else if layer.kind.is("gru") && !layer.flag("reset_after") {
                        errs.spanned(
                            &l.kind,
                            "`params = pytorch` needs this `gru` to be PyTorch's GRU: remove `reset_after = false` (PyTorch's GRU applies the reset gate after the recurrent kernel, Keras's `reset_after = true`)",
                        );
                    }
                }
                let c = match counts.iter_mut().find(|(k, _)| *k == layer.kind.name) {
                    Some((_, c)) => {
                        *c += 1;
                        *c - 1
                    }
                    None => {
                        counts.push((layer.kind.name, 1));
                        0
                    }
                };
                let stem = layer.kind.keras.0;
                layer.keras_name = if c == 0 {
                    stem.to_string()
                } else {
                    format!("{stem}_{c}")
                };
                prev = Some((layer.units, layer.source()));
                layers.push(layer);
            }
            None => {
                chain_ok = false;
                prev = None;
            }
        }
    }
    for (l, d) in layers.iter_mut().filter(|l| l.kind.attends).zip(
        def.layers
            .iter()
            .filter(|d| LayerKind::find(&d.kind.to_string()).is_some_and(|k| k.attends)),
    ) {
        match def.memory {
            None => errs.spanned(
                &d.kind,
                "`attention` attends over an encoder's outputs: it goes in the decoder of an encoder-decoder model, `encoder => decoder`",
            ),
            Some((e, n)) => {
                l.memory = (e, n);
                if l.merge == 1 && e != l.input {
                    errs.spanned(
                        &d.kind,
                        format!("`score = dot` multiplies the decoder's state by the encoder's outputs: it needs them of one width, but this attention's input has {} and the encoder outputs {e}; use `score = additive`", l.input),
                    );
                }
            }
        }
    }
    let mut qbaked = None;
    if let Some(o) = quantize {
        check_quantizable(
            o,
            &layers,
            weights.is_some(),
            torch_layout || torch_params,
            &mut errs,
        );
        if let (Some(path), true, None) = (&weights, chain_ok, &errs.0) {
            match crate::baked::load_quantized(&layers, path) {
                Ok(b) => qbaked = Some(b),
                Err(e) => errs.push(e),
            }
        }
    }
    let mut baked = None;
    if let (Some(path), true, None, None) = (&weights, chain_ok, &errs.0, quantize) {
        match crate::baked::load(&layers, path, torch_layout, scalar == "f32", def.half) {
            Ok(b) => baked = Some(b),
            Err(e) => errs.push(e),
        }
    }
    match errs.0 {
        Some(e) => Err(e),
        None if !chain_ok => Err(syn::Error::new(def.name.span(), "invalid model")),
        None => Ok(Model {
            def,
            scalar,
            exact_math,
            layers,
            baked,
            quantized: qbaked,
        }),
    }
}

/// `quantize = int8`: baked integer weights, and only the layers with an integer form.
fn check_quantizable(
    o: &crate::parse::Opt,
    layers: &[Layer],
    has_weights: bool,
    torch: bool,
    errs: &mut Errors,
) {
    if !has_weights {
        errs.spanned(
            &o.name,
            "`quantize = int8` bakes integer weights in: add `weights = \"file.safetensors\";`, a file written by `rnn::files::save_quantized` from a trained model (post-training quantization, `rnn::quant::quantize`)",
        );
    }
    if torch {
        errs.spanned(
            &o.name,
            "`quantize = int8` reads its own integer file: remove `layout = pytorch` / `params = pytorch`",
        );
    }
    for (k, l) in layers.iter().enumerate() {
        let ok = match l.kind.name {
            "lstm" => !l.flag("peephole"),
            "gru" => true,
            "rnn" => l.activation == Act::Tanh,
            "dense" => crate::ir::qact_code(l.activation).is_some() && l.flag("use_bias"),
            _ => false,
        } && l.drop.iter().all(|r| *r == 0.0);
        if !ok {
            errs.spanned(
                &o.value,
                format!(
                    "`quantize = int8` supports `rnn` (tanh), `lstm` (no peephole), `gru` and `dense` (linear, relu, tanh or sigmoid, with a bias), without dropout; layer {k} is `{}`",
                    l.source()
                ),
            );
        }
    }
}

fn check_layer(
    l: &LayerDef,
    idx: usize,
    prev: Option<&(usize, String)>,
    errs: &mut Errors,
) -> Option<Layer> {
    let kind_s = l.kind.to_string();
    let Some(kind) = LayerKind::find(&kind_s) else {
        let hint = closest(&kind_s, &layers::names())
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        errs.spanned(
            &l.kind,
            format!(
                "unknown layer `{kind_s}`; {hint}expected one of {}",
                layers::listed()
            ),
        );
        return None;
    };
    check_kind(kind, l, idx, prev, errs)
}

/// [`check_layer`] once the layer's kind is known.
fn check_kind(
    kind: Kind,
    l: &LayerDef,
    idx: usize,
    prev: Option<&(usize, String)>,
    errs: &mut Errors,
) -> Option<Layer> {
    let kind_s = kind.name;
    if kind.rate_arg {
        check_options(kind, &l.options, errs);
        return check_rate(kind, l, idx, prev, errs);
    }
    if kind.wraps {
        let merge = check_options(kind, &l.options, errs).merge;
        return check_wrapper(kind, l, idx, prev, merge.unwrap_or(0), errs);
    }
    let widths: Vec<Option<(usize, Span)>> = l.widths.iter().map(|w| width(w, errs)).collect();
    let opts = check_options(kind, &l.options, errs);
    let (activation, flags, drop) = (opts.activation, opts.flags, opts.drop);
    // An attention's score (a wrapper's merge is read above).
    let score = opts.merge.unwrap_or(0);
    if widths.iter().any(Option::is_none) {
        return None;
    }
    let widths: Vec<(usize, Span)> = widths.into_iter().flatten().collect();
    if kind.token_input {
        if let Some((_, desc)) = prev.filter(|_| idx > 0) {
            errs.spanned(
                &l.kind,
                format!("`{kind_s}` must be the first layer: it reads token ids, and `{desc}` outputs numbers"),
            );
            return None;
        }
        if idx > 0 {
            errs.spanned(
                &l.kind,
                format!("`{kind_s}` must be the first layer: it reads token ids"),
            );
            return None;
        }
        return match widths.as_slice() {
            [(v, _), (d, _)] => Some(Layer {
                kind,
                input: *v,
                units: *d,
                activation: Act::Linear,
                flags,
                biases: 1,
                inner: None,
                merge: 0,
                rate: 0.0,
                drop: [0.0; 2],
                keras_name: String::new(),
                memory: (0, 0),
            }),
            _ => {
                errs.at(
                    l.paren_span,
                    format!("`{kind_s}` takes its vocabulary size and its width, e.g. `{kind_s}(15000, 32)`"),
                );
                None
            }
        };
    }
    let (input, units) = match widths.as_slice() {
        [] => {
            errs.at(
                l.paren_span,
                format!(
                    "`{k}` needs its number of units, e.g. `{k}(16)`, found `{k}()`",
                    k = kind_s
                ),
            );
            return None;
        }
        [(u, uspan)] if kind.keeps_width => match prev {
            Some((p, desc)) if p != u => {
                errs.at(
                    *uspan,
                    format!("`{kind_s}` keeps its width, so it takes {u} inputs, but `{desc}` outputs {p}"),
                );
                return None;
            }
            _ => (*u, *u),
        },
        [(u, _)] => match prev {
            Some((p, _)) => (*p, *u),
            None if idx == 0 => {
                errs.spanned(
                    &l.kind,
                    format!(
                        "the first layer must name its input width: `{k}(INPUTS, {u})`, found `{k}({u})`",
                        k = kind_s
                    ),
                );
                return None;
            }
            None => return None, // the previous layer already has an error
        },
        [(i, _), (u, uspan)] if kind.keeps_width && i != u => {
            errs.at(
                *uspan,
                format!("`{kind_s}` keeps its width: `{kind_s}({i})` has {i} outputs, found `{kind_s}({i}, {u})`"),
            );
            return None;
        }
        [(i, ispan), (u, _)] => {
            if let Some((p, desc)) = prev {
                if p != i {
                    errs.at(
                        *ispan,
                        format!("`{kind_s}` takes {i} inputs, but `{desc}` outputs {p}"),
                    );
                    return None;
                }
            }
            (*i, *u)
        }
        [_, _, (_, extra), ..] => {
            errs.at(
                *extra,
                format!(
                    "`{kind_s}` takes at most two widths, `{kind_s}(inputs, units)`, found {}",
                    widths.len()
                ),
            );
            return None;
        }
    };
    let default_act = kind.activations.first().copied().unwrap_or(Act::Linear);
    let act = activation.map(|a| a.0).unwrap_or(default_act);
    Some(Layer {
        kind,
        input,
        units,
        activation: act,
        flags,
        biases: 1,
        inner: None,
        merge: score,
        rate: 0.0,
        drop,
        keras_name: String::new(),
        memory: (0, 0),
    })
}

/// `dropout(0.2)`: a rate in `[0, 1)`, after a layer whose width it keeps.
fn check_rate(
    kind: Kind,
    l: &LayerDef,
    idx: usize,
    prev: Option<&(usize, String)>,
    errs: &mut Errors,
) -> Option<Layer> {
    let k = kind.name;
    let written = match l.widths.as_slice() {
        [e] => e,
        _ => {
            errs.at(
                l.paren_span,
                format!("`{k}` takes one rate in [0, 1), e.g. `{k}(0.2)`"),
            );
            return None;
        }
    };
    let rate = match ungrouped(written) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse::<f64>().ok(),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<f64>().ok(),
        _ => None,
    };
    let Some(rate) = rate else {
        errs.spanned(
            written,
            format!(
                "`{k}` takes a rate such as `0.2`, found `{}`",
                quote::quote!(#written)
            ),
        );
        return None;
    };
    if !(0.0..1.0).contains(&rate) {
        errs.spanned(
            written,
            format!(
                "a dropout rate must be in [0, 1) (the fraction of units dropped), found {rate}"
            ),
        );
        return None;
    }
    let width = match prev {
        Some((w, _)) if idx > 0 => *w,
        None if idx > 0 => return None, // the previous layer already has an error
        _ => {
            errs.spanned(
                &l.kind,
                format!("`{k}` keeps the width of the layer before it, so it cannot be first, e.g. `lstm(1, 16) -> {k}(0.2)`"),
            );
            return None;
        }
    };
    Some(Layer {
        kind,
        input: width,
        units: width,
        activation: Act::Linear,
        flags: Vec::new(),
        biases: 1,
        inner: None,
        merge: 0,
        rate,
        drop: [0.0; 2],
        keras_name: String::new(),
        memory: (0, 0),
    })
}

/// `bidirectional(gru(8), merge = sum)`: the wrapped layer checked as if it stood where the
/// wrapper stands.
fn check_wrapper(
    kind: Kind,
    l: &LayerDef,
    idx: usize,
    prev: Option<&(usize, String)>,
    merge: u8,
    errs: &mut Errors,
) -> Option<Layer> {
    let example = format!("`{}(gru(16))`", kind.name);
    let call = match l.widths.as_slice() {
        [Expr::Call(c)] => c,
        [e] => {
            errs.spanned(
                e,
                format!(
                    "`{}` wraps a recurrent layer written inside it, e.g. {example}",
                    kind.name
                ),
            );
            return None;
        }
        _ => {
            errs.at(
                l.paren_span,
                format!(
                    "`{}` takes one recurrent layer (and `merge = ...`), e.g. {example}",
                    kind.name
                ),
            );
            return None;
        }
    };
    let inner_def: LayerDef = match syn::parse2(quote::ToTokens::to_token_stream(call)) {
        Ok(d) => d,
        Err(e) => {
            errs.push(e);
            return None;
        }
    };
    let name = inner_def.kind.to_string();
    let Some(inner_kind) = LayerKind::find(&name).filter(|k| layers::WRAPPABLE.contains(&k.name))
    else {
        errs.spanned(
            &inner_def.kind,
            format!(
                "`{}` wraps a recurrent layer ({}), found `{name}`",
                kind.name,
                layers::WRAPPABLE
                    .iter()
                    .map(|w| format!("`{w}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        return None;
    };
    let mut inner = check_kind(inner_kind, &inner_def, idx, prev, errs)?;
    inner.keras_name = inner_kind.keras.0.to_string();
    let units = if merge == 0 {
        2 * inner.units
    } else {
        inner.units
    };
    Some(Layer {
        kind,
        input: inner.input,
        units,
        activation: Act::Linear,
        flags: Vec::new(),
        biases: 1,
        inner: Some(Box::new(inner)),
        merge,
        rate: 0.0,
        drop: [0.0; 2],
        keras_name: String::new(),
        memory: (0, 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::LayerKind;

    /// A layer that keeps its width (none of today's layers does; a scale or a normalisation
    /// layer will).
    static SCALE: LayerKind = LayerKind {
        name: "scale",
        keras: ("scale", "Scale"),
        cell: "Scale",
        gates: 1,
        rows_param: false,
        activations: &[],
        flags: &[],
        counted_flags: &[],
        logits: false,
        keeps_width: true,
        bias_param: false,
        token_input: false,
        wraps: false,
        rate_arg: false,
        dropout_opts: (false, false),
        attends: false,
    };

    fn check(text: &str, prev: Option<(usize, &str)>) -> Result<(usize, usize), String> {
        let l: LayerDef = syn::parse_str(text).unwrap();
        let prev = prev.map(|(w, d)| (w, d.to_string()));
        let mut errs = Errors::default();
        let idx = usize::from(prev.is_some());
        let layer = check_kind(&SCALE, &l, idx, prev.as_ref(), &mut errs);
        match (layer, errs.0) {
            (Some(l), None) => Ok((l.input, l.units)),
            (_, Some(e)) => Err(e.to_string()),
            (None, None) => Err("no layer, no error".into()),
        }
    }

    #[test]
    fn a_layer_that_keeps_its_width() {
        assert_eq!(check("scale(4)", None), Ok((4, 4)));
        assert_eq!(check("scale(4)", Some((4, "lstm(3, 4)"))), Ok((4, 4)));
        assert_eq!(check("scale(4, 4)", Some((4, "lstm(3, 4)"))), Ok((4, 4)));
        assert_eq!(
            check("scale(4, 5)", None),
            Err("`scale` keeps its width: `scale(4)` has 4 outputs, found `scale(4, 5)`".into())
        );
        assert_eq!(
            check("scale(5)", Some((4, "lstm(3, 4)"))),
            Err("`scale` keeps its width, so it takes 5 inputs, but `lstm(3, 4)` outputs 4".into())
        );
    }
}
