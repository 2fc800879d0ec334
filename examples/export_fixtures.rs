//! Writes the files that `tests/fixtures/generate_files.py` loads into PyTorch and Keras to
//! check that what we save gives the same outputs there:
//! `tests/fixtures/data/ours_card_{torch,keras}.safetensors` and `ours_card.json` (a fixed input
//! and our outputs). `tests/files.rs` checks the committed files still equal what we write.
//!
//! `cargo run --example export_fixtures`

use rnn::{files, rnn_model, Layout};

rnn_model! {
    /// The card model.
    pub struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
}

/// The fixed input: 2 sequences x 10 steps x 32, from an integer formula (no libm).
pub fn input() -> Vec<[[f32; 32]; 10]> {
    (0..2)
        .map(|s| {
            core::array::from_fn(|t| {
                core::array::from_fn(|j| (((s * 7 + t * 13 + j * 5) % 23) as f32 - 11.0) / 11.0)
            })
        })
        .collect()
}

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/data");
    let model = Card::init(2024);
    files::save(
        &model,
        format!("{dir}/ours_card_torch.safetensors"),
        Layout::PyTorch,
    )
    .unwrap();
    files::save(
        &model,
        format!("{dir}/ours_card_keras.safetensors"),
        Layout::Keras,
    )
    .unwrap();
    let xs = input();
    let x: Vec<f32> = xs.iter().flatten().flatten().copied().collect();
    let y: Vec<f32> = xs.iter().flat_map(|s| model.forward(s)).flatten().collect();
    let json = format!(
        "{{\"x\": {{\"shape\": [2, 10, 32], \"data\": {:?}}}, \"y\": {{\"shape\": [2, 10, 1], \"data\": {:?}}}}}\n",
        x, y
    );
    std::fs::write(format!("{dir}/ours_card.json"), json).unwrap();
    println!("wrote {dir}/ours_card_{{torch,keras}}.safetensors and ours_card.json");
}
