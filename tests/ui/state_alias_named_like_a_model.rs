use rnn::rnn_model;

rnn_model! {
    pub struct FooTape {
        lstm(32, 16) -> dense(1)
    }

    /// Its tape alias would be `FooTape`, the model above.
    pub struct Foo {
        gru(8, 4) -> dense(1)
    }
}

fn main() {
    let _ = FooTape::init(42);
}
