use rnn::rnn_model;

rnn_model! {
    pub struct M {
        lstm(32, 16) -> gru(16, reset_after = 1)
    }
}

fn main() {}
