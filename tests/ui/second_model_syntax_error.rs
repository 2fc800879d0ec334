use rnn::rnn_model;

rnn_model! {
    pub struct Good {
        lstm(32, 16) -> dense(1)
    }

    /// A syntax error aborts the whole invocation, yet `Good` gives no follow-on error.
    pub struct Bad {
        lstm(32, 16) -> gru(16) ->
    }
}

fn main() {
    let _ = Good::init(42);
}
