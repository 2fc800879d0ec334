use rnn::rnn_model;

rnn_model! {
    pub struct M {
        math = slow; lstm(1, 4)
    }
}

fn main() {}
