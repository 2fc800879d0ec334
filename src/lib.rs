#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]

extern crate self as rnn;

pub use rnn_core::*;
pub use rnn_macros::rnn_model;

#[cfg(feature = "std")]
pub use rnn_host::{boxed, csv, files, plot, summary, train, Summary};

/// What generated code reaches, and nothing else: one path, so that a renamed dependency
/// works with `crate = path;` and the public modules can move without breaking models.
#[doc(hidden)]
pub mod __private {
    pub use core::option::Option::{self, None, Some};
    pub use core::result::Result::{self, Err, Ok};
    pub use rnn_core::layers::{
        Attention, Bidirectional, Cell, Dense, Dropout, Dropped, Embedding, GruCell, LayerNorm,
        LnRnnCell, LstmCell, RnnCell,
    };
    pub use rnn_core::nalgebra::{ArrayStorage, SMatrix};
    pub use rnn_core::optim::Params;
    pub use rnn_core::quant;
    pub use rnn_core::seq2seq::{self, Beams, Decoded, Seq2Seq, Seq2SeqTape};
    pub use rnn_core::{Activation, Chain, Exact, Fast, LayerInfo, Model, Real, Tape, TokenError};
}
