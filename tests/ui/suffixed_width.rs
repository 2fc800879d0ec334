use rnn::rnn_model;

rnn_model! {
    pub struct M {
        lstm(32, 300u8) -> dense(1)
    }
}

fn main() {}
