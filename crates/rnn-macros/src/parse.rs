//! Syntax: the models as written, every token kept for error spans. No checks beyond syntax.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{braced, parenthesized, Attribute, Expr, Ident, Token, Visibility};

/// Everything inside `rnn_model! { ... }`.
pub struct File {
    pub models: Vec<ModelDef>,
}

/// `#[attrs] vis struct Name { options; chain }` (or `{ options; encoder => decoder }`).
#[derive(Clone)]
pub struct ModelDef {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub brace_span: Span,
    pub options: Vec<Opt>,
    /// `crate = path;`: where the `rnn` crate is, for a renamed dependency (default `::rnn`).
    pub krate: Option<syn::Path>,
    pub layers: Vec<LayerDef>,
    /// `=> decoder layers`: the model is an encoder-decoder, `layers` its encoder.
    pub decoder: Option<(Token![=>], Vec<LayerDef>)>,
    /// Set on a decoder half before its check: the encoder's output width and source length
    /// (what an `attention` layer attends over). Not written by the user.
    pub memory: Option<(usize, usize)>,
    /// Set on the halves of an encoder-decoder: layers of each kind already named (the
    /// encoder's, for the decoder), and that a baked file holds both halves.
    pub name_counts: Vec<(&'static str, usize)>,
    pub half: bool,
}

/// `name = value`.
#[derive(Clone)]
pub struct Opt {
    pub name: Ident,
    pub value: Expr,
}

/// `kind(args)`.
#[derive(Clone)]
pub struct LayerDef {
    pub kind: Ident,
    pub paren_span: Span,
    pub widths: Vec<Expr>,
    pub options: Vec<Opt>,
}

enum Arg {
    Width(Expr),
    Opt(Opt),
}

impl Parse for File {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut models = Vec::new();
        while !input.is_empty() {
            models.push(input.parse()?);
        }
        Ok(File { models })
    }
}

impl Parse for ModelDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        let body;
        let brace = braced!(body in input);
        let mut options = Vec::new();
        let mut krate: Option<syn::Path> = None;
        while (body.peek(Ident) || body.peek(Token![crate])) && body.peek2(Token![=]) {
            if body.peek(Token![crate]) {
                let kw: Token![crate] = body.parse()?;
                body.parse::<Token![=]>()?;
                let path: syn::Path = body.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected a path to the `rnn` crate, e.g. `crate = ::myrnn;`",
                    )
                })?;
                if krate.is_some() {
                    return Err(syn::Error::new_spanned(
                        kw,
                        "model option `crate` is given twice",
                    ));
                }
                krate = Some(path);
                if body.is_empty() {
                    break;
                }
                body.parse::<Token![;]>()?;
                continue;
            }
            let name: Ident = body.parse()?;
            body.parse::<Token![=]>()?;
            let value: Expr = body.parse()?;
            options.push(Opt { name, value });
            if body.is_empty() {
                break;
            }
            body.parse::<Token![;]>()?;
        }
        let layers = chain(&body)?;
        let mut decoder = None;
        if body.peek(Token![=>]) {
            let arrow: Token![=>] = body.parse()?;
            if body.is_empty() {
                return Err(syn::Error::new_spanned(
                    arrow,
                    "expected the decoder's layers after `=>`, e.g. `=> embedding(12, 16) -> lstm(32) -> dense(12, activation = softmax)`",
                ));
            }
            let d = chain(&body)?;
            if body.peek(Token![=>]) {
                let again: Token![=>] = body.parse()?;
                return Err(syn::Error::new_spanned(
                    again,
                    "a model has one encoder and one decoder: `encoder => decoder`, found a second `=>`",
                ));
            }
            decoder = Some((arrow, d));
        }
        Ok(ModelDef {
            attrs,
            vis,
            name,
            brace_span: brace.span.join(),
            options,
            krate,
            layers,
            decoder,
            memory: None,
            name_counts: Vec::new(),
            half: false,
        })
    }
}

/// `layer -> layer -> ...`, up to the end or a `=>`.
fn chain(body: ParseStream) -> syn::Result<Vec<LayerDef>> {
    let mut layers = Vec::new();
    if !body.is_empty() && !body.peek(Token![=>]) {
        layers.push(body.parse()?);
        while !body.is_empty() && !body.peek(Token![=>]) {
            let arrow: Token![->] = body.parse()?;
            if body.is_empty() || body.peek(Token![=>]) {
                return Err(syn::Error::new_spanned(
                    arrow,
                    "expected a layer after `->`, found the end of the model",
                ));
            }
            layers.push(body.parse()?);
        }
    }
    Ok(layers)
}

impl Parse for LayerDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let kind: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a layer such as `lstm(32, 16)`, `gru(16)` or `dense(1)`",
            )
        })?;
        if !input.peek(syn::token::Paren) {
            return Err(syn::Error::new(
                kind.span(),
                format!("expected `(` after `{kind}`: a layer is written like `{kind}(16)`"),
            ));
        }
        let args;
        let paren = parenthesized!(args in input);
        let list = Punctuated::<Arg, Token![,]>::parse_terminated(&args)?;
        let mut widths = Vec::new();
        let mut options = Vec::new();
        for a in list {
            match a {
                Arg::Width(e) => widths.push(e),
                Arg::Opt(o) => options.push(o),
            }
        }
        Ok(LayerDef {
            kind,
            paren_span: paren.span.join(),
            widths,
            options,
        })
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            Ok(Arg::Opt(Opt { name, value }))
        } else {
            Ok(Arg::Width(input.parse()?))
        }
    }
}
