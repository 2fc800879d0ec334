use rnn::rnn_model;

rnn_model! {
    pub struct M {
        gru(16) -> dense(1)
    }
}

fn main() {}
