use rnn::rnn_model;

rnn_model! {
    // A layer normalization keeps its width: it normalizes the 16 units it is given.
    struct M { lstm(4, 16) -> layer_norm(16, 8) -> dense(1) }
}

fn main() {}
