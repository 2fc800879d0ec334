use rnn::rnn_model;

rnn_model! {
    pub struct M {
        scaler = f64; lstm(1, 4)
    }
}

fn main() {}
