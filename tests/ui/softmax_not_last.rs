use rnn::rnn_model;

rnn_model! {
    pub struct M {
        dense(4, 8, activation = softmax) -> dense(2)
    }
}

fn main() {}
