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
mod parse;
mod suggest;

use proc_macro::TokenStream;

/// Declares one or more recurrent models; see the `rnn` crate's documentation.
#[proc_macro]
pub fn rnn_model(input: TokenStream) -> TokenStream {
    let file = syn::parse_macro_input!(input as parse::File);
    let mut out = proc_macro2::TokenStream::new();
    for def in &file.models {
        out.extend(match check::validate(def) {
            Ok(m) => expand::model(&m),
            Err(e) => {
                let mut t = e.to_compile_error();
                t.extend(expand::fallback(def));
                t
            }
        });
    }
    out.into()
}
