use rnn::rnn_model;

rnn_model! {
    pub struct M {
        lstm(32, 16) -> dense(1, reset_after = true)
    }
}

fn main() {}
