//! Allocation-free recurrent cells, losses, optimizers and data windows.
//!
//! This crate is `#![no_std]` and never allocates: it has no `alloc` dependency, every size is a
//! const generic, and sizes that do not fit are compile errors. It is the runtime
//! behind the `rnn_model!` macro, but every cell can also be used on its own.
//!
//! The maths follows Keras and PyTorch exactly (gate order, default initializers, parameter
//! counts, optimizer update rules); the tests in the workspace compare against fixtures produced
//! by those frameworks.
//!
//! # Features
//! - `std`: host extras (file I/O, CSV, progress, plots, threads). Off by default.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![allow(clippy::needless_range_loop)]
// Errors carry the tensor name inline (no allocator), so they are ~230 bytes on purpose.
#![allow(clippy::result_large_err)]

pub mod activation;
pub mod cells;
#[cfg(feature = "std")]
pub mod csv;
pub mod data;
#[cfg(feature = "std")]
pub mod files;
pub mod init;
pub mod io;
pub mod kernels;
pub mod loss;
pub mod math;
pub mod metrics;
pub mod model;
pub mod optim;
#[cfg(feature = "std")]
pub mod plot;
pub mod real;
pub mod rng;
pub mod simd;
#[cfg(feature = "std")]
pub mod train;

pub use activation::Activation;
pub use cells::{
    Dense, DenseCache, GruCache, GruCell, GruState, LstmCache, LstmCell, LstmState, RnnCache,
    RnnCell, RnnState,
};
pub use io::{Layout, Shape, TensorName, TensorView, WeightError, WeightSource};
pub use loss::Loss;
pub use math::{Exact, Fast, Fused, Math};
pub use model::{LayerInfo, Model, Tape};
pub use nalgebra;
pub use real::Real;
pub use rng::Rng;
