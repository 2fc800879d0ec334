use rnn::rnn_model;

rnn_model! {
    // Only recurrent layers run both ways.
    struct M { bidirectional(dense(4, 8)) -> dense(1) }
}

fn main() {}
