//! A recurrent layer run both ways over the sequence, as Keras `Bidirectional` and PyTorch's
//! `bidirectional=True`.

use super::{Cell, First, Part, Second, TensorInfo, Vector};
use crate::math::Math;
use crate::real::Real;
use crate::rng::Rng;
use crate::weights::{Layout, Sink, TensorName, WeightError, WeightSource};
use core::marker::PhantomData;

/// `merge = concat`: `[forward, backward]` (Keras's default).
pub const MERGE_CONCAT: u8 = 0;
/// `merge = sum`: `forward + backward`.
pub const MERGE_SUM: u8 = 1;
/// `merge = mul`: `forward * backward`.
pub const MERGE_MUL: u8 = 2;
/// `merge = ave`: `(forward + backward) / 2`.
pub const MERGE_AVE: u8 = 3;

/// Keras's `Bidirectional(layer, merge_mode=...)`: `forward` reads the sequence in order,
/// `backward` (a second layer of the same kind, its own weights) reads it reversed, and its
/// outputs are flipped back to input time before the merge, so output `t` joins the forward
/// layer's state after input `t` with the backward layer's state after inputs `N-1 .. t`.
///
/// A whole-sequence layer: it cannot step ([`Cell::STREAMS`] is false, it does not implement
/// [`Streams`](super::Streams)), so a model holding one runs `forward`, `forward_last` and
/// training, layer by layer, and has no `step`.
///
/// Tensors: the forward layer's, then the backward layer's; Keras names them
/// `forward_layer/...` and `backward_layer/...` under the layer's name, PyTorch
/// `weight_ih_l0` ... and `weight_ih_l0_reverse` ....
///
/// # Generics
/// `T` scalar, `C` the wrapped recurrent cell, `MERGE` one of [`MERGE_CONCAT`],
/// [`MERGE_SUM`], [`MERGE_MUL`], [`MERGE_AVE`], `O` the output width (twice `C`'s for
/// `concat`, `C`'s otherwise; checked at compile time).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bidirectional<T, C, const MERGE: u8, const O: usize> {
    /// Reads the sequence in order.
    pub forward: C,
    /// Reads it reversed.
    pub backward: C,
    scalar: PhantomData<fn() -> T>,
}

impl<T: Real, C: Cell<T>, const MERGE: u8, const O: usize> Bidirectional<T, C, MERGE, O> {
    const SIZES: () = assert!(
        MERGE <= MERGE_AVE
            && O == if MERGE == MERGE_CONCAT {
                2 * <C::Output as Vector<T>>::LEN
            } else {
                <C::Output as Vector<T>>::LEN
            },
        "Bidirectional's output width O must be twice the wrapped layer's for concat, once otherwise"
    );

    /// The two layers.
    pub fn new(forward: C, backward: C) -> Self {
        let () = Self::SIZES;
        Bidirectional {
            forward,
            backward,
            scalar: PhantomData,
        }
    }

    /// Output `t` from the two layers' outputs at input time `t`.
    #[inline(always)]
    fn merge(f: &C::Output, b: &C::Output) -> [T; O] {
        let (f, b) = (f.as_ref(), b.as_ref());
        let h = f.len();
        let mut y = [T::ZERO; O];
        for k in 0..h {
            match MERGE {
                MERGE_CONCAT => {
                    y[k] = f[k];
                    y[h + k] = b[k];
                }
                MERGE_SUM => y[k] = f[k] + b[k],
                MERGE_MUL => y[k] = f[k] * b[k],
                _ => y[k] = (f[k] + b[k]) * T::from_f64(0.5),
            }
        }
        y
    }

    /// The gradients w.r.t. the two outputs from the gradient `dy` of the merged one.
    #[inline(always)]
    fn unmerge(dy: &[T; O], f: &C::Output, b: &C::Output) -> (C::Output, C::Output) {
        let (mut df, mut db) = (C::Output::zeros(), C::Output::zeros());
        let (fv, bv) = (f.as_ref(), b.as_ref());
        let h = fv.len();
        let (dfs, dbs) = (df.as_mut(), db.as_mut());
        for k in 0..h {
            let (a, c) = match MERGE {
                MERGE_CONCAT => (dy[k], dy[h + k]),
                MERGE_SUM => (dy[k], dy[k]),
                MERGE_MUL => (dy[k] * bv[k], dy[k] * fv[k]),
                _ => {
                    let d = dy[k] * T::from_f64(0.5);
                    (d, d)
                }
            };
            dfs[k] = a;
            dbs[k] = c;
        }
        (df, db)
    }

    /// `"{prefix}forward_layer/"` or `"{prefix}backward_layer/"` in `buf` (Keras), `None` when
    /// it does not fit (the name would be too long for a tensor name anyway).
    fn keras_prefix<'b>(buf: &'b mut [u8; 256], prefix: &str, backward: bool) -> Option<&'b str> {
        let part: &str = if backward {
            "backward_layer/"
        } else {
            "forward_layer/"
        };
        join(buf, prefix, part)
    }
}

/// `a` then `b` in `buf`, or `None` when they do not fit.
fn join<'b>(buf: &'b mut [u8; 256], a: &str, b: &str) -> Option<&'b str> {
    let n = a.len() + b.len();
    if n > buf.len() {
        return None;
    }
    buf[..a.len()].copy_from_slice(a.as_bytes());
    buf[a.len()..n].copy_from_slice(b.as_bytes());
    core::str::from_utf8(&buf[..n]).ok()
}

fn too_long(prefix: &str) -> WeightError {
    WeightError::NameTooLong {
        layer: 0,
        kind: "bidirectional",
        tensor: TensorName::new(prefix, "", ""),
    }
}

/// Keras's name of a wrapped layer's tensor inside a `Bidirectional`.
fn wrapped_name(name: &'static str, backward: bool) -> &'static str {
    const NAMES: [(&str, &str, &str); 8] = [
        ("kernel", "forward_layer/kernel", "backward_layer/kernel"),
        (
            "recurrent_kernel",
            "forward_layer/recurrent_kernel",
            "backward_layer/recurrent_kernel",
        ),
        ("bias", "forward_layer/bias", "backward_layer/bias"),
        ("gamma", "forward_layer/gamma", "backward_layer/gamma"),
        ("beta", "forward_layer/beta", "backward_layer/beta"),
        (
            "input_gate_peephole_weights",
            "forward_layer/input_gate_peephole_weights",
            "backward_layer/input_gate_peephole_weights",
        ),
        (
            "forget_gate_peephole_weights",
            "forward_layer/forget_gate_peephole_weights",
            "backward_layer/forget_gate_peephole_weights",
        ),
        (
            "output_gate_peephole_weights",
            "forward_layer/output_gate_peephole_weights",
            "backward_layer/output_gate_peephole_weights",
        ),
    ];
    for (n, f, b) in NAMES {
        if n == name {
            return if backward { b } else { f };
        }
    }
    if backward {
        "backward_layer/?"
    } else {
        "forward_layer/?"
    }
}

/// The per-step record: the two layers' records (the backward layer's at its own processing
/// step), then the two outputs at input time `t`.
pub type BidirectionalCache<C, Y> = ((C, C), (Y, Y));

impl<T: Real, C: Cell<T>, const MERGE: u8, const O: usize> Cell<T>
    for Bidirectional<T, C, MERGE, O>
{
    type Config = C::Config;
    type Input = C::Input;
    type Output = [T; O];
    type State = ();
    type Cache = BidirectionalCache<C::Cache, C::Output>;
    type Transposed = (C::Transposed, C::Transposed);
    type Pending = ();

    const LAYERS: usize = 1;
    const PARAMS: usize = 2 * C::PARAMS;
    const TENSORS: usize = 2 * C::TENSORS;
    const STREAMS: bool = false;

    fn zeros(config: C::Config) -> Self {
        Self::new(C::zeros(config), C::zeros(config))
    }
    /// The forward layer's initial weights, then the backward layer's, as Keras draws them.
    fn init(config: C::Config, rng: &mut Rng) -> Self {
        let forward = C::init(config, rng);
        Self::new(forward, C::init(config, rng))
    }
    const INIT_SCRATCH: usize = C::INIT_SCRATCH;
    unsafe fn zeros_in_place(slot: *mut Self, config: C::Config) {
        let () = Self::SIZES;
        // SAFETY: the caller's promise; the two fields are cells, the marker is zero-sized.
        unsafe {
            C::zeros_in_place(core::ptr::addr_of_mut!((*slot).forward), config);
            C::zeros_in_place(core::ptr::addr_of_mut!((*slot).backward), config);
        }
    }
    fn reinit(&mut self, config: C::Config, rng: &mut Rng, scratch: &mut [f64]) {
        self.forward.reinit(config, rng, scratch);
        self.backward.reinit(config, rng, scratch);
    }
    unsafe fn transposed_in_place(&self, slot: *mut Self::Transposed) {
        // SAFETY: the caller's promise.
        unsafe {
            self.forward
                .transposed_in_place(core::ptr::addr_of_mut!((*slot).0));
            self.backward
                .transposed_in_place(core::ptr::addr_of_mut!((*slot).1));
        }
    }
    #[inline(always)]
    fn zero_state() {}
    #[inline(always)]
    fn zero_cache() -> Self::Cache {
        (
            (C::zero_cache(), C::zero_cache()),
            (C::Output::zeros(), C::Output::zeros()),
        )
    }

    /// Not a streaming layer: never called by a model (whose `step` needs
    /// [`Streams`](super::Streams)); NaN.
    #[inline(always)]
    fn step<M: Math>(&self, (): &mut (), _: &C::Input) -> [T; O] {
        [T::from_f64(f64::NAN); O]
    }
    type StateLanes<const L: usize> = ();
    #[inline(always)]
    fn to_lanes<const L: usize>(_: impl Fn(usize)) {}
    #[inline(always)]
    fn lane<const L: usize>((): &(), _: usize) {}
    /// Not a streaming layer; NaN.
    #[inline(always)]
    fn step_lanes<M: Math, const L: usize>(
        &self,
        (): &mut (),
        _: &<C::Input as Vector<T>>::Lanes<L>,
    ) -> [[T; L]; O] {
        [[T::from_f64(f64::NAN); L]; O]
    }
    /// Not a streaming layer; NaN.
    #[inline(always)]
    fn step_train<M: Math>(&self, (): &mut (), _: &C::Input, _: &mut Self::Cache) -> [T; O] {
        [T::from_f64(f64::NAN); O]
    }
    #[inline(always)]
    fn transposed(&self) -> Self::Transposed {
        (self.forward.transposed(), self.backward.transposed())
    }
    #[inline(always)]
    fn pending() {}
    /// Not a streaming layer: its backward pass is [`seq_backward`](Cell::seq_backward).
    #[inline(always)]
    fn backward<M: Math>(
        &self,
        _: &Self::Transposed,
        (): &mut (),
        _: &Self::Cache,
        _: &[T; O],
        _: bool,
        (): &mut (),
        _: &mut Self,
    ) -> C::Input {
        C::Input::zeros()
    }
    #[inline(always)]
    fn flush<M: Math>(_: &mut Self, (): &mut ()) {}

    const DROPOUT: bool = C::DROPOUT;
    /// Each direction draws its own masks (Keras's two layers are separate cells).
    fn draw_masks<const N: usize, K: 'static, P: Part<K, Out = Self::Cache>>(
        &self,
        caches: &mut [K; N],
        part: P,
        mut rng: Option<&mut Rng>,
    ) {
        self.forward
            .draw_masks(caches, First(First(part)), rng.as_deref_mut());
        self.backward.draw_masks(caches, Second(First(part)), rng);
    }
    #[inline(always)]
    fn seq_forward<M: Math, const N: usize>(&self, xs: &[C::Input; N], ys: &mut [[T; O]; N]) {
        let mut f = [C::Output::zeros(); N];
        let mut b = [C::Output::zeros(); N];
        self.forward.seq_forward::<M, N>(xs, &mut f);
        let rev: [C::Input; N] = core::array::from_fn(|s| xs[N - 1 - s]);
        self.backward.seq_forward::<M, N>(&rev, &mut b);
        for t in 0..N {
            ys[t] = Self::merge(&f[t], &b[N - 1 - t]);
        }
    }
    #[inline(always)]
    fn seq_forward_train<M: Math, const N: usize, K: 'static, P: Part<K, Out = Self::Cache>>(
        &self,
        xs: &[C::Input; N],
        caches: &mut [K; N],
        part: P,
        ys: &mut [[T; O]; N],
    ) {
        let mut f = [C::Output::zeros(); N];
        let mut b = [C::Output::zeros(); N];
        self.forward
            .seq_forward_train::<M, N, K, _>(xs, caches, First(First(part)), &mut f);
        let rev: [C::Input; N] = core::array::from_fn(|s| xs[N - 1 - s]);
        self.backward
            .seq_forward_train::<M, N, K, _>(&rev, caches, Second(First(part)), &mut b);
        for t in 0..N {
            let bt = b[N - 1 - t];
            ys[t] = Self::merge(&f[t], &bt);
            part.get_mut(&mut caches[t]).1 = (f[t], bt);
        }
    }
    #[inline(always)]
    fn seq_backward<M: Math, const N: usize, K: 'static, P: Part<K, Out = Self::Cache>>(
        &self,
        tr: &Self::Transposed,
        caches: &[K; N],
        part: P,
        dys: &[[T; O]; N],
        _wrt_logits: bool,
        grad: &mut Self,
        dxs: &mut [C::Input; N],
    ) {
        let mut df = [C::Output::zeros(); N];
        // The backward layer's gradients in its own processing order.
        let mut db = [C::Output::zeros(); N];
        for t in 0..N {
            let (f, b) = &part.get(&caches[t]).1;
            let (a, c) = Self::unmerge(&dys[t], f, b);
            df[t] = a;
            db[N - 1 - t] = c;
        }
        let mut dxf = [C::Input::zeros(); N];
        let mut dxb = [C::Input::zeros(); N];
        self.forward.seq_backward::<M, N, K, _>(
            &tr.0,
            caches,
            First(First(part)),
            &df,
            false,
            &mut grad.forward,
            &mut dxf,
        );
        self.backward.seq_backward::<M, N, K, _>(
            &tr.1,
            caches,
            Second(First(part)),
            &db,
            false,
            &mut grad.backward,
            &mut dxb,
        );
        for t in 0..N {
            let mut d = dxf[t];
            for (v, w) in d.as_mut().iter_mut().zip(dxb[N - 1 - t].as_ref()) {
                *v += *w;
            }
            dxs[t] = d;
        }
    }

    fn tensor(&self, k: usize) -> &[T] {
        if k < C::TENSORS {
            self.forward.tensor(k)
        } else {
            self.backward.tensor(k - C::TENSORS)
        }
    }
    fn tensor_mut(&mut self, k: usize) -> &mut [T] {
        if k < C::TENSORS {
            self.forward.tensor_mut(k)
        } else {
            self.backward.tensor_mut(k - C::TENSORS)
        }
    }
    fn tensor_info(k: usize) -> TensorInfo {
        let (inner, backward) = if k < C::TENSORS {
            (C::tensor_info(k), false)
        } else {
            (C::tensor_info(k - C::TENSORS), true)
        };
        TensorInfo {
            layer: 0,
            name: wrapped_name(inner.name, backward),
            shape: inner.shape,
        }
    }
    fn load_layer<S: WeightSource<T> + ?Sized>(
        &mut self,
        _layer: usize,
        layout: Layout,
        src: &S,
        prefix: &str,
        suffix: &str,
    ) -> Result<(), WeightError> {
        // All or nothing: both layers checked before either is written.
        self.check_layer(0, layout, src, prefix, suffix)?;
        self.each(layout, prefix, suffix, |c, p, s| {
            c.load_layer(0, layout, src, p, s)
        })
    }
    fn check_layer<S: WeightSource<T> + ?Sized>(
        &mut self,
        _layer: usize,
        layout: Layout,
        src: &S,
        prefix: &str,
        suffix: &str,
    ) -> Result<(), WeightError> {
        self.each(layout, prefix, suffix, |c, p, s| {
            c.check_layer(0, layout, src, p, s)
        })
    }
    fn export_layer(
        &self,
        _layer: usize,
        layout: Layout,
        prefix: &str,
        suffix: &str,
        sink: &mut Sink<'_, T>,
    ) -> Result<(), WeightError> {
        let mut c = *self;
        c.each(layout, prefix, suffix, |c, p, s| {
            c.export_layer(0, layout, p, s, sink)
        })
    }
}

impl<T: Real, C: Cell<T>, const MERGE: u8, const O: usize> Bidirectional<T, C, MERGE, O> {
    /// `f(layer, prefix, suffix)` for the forward then the backward layer, with their names:
    /// Keras's `forward_layer/` and `backward_layer/` prefixes, PyTorch's `_reverse` suffix.
    fn each(
        &mut self,
        layout: Layout,
        prefix: &str,
        suffix: &str,
        mut f: impl FnMut(&mut C, &str, &str) -> Result<(), WeightError>,
    ) -> Result<(), WeightError> {
        let mut buf = [0u8; 256];
        match layout {
            Layout::Keras => {
                let p = Self::keras_prefix(&mut buf, prefix, false).ok_or(too_long(prefix))?;
                f(&mut self.forward, p, suffix)?;
                let mut buf = [0u8; 256];
                let p = Self::keras_prefix(&mut buf, prefix, true).ok_or(too_long(prefix))?;
                f(&mut self.backward, p, suffix)
            }
            Layout::PyTorch => {
                f(&mut self.forward, prefix, suffix)?;
                let s = join(&mut buf, suffix, "_reverse").ok_or(too_long(prefix))?;
                f(&mut self.backward, prefix, s)
            }
        }
    }
}
