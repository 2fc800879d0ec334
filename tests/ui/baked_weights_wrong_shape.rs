use rnn::rnn_model;

// (Paths are relative to trybuild's project, target/tests/trybuild/rnn.)
// The weights file holds lstm(32, 16) -> gru(16) -> dense(1); this model declares 8 units.
rnn_model! {
    pub struct M {
        weights = "../../../../tests/fixtures/data/ours_card_keras.safetensors";
        lstm(32, 8) -> gru(16) -> dense(1)
    }
}

fn main() {}
