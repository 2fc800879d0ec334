use rnn::rnn_model;

rnn_model! {
    // An embedding needs its vocabulary size and its width.
    struct M { embedding(32) -> lstm(16) -> dense(1) }
}

fn main() {}
