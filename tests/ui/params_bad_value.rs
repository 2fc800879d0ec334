use rnn::rnn_model;

rnn_model! {
    struct Card { params = torch; lstm(32, 16) -> dense(1) }
}

fn main() {}
