use rnn::rnn_model;

rnn_model! {
    pub struct M {
        quantize = int8;
        lstm(32, 16) -> gru(16) -> dense(1)
    }
}

fn main() {}
