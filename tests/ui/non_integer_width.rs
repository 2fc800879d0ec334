use rnn::rnn_model;

rnn_model! {
    pub struct M {
        lstm(32.5, 16) -> dense(1)
    }
}

fn main() {}
