//! Encoder-decoder models, `encoder => decoder`: the two halves are checked and expanded as
//! ordinary models (`NameEncoder`, `NameDecoder`), then the seam between them is checked
//! (state widths, start and end tokens, the decoder's first and last layers) and generated
//! (`rnn_core::seq2seq::Seq2Seq`).

use crate::check::Errors;
use crate::expand::{lit, prim, private};
use crate::ir::{Act, Model};
use crate::options::{ungrouped, width};
use crate::parse::ModelDef;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Expr, Lit};

/// The options only an encoder-decoder model takes.
const OPTIONS: [&str; 4] = ["source_len", "target_len", "start", "end"];

/// The recurrent kinds whose final state can start a decoder.
const RECURRENT: [&str; 4] = ["rnn", "lstm", "gru", "ln_rnn"];

/// One half as a model of its own: the user's attributes but its docs, the scalar and maths
/// options, the half's layers.
fn half(def: &ModelDef, suffix: &str, layers: Vec<crate::parse::LayerDef>) -> ModelDef {
    let mut d = def.clone();
    d.name = format_ident!("{}{}", def.name, suffix, span = def.name.span());
    d.attrs.retain(|a| !a.path().is_ident("doc"));
    d.options
        .retain(|o| !OPTIONS.contains(&o.name.to_string().as_str()));
    d.layers = layers;
    d.decoder = None;
    d.half = true;
    d
}

/// A token id option: an integer.
fn token(e: &Expr, errs: &mut Errors) -> Option<(u32, Span)> {
    match ungrouped(e) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) if i.suffix().is_empty() || i.suffix() == "u32" => match i.base10_parse::<u32>() {
            Ok(v) => Some((v, i.span())),
            Err(_) => {
                errs.spanned(e, "expected a token id, an integer from 0 to 4294967295");
                None
            }
        },
        _ => {
            errs.spanned(
                e,
                format!("expected a token id such as `1`, found `{}`", quote!(#e)),
            );
            None
        }
    }
}

/// The field path `.1.1.0` of layer `i`'s part of a chain's `(first, rest)` pairs.
fn state_path(i: usize, layers: usize) -> TokenStream {
    let mut t = TokenStream::new();
    for _ in 0..i {
        let one = syn::Index::from(1);
        t.extend(quote!(.#one));
    }
    if i + 1 < layers {
        let zero = syn::Index::from(0);
        t.extend(quote!(.#zero));
    }
    t
}

/// The method path `.rest().rest().first()` of layer `i` in a chain.
fn chain_path(i: usize, layers: usize, mutable: bool) -> TokenStream {
    let (rest, first) = if mutable {
        (quote!(.rest_mut()), quote!(.first_mut()))
    } else {
        (quote!(.rest()), quote!(.first()))
    };
    let mut t = TokenStream::new();
    for _ in 0..i {
        t.extend(rest.clone());
    }
    if i + 1 < layers {
        t.extend(first);
    }
    t
}

/// Checks and expands an encoder-decoder model; every mistake is a spanned error.
pub fn model(def: &ModelDef) -> TokenStream {
    let (arrow, dec_layers) = def.decoder.as_ref().expect("called for `=>` models");
    let mut errs = Errors::default();
    let mut vals: [Option<(u32, Span)>; 4] = [None; 4];
    for o in &def.options {
        let name = o.name.to_string();
        let Some(k) = OPTIONS.iter().position(|n| *n == name) else {
            continue;
        };
        if vals[k].is_some() {
            errs.spanned(&o.name, format!("model option `{name}` is given twice"));
            continue;
        }
        vals[k] = if k < 2 {
            width(&o.value, &mut errs).map(|(v, s)| (v as u32, s))
        } else {
            token(&o.value, &mut errs)
        };
        if vals[k].is_none() {
            vals[k] = Some((0, o.name.span())); // an error is already there
        }
    }
    let what = [
        "`source_len = N;` (the source steps the encoder reads)",
        "`target_len = M;` (the most tokens the decoder writes, the end token included)",
        "`start = ...;` (the token the decoder reads first)",
        "`end = ...;` (the token that ends an output)",
    ];
    for (v, w) in vals.iter().zip(what) {
        if v.is_none() {
            errs.spanned(arrow, format!("an encoder-decoder model needs {w}"));
        }
    }
    let enc_def = half(def, "Encoder", def.layers.clone());
    let mut dec_def = half(def, "Decoder", dec_layers.clone());
    if def.layers.is_empty() {
        errs.spanned(arrow, "expected the encoder's layers before `=>`");
    }
    let enc = match crate::check::validate(&enc_def) {
        Ok(m) => Some(m),
        Err(e) => {
            errs.push(e);
            None
        }
    };
    let n = vals[0].map(|v| v.0 as usize).unwrap_or(1);
    if let Some(enc) = &enc {
        dec_def.memory = Some((enc.output(), n));
        // The decoder's layers are named after the encoder's: `lstm`, then `lstm_1`.
        for l in &enc.layers {
            match dec_def.name_counts.iter_mut().find(|c| c.0 == l.kind.name) {
                Some(c) => c.1 += 1,
                None => dec_def.name_counts.push((l.kind.name, 1)),
            }
        }
    }
    let dec = match (&enc, crate::check::validate(&dec_def)) {
        (Some(_), Ok(m)) => Some(m),
        (_, Err(e)) => {
            errs.push(e);
            None
        }
        (None, Ok(_)) => None,
    };
    let (Some(enc), Some(dec)) = (enc, dec) else {
        return fail(def, errs);
    };
    // One baked file holds both halves: each of its tensors is read by one of them.
    if let (Some(a), Some(b), Some(o)) = (
        &enc.baked,
        &dec.baked,
        def.options.iter().find(|o| o.name == "weights"),
    ) {
        let unused: Vec<&String> = a
            .names
            .iter()
            .filter(|n| !a.used.contains(n) && !b.used.contains(n))
            .collect();
        if !unused.is_empty() {
            errs.spanned(
                &o.value,
                format!(
                    "the file has tensor(s) neither the encoder nor the decoder uses: {}",
                    unused
                        .iter()
                        .take(10)
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    let seam = check_seam(def, &enc, &dec, &vals, &mut errs);
    match (seam, errs.0.take()) {
        (Some(seam), None) => expand(def, &enc, &dec, &seam),
        (_, e) => fail(def, Errors(e)),
    }
}

fn fail(def: &ModelDef, errs: Errors) -> TokenStream {
    let mut t = errs
        .0
        .unwrap_or_else(|| syn::Error::new(def.name.span(), "invalid model"))
        .to_compile_error();
    t.extend(crate::expand::fallback(def));
    t
}

/// What the expansion needs of the seam.
struct Seam {
    n: usize,
    m: usize,
    start: u32,
    end: u32,
    /// The encoder's last recurrent layer, the decoder's first.
    enc_rec: usize,
    dec_rec: usize,
    /// The decoder's attention layer.
    attention: Option<usize>,
}

fn check_seam(
    def: &ModelDef,
    enc: &Model,
    dec: &Model,
    vals: &[Option<(u32, Span)>; 4],
    errs: &mut Errors,
) -> Option<Seam> {
    let (arrow, dec_defs) = def.decoder.as_ref()?;
    let enc_defs = &def.layers;
    let mut ok = true;
    // Whole-sequence and dropout layers: not in an encoder-decoder (yet).
    for (l, d) in enc
        .layers
        .iter()
        .zip(enc_defs)
        .chain(dec.layers.iter().zip(dec_defs))
    {
        if l.kind.wraps || l.kind.rate_arg || l.drop.iter().any(|r| *r > 0.0) {
            errs.spanned(
                &d.kind,
                format!("`{}` is not supported in an encoder-decoder model yet: its halves run step by step, without dropout", l.source()),
            );
            ok = false;
        }
    }
    let enc_rec = enc
        .layers
        .iter()
        .rposition(|l| RECURRENT.contains(&l.kind.name));
    let dec_rec = dec
        .layers
        .iter()
        .position(|l| RECURRENT.contains(&l.kind.name));
    let Some(enc_rec) = enc_rec else {
        errs.spanned(
            &enc_defs[0].kind,
            "the encoder needs a recurrent layer (`rnn`, `lstm`, `gru` or `ln_rnn`): its final state starts the decoder",
        );
        return None;
    };
    let Some(dec_rec) = dec_rec else {
        errs.spanned(
            arrow,
            "the decoder needs a recurrent layer (`rnn`, `lstm`, `gru` or `ln_rnn`): it starts from the encoder's final state",
        );
        return None;
    };
    let (el, dl) = (&enc.layers[enc_rec], &dec.layers[dec_rec]);
    if el.kind.name != dl.kind.name {
        errs.spanned(
            &dec_defs[dec_rec].kind,
            format!(
                "the decoder's `{}` starts from the final state of the encoder's `{}`: they must be the same kind of layer",
                dl.source(),
                el.source()
            ),
        );
        ok = false;
    } else if el.units != dl.units {
        errs.spanned(
            &dec_defs[dec_rec].kind,
            format!(
                "mismatched state widths: the decoder's `{}` starts from the final state of the encoder's `{}`, so it needs {} units, found {}",
                dl.source(),
                el.source(),
                el.units,
                dl.units
            ),
        );
        ok = false;
    }
    let first = &dec.layers[0];
    if !first.kind.token_input {
        errs.spanned(
            &dec_defs[0].kind,
            "the decoder reads its previous output token at every step: its first layer must be `embedding(vocab, width)`",
        );
        return None;
    }
    let vocab = first.input;
    let last = dec.layers.last()?;
    if !(last.kind.is("dense") && last.activation == Act::Softmax && last.units == vocab) {
        errs.spanned(
            &dec_defs[dec_defs.len() - 1].kind,
            format!(
                "the decoder's last layer gives the next token's probabilities: it must be `dense({vocab}, activation = softmax)` ({vocab}, the vocabulary of its embedding), found `{}`",
                last.source()
            ),
        );
        ok = false;
    }
    for (k, name) in [(2, "start"), (3, "end")] {
        if let Some((v, span)) = vals[k] {
            if v as usize >= vocab {
                errs.at(
                    span,
                    format!("the {name} token must be in the decoder's vocabulary (ids 0 to {}), found {v}", vocab - 1),
                );
                ok = false;
            }
        }
    }
    if let (Some((s, _)), Some((e, span))) = (vals[2], vals[3]) {
        if s == e {
            errs.at(span, "the end token must differ from the start token");
            ok = false;
        }
    }
    let atts: Vec<usize> = (0..dec.layers.len())
        .filter(|&i| dec.layers[i].kind.attends)
        .collect();
    if atts.len() > 1 {
        errs.spanned(
            &dec_defs[atts[1]].kind,
            "a decoder attends once: found a second `attention`",
        );
        ok = false;
    }
    let _ = enc.output();
    ok.then(|| Seam {
        n: vals[0].map_or(1, |v| v.0 as usize),
        m: vals[1].map_or(1, |v| v.0 as usize),
        start: vals[2].map_or(0, |v| v.0),
        end: vals[3].map_or(0, |v| v.0),
        enc_rec,
        dec_rec,
        attention: atts.first().copied(),
    })
}

fn expand(def: &ModelDef, enc: &Model, dec: &Model, s: &Seam) -> TokenStream {
    let p = private(def);
    let (attrs, vis, name) = (&def.attrs, &def.vis, &def.name);
    let (enc_name, dec_name) = (&enc.def.name, &dec.def.name);
    let tape_name = format_ident!("{}Tape", name);
    let t = prim(enc.scalar);
    let (usize, u32, u64, f64) = (prim("usize"), prim("u32"), prim("u64"), prim("f64"));
    let enc_tokens = crate::expand::model_with(enc, true);
    let dec_tokens = crate::expand::model_with(dec, true);
    let (n, m) = (lit(s.n), lit(s.m));
    let (start, end) = (
        proc_macro2::Literal::u32_unsuffixed(s.start),
        proc_macro2::Literal::u32_unsuffixed(s.end),
    );
    let (el, dl) = (enc.layers.len(), dec.layers.len());
    let enc_state = state_path(s.enc_rec, el);
    let dec_state = state_path(s.dec_rec, dl);
    let enc_in = enc.input();
    let enc_in_l = lit(enc_in);
    let source_ty = quote!([[#t; #enc_in_l]; #n]);
    let math = quote!(<#dec_name as #p::Model>::Math);
    let e = lit(enc.output());
    let has_att = s.attention.is_some();
    let (seed_att, seed_back, weights) = match s.attention {
        Some(a) => {
            let st = state_path(a, dl);
            let ch = chain_path(a, dl, false);
            let chm = chain_path(a, dl, true);
            (
                quote! {
                    let mut values = [[#t::default(); #e]; #n];
                    for (v, o) in values.iter_mut().zip(outputs) {
                        *v = *o;
                    }
                    s #st = #p::Model::chain(&self.decoder) #ch .memory::<#math>(&values);
                },
                quote! {
                    let mut values = [[#t::default(); #e]; #n];
                    for (v, o) in values.iter_mut().zip(outputs) {
                        *v = *o;
                    }
                    let mut dvalues = [[#t::default(); #e]; #n];
                    let g = #p::Model::chain_mut(&mut grads.decoder) #chm;
                    #p::Model::chain(&self.decoder) #ch
                        .memory_backward::<#math>(&d_seed #st, &values, g, &mut dvalues);
                    for (d, v) in d_outputs.iter_mut().zip(&dvalues) {
                        for (d, v) in d.iter_mut().zip(v) {
                            *d += *v;
                        }
                    }
                },
                quote!(#p::Some(&state #st .weights[..])),
            )
        }
        None => (
            quote!(),
            quote!(let _ = (outputs, grads, d_outputs);),
            quote!(#p::None),
        ),
    };
    let tokens_fn = enc.layers[0].kind.token_input.then(|| {
        quote! {
            /// The source as the encoder's inputs, from token ids (a token outside the
            /// encoder's vocabulary is an error naming its position).
            pub fn source(tokens: &[#u32; #n]) -> #p::Result<#source_ty, #p::TokenError> {
                <#enc_name as #p::Model>::tokens(tokens)
            }
        }
    });
    let attention_fn = has_att.then(|| {
        quote! {
            /// [`translate`](Self::translate), writing step `t`'s attention weights (one per
            /// source step) into row `t` of `attention`.
            pub fn translate_with_attention(
                &self,
                source: &#source_ty,
                attention: &mut [[#t; #n]; #m],
            ) -> #p::Decoded<#m> {
                #p::seq2seq::greedy::<Self, #n, #m>(self, source, #p::Some(attention))
            }
        }
    });
    let doc = format!(
        " The encoder, `{}`, then the decoder, `{}`.",
        enc.layers
            .iter()
            .map(|l| l.source())
            .collect::<Vec<_>>()
            .join(" -> "),
        dec.layers
            .iter()
            .map(|l| l.source())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    let tape_doc = format!(" A training record of one source and target for [`{name}`].");
    let baked = enc.baked.as_ref().map(|b| {
        let doc = format!(" The weights baked in at compile time from `{}`.", b.path);
        quote! {
            #[allow(dead_code)]
            impl #name {
                #[doc = #doc]
                /// A constant: `static MODEL: Self = Self::BAKED;` puts it in flash.
                pub const BAKED: Self = #name {
                    encoder: #enc_name::BAKED,
                    decoder: #dec_name::BAKED,
                };
            }
        }
    });
    quote! {
        #enc_tokens
        #dec_tokens

        #(#attrs)*
        #vis struct #name {
            #[doc = #doc]
            encoder: #enc_name,
            decoder: #dec_name,
        }

        #[doc = #tape_doc]
        #vis type #tape_name = #p::Seq2SeqTape<#name, #n, #m>;

        #baked

        #[allow(dead_code)]
        impl #name {
            /// Trainable parameters, as Keras counts them: the encoder's and the decoder's.
            pub const PARAM_COUNT: #usize = <#enc_name as #p::Model>::PARAM_COUNT
                + <#dec_name as #p::Model>::PARAM_COUNT;
            /// Source steps.
            pub const SOURCE_LEN: #usize = #n;
            /// The most tokens an output has, the end token included.
            pub const TARGET_LEN: #usize = #m;
            /// The token the decoder reads first.
            pub const START: #u32 = #start;
            /// The token that ends an output.
            pub const END: #u32 = #end;

            /// Keras's default initializers: the encoder from `seed`, the decoder from
            /// `seed + 1`.
            pub fn init(seed: #u64) -> Self {
                #name {
                    encoder: <#enc_name as #p::Model>::init(seed),
                    decoder: <#dec_name as #p::Model>::init(seed.wrapping_add(1)),
                }
            }
            /// Every parameter zero.
            pub fn zeros() -> Self {
                #name {
                    encoder: <#enc_name as #p::Model>::zeros(),
                    decoder: <#dec_name as #p::Model>::zeros(),
                }
            }
            /// The encoder.
            pub fn encoder(&self) -> &#enc_name {
                &self.encoder
            }
            /// The decoder.
            pub fn decoder(&self) -> &#dec_name {
                &self.decoder
            }
            /// The encoder, mutable.
            pub fn encoder_mut(&mut self) -> &mut #enc_name {
                &mut self.encoder
            }
            /// The decoder, mutable.
            pub fn decoder_mut(&mut self) -> &mut #dec_name {
                &mut self.decoder
            }
            #tokens_fn
            /// Greedy decoding: the most probable token at each step, until the end token or
            /// `TARGET_LEN` tokens.
            pub fn translate(&self, source: &#source_ty) -> #p::Decoded<#m> {
                #p::seq2seq::greedy::<Self, #n, #m>(self, source, #p::None)
            }
            #attention_fn
            /// Beam search with `K` beams, scores `log p / steps^alpha` (see
            /// `rnn::seq2seq::beam_search`).
            pub fn beam_search<const K: #usize>(&self, source: &#source_ty, alpha: #f64) -> #p::Beams<#m, K> {
                #p::seq2seq::beam_search::<Self, #n, #m, K>(self, source, alpha)
            }
            /// Teacher-forced loss of one example (`target`: the tokens, the end token, then
            /// anything: the steps after the end token are not run), its gradients added into
            /// `grads`.
            pub fn loss_and_grad(
                &self,
                source: &#source_ty,
                target: &[#u32; #m],
                tape: &mut #tape_name,
                grads: &mut Self,
            ) -> #p::Result<#f64, #p::TokenError> {
                #p::seq2seq::loss_and_grad::<Self, #n, #m>(self, source, target, tape, grads)
            }
            /// The log-probability of one output (`tokens`, then the end token when `ended`);
            /// a token outside the decoder's vocabulary is an error.
            pub fn log_prob(&self, source: &#source_ty, tokens: &[#u32], ended: bool) -> #p::Result<#f64, #p::TokenError> {
                #p::seq2seq::log_prob::<Self, #n>(self, source, tokens, ended)
            }
        }

        impl #p::Seq2Seq for #name {
            type Encoder = #enc_name;
            type Decoder = #dec_name;
            const SOURCE_LEN: #usize = #n;
            const TARGET_LEN: #usize = #m;
            const START: #u32 = #start;
            const END: #u32 = #end;
            const ATTENTION: bool = #has_att;
            fn encoder(&self) -> &#enc_name {
                &self.encoder
            }
            fn decoder(&self) -> &#dec_name {
                &self.decoder
            }
            fn encoder_mut(&mut self) -> &mut #enc_name {
                &mut self.encoder
            }
            fn decoder_mut(&mut self) -> &mut #dec_name {
                &mut self.decoder
            }
            fn seed(
                &self,
                enc: &<#enc_name as #p::Model>::State,
                outputs: &[<#enc_name as #p::Model>::Output],
            ) -> <#dec_name as #p::Model>::State {
                let mut s = <#dec_name as #p::Model>::zero_state();
                s #dec_state = (*enc) #enc_state;
                #seed_att
                s
            }
            fn seed_backward(
                &self,
                d_seed: &<#dec_name as #p::Model>::State,
                outputs: &[<#enc_name as #p::Model>::Output],
                grads: &mut Self,
                d_encoder: &mut <#enc_name as #p::Model>::State,
                d_outputs: &mut [<#enc_name as #p::Model>::Output],
            ) {
                (*d_encoder) #enc_state = (*d_seed) #dec_state;
                #seed_back
            }
            fn attention_weights(state: &<#dec_name as #p::Model>::State) -> #p::Option<&[#t]> {
                #weights
            }
        }

        // SAFETY: `params_zeroed_in_place` writes both fields (the struct's only ones), and
        // the tensors are the halves' fixed-size ones.
        unsafe impl #p::Params for #name {
            type Scalar = #t;
            const PARAM_TENSORS: #usize = <#enc_name as #p::Model>::TENSORS
                + <#dec_name as #p::Model>::TENSORS;
            fn param_tensor(&self, k: #usize) -> &[#t] {
                let e = <#enc_name as #p::Model>::TENSORS;
                if k < e {
                    #p::Model::tensor(&self.encoder, k)
                } else {
                    #p::Model::tensor(&self.decoder, k - e)
                }
            }
            fn param_tensor_mut(&mut self, k: #usize) -> &mut [#t] {
                let e = <#enc_name as #p::Model>::TENSORS;
                if k < e {
                    #p::Model::tensor_mut(&mut self.encoder, k)
                } else {
                    #p::Model::tensor_mut(&mut self.decoder, k - e)
                }
            }
            unsafe fn params_zeroed_in_place(slot: *mut Self) {
                // SAFETY: the caller's promise; field projections, no reference made.
                unsafe {
                    <#enc_name as #p::Model>::zeros_in_place(::core::ptr::addr_of_mut!((*slot).encoder));
                    <#dec_name as #p::Model>::zeros_in_place(::core::ptr::addr_of_mut!((*slot).decoder));
                }
            }
        }
    }
}
