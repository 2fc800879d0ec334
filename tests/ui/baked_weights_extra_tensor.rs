use rnn::rnn_model;

// (Paths are relative to trybuild's project, target/tests/trybuild/rnn.)
// The weights file also holds a dense layer this model does not declare.
rnn_model! {
    pub struct M {
        weights = "../../../../tests/fixtures/data/ours_card_torch.safetensors";
        layout = pytorch;
        lstm(32, 16) -> gru(16)
    }
}

fn main() {}
