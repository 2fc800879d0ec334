//! Layers in sequence: [`Chain<A, B>`] feeds `A`'s output to `B` and is itself a [`Cell`], so a
//! model of any depth is a nested chain, `Chain<A, Chain<B, C>>`, and everything written once
//! for a cell (streaming step, recorded step, backward, tensors, loading) works for any model,
//! as RTNeural's `ModelT` walks its tuple of layers.
//!
//! ```
//! use rnn_core::{Activation, Cell, Chain, Dense, Fast, LstmCell};
//!
//! type Net = Chain<LstmCell<f32, 3, 4, 16>, Dense<f32, 4, 1>>;
//! let net = Net::init(((), Activation::Linear), &mut rnn_core::Rng::new(7));
//! let mut state = Net::zero_state();
//! let y: [f32; 1] = net.step::<Fast>(&mut state, &[0.5, -0.25, 1.0]);
//! assert!(y[0].is_finite());
//! assert_eq!(Net::PARAMS, 16 * (3 + 4 + 1) + 4 + 1);
//! ```

use crate::layers::{Cell, First, Part, Second, Streams, TensorInfo, Vector};
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{Layout, Sink, WeightError, WeightSource};

/// `A` then `B`: `B` takes `A`'s output. State, cache, transposed weights and pending updates
/// are pairs `(of A, of B)`; tensors and layers are `A`'s then `B`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chain<A, B> {
    first: A,
    rest: B,
}

impl<A, B> Chain<A, B> {
    /// `first` then `rest`.
    pub const fn new(first: A, rest: B) -> Self {
        Chain { first, rest }
    }
    /// The first layer.
    pub const fn first(&self) -> &A {
        &self.first
    }
    /// The layers after the first.
    pub const fn rest(&self) -> &B {
        &self.rest
    }
    /// The first layer, mutable.
    pub fn first_mut(&mut self) -> &mut A {
        &mut self.first
    }
    /// The layers after the first, mutable.
    pub fn rest_mut(&mut self) -> &mut B {
        &mut self.rest
    }
}

impl<T: Real, A: Cell<T>, B: Cell<T, Input = A::Output>> Cell<T> for Chain<A, B> {
    type Config = (A::Config, B::Config);
    type Input = A::Input;
    type Output = B::Output;
    type State = (A::State, B::State);
    type Cache = (A::Cache, B::Cache);
    type Transposed = (A::Transposed, B::Transposed);
    type Pending = (A::Pending, B::Pending);

    const LAYERS: usize = A::LAYERS + B::LAYERS;
    const PARAMS: usize = A::PARAMS + B::PARAMS;
    const TENSORS: usize = A::TENSORS + B::TENSORS;
    const VOCAB: usize = A::VOCAB;
    const STREAMS: bool = A::STREAMS && B::STREAMS;
    const DROPOUT: bool = A::DROPOUT || B::DROPOUT;

    fn zeros(config: Self::Config) -> Self {
        Chain::new(A::zeros(config.0), B::zeros(config.1))
    }
    fn init(config: Self::Config, rng: &mut Rng) -> Self {
        // First layer first: the seeded stream is consumed in layer order.
        let first = A::init(config.0, rng);
        Chain::new(first, B::init(config.1, rng))
    }
    const INIT_SCRATCH: usize = if A::INIT_SCRATCH > B::INIT_SCRATCH {
        A::INIT_SCRATCH
    } else {
        B::INIT_SCRATCH
    };
    unsafe fn zeros_in_place(slot: *mut Self, config: Self::Config) {
        // SAFETY: the caller's promise, passed on to each field.
        unsafe {
            A::zeros_in_place(core::ptr::addr_of_mut!((*slot).first), config.0);
            B::zeros_in_place(core::ptr::addr_of_mut!((*slot).rest), config.1);
        }
    }
    fn reinit(&mut self, config: Self::Config, rng: &mut Rng, scratch: &mut [f64]) {
        self.first.reinit(config.0, rng, scratch);
        self.rest.reinit(config.1, rng, scratch);
    }
    unsafe fn transposed_in_place(&self, slot: *mut Self::Transposed) {
        // SAFETY: the caller's promise, passed on to each field of the pair.
        unsafe {
            self.first
                .transposed_in_place(core::ptr::addr_of_mut!((*slot).0));
            self.rest
                .transposed_in_place(core::ptr::addr_of_mut!((*slot).1));
        }
    }
    #[inline(always)]
    fn zero_state() -> Self::State {
        (A::zero_state(), B::zero_state())
    }
    #[inline(always)]
    fn zero_cache() -> Self::Cache {
        (A::zero_cache(), B::zero_cache())
    }
    #[inline(always)]
    fn step<M: Math>(&self, state: &mut Self::State, x: &Self::Input) -> Self::Output {
        let a = self.first.step::<M>(&mut state.0, x);
        self.rest.step::<M>(&mut state.1, &a)
    }
    #[inline(always)]
    fn step_many<M: Math, const S: usize>(
        &self,
        states: &mut [Self::State; S],
        xs: &[Self::Input; S],
    ) -> [Self::Output; S] {
        // The layers' states apart (copies: a few hundred bytes per stream), each layer
        // stepping every stream before the next layer starts.
        let mut first = [A::zero_state(); S];
        let mut rest = [B::zero_state(); S];
        for s in 0..S {
            first[s] = states[s].0;
            rest[s] = states[s].1;
        }
        let a = self.first.step_many::<M, S>(&mut first, xs);
        let y = self.rest.step_many::<M, S>(&mut rest, &a);
        for s in 0..S {
            states[s] = (first[s], rest[s]);
        }
        y
    }
    type StateLanes<const L: usize> = (A::StateLanes<L>, B::StateLanes<L>);
    #[inline(always)]
    fn to_lanes<const L: usize>(get: impl Fn(usize) -> Self::State) -> Self::StateLanes<L> {
        (
            A::to_lanes::<L>(
                #[inline(always)]
                |l| get(l).0,
            ),
            B::to_lanes::<L>(
                #[inline(always)]
                |l| get(l).1,
            ),
        )
    }
    #[inline(always)]
    fn lane<const L: usize>(lanes: &Self::StateLanes<L>, l: usize) -> Self::State {
        (A::lane::<L>(&lanes.0, l), B::lane::<L>(&lanes.1, l))
    }
    #[inline(always)]
    fn step_lanes<M: Math, const L: usize>(
        &self,
        state: &mut Self::StateLanes<L>,
        x: &<Self::Input as Vector<T>>::Lanes<L>,
    ) -> <Self::Output as Vector<T>>::Lanes<L> {
        let a = self.first.step_lanes::<M, L>(&mut state.0, x);
        self.rest.step_lanes::<M, L>(&mut state.1, &a)
    }
    #[inline(always)]
    fn step_train<M: Math>(
        &self,
        state: &mut Self::State,
        x: &Self::Input,
        cache: &mut Self::Cache,
    ) -> Self::Output {
        let a = self.first.step_train::<M>(&mut state.0, x, &mut cache.0);
        self.rest.step_train::<M>(&mut state.1, &a, &mut cache.1)
    }
    #[inline(always)]
    fn transposed(&self) -> Self::Transposed {
        (self.first.transposed(), self.rest.transposed())
    }
    #[inline(always)]
    fn pending() -> Self::Pending {
        (A::pending(), B::pending())
    }
    #[inline(always)]
    fn backward<M: Math>(
        &self,
        tr: &Self::Transposed,
        pending: &mut Self::Pending,
        cache: &Self::Cache,
        dy: &Self::Output,
        wrt_logits: bool,
        dstate: &mut Self::State,
        grad: &mut Self,
    ) -> Self::Input {
        // Last layer first; only the last layer can see the logits.
        let d = self.rest.backward::<M>(
            &tr.1,
            &mut pending.1,
            &cache.1,
            dy,
            wrt_logits,
            &mut dstate.1,
            &mut grad.rest,
        );
        self.first.backward::<M>(
            &tr.0,
            &mut pending.0,
            &cache.0,
            &d,
            false,
            &mut dstate.0,
            &mut grad.first,
        )
    }
    #[inline(always)]
    fn flush<M: Math>(grad: &mut Self, pending: &mut Self::Pending) {
        A::flush::<M>(&mut grad.first, &mut pending.0);
        B::flush::<M>(&mut grad.rest, &mut pending.1);
    }

    #[inline(always)]
    fn draw_masks<const N: usize, K: 'static, P: Part<K, Out = Self::Cache>>(
        &self,
        caches: &mut [K; N],
        part: P,
        mut rng: Option<&mut Rng>,
    ) {
        if A::DROPOUT {
            self.first
                .draw_masks(caches, First(part), rng.as_deref_mut());
        }
        if B::DROPOUT {
            self.rest.draw_masks(caches, Second(part), rng);
        }
    }

    // A chain that streams runs a sequence step by step through all its layers (no buffer);
    // one that holds a whole-sequence layer runs it layer by layer, each layer over every step,
    // with one buffer of `N` of the first layer's outputs. Both give the same numbers for the
    // layers that stream.
    #[inline(always)]
    fn seq_forward<M: Math, const N: usize>(
        &self,
        xs: &[Self::Input; N],
        ys: &mut [Self::Output; N],
    ) {
        if Self::STREAMS {
            crate::layers::stepwise_forward::<T, Self, M, N>(self, xs, ys);
        } else {
            let mut mid = [<A::Output as Vector<T>>::zeros(); N];
            self.first.seq_forward::<M, N>(xs, &mut mid);
            self.rest.seq_forward::<M, N>(&mid, ys);
        }
    }
    #[inline(always)]
    fn seq_forward_train<M: Math, const N: usize, C: 'static, P: Part<C, Out = Self::Cache>>(
        &self,
        xs: &[Self::Input; N],
        caches: &mut [C; N],
        part: P,
        ys: &mut [Self::Output; N],
    ) {
        if Self::STREAMS {
            crate::layers::stepwise_forward_train::<T, Self, M, N, C, P>(
                self, xs, caches, part, ys,
            );
        } else {
            let mut mid = [<A::Output as Vector<T>>::zeros(); N];
            self.first
                .seq_forward_train::<M, N, C, _>(xs, caches, First(part), &mut mid);
            self.rest
                .seq_forward_train::<M, N, C, _>(&mid, caches, Second(part), ys);
        }
    }
    #[inline(always)]
    fn seq_backward<M: Math, const N: usize, C: 'static, P: Part<C, Out = Self::Cache>>(
        &self,
        tr: &Self::Transposed,
        caches: &[C; N],
        part: P,
        dys: &[Self::Output; N],
        wrt_logits: bool,
        grad: &mut Self,
        dxs: &mut [Self::Input; N],
    ) {
        if Self::STREAMS {
            crate::layers::stepwise_backward::<T, Self, M, N, C, P>(
                self, tr, caches, part, dys, wrt_logits, grad, dxs,
            );
        } else {
            // Last layer first; only the last layer can see the logits.
            let mut dmid = [<A::Output as Vector<T>>::zeros(); N];
            self.rest.seq_backward::<M, N, C, _>(
                &tr.1,
                caches,
                Second(part),
                dys,
                wrt_logits,
                &mut grad.rest,
                &mut dmid,
            );
            self.first.seq_backward::<M, N, C, _>(
                &tr.0,
                caches,
                First(part),
                &dmid,
                false,
                &mut grad.first,
                dxs,
            );
        }
    }
    #[inline(always)]
    fn logits(cache: &Self::Cache) -> Option<Self::Output> {
        B::logits(&cache.1)
    }

    #[inline]
    fn tensor(&self, k: usize) -> &[T] {
        if k < A::TENSORS {
            self.first.tensor(k)
        } else {
            self.rest.tensor(k - A::TENSORS)
        }
    }
    #[inline]
    fn tensor_mut(&mut self, k: usize) -> &mut [T] {
        if k < A::TENSORS {
            self.first.tensor_mut(k)
        } else {
            self.rest.tensor_mut(k - A::TENSORS)
        }
    }
    fn tensor_info(k: usize) -> TensorInfo {
        if k < A::TENSORS {
            A::tensor_info(k)
        } else {
            let mut info = B::tensor_info(k - A::TENSORS);
            info.layer += A::LAYERS;
            info
        }
    }
    fn load_layer<S: WeightSource<T> + ?Sized>(
        &mut self,
        layer: usize,
        layout: Layout,
        src: &S,
        prefix: &str,
        suffix: &str,
    ) -> Result<(), WeightError> {
        if layer < A::LAYERS {
            self.first.load_layer(layer, layout, src, prefix, suffix)
        } else {
            self.rest
                .load_layer(layer - A::LAYERS, layout, src, prefix, suffix)
        }
    }
    fn check_layer<S: WeightSource<T> + ?Sized>(
        &mut self,
        layer: usize,
        layout: Layout,
        src: &S,
        prefix: &str,
        suffix: &str,
    ) -> Result<(), WeightError> {
        if layer < A::LAYERS {
            self.first.check_layer(layer, layout, src, prefix, suffix)
        } else {
            self.rest
                .check_layer(layer - A::LAYERS, layout, src, prefix, suffix)
        }
    }
    fn export_layer(
        &self,
        layer: usize,
        layout: Layout,
        prefix: &str,
        suffix: &str,
        sink: &mut Sink<'_, T>,
    ) -> Result<(), WeightError> {
        if layer < A::LAYERS {
            self.first.export_layer(layer, layout, prefix, suffix, sink)
        } else {
            self.rest
                .export_layer(layer - A::LAYERS, layout, prefix, suffix, sink)
        }
    }
}

impl<A: Streams, B: Streams> Streams for Chain<A, B> {}
