use rnn::rnn_model;

rnn_model! {
    pub struct M {
        rnn(3, 8, activation = sigmoid) -> dense(1)
    }
}

fn main() {}
