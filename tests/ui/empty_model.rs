use rnn::rnn_model;

rnn_model! {
    pub struct M {}
}

fn main() {}
