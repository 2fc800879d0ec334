//! A width handed through `macro_rules!` (an `expr` or `literal` fragment arrives in an
//! invisible group) is a width like any other.

macro_rules! by_expr {
    ($name:ident, $w:expr) => {
        rnn::rnn_model! { struct $name { lstm(4, $w) -> dense(1) } }
    };
}

macro_rules! by_literal {
    ($name:ident, $w:literal) => {
        rnn::rnn_model! { struct $name { lstm(4, $w) -> dense(1) } }
    };
}

/// Passed on twice: two invisible groups.
macro_rules! twice {
    ($w:expr) => {
        by_expr!(C, $w);
    };
}

by_expr!(A, 8);
by_literal!(B, 8);
twice!(8);

macro_rules! parenthesised {
    ($w:expr) => {
        rnn::rnn_model! { struct D { lstm(4, ($w)) -> dense(1) } }
    };
}
parenthesised!(8);

// lstm(4, 8): 4 * 8 * (4 + 8 + 1) = 416; dense(8, 1): 9.
const PARAMS: usize = 416 + 9;

fn main() {
    assert_eq!(A::PARAM_COUNT, PARAMS);
    assert_eq!(B::PARAM_COUNT, PARAMS);
    assert_eq!(C::PARAM_COUNT, PARAMS);
    assert_eq!(D::PARAM_COUNT, PARAMS);
    assert_eq!((A::INPUT, A::OUTPUT), (4, 1));
}
