//! Connectionist Temporal Classification (Graves et al., 2006): the loss of a label sequence
//! given per-step class scores, its gradient, and best-path decoding. Every size is a const
//! generic and the work arrays live on the stack: nothing is allocated.
//!
//! Conventions, as PyTorch's `ctc_loss` and TensorFlow's `tf.nn.ctc_loss`: the inputs are the
//! unnormalized scores (logits) of `C` classes at each of `N` steps, one class is the blank
//! (any index), the loss is the negative log-likelihood of the target summed over all
//! alignments (`reduction='sum'` for one sequence), computed in log space in `f64`.

use crate::real::Real;

/// Why a CTC loss cannot be computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CtcError {
    /// The blank index is not one of the classes.
    #[error("blank index {blank} is not a class (there are {classes})")]
    Blank {
        /// The blank index given.
        blank: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A target label is the blank or not a class.
    #[error("target label {label} at position {position} is not a class other than the blank ({classes} classes, blank {blank})")]
    Label {
        /// Its position in the target.
        position: usize,
        /// The label.
        label: usize,
        /// The number of classes.
        classes: usize,
        /// The blank index.
        blank: usize,
    },
    /// The target is longer than the work arrays (`S = 2 * len + 1` must be at most `S`).
    #[error("a target of {len} labels needs S >= {needed}, but S is {capacity}")]
    Capacity {
        /// Target length.
        len: usize,
        /// `2 * len + 1`.
        needed: usize,
        /// `S`.
        capacity: usize,
    },
    /// No alignment of the target fits in the steps (each label takes a step, and a repeated
    /// label needs a blank between): PyTorch and TensorFlow return an infinite loss here.
    #[error("a target of {len} labels ({repeats} repeats) cannot be aligned to {steps} steps: it needs at least {needed}")]
    Infeasible {
        /// Target length.
        len: usize,
        /// Adjacent repeated labels.
        repeats: usize,
        /// Steps available.
        steps: usize,
        /// Steps needed.
        needed: usize,
    },
}

#[inline]
fn lse2(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + libm::log1p(libm::exp(-(a - b).abs()))
}

/// `log_softmax` of one step's scores, in `f64`.
fn log_softmax<T: Real, const C: usize>(z: &[T; C]) -> [f64; C] {
    let m = z
        .iter()
        .map(|v| v.to_f64())
        .fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = z.iter().map(|v| libm::exp(v.to_f64() - m)).sum();
    let l = m + libm::log(s);
    let mut out = [0.0; C];
    for (o, v) in out.iter_mut().zip(z) {
        *o = v.to_f64() - l;
    }
    out
}

/// The CTC loss `-log p(target | logits)` of one sequence, and, into `grad` if given, its
/// gradient w.r.t. the logits (through the softmax over the classes).
///
/// `S` is the capacity of the extended target (blanks around and between the labels): at
/// least `2 * target.len() + 1`. Work arrays: two `N x S` tables of `f64` on the stack.
/// Errors (never a panic): a blank or label outside the classes, a target too long for `S`, a
/// target that no alignment fits ([`CtcError::Infeasible`], where PyTorch and TensorFlow return
/// an infinite loss).
pub fn ctc_loss<T: Real, const N: usize, const C: usize, const S: usize>(
    logits: &[[T; C]; N],
    target: &[usize],
    blank: usize,
    grad: Option<&mut [[T; C]; N]>,
) -> Result<f64, CtcError> {
    if blank >= C {
        return Err(CtcError::Blank { blank, classes: C });
    }
    if let Some((position, &label)) = target
        .iter()
        .enumerate()
        .find(|(_, &l)| l >= C || l == blank)
    {
        return Err(CtcError::Label {
            position,
            label,
            classes: C,
            blank,
        });
    }
    let len = target.len();
    let repeats = target.windows(2).filter(|w| w[0] == w[1]).count();
    if N == 0 {
        // No steps: only the empty target, with probability one.
        return if len == 0 {
            Ok(0.0)
        } else {
            Err(CtcError::Infeasible {
                len,
                repeats,
                steps: 0,
                needed: len + repeats,
            })
        };
    }
    let s_len = 2 * len + 1;
    if s_len > S {
        return Err(CtcError::Capacity {
            len,
            needed: s_len,
            capacity: S,
        });
    }
    if len + repeats > N {
        return Err(CtcError::Infeasible {
            len,
            repeats,
            steps: N,
            needed: len + repeats,
        });
    }
    // The extended target: blank, l1, blank, l2, ..., blank.
    let ext = |s: usize| {
        if s.is_multiple_of(2) {
            blank
        } else {
            target[s / 2]
        }
    };
    let mut lp = [[0.0f64; C]; N];
    for (o, z) in lp.iter_mut().zip(logits) {
        *o = log_softmax(z);
    }
    let ninf = f64::NEG_INFINITY;
    // alpha[t][s]: log-probability of the prefixes ending in extended label s at step t.
    let mut alpha = [[ninf; S]; N];
    alpha[0][0] = lp[0][blank];
    if s_len > 1 {
        alpha[0][1] = lp[0][ext(1)];
    }
    for t in 1..N {
        for s in 0..s_len {
            let mut a = alpha[t - 1][s];
            if s >= 1 {
                a = lse2(a, alpha[t - 1][s - 1]);
            }
            if s >= 2 && ext(s) != blank && ext(s) != ext(s - 2) {
                a = lse2(a, alpha[t - 1][s - 2]);
            }
            alpha[t][s] = if a == ninf { ninf } else { a + lp[t][ext(s)] };
        }
    }
    let mut ll = alpha[N - 1][s_len - 1];
    if s_len > 1 {
        ll = lse2(ll, alpha[N - 1][s_len - 2]);
    }
    if ll == ninf {
        return Err(CtcError::Infeasible {
            len,
            repeats,
            steps: N,
            needed: len + repeats,
        });
    }
    if let Some(grad) = grad {
        // beta[t][s]: log-probability of the suffixes from extended label s at step t (this
        // step's emission included, as alpha's).
        let mut beta = [[ninf; S]; N];
        beta[N - 1][s_len - 1] = lp[N - 1][ext(s_len - 1)];
        if s_len > 1 {
            beta[N - 1][s_len - 2] = lp[N - 1][ext(s_len - 2)];
        }
        for t in (0..N - 1).rev() {
            for s in 0..s_len {
                let mut b = beta[t + 1][s];
                if s + 1 < s_len {
                    b = lse2(b, beta[t + 1][s + 1]);
                }
                if s + 2 < s_len && ext(s) != blank && ext(s) != ext(s + 2) {
                    b = lse2(b, beta[t + 1][s + 2]);
                }
                beta[t][s] = if b == ninf { ninf } else { b + lp[t][ext(s)] };
            }
        }
        for t in 0..N {
            // log sum over the positions of each class of alpha * beta / y.
            let mut occ = [ninf; C];
            for s in 0..s_len {
                let k = ext(s);
                let g = alpha[t][s] + beta[t][s] - lp[t][k];
                occ[k] = lse2(occ[k], g);
            }
            for k in 0..C {
                let y = libm::exp(lp[t][k]);
                grad[t][k] = T::from_f64(y - libm::exp(occ[k] - ll));
            }
        }
    }
    Ok(-ll)
}

/// Best-path decoding: the most likely class at each step (the first on ties), repeats merged,
/// blanks dropped. Returns the labels in the first `len` places of the array and `len`.
pub fn ctc_greedy<T: Real, const N: usize, const C: usize>(
    logits: &[[T; C]; N],
    blank: usize,
) -> ([usize; N], usize) {
    let mut out = [0usize; N];
    let mut len = 0;
    let mut prev = usize::MAX;
    for z in logits {
        let mut best = 0;
        for k in 1..C {
            if z[k] > z[best] {
                best = k;
            }
        }
        if best != prev && best != blank {
            out[len] = best;
            len += 1;
        }
        prev = best;
    }
    (out, len)
}

/// One labeling a beam search keeps: its labels (the first `len`) and its log-probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Beam<const N: usize> {
    /// The labels, `len` of them.
    pub labels: [usize; N],
    /// How many labels.
    pub len: usize,
    /// `log p(labeling)`, summed over the alignments the search kept.
    pub log_prob: f64,
    p_blank: f64,
    p_label: f64,
}

impl<const N: usize> Beam<N> {
    const EMPTY: Self = Beam {
        labels: [0; N],
        len: 0,
        log_prob: f64::NEG_INFINITY,
        p_blank: f64::NEG_INFINITY,
        p_label: f64::NEG_INFINITY,
    };
    /// The labels.
    pub fn labels(&self) -> &[usize] {
        &self.labels[..self.len]
    }
    fn total(&self) -> f64 {
        lse2(self.p_blank, self.p_label)
    }
}

/// Prefix beam search (Graves 2012; Hannun et al. 2014), no language model: at each step every
/// kept prefix is extended by every class, the probabilities of a prefix ending in a blank and
/// in a label kept apart (so a repeated label needs a blank between), equal prefixes merged, and
/// the `K` most probable kept. Returns them best first (fewer when fewer exist; the rest have
/// `log_prob = -inf`). `W` is the candidate capacity, at least `K * (C + 1)` (checked at
/// compile time). Nothing is allocated.
pub fn ctc_beam_search<T: Real, const N: usize, const C: usize, const K: usize, const W: usize>(
    logits: &[[T; C]; N],
    blank: usize,
) -> Result<[Beam<N>; K], CtcError> {
    const {
        assert!(
            K > 0 && W >= K * (C + 1),
            "ctc_beam_search needs K > 0 and W >= K * (C + 1)"
        )
    };
    if blank >= C {
        return Err(CtcError::Blank { blank, classes: C });
    }
    let mut beams = [Beam::<N>::EMPTY; K];
    beams[0].p_blank = 0.0;
    beams[0].log_prob = 0.0;
    let mut kept = 1;
    for z in logits {
        let lp = log_softmax(z);
        let mut cand = [Beam::<N>::EMPTY; W];
        let mut n = 0;
        // Adds probability to the candidate with `prefix` (+ `k` when given).
        let add = |cand: &mut [Beam<N>; W],
                   n: &mut usize,
                   from: &Beam<N>,
                   k: Option<usize>,
                   pb: f64,
                   pl: f64| {
            let (len, last) = match k {
                Some(k) => (from.len + 1, Some(k)),
                None => (from.len, None),
            };
            let same = |c: &Beam<N>| {
                c.len == len
                    && c.labels[..from.len] == from.labels[..from.len]
                    && last.is_none_or(|k| c.labels[from.len] == k)
            };
            let i = match (0..*n).find(|&i| same(&cand[i])) {
                Some(i) => i,
                None => {
                    let mut b = Beam::<N>::EMPTY;
                    b.labels[..from.len].copy_from_slice(&from.labels[..from.len]);
                    if let Some(k) = last {
                        b.labels[from.len] = k;
                    }
                    b.len = len;
                    cand[*n] = b;
                    *n += 1;
                    *n - 1
                }
            };
            cand[i].p_blank = lse2(cand[i].p_blank, pb);
            cand[i].p_label = lse2(cand[i].p_label, pl);
        };
        for b in &beams[..kept] {
            let all = b.total();
            // A blank: the same prefix, now ending in a blank.
            add(
                &mut cand,
                &mut n,
                b,
                None,
                all + lp[blank],
                f64::NEG_INFINITY,
            );
            for k in (0..C).filter(|&k| k != blank) {
                let last = (b.len > 0).then(|| b.labels[b.len - 1]);
                if last == Some(k) {
                    // The same label again: merged into the prefix unless a blank came between.
                    add(
                        &mut cand,
                        &mut n,
                        b,
                        None,
                        f64::NEG_INFINITY,
                        b.p_label + lp[k],
                    );
                    if b.len < N {
                        add(
                            &mut cand,
                            &mut n,
                            b,
                            Some(k),
                            f64::NEG_INFINITY,
                            b.p_blank + lp[k],
                        );
                    }
                } else if b.len < N {
                    add(
                        &mut cand,
                        &mut n,
                        b,
                        Some(k),
                        f64::NEG_INFINITY,
                        all + lp[k],
                    );
                }
            }
        }
        // The K most probable (stable: the earlier candidate first on ties).
        for c in cand[..n].iter_mut() {
            c.log_prob = c.total();
        }
        kept = n.min(K);
        for slot in 0..kept {
            let mut best = slot;
            for i in slot + 1..n {
                if cand[i].log_prob > cand[best].log_prob {
                    best = i;
                }
            }
            cand.swap(slot, best);
            beams[slot] = cand[slot];
        }
    }
    for b in beams[kept..].iter_mut() {
        *b = Beam::EMPTY;
    }
    Ok(beams)
}

/// One prefix of [`ctc_beam_search_tf`]'s step: TensorFlow's `BeamEntry`, its probabilities
/// at the previous step (`old`) and this one (`new`), `(blank, label, total)` each.
#[derive(Clone, Copy)]
struct TfEntry<const N: usize> {
    labels: [usize; N],
    len: usize,
    old: [f64; 3],
    new: [f64; 3],
    /// In the beam (TensorFlow's `leaves_`).
    in_beam: bool,
}

impl<const N: usize> TfEntry<N> {
    const RESET: [f64; 3] = [f64::NEG_INFINITY; 3];
    const EMPTY: Self = TfEntry {
        labels: [0; N],
        len: 0,
        old: Self::RESET,
        new: Self::RESET,
        in_beam: false,
    };
    fn is(&self, labels: &[usize]) -> bool {
        self.labels[..self.len] == *labels
    }
    fn last(&self) -> Option<usize> {
        self.len.checked_sub(1).map(|i| self.labels[i])
    }
}

/// TensorFlow's CTC beam search, `tf.nn.ctc_beam_search_decoder(logits, seq_len, beam_width =
/// K, top_paths = K)` with the blank at index `blank` (TensorFlow's is always the last
/// class), step for step: its beams and scores, best first.
///
/// It is a prefix beam search like [`ctc_beam_search`], but TensorFlow grows and prunes the
/// beam in one pass over a fixed-size heap, in order (the beams by probability, then the
/// labels by id), and a prefix pushed out of the heap during a step loses what it had: if one
/// of the beams is evicted and then met again as the extension of another beam, it restarts
/// from that extension alone and, when that is not enough to re-enter, is never extended this
/// step (TensorFlow resets its previous probability). So its beams are not always the `K`
/// most probable candidates of each step, and the scores of the labelings it keeps can be
/// higher or lower than [`ctc_beam_search`]'s. This function reproduces those effects (checked
/// against TensorFlow's decoder in `tests/ctc.rs`); use [`ctc_beam_search`] for the plain
/// algorithm. `W >= K * C` entries of work space, on the stack.
pub fn ctc_beam_search_tf<
    T: Real,
    const N: usize,
    const C: usize,
    const K: usize,
    const W: usize,
>(
    logits: &[[T; C]; N],
    blank: usize,
) -> Result<[Beam<N>; K], CtcError> {
    const {
        assert!(
            K > 0 && W >= K * C,
            "ctc_beam_search_tf needs K > 0 and W >= K * C"
        )
    };
    if blank >= C {
        return Err(CtcError::Blank { blank, classes: C });
    }
    const NEG: f64 = f64::NEG_INFINITY;
    // The beam: the root (the empty prefix) with probability 1, ending in a blank.
    let mut leaves = [TfEntry::<N>::EMPTY; K];
    leaves[0].new = [0.0, NEG, 0.0];
    let mut kept = 1;
    for z in logits {
        let x = log_softmax(z);
        // The beams, by new probability (descending; stable), become this step's branches.
        let mut e = [TfEntry::<N>::EMPTY; W];
        for (slot, l) in e.iter_mut().zip(&leaves[..kept]) {
            *slot = *l;
        }
        let branches = kept;
        for i in 1..branches {
            let mut j = i;
            while j > 0 && e[j].new[2] > e[j - 1].new[2] {
                e.swap(j, j - 1);
                j -= 1;
            }
        }
        for b in e[..branches].iter_mut() {
            b.old = b.new;
        }
        // Every beam's own continuation: a blank, or its last label again (and the extension
        // of its parent, if the parent is a beam).
        for i in 0..branches {
            let mut label = e[i].new[1];
            if let Some(last) = e[i].last() {
                let parent = &e[i].labels[..e[i].len - 1];
                let p = (0..branches).find(|&j| e[j].is(parent) && e[j].new[2] > NEG);
                if let Some(p) = p {
                    let prev = if e[p].last() == Some(last) {
                        e[p].old[0]
                    } else {
                        e[p].old[2]
                    };
                    label = lse2(label, prev);
                }
                label += x[last];
            }
            let bl = e[i].old[2] + x[blank];
            e[i].new = [bl, label, lse2(bl, label)];
            e[i].in_beam = true;
        }
        let mut n = branches;
        let mut in_beam = branches;
        // The lowest entry in the beam (the first of equals), if the beam is full.
        let bottom = |e: &[TfEntry<N>; W], n: usize| {
            let mut b: Option<usize> = None;
            for i in 0..n {
                if e[i].in_beam && b.is_none_or(|j| e[i].new[2] < e[j].new[2]) {
                    b = Some(i);
                }
            }
            b
        };
        let candidate = |e: &[TfEntry<N>; W], n: usize, in_beam: usize, total: f64| {
            total > NEG && (in_beam < K || bottom(e, n).is_some_and(|b| total > e[b].new[2]))
        };
        for i in 0..branches {
            if !candidate(&e, n, in_beam, e[i].old[2]) || e[i].len >= N {
                continue;
            }
            for k in (0..C).filter(|&k| k != blank) {
                let mut child = [0usize; N];
                child[..e[i].len].copy_from_slice(&e[i].labels[..e[i].len]);
                child[e[i].len] = k;
                let clen = e[i].len + 1;
                let found = (0..n).find(|&j| e[j].is(&child[..clen]));
                if found.is_some_and(|j| e[j].in_beam) {
                    continue; // already a beam: its extension was added above
                }
                let prev = if e[i].last() == Some(k) {
                    e[i].old[0]
                } else {
                    e[i].old[2]
                };
                let l = x[k] + prev;
                let c = match found {
                    Some(j) => j,
                    None => {
                        e[n].labels = child;
                        e[n].len = clen;
                        n += 1;
                        n - 1
                    }
                };
                e[c].new = [NEG, l, l];
                if candidate(&e, n, in_beam, l) {
                    if in_beam == K {
                        if let Some(b) = bottom(&e, n) {
                            e[b].new = TfEntry::<N>::RESET;
                            e[b].in_beam = false;
                            in_beam -= 1;
                        }
                    }
                    e[c].in_beam = true;
                    in_beam += 1;
                } else {
                    // Deactivated: both its probabilities reset (a beam evicted earlier in
                    // this step is then not extended).
                    e[c].old = TfEntry::<N>::RESET;
                    e[c].new = TfEntry::<N>::RESET;
                }
            }
        }
        kept = 0;
        for i in 0..n {
            if e[i].in_beam && kept < K {
                leaves[kept] = e[i];
                kept += 1;
            }
        }
    }
    // Best first.
    let mut out = [Beam::<N>::EMPTY; K];
    for (o, l) in out.iter_mut().zip(&leaves[..kept]) {
        o.labels = l.labels;
        o.len = l.len;
        o.p_blank = l.new[0];
        o.p_label = l.new[1];
        o.log_prob = l.new[2];
    }
    for i in 1..kept {
        let mut j = i;
        while j > 0 && out[j].log_prob > out[j - 1].log_prob {
            out.swap(j, j - 1);
            j -= 1;
        }
    }
    Ok(out)
}
