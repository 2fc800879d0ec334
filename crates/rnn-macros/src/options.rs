//! The values written in a model line: widths (integers, unwrapped from `macro_rules!`
//! groups), and a layer's options checked against its kind's table entry.

use crate::check::Errors;
use crate::ir::{activation_names, Act, Kind};
use crate::layers;
use crate::parse::Opt;
use crate::suggest::closest;
use proc_macro2::Span;
use syn::{Expr, Ident, Lit};

/// `e` without the invisible groups a `macro_rules!` fragment (`$w:expr`, `$w:literal`)
/// arrives in (nested when a fragment is passed on through another macro).
pub(crate) fn ungrouped(e: &Expr) -> &Expr {
    match e {
        Expr::Group(g) => ungrouped(&g.expr),
        e => e,
    }
}

pub(crate) fn width(written: &Expr, errs: &mut Errors) -> Option<(usize, Span)> {
    let span = syn::spanned::Spanned::span(written);
    // `(16)` and a fragment from `macro_rules!` are widths too.
    let mut e = ungrouped(written);
    while let Expr::Paren(p) = e {
        e = ungrouped(&p.expr);
    }
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) if !matches!(i.suffix(), "" | "usize") => {
                errs.spanned(
                    written,
                    format!(
                        "expected a width such as `16`, found `{i}`: a width is an integer without a type suffix (or with `usize`)"
                    ),
                );
                None
            }
            Lit::Int(i) => match i.base10_parse::<usize>() {
                Ok(0) => {
                    errs.at(span, "a width must be at least 1, found 0");
                    None
                }
                Ok(n) if n > 1 << 20 => {
                    errs.at(span, format!("a width must be at most 1048576, found {n}"));
                    None
                }
                Ok(n) => Some((n, span)),
                Err(_) => {
                    errs.at(span, format!("expected an integer width, found `{}`", i));
                    None
                }
            },
            other => {
                errs.spanned(
                    written,
                    format!(
                        "expected an integer width, found `{}`",
                        quote::quote!(#other)
                    ),
                );
                None
            }
        },
        other => {
            errs.spanned(
                written,
                format!(
                    "expected an integer width, found `{}`",
                    quote::quote!(#other)
                ),
            );
            None
        }
    }
}

pub(crate) fn ident_value(e: &Expr) -> Option<&Ident> {
    match ungrouped(e) {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => p.path.get_ident(),
        _ => None,
    }
}

/// A layer's options as written: its activation, flags, merge mode (an attention's score:
/// 0 additive, 1 dot) and dropout rates.
pub(crate) struct LayerOptions {
    pub activation: Option<(Act, Span)>,
    pub flags: Vec<bool>,
    pub merge: Option<u8>,
    pub drop: [f64; 2],
}

pub(crate) fn check_options(kind: Kind, opts: &[Opt], errs: &mut Errors) -> LayerOptions {
    let mut activation = None;
    let mut merge = None;
    let mut drop = [0.0f64; 2];
    let mut flags: Vec<bool> = kind.flags.iter().map(|f| f.1).collect();
    let mut seen: Vec<String> = Vec::new();
    for o in opts {
        let name = o.name.to_string();
        if seen.contains(&name) {
            errs.spanned(&o.name, format!("option `{name}` is given twice"));
            continue;
        }
        seen.push(name.clone());
        let allowed = kind.options();
        let allowed = allowed.as_slice();
        if !allowed.contains(&name.as_str()) {
            let takes = if allowed.is_empty() {
                format!("`{}` takes no options", kind.name)
            } else {
                format!(
                    "`{}` takes {}",
                    kind.name,
                    allowed
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            if layers::all_options().contains(&name.as_str()) {
                errs.spanned(
                    &o.name,
                    format!("option `{name}` does not apply to `{}`; {takes}", kind.name),
                );
            } else if let Some(s) = closest(&name, allowed) {
                errs.spanned(
                    &o.name,
                    format!("unknown option `{name}`; did you mean `{s}`? {takes}"),
                );
            } else {
                errs.spanned(&o.name, format!("unknown option `{name}`; {takes}"));
            }
            continue;
        }
        match name.as_str() {
            "merge" => {
                let v = ident_value(&o.value).map(|i| i.to_string());
                match v
                    .as_deref()
                    .and_then(|v| layers::MERGES.iter().position(|m| *m == v))
                {
                    Some(m) => merge = Some(m as u8),
                    None => {
                        let v = &o.value;
                        errs.spanned(
                            v,
                            format!(
                                "unknown merge mode `{}`; expected `concat`, `sum`, `mul` or `ave` (Keras's `merge_mode`)",
                                quote::quote!(#v)
                            ),
                        )
                    }
                }
            }
            "score" => match ident_value(&o.value).map(|i| i.to_string()).as_deref() {
                Some("additive") => merge = Some(0),
                Some("dot") => merge = Some(1),
                _ => {
                    let v = &o.value;
                    errs.spanned(
                        v,
                        format!(
                            "unknown score `{}`; expected `additive` (Bahdanau's, Keras's `AdditiveAttention`) or `dot` (Luong's, Keras's `Attention`)",
                            quote::quote!(#v)
                        ),
                    )
                }
            },
            "dropout" | "recurrent_dropout" => {
                let v = ungrouped(&o.value);
                let rate = match v {
                    Expr::Lit(l) => match &l.lit {
                        Lit::Float(f) => f.base10_parse::<f64>().ok(),
                        Lit::Int(i) => i.base10_parse::<f64>().ok(),
                        _ => None,
                    },
                    _ => None,
                };
                match rate {
                    Some(r) if (0.0..1.0).contains(&r) => {
                        if name == "recurrent_dropout" && r > 0.0 && !kind.dropout_opts.1 {
                            errs.spanned(
                                &o.name,
                                format!(
                                    "`recurrent_dropout` on `{}` is not supported yet: with it Keras switches to one dropout mask per gate (`implementation = 1`); use `dropout` (one input mask, as Keras's default implementation) or an `rnn`",
                                    kind.name
                                ),
                            );
                        }
                        drop[usize::from(name == "recurrent_dropout")] = r;
                    }
                    Some(r) => errs.spanned(
                        v,
                        format!("a dropout rate must be in [0, 1) (the fraction of units dropped), found {r}"),
                    ),
                    None => errs.spanned(
                        v,
                        format!("expected a rate such as `0.2`, found `{}`", quote::quote!(#v)),
                    ),
                }
            }
            "activation" => match ident_value(&o.value) {
                Some(id) => {
                    let s = id.to_string();
                    let act = Act::from_name(&s);
                    match act {
                        None => {
                            let hint = closest(&s, &activation_names())
                                .map(|c| format!("did you mean `{c}`? "))
                                .unwrap_or_default();
                            errs.spanned(
                                id,
                                format!(
                                    "unknown activation `{s}`; {hint}expected one of {}",
                                    activation_names()
                                        .iter()
                                        .map(|a| format!("`{a}`"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            )
                        }
                        Some(a) if !kind.activations.contains(&a) => errs.spanned(
                            id,
                            format!(
                                "`{}` supports {}, found `{s}`",
                                kind.name,
                                kind.activations
                                    .iter()
                                    .map(|a| format!("`activation = {}`", a.name()))
                                    .collect::<Vec<_>>()
                                    .join(" or ")
                            ),
                        ),
                        Some(a) => activation = Some((a, id.span())),
                    }
                }
                None => {
                    let v = &o.value;
                    errs.spanned(
                        v,
                        format!(
                            "expected an activation name such as `relu`, found `{}`",
                            quote::quote!(#v)
                        ),
                    )
                }
            },
            flag => match ungrouped(&o.value) {
                Expr::Lit(l) => match &l.lit {
                    Lit::Bool(b) => {
                        let i = kind.flags.iter().position(|f| f.0 == flag);
                        flags[i.expect("an allowed option that is not `activation` is a flag")] =
                            b.value
                    }
                    other => errs.spanned(
                        other,
                        format!(
                            "expected `true` or `false`, found `{}`",
                            quote::quote!(#other)
                        ),
                    ),
                },
                other => errs.spanned(
                    other,
                    format!(
                        "expected `true` or `false`, found `{}`",
                        quote::quote!(#other)
                    ),
                ),
            },
        }
    }
    LayerOptions {
        activation,
        flags,
        merge,
        drop,
    }
}
