use rnn::rnn_model;

rnn_model! {
    pub struct M {
        quantize = int4;
        lstm(32, 16) -> dense(1)
    }
}

fn main() {}
