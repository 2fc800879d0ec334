//! Expansion: a validated model to tokens. No checks here; every size is already known.
//!
//! Only what depends on the user's line is generated: the chain's type with literal sizes, the
//! named struct and its aliases, literal constants and names, and baked weights. All maths is
//! generic runtime code (`rnn_core::Model` over `rnn_core::Chain`), reached only through
//! `::rnn::__private` (or `crate = path`). Primitive types are written `::core::primitive::*`
//! and macros `::core::*!`, so a user's `struct usize` or `Result` alias beside the model
//! changes nothing in it.

use crate::ir::{Layer, Model};
use crate::parse::ModelDef;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

/// A primitive type by its full path: `f32` as written could be the user's `struct f32`.
pub(crate) fn prim(name: &str) -> TokenStream {
    let ty = format_ident!("{}", name);
    quote!(::core::primitive::#ty)
}

pub(crate) fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// A placeholder beside the errors, so a broken model gives one message, not a cascade.
pub fn fallback(def: &ModelDef) -> TokenStream {
    let (vis, name) = (&def.vis, &def.name);
    quote! { #[allow(dead_code)] #vis struct #name; }
}

/// The largest model `rnn_model!` declares, in bytes of weights: 1 GiB (268 million f32
/// parameters). A larger declaration is a compile error at the model's name.
pub const MAX_MODEL_BYTES: usize = 1 << 30;

/// Where generated code finds the runtime: `crate = path` or `::rnn`, then its hidden module.
pub(crate) fn private(def: &ModelDef) -> TokenStream {
    match &def.krate {
        Some(p) => quote!(#p::__private),
        None => quote!(::rnn::__private),
    }
}

/// One layer's cell type with literal sizes (`LstmCell<f32, 32, 16, 64>`), and its build
/// configuration (its activation, or `()`), from the kind's table entry.
fn cell(l: &Layer, t: &TokenStream, p: &TokenStream) -> (TokenStream, TokenStream) {
    if l.kind.attends {
        let dot = l.merge == 1;
        let (e, n) = l.memory;
        let a = if dot { 0 } else { l.units };
        let (h, e, n, a, u, c) = (
            lit(l.input),
            lit(e),
            lit(n),
            lit(a),
            lit(l.units),
            lit(l.input + e),
        );
        return (
            quote!(#p::Attention<#t, #h, #e, #n, #a, #u, #c, #dot>),
            quote!(()),
        );
    }
    if let Some(inner) = &l.inner {
        let (ty, config) = cell(inner, t, p);
        let (merge, o) = (Literal::u8_unsuffixed(l.merge), lit(l.units));
        return (quote!(#p::Bidirectional<#t, #ty, #merge, #o>), config);
    }
    let (i, h, g) = (lit(l.input), lit(l.units), lit(l.gate_rows()));
    let ty = format_ident!("{}", l.kind.cell);
    let rows = l.kind.rows_param.then_some(quote!(#g)).into_iter();
    let flags = l.kind.flags.iter().zip(&l.flags).map(|(&(name, _), &on)| {
        match l.kind.counted_flags.iter().find(|c| c.0 == name) {
            Some(&(_, n)) => {
                let n = lit(if on { n } else { 0 });
                quote!(#n)
            }
            None => quote!(#on),
        }
    });
    let biases = l.kind.bias_param.then(|| lit(l.biases)).into_iter();
    // A layer that keeps its width has one size (`LayerNorm<T, H>`).
    let i = (!l.kind.keeps_width).then_some(quote!(#i, ));
    let ty = quote!(#p::#ty<#t, #i #h #(, #rows)* #(, #flags)* #(, #biases)*>);
    let config = if l.kind.rate_arg {
        let r = Literal::f64_suffixed(l.rate);
        quote!(#r)
    } else if l.kind.activations.is_empty() {
        quote!(())
    } else {
        let act = format_ident!("{}", l.activation.variant());
        quote!(#p::Activation::#act)
    };
    if l.drop.iter().any(|r| *r > 0.0) {
        let [d, r] = l.drop.map(Literal::f64_suffixed);
        let (i, h) = (lit(l.input), lit(l.units));
        return (
            quote!(#p::Dropped<#t, #ty, #i, #h>),
            quote!((#config, [#d, #r])),
        );
    }
    (ty, config)
}

/// `Chain<A, Chain<B, C>>` from the layers' items (`A` alone for one layer), and the same
/// nesting of values with `pair`.
fn nest(
    items: &[TokenStream],
    pair: impl Fn(&TokenStream, &TokenStream) -> TokenStream,
) -> TokenStream {
    let (last, init) = items.split_last().expect("a validated model has a layer");
    init.iter()
        .rev()
        .fold(last.clone(), |rest, first| pair(first, &rest))
}

pub fn model(m: &Model) -> TokenStream {
    match &m.quantized {
        Some(q) => quantized(m, q),
        None => model_with(m, false),
    }
}

/// A `quantize = int8` model: the integer chain (`rnn::quant`) with its weights baked in.
fn quantized(m: &Model, q: &crate::baked::QBaked) -> TokenStream {
    let def = m.def;
    let (attrs, vis, name) = (&def.attrs, &def.vis, &def.name);
    let p = private(def);
    let state_name = format_ident!("{}State", name);
    let (usize, i8t, i16t, i32t, f64t, str) = (
        prim("usize"),
        prim("i8"),
        prim("i16"),
        prim("i32"),
        prim("f64"),
        prim("str"),
    );
    let ints = |v: &[i64], t: &TokenStream| {
        let v = v.iter().map(|&x| {
            let l = Literal::i64_unsuffixed(x.abs());
            if x < 0 {
                quote!(-#l)
            } else {
                quote!(#l)
            }
        });
        quote!([#(#v),*] as [#t; _])
    };
    let get = |ts: &[(&'static str, Vec<i64>)], n: &str| -> Vec<i64> {
        ts.iter()
            .find(|t| t.0 == n)
            .map(|t| t.1.clone())
            .unwrap_or_default()
    };
    let matrix = |ts: &[(&'static str, Vec<i64>)], w: &str, sh: &str, cols: usize| {
        let wv = get(ts, w);
        let rows = wv.chunks(cols.max(1)).map(|r| ints(r, &i8t));
        let shift = ints(&get(ts, sh), &i8t);
        quote!(#p::quant::QMatrix { w: [#(#rows),*], shift: #shift })
    };
    let mut types = Vec::new();
    let mut values = Vec::new();
    let n_layers = m.layers.len();
    for (idx, (l, ts)) in m.layers.iter().zip(&q.layers).enumerate() {
        let (i, h, g) = (lit(l.input), lit(l.units), lit(l.gate_rows()));
        let k = matrix(ts, "kernel", "kernel_shift", l.input);
        if l.kind.is("dense") {
            let act = format_ident!(
                "{}",
                match crate::ir::qact_code(l.activation) {
                    Some(1) => "Relu",
                    Some(2) => "Tanh",
                    Some(3) => "Sigmoid",
                    _ => "Linear",
                }
            );
            if idx + 1 == n_layers {
                let b = ints(&get(ts, "bias"), &i32t);
                types.push(quote!(#p::quant::QDense<#i, #h>));
                values.push(
                    quote!(#p::quant::QDense { kernel: #k, bias: #b, act: #p::quant::QAct::#act }),
                );
            } else {
                let b = ints(&get(ts, "bias"), &i16t);
                types.push(quote!(#p::quant::QDenseInner<#i, #h>));
                values.push(quote!(#p::quant::QDenseInner { kernel: #k, bias: #b, act: #p::quant::QAct::#act }));
            }
            continue;
        }
        let r = matrix(ts, "recurrent_kernel", "recurrent_kernel_shift", l.units);
        let b = ints(&get(ts, "bias"), &i16t);
        match l.kind.name {
            "lstm" => {
                types.push(quote!(#p::quant::QLstm<#i, #h, #g>));
                values.push(quote!(#p::quant::QLstm { kernel: #k, recurrent: #r, bias: #b }));
            }
            "gru" => {
                let ra = l.flag("reset_after");
                let rb = ints(&get(ts, "recurrent_bias"), &i16t);
                types.push(quote!(#p::quant::QGru<#i, #h, #g, #ra>));
                values.push(quote!(#p::quant::QGru { kernel: #k, recurrent: #r, bias: #b, recurrent_bias: #rb }));
            }
            _ => {
                types.push(quote!(#p::quant::QRnn<#i, #h>));
                values.push(quote!(#p::quant::QRnn { kernel: #k, recurrent: #r, bias: #b }));
            }
        }
    }
    let chain = nest(&types, |a, b| quote!(#p::quant::QChain<#a, #b>));
    let value = nest(&values, |a, b| quote!(#p::quant::QChain(#a, #b)));
    let (input, output) = (lit(m.input()), lit(m.output()));
    let exp = Literal::i32_unsuffixed(q.input_exponent);
    // The output: a last dense layer's i32 in Q15.16, a recurrent layer's i16 in Q0.15.
    let dense_out = m.layers.last().is_some_and(|l| l.kind.is("dense"));
    let (out_t, out_doc, deq) = if dense_out {
        (
            i32t.clone(),
            "in `i32` Q15.16",
            quote!(#p::quant::dequantize(y[i])),
        )
    } else {
        (
            i16t.clone(),
            "in `i16` Q0.15",
            quote!(y[i] as #f64t / 32768.0),
        )
    };
    let step_doc = format!(" One step in integers: the input in `i16` of scale `2^INPUT_EXPONENT`, the output {out_doc} (see `rnn::quant`). No float operation.");
    let path = &q.path;
    let u8 = prim("u8");
    let name_str = syn::ext::IdentExt::unraw(name).to_string();
    let doc = format!(
        " The layers in integers (`quantize = int8`), baked from `{}`: `{}`.",
        q.path,
        m.layers
            .iter()
            .map(|l| l.source())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    let weight_bytes: usize = q
        .layers
        .iter()
        .flatten()
        .map(|(t, v)| {
            v.len()
                * match *t {
                    "kernel" | "kernel_shift" | "recurrent_kernel" | "recurrent_kernel_shift" => 1,
                    "bias" if v.len() < 4 => 4,
                    _ => 2,
                }
        })
        .sum();
    let _ = weight_bytes;
    let state_doc = format!(" The integer state of [`{name}`].");
    quote! {
        const _: &[#u8] = ::core::include_bytes!(#path);

        #(#attrs)*
        #vis struct #name {
            #[doc = #doc]
            layers: #chain,
        }

        #[doc = #state_doc]
        #[allow(dead_code)]
        #vis type #state_name = <#chain as #p::quant::QCell>::State;

        #[allow(dead_code)]
        impl #name {
            /// The model's name.
            pub const NAME: &'static #str = #name_str;
            /// Input width of one step.
            pub const INPUT: #usize = #input;
            /// Output width of one step.
            pub const OUTPUT: #usize = #output;
            /// The input's scale is `2^INPUT_EXPONENT` (chosen from the calibration data).
            pub const INPUT_EXPONENT: #i32t = #exp;
            /// The integer weights, a constant: `static MODEL: Self = Self::BAKED;` puts them
            /// in flash.
            pub const BAKED: Self = #name { layers: #value };
            /// The integer chain.
            pub const fn chain(&self) -> &#chain {
                &self.layers
            }
            /// The initial (zero) state.
            pub fn zero_state() -> #state_name {
                <#chain as #p::quant::QCell>::zero_state()
            }
            #[doc = #step_doc]
            #[inline]
            pub fn step(&self, state: &mut #state_name, x: &[#i16t; #input]) -> [#out_t; #output] {
                <#chain as #p::quant::QCell>::step(&self.layers, state, x)
            }
            /// A real input in the model's input format (host side, or a device with an FPU).
            pub fn quantize_input<T: #p::Real>(x: &[T; #input]) -> [#i16t; #input] {
                ::core::array::from_fn(|i| #p::quant::quantize_input(x[i], #exp))
            }
            /// An output as numbers.
            pub fn dequantize(y: &[#out_t; #output]) -> [#f64t; #output] {
                ::core::array::from_fn(|i| #deq)
            }
        }
    }
}

/// [`model`]; `quiet` for a half of an encoder-decoder, whose aliases the user may never name.
pub fn model_with(m: &Model, quiet: bool) -> TokenStream {
    let quiet = quiet.then(|| quote!(#[allow(dead_code)]));
    let def = m.def;
    let (attrs, vis, name) = (&def.attrs, &def.vis, &def.name);
    let p = private(def);
    let state_name = format_ident!("{}State", name);
    let cache_name = format_ident!("{}Cache", name);
    let tape_name = format_ident!("{}Tape", name);
    let t = prim(m.scalar);
    let (usize, u64, str) = (prim("usize"), prim("u64"), prim("str"));
    let math = if m.exact_math {
        quote!(#p::Exact)
    } else {
        quote!(#p::Fast)
    };
    let (types, configs): (Vec<_>, Vec<_>) = m.layers.iter().map(|l| cell(l, &t, &p)).unzip();
    let chain = nest(&types, |a, b| quote!(#p::Chain<#a, #b>));
    let config = nest(&configs, |a, b| quote!((#a, #b)));
    let infos = m.layers.iter().zip(&types).map(|(l, ty)| {
        let (i, h) = (lit(l.input), lit(l.units));
        let (kname, class, source) = (l.keras_name.as_str(), l.kind.keras.1, l.source());
        let act = if l.kind.activations.is_empty() {
            quote!(#p::None)
        } else {
            let a = format_ident!("{}", l.activation.variant());
            quote!(#p::Some(#p::Activation::#a))
        };
        let ra = if l.kind.flags.iter().any(|f| f.0 == "reset_after") {
            let ra = l.flag("reset_after");
            quote!(#p::Some(#ra))
        } else {
            quote!(#p::None)
        };
        quote! {
            #p::LayerInfo { name: #kname, class: #class, source: #source, input: #i, units: #h,
                params: <#ty as #p::Cell<#t>>::PARAMS, tensors: <#ty as #p::Cell<#t>>::TENSORS,
                activation: #act, reset_after: #ra }
        }
    });
    let last = m.layers.last().unwrap();
    let out_act = if last.kind.logits {
        let a = format_ident!("{}", last.activation.variant());
        quote!(#p::Some(#p::Activation::#a))
    } else {
        quote!(#p::None)
    };
    let (input, output) = (lit(m.input()), lit(m.output()));
    // A model with a whole-sequence (bidirectional) layer has no `step`: `Model::step` then
    // says why at the call.
    let step = if m.layers.iter().any(|l| l.kind.wraps) {
        quote!()
    } else {
        quote! {
            /// One time step, carrying `state` between calls.
            #[inline]
            pub fn step(&self, state: &mut #state_name, x: &[#t; #input]) -> [#t; #output] {
                <Self as #p::Model>::step(self, state, x)
            }
        }
    };
    let name_str = syn::ext::IdentExt::unraw(name).to_string();
    let fields_doc = format!(
        " The layers: `{}`.",
        m.layers
            .iter()
            .map(|l| l.source())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    let state_doc =
        format!(" The state of every recurrent layer of [`{name}`], carried between steps.");
    let cache_doc = format!(" One training step's record for [`{name}`].");
    let tape_doc =
        format!(" A record of `N` training steps of [`{name}`], for backpropagation through time.");
    // A declared model beyond the limit is a compile error at its name, not a struct that
    // compiles and then overflows every stack it is built on.
    let size_msg = format!(
        "rnn_model!: `{name}` needs more than {} GiB for its weights, the limit of a model",
        MAX_MODEL_BYTES >> 30
    );
    let max = Literal::usize_unsuffixed(MAX_MODEL_BYTES);
    let size_check = quote::quote_spanned! {name.span()=>
        const _: () = ::core::assert!(::core::mem::size_of::<#name>() <= #max, #size_msg);
    };
    let baked = m.baked.as_ref().map(|b| baked_const(m, b, &t, &p));

    quote! {
        #(#attrs)*
        #vis struct #name {
            #[doc = #fields_doc]
            layers: #chain,
        }

        #baked

        #[doc = #state_doc]
        #quiet
        #vis type #state_name = <#name as #p::Model>::State;
        #[doc = #cache_doc]
        #quiet
        #vis type #cache_name = <#name as #p::Model>::Cache;
        #[doc = #tape_doc]
        #quiet
        #vis type #tape_name<const N: #usize> = #p::Tape<#name, { N }>;

        #size_check

        #[allow(dead_code)]
        impl #name {
            /// Trainable parameters, as Keras counts them.
            pub const PARAM_COUNT: #usize = <Self as #p::Model>::PARAM_COUNT;
            /// Input width of one step.
            pub const INPUT: #usize = #input;
            /// Output width of one step.
            pub const OUTPUT: #usize = #output;
            /// The layers, first to last.
            pub const LAYERS: &'static [#p::LayerInfo] = &[#(#infos),*];

            /// Keras's default initializers from a seed.
            pub fn init(seed: #u64) -> Self {
                <Self as #p::Model>::init(seed)
            }
            /// Every parameter zero.
            pub fn zeros() -> Self {
                <Self as #p::Model>::zeros()
            }
            /// The initial (zero) state.
            pub fn zero_state() -> #state_name {
                <Self as #p::Model>::zero_state()
            }
            #step
            /// A whole sequence from the zero state: every step's output.
            pub fn forward<const N: #usize>(&self, xs: &[[#t; #input]; N]) -> [[#t; #output]; N] {
                <Self as #p::Model>::forward(self, xs)
            }
            /// A whole sequence from the zero state: the last step's output.
            pub fn forward_last<const N: #usize>(&self, xs: &[[#t; #input]; N]) -> [#t; #output] {
                <Self as #p::Model>::forward_last(self, xs)
            }
        }

        impl #p::Model for #name {
            type Scalar = #t;
            type Math = #math;
            type Input = [Self::Scalar; #input];
            type Output = [Self::Scalar; #output];
            type State = <Self::Chain as #p::Cell<Self::Scalar>>::State;
            type Cache = <Self::Chain as #p::Cell<Self::Scalar>>::Cache;
            type Transposed = <Self::Chain as #p::Cell<Self::Scalar>>::Transposed;
            type Chain = #chain;
            const NAME: &'static #str = #name_str;
            const LAYERS: &'static [#p::LayerInfo] = #name::LAYERS;
            const CONFIG: <Self::Chain as #p::Cell<Self::Scalar>>::Config = #config;
            const OUTPUT_ACTIVATION: #p::Option<#p::Activation> = #out_act;

            #[inline(always)]
            fn chain(&self) -> &Self::Chain {
                &self.layers
            }
            #[inline(always)]
            fn chain_mut(&mut self) -> &mut Self::Chain {
                &mut self.layers
            }
            #[inline(always)]
            fn from_chain(layers: Self::Chain) -> Self {
                #name { layers }
            }
            #[inline(always)]
            unsafe fn chain_ptr(slot: *mut Self) -> *mut Self::Chain {
                // SAFETY: a field projection of the caller's pointer, no reference made.
                unsafe { ::core::ptr::addr_of_mut!((*slot).layers) }
            }
        }
    }
}

fn num(v: f64, scalar: &str) -> TokenStream {
    let lit = if scalar == "f64" {
        Literal::f64_suffixed(v.abs())
    } else {
        Literal::f32_suffixed((v as f32).abs())
    };
    if v.is_sign_negative() {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

/// A constant `R x C` matrix from column-major data.
fn mat(
    data: &[f64],
    rows: usize,
    cols: usize,
    t: &TokenStream,
    scalar: &str,
    p: &TokenStream,
) -> TokenStream {
    let columns = (0..cols).map(|j| {
        let vals = data[j * rows..(j + 1) * rows]
            .iter()
            .map(|&v| num(v, scalar));
        quote!([#(#vals),*])
    });
    let (r, c) = (lit(rows), lit(cols));
    quote!(#p::SMatrix::<#t, #r, #c>::from_array_storage(#p::ArrayStorage([#(#columns),*])))
}

/// `pub const BAKED: Self`, the weights read at compile time, and an `include_bytes!` of the
/// file so cargo rebuilds when it changes.
fn baked_const(
    m: &Model,
    b: &crate::baked::Baked,
    t: &TokenStream,
    p: &TokenStream,
) -> TokenStream {
    let name = &m.def.name;
    let s = m.scalar;
    let mut cells = Vec::new();
    for (l, w) in m.layers.iter().zip(&b.layers) {
        let (i, h, g) = (l.input, l.units, l.gate_rows());
        let act = format_ident!("{}", l.activation.variant());
        let v = match l.kind.name {
            "lstm" => {
                let (k, r, bb) = (
                    mat(&w.kernel, g, i, t, s, p),
                    mat(&w.recurrent, g, h, t, s, p),
                    mat(&w.bias, g, l.biases, t, s, p),
                );
                let none = mat(&[], h, 0, t, s, p);
                quote!(#p::LstmCell { kernel: #k, recurrent_kernel: #r, bias: #bb, peephole: #none })
            }
            "gru" => {
                let (k, r, bb) = (
                    mat(&w.kernel, g, i, t, s, p),
                    mat(&w.recurrent, g, h, t, s, p),
                    mat(&w.bias, g, 2, t, s, p),
                );
                quote!(#p::GruCell { kernel: #k, recurrent_kernel: #r, bias: #bb })
            }
            "rnn" => {
                let (k, r, bb) = (
                    mat(&w.kernel, h, i, t, s, p),
                    mat(&w.recurrent, h, h, t, s, p),
                    mat(&w.bias, h, l.biases, t, s, p),
                );
                quote!(#p::RnnCell { kernel: #k, recurrent_kernel: #r, bias: #bb, activation: #p::Activation::#act })
            }
            "dense" => {
                let (k, bb) = (mat(&w.kernel, h, i, t, s, p), mat(&w.bias, h, 1, t, s, p));
                quote!(#p::Dense { kernel: #k, bias: #bb, activation: #p::Activation::#act })
            }
            "embedding" => {
                let e = mat(&w.kernel, h, i, t, s, p);
                quote!(#p::Embedding { embeddings: #e })
            }
            "attention" => {
                let (e, dot) = (l.memory.0, l.merge == 1);
                let a = if dot { 0 } else { h };
                let (q, k, sc, o) = (
                    mat(&w.kernel, a, i, t, s, p),
                    mat(&w.recurrent, a, e, t, s, p),
                    mat(&w.bias, a, 1, t, s, p),
                    mat(&w.extra, h, e + i, t, s, p),
                );
                quote!(#p::Attention { query_kernel: #q, key_kernel: #k, scale: #sc, output_kernel: #o })
            }
            // `baked::load` refuses the kinds it cannot read, so this is never emitted.
            other => {
                let msg = format!("rnn_model!: `{other}` layers cannot be baked");
                quote!(::core::compile_error!(#msg))
            }
        };
        cells.push(v);
    }
    let chain = nest(&cells, |a, b| quote!(#p::Chain::new(#a, #b)));
    let path = &b.path;
    let doc = format!(" The weights baked in at compile time from `{}`.", b.path);
    let u8 = prim("u8");
    quote! {
        const _: &[#u8] = ::core::include_bytes!(#path);
        #[allow(dead_code)]
        impl #name {
            #[doc = #doc]
            /// A constant: `static MODEL: Self = Self::BAKED;` puts it in flash, with no
            /// initialization code at run time.
            pub const BAKED: Self = #name { layers: #chain };
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::ModelDef;

    /// The generated code for the card model, formatted, and its line count: the macro emits
    /// only what depends on the line (the chain type, names, constants), so this stays small.
    #[test]
    fn the_card_model_expands_to_a_few_dozen_lines() {
        let def: ModelDef =
            syn::parse_str("pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }").unwrap();
        let m = crate::check::validate(&def).unwrap();
        let file: syn::File = syn::parse2(super::model(&m)).unwrap();
        let text = prettyplease::unparse(&file);
        let lines = text.lines().count();
        println!("{text}\n{lines} lines");
        // 166 today: the primitive types written in full (`::core::primitive::f32`) make
        // prettyplease wrap the `LAYERS` entries.
        assert!(lines <= 180, "the card model expands to {lines} lines");
        assert!(
            !text.contains("::rnn::")
                || text.matches("::rnn::__private").count() == text.matches("::rnn::").count()
        );
    }
}
