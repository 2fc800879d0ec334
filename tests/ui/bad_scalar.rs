use rnn::rnn_model;

rnn_model! {
    pub struct M {
        scalar = f16; lstm(1, 4)
    }
}

fn main() {}
