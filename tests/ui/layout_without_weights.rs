use rnn::rnn_model;

rnn_model! {
    pub struct M {
        layout = pytorch;
        lstm(32, 16) -> dense(1)
    }
}

fn main() {}
