use rnn::rnn_model;

rnn_model! {
    pub struct M {
        embedding(20, 8) -> lstm(16) -> attention(16) -> dense(12, activation = softmax)
    }
}

fn main() {}
