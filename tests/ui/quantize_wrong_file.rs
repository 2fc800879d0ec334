use rnn::rnn_model;

rnn_model! {
    pub struct M {
        quantize = int8;
        weights = "../../../../firmware/weights/card_q8.safetensors";
        lstm(32, 8) -> dense(1)
    }
}

fn main() {}
