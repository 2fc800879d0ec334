use rnn::rnn_model;

rnn_model! {
    pub struct M {
        lstn(32, 16) -> gru(16) -> dense(0)
    }
}

fn main() {}
