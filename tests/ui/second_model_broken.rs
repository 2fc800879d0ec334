use rnn::rnn_model;

rnn_model! {
    /// Compiles: the first model is fine.
    pub struct Good {
        lstm(32, 16) -> dense(1)
    }

    /// Only this one is reported.
    pub struct Bad {
        lstm(32, 16) -> gru(8, 4)
    }
}

fn main() {
    let model = Good::init(42);
    let _: [f32; 1] = model.forward(&[[0.1f32; 32]; 5])[0];
}
