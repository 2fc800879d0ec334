//! Backpropagation through time, written once for any model: the fixed-size [`Tape`] a forward
//! pass records, and [`backward_steps`], the loop over the recorded steps, last to first.

use crate::layers::Cell;
use crate::math::Math;
use crate::model::Model;

/// Backpropagation through time, written once for any chain: the recorded steps `caches`
/// last to first, then the pending weight-gradient updates applied. Returns the input gradient
/// of the first step visited last (step 0).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn backward_steps<Md: Model, K: Math>(
    chain: &Md::Chain,
    tr: &Md::Transposed,
    caches: &[Md::Cache],
    dys: &[Md::Output],
    wrt_logits: bool,
    dstate: &mut Md::State,
    grads: &mut Md::Chain,
    mut dxs: Option<&mut [Md::Input]>,
) -> Md::Input {
    let mut pending = <Md::Chain as Cell<Md::Scalar>>::pending();
    let mut dx = Md::zero_input();
    for t in (0..caches.len().min(dys.len())).rev() {
        dx = chain.backward::<K>(
            tr,
            &mut pending,
            &caches[t],
            &dys[t],
            wrt_logits,
            dstate,
            grads,
        );
        if let Some(d) = dxs.as_deref_mut() {
            d[t] = dx;
        }
    }
    <Md::Chain as Cell<Md::Scalar>>::flush::<K>(grads, &mut pending);
    dx
}

/// A fixed-size record of a forward pass over `N` steps, for backpropagation through time.
/// No heap: it is `N` step records and outputs, sized at compile time.
pub struct Tape<M: Model, const N: usize> {
    /// Per-step records.
    pub caches: [M::Cache; N],
    /// Per-step outputs.
    pub outputs: [M::Output; N],
}

impl<M: Model, const N: usize> Tape<M, N> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape {
            caches: [M::zero_cache(); N],
            outputs: [M::zero_output(); N],
        }
    }
    /// The final dense layer's pre-activation at step `t`, or the output when the last layer is
    /// recurrent.
    pub fn logits(&self, t: usize) -> M::Output {
        M::logits(&self.caches[t]).unwrap_or(self.outputs[t])
    }
}

impl<M: Model, const N: usize> Default for Tape<M, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model, const N: usize> Clone for Tape<M, N> {
    fn clone(&self) -> Self {
        Tape {
            caches: self.caches,
            outputs: self.outputs,
        }
    }
}
