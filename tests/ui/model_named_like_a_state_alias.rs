use rnn::rnn_model;

rnn_model! {
    pub struct Foo {
        lstm(32, 16) -> dense(1)
    }

    /// `Foo` already declares `FooState`, its state type.
    pub struct FooState {
        gru(8, 4) -> dense(1)
    }
}

fn main() {
    let model = Foo::init(42);
    let mut state: FooState = Foo::zero_state();
    let _ = model.step(&mut state, &[0.1; 32]);
}
