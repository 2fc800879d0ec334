//! The `rnn_model!` macro: one line of layers in, a statically-sized model out.
//!
//! Three stages, as in thiserror: [`parse`] (syntax, every token's span kept), [`check`]
//! (validation: every size computed, every mistake collected as a spanned error, baked weights
//! read by [`baked`]) and [`expand`] (tokens, no checks). See the `rnn` crate for the language.

mod baked;
mod check;
mod expand;
mod ir;
mod layers;
mod names;
mod options;
mod parse;
mod seq2seq;
mod suggest;

use proc_macro::TokenStream;

/// Declares one or more recurrent models; see the `rnn` crate's documentation.
#[proc_macro]
pub fn rnn_model(input: TokenStream) -> TokenStream {
    let file = syn::parse_macro_input!(input as parse::File);
    let mut out = proc_macro2::TokenStream::new();
    for (def, clash) in file.models.iter().zip(names::clashes(&file.models)) {
        // A model whose names an earlier one already declares: that one error only.
        if let Some(c) = clash {
            out.extend(c.error.to_compile_error());
            if c.placeholder && !names::is_primitive(&def.name) {
                out.extend(expand::fallback(def));
            }
            continue;
        }
        if def.decoder.is_some() {
            out.extend(seq2seq::model(def));
            continue;
        }
        out.extend(match check::validate(def) {
            Ok(m) => expand::model(&m),
            Err(e) => {
                let mut t = e.to_compile_error();
                // No placeholder `struct f32;`: it would shadow the primitive type.
                if !names::is_primitive(&def.name) {
                    t.extend(expand::fallback(def));
                }
                t
            }
        });
    }
    out.into()
}
