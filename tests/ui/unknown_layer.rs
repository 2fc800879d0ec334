use rnn::rnn_model;

rnn_model! {
    pub struct M {
        lstn(32, 16) -> dense(1)
    }
}

fn main() {}
