//! Models named like prelude items, and user types that shadow the primitive types the
//! generated code writes: all compile, as the generated code names nothing unqualified.
#![allow(non_camel_case_types, dead_code)]

mod prelude_names {
    rnn::rnn_model! {
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct Result { lstm(4, 8) -> dense(1) }
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct Option { gru(4, 8) -> dense(1) }
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct Sized { rnn(4, 8) -> dense(1) }
        pub struct Vec { dense(4, 1) }
        pub struct Default { dense(4, 1) }
        pub struct Clone { dense(4, 1) }
    }
}

mod runtime_names {
    // The names of the runtime's items and of the generated code's generic parameter.
    rnn::rnn_model! {
        pub struct Model { dense(4, 1) }
        pub struct Chain { dense(4, 1) }
        pub struct Cell { dense(4, 1) }
        pub struct Tape { dense(4, 1) }
        pub struct N { lstm(4, 2) -> dense(1) }
    }
}

mod shadowed_primitives {
    // Types that shadow every primitive the generated code writes.
    pub struct usize;
    pub struct u64;
    pub struct u8;
    pub struct str;
    pub struct f32;
    pub struct f64;
    pub struct bool;
    rnn::rnn_model! {
        pub struct M { lstm(4, 8) -> dense(1) }
        pub struct M64 { scalar = f64; gru(4, 8) -> dense(1) }
    }
}

fn main() {
    use prelude_names::{Option, Result, Sized};
    let r = Result::init(1);
    let copy = r;
    assert_eq!(r, copy);
    let _ = format!("{:?}", Option::zeros());
    let _: [f32; 1] = Sized::zeros().forward_last(&[[0.5; 4]; 3]);
    let mut state = runtime_names::N::zero_state();
    let _: runtime_names::NTape<3> = Default::default();
    let _ = runtime_names::N::zeros().step(&mut state, &[0.5; 4]);
    let _ = runtime_names::Model::PARAM_COUNT;
    let out: [f32; 1] = shadowed_primitives::M::init(7).forward_last(&[[0.5; 4]; 2]);
    assert!(out[0].is_finite());
    let out: [f64; 1] = shadowed_primitives::M64::init(7).forward_last(&[[0.5; 4]; 2]);
    assert!(out[0].is_finite());
}
