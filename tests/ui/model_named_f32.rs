use rnn::rnn_model;

rnn_model! {
    pub struct f32 {
        lstm(32, 16) -> dense(1)
    }
}

fn main() {
    // No follow-on errors: `f32` is still the primitive type.
    let _: f32 = 1.0;
}
