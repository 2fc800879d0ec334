use rnn::rnn_model;

rnn_model! {
    pub struct Foo {
        lstm(32, 16) -> dense(1)
    }

    /// Reported once, at this name; the first `Foo` compiles.
    pub struct Foo {
        gru(8, 4) -> dense(1)
    }
}

fn main() {
    let model = Foo::init(42);
    let _: [f32; 1] = model.forward(&[[0.1f32; 32]; 5])[0];
}
