use rnn::rnn_model;

rnn_model! {
    pub struct M {
        lstm(32, 16, activation = relu) -> dense(1)
    }
}

fn main() {}
