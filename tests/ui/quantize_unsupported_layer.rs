use rnn::rnn_model;

rnn_model! {
    pub struct M {
        quantize = int8;
        weights = "../../../../firmware/weights/card_q8.safetensors";
        lstm(32, 16) -> layer_norm(16) -> dense(1, activation = sigmoid)
    }
}

fn main() {}
