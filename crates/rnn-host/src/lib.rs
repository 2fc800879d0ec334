//! The host side of `rnn` (`std`): safetensors files, CSV, the training loop (`fit`, early
//! stopping, progress, history), the model summary and PNG charts. Everything here builds on
//! the `no_std` core (`rnn-core`) and on crates made for each job.
#![deny(missing_docs)]
// Errors carry the tensor name inline (no allocator), so they are ~230 bytes on purpose.
#![allow(clippy::result_large_err)]

pub mod boxed;
pub mod csv;
pub mod files;
pub mod plot;
pub mod summary;
pub mod train;

pub use summary::Summary;
