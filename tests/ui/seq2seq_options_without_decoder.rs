use rnn::rnn_model;

rnn_model! {
    pub struct M {
        start = 1;
        lstm(4, 16) -> dense(1)
    }
}

fn main() {}
