use rnn::rnn_model;

rnn_model! {
    #[derive(Clone, Default)]
    pub struct M {
        lstm(32, 16) -> dense(1)
    }
}

fn main() {}
