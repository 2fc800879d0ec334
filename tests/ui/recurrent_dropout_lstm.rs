use rnn::rnn_model;

rnn_model! {
    // Keras's LSTM switches to one mask per gate with recurrent dropout: not implemented.
    struct M { lstm(4, 16, recurrent_dropout = 0.2) -> dense(1) }
}

fn main() {}
