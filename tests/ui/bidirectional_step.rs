use rnn::{rnn_model, Model};

rnn_model! {
    struct M { bidirectional(gru(4, 8)) -> dense(1) }
}

fn main() {
    // A bidirectional layer reads the whole sequence: the model cannot step.
    let m = M::init(1);
    let mut state = M::zero_state();
    let _ = m.step(&mut state, &[0.0; 4]);
}
