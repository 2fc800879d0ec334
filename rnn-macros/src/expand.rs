//! Expansion: a validated model to tokens. No checks here; every size is already known.
//!
//! Only what depends on the user's line is generated: field types with literal sizes, the
//! wiring between layers, and literal constants. All maths is generic runtime code.

use crate::model::{Kind, Model};
use crate::parse::ModelDef;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// A placeholder beside the errors, so a broken model gives one message, not a cascade.
pub fn fallback(def: &ModelDef) -> TokenStream {
    let (vis, name) = (&def.vis, &def.name);
    quote! { #[allow(dead_code)] #vis struct #name; }
}

pub fn model(m: &Model) -> TokenStream {
    let def = m.def;
    let (attrs, vis, name) = (&def.attrs, &def.vis, &def.name);
    let state_name = format_ident!("{}State", name);
    let cache_name = format_ident!("{}Cache", name);
    let t: TokenStream = m.scalar.parse().unwrap();
    let math = if m.exact_math {
        quote!(::rnn::Exact)
    } else {
        quote!(::rnn::Fast)
    };
    let n = m.layers.len();

    let mut fields = Vec::new();
    let mut state_fields = Vec::new();
    let mut cache_fields = Vec::new();
    let mut zeros = Vec::new();
    let mut inits = Vec::new();
    let mut state_zeros = Vec::new();
    let mut cache_zeros = Vec::new();
    let mut step = Vec::new();
    let mut step_train = Vec::new();
    let mut backward = Vec::new();
    let mut tr_names = Vec::new();
    let mut pendings = Vec::new();
    let mut flushes = Vec::new();
    let mut tr_values = Vec::new();
    let mut tr_types = Vec::new();
    let mut infos = Vec::new();
    let mut tensor_arms = Vec::new();
    let mut tensor_mut_arms = Vec::new();
    let mut info_arms = Vec::new();
    let mut load_arms = Vec::new();
    let mut export_arms = Vec::new();
    let mut param_sum = Vec::new();
    let mut k0 = 0usize;

    for (idx, l) in m.layers.iter().enumerate() {
        let f = format_ident!("{}{}", l.kind.name(), idx);
        let (i, h, g) = (lit(l.input), lit(l.units), lit(l.gate_rows()));
        let act = format_ident!("{}", l.activation.variant());
        let act_path = quote!(::rnn::Activation::#act);
        let (ty, sty, cty) = match l.kind {
            Kind::Lstm => (
                quote!(::rnn::LstmCell<#t, #i, #h, #g>),
                Some(quote!(::rnn::LstmState<#t, #h>)),
                quote!(::rnn::LstmCache<#t, #i, #h, #g>),
            ),
            Kind::Gru => {
                let ra = l.reset_after;
                (
                    quote!(::rnn::GruCell<#t, #i, #h, #g, #ra>),
                    Some(quote!(::rnn::GruState<#t, #h>)),
                    quote!(::rnn::GruCache<#t, #i, #h, #g>),
                )
            }
            Kind::Rnn => (
                quote!(::rnn::RnnCell<#t, #i, #h>),
                Some(quote!(::rnn::RnnState<#t, #h>)),
                quote!(::rnn::RnnCache<#t, #i, #h>),
            ),
            Kind::Dense => (
                quote!(::rnn::Dense<#t, #i, #h>),
                None,
                quote!(::rnn::DenseCache<#t, #i, #h>),
            ),
        };
        tr_types.push(match l.kind {
            Kind::Lstm | Kind::Gru => quote!(::rnn::cells::Transposed<#t, #i, #h, #g>),
            Kind::Rnn => quote!(::rnn::cells::Transposed<#t, #i, #h, #h>),
            Kind::Dense => quote!(::rnn::nalgebra::SMatrix<#t, #i, #h>),
        });
        let doc = format!(
            " Layer {idx}: `{}` ({} parameters).",
            l.source(),
            l.params()
        );
        fields.push(quote! { #[doc = #doc] pub #f: #ty });
        cache_fields.push(quote! { #[doc = #doc] pub #f: #cty });
        cache_zeros.push(quote! { #f: <#cty>::zeros() });
        let has_act = matches!(l.kind, Kind::Rnn | Kind::Dense);
        if has_act {
            zeros.push(quote! { #f: <#ty>::zeros(#act_path) });
            inits.push(quote! { #f: <#ty>::init(#act_path, &mut rng) });
        } else {
            zeros.push(quote! { #f: <#ty>::zeros() });
            inits.push(quote! { #f: <#ty>::init(&mut rng) });
        }
        let input = if idx == 0 {
            quote!(x)
        } else {
            let p = format_ident!("a{}", idx - 1);
            quote!(&#p)
        };
        let out = format_ident!("a{}", idx);
        let trf = format_ident!("tr_{}", f);
        tr_names.push(trf.clone());
        tr_values.push(quote! { self.#f.transposed() });
        if let Some(sty) = &sty {
            state_fields.push(quote! { #[doc = #doc] pub #f: #sty });
            state_zeros.push(quote! { #f: <#sty>::zeros() });
            let pf = format_ident!("pending_{}", f);
            pendings.push(quote! { let mut #pf = self.#f.pending(); });
            flushes.push(quote! { grads.#f.flush::<K>(&mut #pf); });
            step.push(quote! { let #out = self.#f.step::<#math>(&mut state.#f, #input); });
            step_train.push(quote! { let #out = self.#f.step_train::<K>(&mut state.#f, #input, &mut cache.#f); });
            backward.push(
                quote! { let d = self.#f.backward::<K>(#trf, &mut #pf, &cache.#f, &d, &mut dstate.#f, &mut grads.#f); },
            );
        } else {
            step.push(quote! { let #out = self.#f.forward::<#math>(#input); });
            step_train
                .push(quote! { let #out = self.#f.forward_train::<K>(#input, &mut cache.#f); });
            let wrt = if idx + 1 == n {
                quote!(wrt_logits)
            } else {
                quote!(false)
            };
            backward.push(
                quote! { let d = self.#f.backward::<K>(#trf, &cache.#f, &d, #wrt, &mut grads.#f); },
            );
        }
        let (kname, class) = (l.keras_name.as_str(), l.kind.keras().1);
        let source = l.source();
        let params = lit(l.params());
        let tensors = if l.kind == Kind::Dense { 2usize } else { 3 };
        let tl = lit(tensors);
        let act_info = if has_act {
            quote!(Some(#act_path))
        } else {
            quote!(None)
        };
        let ra_info = if l.kind == Kind::Gru {
            let ra = l.reset_after;
            quote!(Some(#ra))
        } else {
            quote!(None)
        };
        infos.push(quote! {
            ::rnn::LayerInfo { name: #kname, class: #class, source: #source, input: #i, units: #h,
                params: #params, tensors: #tl, activation: #act_info, reset_after: #ra_info }
        });
        let (lo, hi) = (lit(k0), lit(k0 + tensors - 1));
        let il = lit(idx);
        tensor_arms
            .push(quote! { #lo..=#hi => ::rnn::cells::Layer::<#t>::tensor(&self.#f, k - #lo) });
        tensor_mut_arms.push(
            quote! { #lo..=#hi => ::rnn::cells::Layer::<#t>::tensor_mut(&mut self.#f, k - #lo) },
        );
        info_arms.push(quote! { #lo..=#hi => ::rnn::model::TensorInfo {
            layer: #il,
            name: <#ty as ::rnn::cells::Layer<#t>>::tensor_name(k - #lo),
            shape: <#ty as ::rnn::cells::Layer<#t>>::tensor_shape(k - #lo),
        } });
        load_arms.push(quote! { #il => ::rnn::cells::Layer::<#t>::load(&mut self.#f, layout, src, prefix, suffix).map_err(|e| e.at_layer(#il)) });
        export_arms.push(quote! { #il => ::rnn::cells::Layer::<#t>::export(&self.#f, layout, prefix, suffix, sink).map_err(|e| e.at_layer(#il)) });
        param_sum.push(quote! { <#ty as ::rnn::cells::Layer<#t>>::PARAMS });
        k0 += tensors;
    }
    let last = format_ident!("a{}", n - 1);
    let last_layer = m.layers.last().unwrap();
    let last_field = format_ident!("{}{}", last_layer.kind.name(), n - 1);
    let (logits, out_act) = if last_layer.kind == Kind::Dense {
        let act = format_ident!("{}", last_layer.activation.variant());
        (
            quote!(Some(cache.#last_field.z)),
            quote!(Some(::rnn::Activation::#act)),
        )
    } else {
        (quote!(None), quote!(None))
    };
    let rev_backward: Vec<_> = backward.into_iter().rev().collect();
    let (input, output, params, tensors) =
        (lit(m.input()), lit(m.output()), lit(m.params()), lit(k0));
    let nlayers = lit(n);
    let name_str = name.to_string();
    let state_doc =
        format!(" The state of every recurrent layer of [`{name}`], carried between steps.");
    let cache_doc = format!(" One training step's record for [`{name}`].");
    let const_check = format!("rnn_model!: {name} parameter count disagrees with the runtime");
    let state_body = if state_fields.is_empty() {
        quote!({})
    } else {
        quote!({ #(#state_fields,)* })
    };

    let baked = m.baked.as_ref().map(|b| baked_const(m, b, &t));

    quote! {
        #(#attrs)*
        #vis struct #name {
            #(#fields,)*
        }

        #baked

        #[doc = #state_doc]
        #[derive(Clone, Copy, Debug, PartialEq)]
        #vis struct #state_name #state_body

        #[doc = #cache_doc]
        #[derive(Clone, Copy, Debug)]
        #vis struct #cache_name {
            #(#cache_fields,)*
        }

        const _: () = assert!(#params == 0 #(+ #param_sum)*, #const_check);

        #[allow(dead_code)]
        impl #name {
            /// Trainable parameters, as Keras counts them.
            pub const PARAM_COUNT: usize = #params;
            /// Input width of one step.
            pub const INPUT: usize = #input;
            /// Output width of one step.
            pub const OUTPUT: usize = #output;
            /// The layers, first to last.
            pub const LAYERS: &'static [::rnn::LayerInfo] = &[#(#infos),*];

            /// Keras's default initializers from a seed.
            pub fn init(seed: u64) -> Self {
                <Self as ::rnn::Model>::init(seed)
            }
            /// Every parameter zero.
            pub fn zeros() -> Self {
                <Self as ::rnn::Model>::zeros()
            }
            /// The initial (zero) state.
            pub fn zero_state() -> #state_name {
                #state_name { #(#state_zeros),* }
            }
            /// One time step, carrying `state` between calls.
            #[inline]
            pub fn step(&self, state: &mut #state_name, x: &[#t; #input]) -> [#t; #output] {
                <Self as ::rnn::Model>::step(self, state, x)
            }
            /// A whole sequence from the zero state: every step's output.
            pub fn forward<const N: usize>(&self, xs: &[[#t; #input]; N]) -> [[#t; #output]; N] {
                <Self as ::rnn::Model>::forward(self, xs)
            }
            /// A whole sequence from the zero state: the last step's output.
            pub fn forward_last<const N: usize>(&self, xs: &[[#t; #input]; N]) -> [#t; #output] {
                <Self as ::rnn::Model>::forward_last(self, xs)
            }
        }

        #[allow(clippy::result_large_err)]
        impl ::rnn::Model for #name {
            type Scalar = #t;
            type Math = #math;
            type Input = [#t; #input];
            type Output = [#t; #output];
            type State = #state_name;
            type Cache = #cache_name;
            type Transposed = (#(#tr_types,)*);
            const NAME: &'static str = #name_str;
            const INPUT: usize = #input;
            const OUTPUT: usize = #output;
            const PARAM_COUNT: usize = #params;
            const TENSORS: usize = #tensors;
            const LAYERS: &'static [::rnn::LayerInfo] = #name::LAYERS;
            const OUTPUT_ACTIVATION: Option<::rnn::Activation> = #out_act;

            fn zeros() -> Self {
                #name { #(#zeros),* }
            }
            fn init(seed: u64) -> Self {
                let mut rng = ::rnn::Rng::new(seed);
                #name { #(#inits),* }
            }
            fn zero_state() -> #state_name {
                #name::zero_state()
            }
            fn zero_cache() -> #cache_name {
                #cache_name { #(#cache_zeros),* }
            }
            fn zero_input() -> [#t; #input] {
                [0.0; #input]
            }
            fn zero_output() -> [#t; #output] {
                [0.0; #output]
            }
            #[inline(always)]
            fn raw_step(&self, state: &mut #state_name, x: &[#t; #input]) -> [#t; #output] {
                #(#step)*
                #last
            }
            #[inline(always)]
            fn raw_step_train<K: ::rnn::Math>(&self, state: &mut #state_name, x: &[#t; #input], cache: &mut #cache_name) -> [#t; #output] {
                #(#step_train)*
                #last
            }
            fn logits(cache: &#cache_name) -> Option<[#t; #output]> {
                #logits
            }
            #[inline(always)]
            fn raw_transposed(&self) -> Self::Transposed {
                (#(#tr_values,)*)
            }
            #[inline(always)]
            fn raw_backward<K: ::rnn::Math>(
                &self,
                tr: &Self::Transposed,
                caches: &[#cache_name],
                dys: &[[#t; #output]],
                wrt_logits: bool,
                dstate: &mut #state_name,
                grads: &mut Self,
                mut dxs: Option<&mut [[#t; #input]]>,
            ) {
                let (#(#tr_names,)*) = tr;
                #(#pendings)*
                for t in (0..caches.len().min(dys.len())).rev() {
                    let cache = &caches[t];
                    let d = dys[t];
                    #(#rev_backward)*
                    if let Some(dx) = dxs.as_deref_mut() {
                        dx[t] = d;
                    }
                }
                #(#flushes)*
            }
            fn tensor(&self, k: usize) -> &[#t] {
                match k {
                    #(#tensor_arms,)*
                    _ => panic!("tensor index {} out of range (the model has {} tensors)", k, #tensors),
                }
            }
            fn tensor_mut(&mut self, k: usize) -> &mut [#t] {
                match k {
                    #(#tensor_mut_arms,)*
                    _ => panic!("tensor index {} out of range (the model has {} tensors)", k, #tensors),
                }
            }
            fn tensor_info(k: usize) -> ::rnn::model::TensorInfo {
                match k {
                    #(#info_arms,)*
                    _ => panic!("tensor index {} out of range (the model has {} tensors)", k, #tensors),
                }
            }
            fn load_layer<S: ::rnn::WeightSource<#t> + ?Sized>(
                &mut self,
                layer: usize,
                layout: ::rnn::Layout,
                src: &S,
                prefix: &str,
                suffix: &str,
            ) -> Result<(), ::rnn::WeightError> {
                match layer {
                    #(#load_arms,)*
                    _ => Err(::rnn::WeightError::NoLayer { layer, layers: #nlayers }),
                }
            }
            fn export_layer(
                &self,
                layer: usize,
                layout: ::rnn::Layout,
                prefix: &str,
                suffix: &str,
                sink: &mut ::rnn::io::Sink<'_, #t>,
            ) -> Result<(), ::rnn::WeightError> {
                match layer {
                    #(#export_arms,)*
                    _ => Err(::rnn::WeightError::NoLayer { layer, layers: #nlayers }),
                }
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
fn mat(data: &[f64], rows: usize, cols: usize, t: &TokenStream, scalar: &str) -> TokenStream {
    let columns = (0..cols).map(|j| {
        let vals = data[j * rows..(j + 1) * rows]
            .iter()
            .map(|&v| num(v, scalar));
        quote!([#(#vals),*])
    });
    let (r, c) = (lit(rows), lit(cols));
    quote!(::rnn::nalgebra::SMatrix::<#t, #r, #c>::from_array_storage(::rnn::nalgebra::ArrayStorage([#(#columns),*])))
}

/// `pub const BAKED: Self`, the weights read at compile time, and an `include_bytes!` of the
/// file so cargo rebuilds when it changes.
fn baked_const(m: &Model, b: &crate::weights::Baked, t: &TokenStream) -> TokenStream {
    let name = &m.def.name;
    let s = m.scalar;
    let mut fields = Vec::new();
    for (idx, (l, w)) in m.layers.iter().zip(&b.layers).enumerate() {
        let f = format_ident!("{}{}", l.kind.name(), idx);
        let (i, h, g) = (l.input, l.units, l.gate_rows());
        let act = format_ident!("{}", l.activation.variant());
        let v = match l.kind {
            Kind::Lstm => {
                let (k, r, bb) = (
                    mat(&w.kernel, g, i, t, s),
                    mat(&w.recurrent, g, h, t, s),
                    mat(&w.bias, g, 1, t, s),
                );
                quote!(::rnn::LstmCell { kernel: #k, recurrent_kernel: #r, bias: #bb })
            }
            Kind::Gru => {
                let (k, r, bb) = (
                    mat(&w.kernel, g, i, t, s),
                    mat(&w.recurrent, g, h, t, s),
                    mat(&w.bias, g, 2, t, s),
                );
                quote!(::rnn::GruCell { kernel: #k, recurrent_kernel: #r, bias: #bb })
            }
            Kind::Rnn => {
                let (k, r, bb) = (
                    mat(&w.kernel, h, i, t, s),
                    mat(&w.recurrent, h, h, t, s),
                    mat(&w.bias, h, 1, t, s),
                );
                quote!(::rnn::RnnCell { kernel: #k, recurrent_kernel: #r, bias: #bb, activation: ::rnn::Activation::#act })
            }
            Kind::Dense => {
                let (k, bb) = (mat(&w.kernel, h, i, t, s), mat(&w.bias, h, 1, t, s));
                quote!(::rnn::Dense { kernel: #k, bias: #bb, activation: ::rnn::Activation::#act })
            }
        };
        fields.push(quote!(#f: #v));
    }
    let path = &b.path;
    let doc = format!(" The weights baked in at compile time from `{}`.", b.path);
    quote! {
        const _: &[u8] = include_bytes!(#path);
        #[allow(dead_code)]
        impl #name {
            #[doc = #doc]
            /// A constant: `static MODEL: Self = Self::BAKED;` puts it in flash, with no
            /// initialization code at run time.
            pub const BAKED: Self = #name { #(#fields),* };
        }
    }
}
