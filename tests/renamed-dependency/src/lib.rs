//! `rnn` under another name (`myrnn = { package = "rnn" }`): generated code reaches the runtime
//! only through `::myrnn::__private`, given by the `crate = ::myrnn;` model option. Without the
//! option the expansion would name `::rnn`, which does not exist in this crate.

myrnn::rnn_model! {
    /// The card model through a renamed dependency.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Card { crate = ::myrnn; lstm(32, 16) -> gru(16) -> dense(1) }
    pub struct Small { scalar = f64; crate = ::myrnn; rnn(2, 3, activation = relu) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use myrnn::Model;

    #[test]
    fn a_renamed_dependency_builds_and_runs() {
        assert_eq!(Card::PARAM_COUNT, 4785);
        let m = Card::init(3);
        let mut s = Card::zero_state();
        let y = m.step(&mut s, &[0.25; 32]);
        assert_eq!(m.forward(&[[0.25; 32]; 1])[0], y);
        assert_eq!(<Small as Model>::PARAM_COUNT, 3 * (2 + 3 + 1));
        assert!(Small::init(1).step(&mut Small::zero_state(), &[1.0, -1.0])[0] >= 0.0);
    }
}
