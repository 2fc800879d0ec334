use rnn::rnn_model;

rnn_model! {
    // Dropout keeps the width of the layer before it.
    struct M { dropout(0.2) -> lstm(4, 16) -> dense(1) }
}

fn main() {}
