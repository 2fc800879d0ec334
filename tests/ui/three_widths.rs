use rnn::rnn_model;

rnn_model! {
    pub struct M {
        dense(4, 8, 2)
    }
}

fn main() {}
