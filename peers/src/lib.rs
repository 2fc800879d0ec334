//! Nothing here: the crate exists for `benches/peers.rs` (our model against candle-nn).
