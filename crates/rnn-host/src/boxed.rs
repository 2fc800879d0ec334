//! Models, tapes and optimizers built on the heap without passing through the stack, for
//! models too large for it (`lstm(512, 512)` is 8 MB of weights; a thread's stack is often
//! 2 MiB). `Box::new(Model::init(seed))` builds the value on the stack first; these do not.
//!
//! Through the facade crate `rnn` (this example runs as `tests/large_models.rs`):
//!
//! ```ignore
//! rnn::rnn_model! { pub struct Big { lstm(256, 256) -> dense(1) } }
//! let m: Box<Big> = rnn::boxed::init(7);
//! assert_eq!(m.tensor(0), Big::init(7).tensor(0)); // the same draws
//! # use rnn::Model;
//! ```

use rnn_core::optim::{Adam, RmsProp, Sgd};
use rnn_core::{Cell, Model, Tape};

/// `M::zeros()`, built in place on the heap.
pub fn zeros<M: Model>() -> Box<M> {
    let mut b = Box::<M>::new_uninit();
    // SAFETY: `zeros_in_place` writes every field of the model.
    unsafe {
        M::zeros_in_place(b.as_mut_ptr());
        b.assume_init()
    }
}

/// `M::init(seed)`, built in place on the heap: the same values, bit for bit.
pub fn init<M: Model>(seed: u64) -> Box<M> {
    let mut b = zeros::<M>();
    let mut scratch = vec![0.0; <M::Chain as Cell<M::Scalar>>::INIT_SCRATCH];
    b.reinit(seed, &mut scratch);
    b
}

/// `model.transposed()`, built in place on the heap.
pub fn transposed<M: Model>(model: &M) -> Box<M::Transposed> {
    let mut b = Box::<M::Transposed>::new_uninit();
    // SAFETY: `transposed_in_place` writes every field.
    unsafe {
        model.chain().transposed_in_place(b.as_mut_ptr());
        b.assume_init()
    }
}

/// `Tape::new()`, built in place on the heap, one step record at a time.
pub fn tape<M: Model, const N: usize>() -> Box<Tape<M, N>> {
    let mut b = Box::<Tape<M, N>>::new_uninit();
    let p = b.as_mut_ptr();
    // SAFETY: every element of both arrays is written before `assume_init`; an array's
    // pointer is its first element's.
    unsafe {
        let caches = core::ptr::addr_of_mut!((*p).caches) as *mut M::Cache;
        let outputs = core::ptr::addr_of_mut!((*p).outputs) as *mut M::Output;
        for t in 0..N {
            caches.add(t).write(M::zero_cache());
            outputs.add(t).write(M::zero_output());
        }
        b.assume_init()
    }
}

/// `[x; N]` on the heap.
pub fn array<X: Copy, const N: usize>(x: X) -> Box<[X; N]> {
    let mut b = Box::<[X; N]>::new_uninit();
    let p = b.as_mut_ptr() as *mut X;
    // SAFETY: every element is written before `assume_init`.
    unsafe {
        for i in 0..N {
            p.add(i).write(x);
        }
        b.assume_init()
    }
}

/// `Adam::new(lr)` on the heap (it holds two model-sized moment buffers).
pub fn adam<M: Model>(lr: f64) -> Box<Adam<M>> {
    let mut b = Box::<Adam<M>>::new_uninit();
    // SAFETY: `write_new` writes every field.
    unsafe {
        Adam::write_new(b.as_mut_ptr(), lr);
        b.assume_init()
    }
}

/// `Sgd::new(lr)` on the heap (it holds a model-sized velocity).
pub fn sgd<M: Model>(lr: f64) -> Box<Sgd<M>> {
    let mut b = Box::<Sgd<M>>::new_uninit();
    // SAFETY: `write_new` writes every field.
    unsafe {
        Sgd::write_new(b.as_mut_ptr(), lr);
        b.assume_init()
    }
}

/// `RmsProp::new(lr)` on the heap (it holds a model-sized mean square).
pub fn rmsprop<M: Model>(lr: f64) -> Box<RmsProp<M>> {
    let mut b = Box::<RmsProp<M>>::new_uninit();
    // SAFETY: `write_new` writes every field.
    unsafe {
        RmsProp::write_new(b.as_mut_ptr(), lr);
        b.assume_init()
    }
}
