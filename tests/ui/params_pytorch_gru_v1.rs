use rnn::rnn_model;

rnn_model! {
    // PyTorch's GRU is Keras's `reset_after = true`: the other variant has no PyTorch
    // parameters.
    struct Card { params = pytorch; lstm(32, 16) -> gru(16, reset_after = false) -> dense(1) }
}

fn main() {}
