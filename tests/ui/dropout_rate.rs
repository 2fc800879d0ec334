use rnn::rnn_model;

rnn_model! {
    // A rate is the fraction of units dropped: it must be in [0, 1).
    struct M { lstm(4, 16) -> dropout(1.5) -> dense(1) }
}

fn main() {}
