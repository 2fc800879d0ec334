use rnn::rnn_model;

rnn_model! {
    pub struct M {
        source_len = 6; target_len = 5; end = 2;
        embedding(20, 8) -> lstm(16) => embedding(12, 8) -> lstm(16) -> dense(12, activation = softmax)
    }
}

fn main() {}
