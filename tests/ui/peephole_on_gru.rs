use rnn::rnn_model;

rnn_model! {
    // Peepholes are an LSTM's: a GRU has no cell state for its gates to look at.
    struct M { gru(4, 16, peephole = true) -> dense(1) }
}

fn main() {}
