//! # rnn: recurrent networks declared in one line, sized at compile time, no heap
//!
//! ```
//! use rnn::rnn_model;
//!
//! rnn_model! {
//!     /// Forecasts the next value of a series.
//!     pub struct Forecaster {
//!         lstm(32, 16) -> gru(16) -> dense(1)
//!     }
//! }
//!
//! assert_eq!(Forecaster::PARAM_COUNT, 4785); // as Keras's count_params()
//! let model = Forecaster::init(42);          // Keras's default initializers
//! let mut state = Forecaster::zero_state();
//! let y: [f32; 1] = model.step(&mut state, &[0.1; 32]); // one real-time step
//! let ys = model.forward(&[[0.1f32; 32]; 50]);          // a whole sequence
//! assert_eq!(ys[0], y);
//! ```
//!
//! The model language, the generated API and the guarantees are described in the README.
//! This crate re-exports the runtime ([`rnn_runtime`]) and the macro ([`rnn_model!`]); it is
//! `no_std` without its default `std` feature.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate self as rnn;

pub use rnn_macros::rnn_model;
pub use rnn_runtime::*;
