use rnn::rnn_model;

rnn_model! {
    // An embedding reads token ids: it cannot follow a layer that outputs numbers.
    struct M { lstm(4, 16) -> embedding(100, 8) -> dense(1) }
}

fn main() {}
