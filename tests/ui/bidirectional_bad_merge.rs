use rnn::rnn_model;

rnn_model! {
    struct M { bidirectional(gru(4, 8), merge = max) -> dense(1) }
}

fn main() {}
