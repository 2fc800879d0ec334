use rnn::rnn_model;

rnn_model! {
    #[derive(Debug, std::hash::Hash)]
    pub struct M {
        lstm(32, 16) -> dense(1)
    }
}

fn main() {}
