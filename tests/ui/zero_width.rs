use rnn::rnn_model;

rnn_model! {
    pub struct M {
        lstm(32, 0) -> dense(1)
    }
}

fn main() {}
