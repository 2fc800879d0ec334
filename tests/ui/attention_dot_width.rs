use rnn::rnn_model;

rnn_model! {
    pub struct M {
        source_len = 6; target_len = 5; start = 1; end = 2;
        embedding(20, 8) -> lstm(16) => embedding(12, 8) -> lstm(16) -> dense(8) -> attention(8, score = dot) -> dense(12, activation = softmax)
    }
}

fn main() {}
