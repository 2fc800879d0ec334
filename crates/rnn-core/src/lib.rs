//! The `no_std` core of `rnn`: layers behind one [`Cell`] trait, the generic [`Chain`] of
//! cells, the [`Model`] trait that runs any chain (streaming step, sequences, BPTT), kernels,
//! SIMD dispatch, activations, losses, optimizers, data windows and initializers.
//!
//! This crate is `#![no_std]` always and never allocates: it has no `alloc` dependency, every
//! size is a const generic, and sizes that do not fit are compile errors. Its `std` feature only
//! lets [`simd`] detect the host CPU's vector width at run time (and use the C library's fused
//! multiply-add); nothing here can reach a `Vec`.
//!
//! The maths follows Keras and PyTorch exactly (gate order, default initializers, parameter
//! counts, optimizer update rules); the tests in the workspace compare against fixtures produced
//! by those frameworks.
//!
//! # Features
//! - `std`: run-time CPU feature detection on x86-64 hosts ([`simd`]). Off by default.
#![no_std]
#![deny(missing_docs)]
#![allow(clippy::needless_range_loop)]
// Errors carry the tensor name inline (no allocator), so they are ~230 bytes on purpose.
#![allow(clippy::result_large_err)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod activation;
pub mod bptt;
pub mod chain;
pub mod ctc;
pub mod data;
pub mod init;
pub mod kernels;
pub mod lanes;
pub mod layers;
pub mod loss;
pub mod many;
pub mod math;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod quant;
pub mod real;
pub mod rng;
pub mod seq2seq;
pub mod simd;
pub mod weights;

pub use activation::Activation;
pub use bptt::Tape;
pub use chain::Chain;
pub use layers::{
    Attention, AttentionState, Bidirectional, Cell, Dense, DenseCache, Dropout, DropoutCache,
    Dropped, Embedding, EmbeddingCache, GruCache, GruCell, GruState, LayerNorm, LayerNormCache,
    Leaf, LnRnnCache, LnRnnCell, LstmCache, LstmCell, LstmState, RnnCache, RnnCell, RnnState,
    StateLanes, Streams, TensorInfo, Vector,
};
/// The pure-Rust math library the activations use (so a host and a device computing the same
/// function get the same bits).
pub use libm;
pub use loss::Loss;
pub use math::{Exact, Fast, Fused, Math};
pub use model::{LayerInfo, Model, TokenError};
pub use nalgebra;
pub use real::Real;
pub use rng::Rng;
pub use weights::{Layout, Shape, TensorName, TensorView, WeightError, WeightSource};
