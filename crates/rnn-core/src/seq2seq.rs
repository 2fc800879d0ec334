//! Encoder-decoder models with fixed sizes: teacher-forced training, greedy decoding and beam
//! search, nothing allocated.
//!
//! An encoder-decoder model (declared `encoder => decoder` in `rnn_model!`) is two [`Model`]s:
//! the encoder reads `N` source steps; its last recurrent layer's final state becomes the
//! decoder's first recurrent layer's initial state (the decoder's `h` and `c` start from the
//! encoder's), and an [`Attention`](crate::Attention) layer in the decoder, if any, gets the
//! encoder's outputs as its memory. The decoder reads one token per step: the start token
//! first, then, in training, the target's previous token (teacher forcing) and, at inference,
//! its own previous output. Its last layer is a softmax over the target vocabulary.
//!
//! The generated model implements [`Seq2Seq`] (the seam between the halves) and
//! [`Params`](crate::optim::Params) (so the optimizers train it), and has inherent methods
//! with its sizes filled in (`translate`, `beam_search`, `loss_and_grad`).

use crate::bptt::Tape;
use crate::layers::Streams;
use crate::model::{Model, TokenError};
use crate::real::Real;

/// The scalar of an encoder-decoder model.
pub type Scalar<S> = <<S as Seq2Seq>::Encoder as Model>::Scalar;
/// The encoder's state.
pub type EncoderState<S> = <<S as Seq2Seq>::Encoder as Model>::State;
/// One encoder output.
pub type EncoderOutput<S> = <<S as Seq2Seq>::Encoder as Model>::Output;
/// One encoder input (a token id as a scalar, when the encoder starts with an embedding).
pub type EncoderInput<S> = <<S as Seq2Seq>::Encoder as Model>::Input;
/// The decoder's state.
pub type DecoderState<S> = <<S as Seq2Seq>::Decoder as Model>::State;
/// One decoder output: a probability per target token.
pub type DecoderOutput<S> = <<S as Seq2Seq>::Decoder as Model>::Output;

/// The seam between an encoder and a decoder; `rnn_model!` implements it.
pub trait Seq2Seq: Sized {
    /// The encoder.
    type Encoder: Model<Chain: Streams>;
    /// The decoder: one token id per step in, a softmax over the target vocabulary out.
    type Decoder: Model<Chain: Streams, Scalar = Scalar<Self>, Input = [Scalar<Self>; 1]>;
    /// Source steps `N`.
    const SOURCE_LEN: usize;
    /// Output capacity `M`: tokens produced at most, the end token included.
    const TARGET_LEN: usize;
    /// The token the decoder reads first.
    const START: u32;
    /// The token that ends an output.
    const END: u32;
    /// Whether the decoder attends over the encoder's outputs.
    const ATTENTION: bool;

    /// The encoder.
    fn encoder(&self) -> &Self::Encoder;
    /// The decoder.
    fn decoder(&self) -> &Self::Decoder;
    /// The encoder, mutable.
    fn encoder_mut(&mut self) -> &mut Self::Encoder;
    /// The decoder, mutable.
    fn decoder_mut(&mut self) -> &mut Self::Decoder;
    /// The decoder's state before its first step, from the encoder's final state and its
    /// `SOURCE_LEN` outputs.
    fn seed(
        &self,
        encoder: &EncoderState<Self>,
        outputs: &[EncoderOutput<Self>],
    ) -> DecoderState<Self>;
    /// Backward through [`seed`](Self::seed): `d_seed` is the gradient w.r.t. the decoder's
    /// initial state; adds what it holds into `d_encoder` (w.r.t. the encoder's final state),
    /// `d_outputs` (w.r.t. its outputs) and, for the attention's keys, into `grads`.
    fn seed_backward(
        &self,
        d_seed: &DecoderState<Self>,
        outputs: &[EncoderOutput<Self>],
        grads: &mut Self,
        d_encoder: &mut EncoderState<Self>,
        d_outputs: &mut [EncoderOutput<Self>],
    );
    /// The attention weights of the decoder's latest step (`SOURCE_LEN` of them), or `None`
    /// without attention.
    fn attention_weights(state: &DecoderState<Self>) -> Option<&[Scalar<Self>]>;
}

/// One decoded output: at most `M` tokens, the end token not included.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decoded<const M: usize> {
    /// The tokens, `len` of them, then zeros.
    pub tokens: [u32; M],
    /// How many tokens.
    pub len: usize,
    /// Whether the end token was produced (else the output stopped at the capacity `M`).
    pub ended: bool,
    /// The natural log of its probability under the model (every step's, the end token's
    /// included), summed in f64.
    pub log_prob: f64,
}

impl<const M: usize> Decoded<M> {
    const EMPTY: Self = Decoded {
        tokens: [0; M],
        len: 0,
        ended: false,
        log_prob: 0.0,
    };
    /// The tokens.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens[..self.len]
    }
    /// The steps it took: its tokens, and the end token when it ended.
    pub fn steps(&self) -> usize {
        self.len + self.ended as usize
    }
    /// Its beam-search score: `log_prob / steps^alpha` (`alpha = 0`: the log-probability).
    pub fn score(&self, alpha: f64) -> f64 {
        if alpha == 0.0 {
            self.log_prob
        } else {
            self.log_prob / libm::pow(self.steps().max(1) as f64, alpha)
        }
    }
}

/// What beam search returns: up to `K` outputs, best first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Beams<const M: usize, const K: usize> {
    /// The outputs, `count` of them, best first.
    pub hyps: [Decoded<M>; K],
    /// How many (fewer than `K` only when fewer outputs exist).
    pub count: usize,
}

impl<const M: usize, const K: usize> Beams<M, K> {
    /// The outputs, best first.
    pub fn as_slice(&self) -> &[Decoded<M>] {
        &self.hyps[..self.count]
    }
    /// The best output.
    pub fn best(&self) -> &Decoded<M> {
        &self.hyps[0]
    }
}

/// A training record of one source and target: both halves' tapes.
pub struct Seq2SeqTape<S: Seq2Seq, const N: usize, const M: usize> {
    /// The encoder's steps.
    pub encoder: Tape<S::Encoder, N>,
    /// The decoder's steps.
    pub decoder: Tape<S::Decoder, M>,
    /// The encoder's final state.
    pub encoder_state: EncoderState<S>,
    /// Steps the loss counted (up to and including the target's first end token).
    pub counted: usize,
}

impl<S: Seq2Seq, const N: usize, const M: usize> Seq2SeqTape<S, N, M> {
    /// An empty record.
    pub fn new() -> Self {
        Seq2SeqTape {
            encoder: Tape::new(),
            decoder: Tape::new(),
            encoder_state: <S::Encoder as Model>::zero_state(),
            counted: 0,
        }
    }
}

impl<S: Seq2Seq, const N: usize, const M: usize> Default for Seq2SeqTape<S, N, M> {
    fn default() -> Self {
        Self::new()
    }
}

const fn sizes<S: Seq2Seq, const N: usize, const M: usize>() {
    source_len::<S, N>();
    assert!(M == S::TARGET_LEN, "M must be the model's target_len");
}

const fn source_len<S: Seq2Seq, const N: usize>() {
    assert!(N == S::SOURCE_LEN, "N must be the model's source_len");
}

/// Runs the encoder over the source: its final state and every step's output.
pub fn encode<S: Seq2Seq, const N: usize>(
    model: &S,
    source: &[EncoderInput<S>; N],
) -> (EncoderState<S>, [EncoderOutput<S>; N]) {
    const { source_len::<S, N>() };
    let enc = model.encoder();
    let mut state = <S::Encoder as Model>::zero_state();
    let mut outs = [<S::Encoder as Model>::zero_output(); N];
    for (o, x) in outs.iter_mut().zip(source) {
        *o = enc.step(&mut state, x);
    }
    (state, outs)
}

/// The decoder's initial state for `source`.
pub fn start<S: Seq2Seq, const N: usize>(
    model: &S,
    source: &[EncoderInput<S>; N],
) -> DecoderState<S> {
    const { source_len::<S, N>() };
    let (state, outs) = encode(model, source);
    model.seed(&state, &outs)
}

fn token_input<S: Seq2Seq>(token: u32) -> [Scalar<S>; 1] {
    [Scalar::<S>::from_f64(token as f64)]
}

fn ln<T: Real>(p: T) -> f64 {
    libm::log(p.to_f64())
}

/// Greedy decoding: at each step the most probable token (the lowest id on a tie), until the
/// end token or `M` tokens. With `attention`, row `t` receives step `t`'s attention weights
/// (rows after the last step are left as they are).
pub fn greedy<S: Seq2Seq, const N: usize, const M: usize>(
    model: &S,
    source: &[EncoderInput<S>; N],
    mut attention: Option<&mut [[Scalar<S>; N]; M]>,
) -> Decoded<M> {
    const { sizes::<S, N, M>() };
    let dec = model.decoder();
    let mut state = start(model, source);
    let mut out = Decoded::EMPTY;
    let mut token = S::START;
    for t in 0..M {
        let p = dec.step(&mut state, &token_input::<S>(token));
        if let (Some(a), Some(w)) = (attention.as_deref_mut(), S::attention_weights(&state)) {
            a[t].copy_from_slice(&w[..N]);
        }
        let p = p.as_ref();
        let mut best = 0;
        for (v, &q) in p.iter().enumerate() {
            if q > p[best] {
                best = v;
            }
        }
        out.log_prob += ln(p[best]);
        token = best as u32;
        if token == S::END {
            out.ended = true;
            break;
        }
        out.tokens[out.len] = token;
        out.len += 1;
    }
    out
}

/// A beam: an output so far and the decoder's state after reading its last token.
struct Beam<S: Seq2Seq, const M: usize> {
    hyp: Decoded<M>,
    state: DecoderState<S>,
    /// Finished: ended, or `M` tokens long.
    done: bool,
}

impl<S: Seq2Seq, const M: usize> Clone for Beam<S, M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: Seq2Seq, const M: usize> Copy for Beam<S, M> {}

/// Beam search with `K` beams: at every step each unfinished beam is extended by every token,
/// and the `K` best of these and of the finished outputs are kept, by
/// [`Decoded::score`]`(alpha)` (`alpha = 0`: the log-probability; `alpha = 1`: per step, the
/// length normalization that stops short outputs winning). An output finishes at the end
/// token or at `M` tokens. With `K` at least the number of all outputs the search is
/// exhaustive: it returns the exact top `K` (the tests check it so against enumeration).
/// Ties keep the earlier beam and the lower token id.
pub fn beam_search<S: Seq2Seq, const N: usize, const M: usize, const K: usize>(
    model: &S,
    source: &[EncoderInput<S>; N],
    alpha: f64,
) -> Beams<M, K> {
    const { sizes::<S, N, M>() };
    const { assert!(K > 0, "beam search needs at least one beam") };
    let dec = model.decoder();
    let empty = Beam::<S, M> {
        hyp: Decoded::EMPTY,
        state: start(model, source),
        done: false,
    };
    let mut beams = [empty; K];
    let mut count = 1;
    let vocab = <S::Decoder as Model>::OUTPUT;
    // Per beam: the state after its last token and that step's probabilities.
    let mut probs = [<S::Decoder as Model>::zero_output(); K];
    let mut next = [empty.state; K];
    for t in 0..M {
        if beams[..count].iter().all(|b| b.done) {
            break;
        }
        for b in 0..count {
            if !beams[b].done {
                let token = if t == 0 {
                    S::START
                } else {
                    beams[b].hyp.tokens[beams[b].hyp.len - 1]
                };
                next[b] = beams[b].state;
                probs[b] = dec.step(&mut next[b], &token_input::<S>(token));
            }
        }
        // The K best candidates (score, beam, token; token = vocab: the finished beam itself),
        // kept sorted by insertion.
        let mut best = [(f64::NEG_INFINITY, 0usize, 0usize); K];
        let mut found = 0;
        let mut offer = |cand: (f64, usize, usize), found: &mut usize| {
            let mut at = *found;
            while at > 0 && cand.0 > best[at - 1].0 {
                at -= 1;
            }
            if at >= K {
                return;
            }
            let end = (*found).min(K - 1);
            best.copy_within(at..end, at + 1);
            best[at] = cand;
            *found = (*found + 1).min(K);
        };
        for b in 0..count {
            let beam = &beams[b];
            if beam.done {
                offer((beam.hyp.score(alpha), b, vocab), &mut found);
                continue;
            }
            let p = probs[b].as_ref();
            for (v, &q) in p.iter().enumerate() {
                let mut h = beam.hyp;
                h.log_prob += ln(q);
                if v as u32 == S::END {
                    h.ended = true;
                } else {
                    h.len += 1;
                }
                offer((h.score(alpha), b, v), &mut found);
            }
        }
        let old = beams;
        for (j, &(_, b, v)) in best[..found].iter().enumerate() {
            let mut beam = old[b];
            if v < vocab {
                beam.hyp.log_prob += ln(probs[b].as_ref()[v]);
                beam.state = next[b];
                if v as u32 == S::END {
                    beam.hyp.ended = true;
                    beam.done = true;
                } else {
                    beam.hyp.tokens[beam.hyp.len] = v as u32;
                    beam.hyp.len += 1;
                    beam.done = beam.hyp.len == M;
                }
            }
            beams[j] = beam;
        }
        count = found;
    }
    let mut out = Beams {
        hyps: [Decoded::EMPTY; K],
        count,
    };
    for (o, b) in out.hyps.iter_mut().zip(&beams[..count]) {
        *o = b.hyp;
    }
    out
}

/// The decoder's inputs for a target under teacher forcing: the start token, then the target
/// shifted by one; and the steps the loss counts (up to and including the first end token, or
/// all `M`).
pub fn teacher_inputs<const M: usize>(
    start: u32,
    end: u32,
    target: &[u32; M],
) -> ([u32; M], usize) {
    let mut inputs = [start; M];
    inputs[1..].copy_from_slice(&target[..M - 1]);
    let counted = target.iter().position(|&t| t == end).map_or(M, |p| p + 1);
    (inputs, counted)
}

/// Teacher-forced forward pass over one source and target, recorded on `tape`; returns the
/// loss: the sum over the counted steps (up to and including the target's first end token)
/// of `-ln p(target[t])`, Keras's sparse categorical cross-entropy summed, in f64. Only the
/// counted steps run: what follows the end token is never read. A counted target token
/// outside the decoder's vocabulary is a [`TokenError`] naming its position, and nothing runs.
pub fn forward_train<S: Seq2Seq, const N: usize, const M: usize>(
    model: &S,
    source: &[EncoderInput<S>; N],
    target: &[u32; M],
    tape: &mut Seq2SeqTape<S, N, M>,
) -> Result<f64, TokenError> {
    const { sizes::<S, N, M>() };
    let (inputs, counted) = teacher_inputs(S::START, S::END, target);
    for (position, &t) in target[..counted].iter().enumerate() {
        <S::Decoder as Model>::token_at(t, position)?;
    }
    <S::Decoder as Model>::token_at(S::START, 0)?;
    let mut xs = [<S::Decoder as Model>::zero_input(); M];
    for (x, &t) in xs[..counted].iter_mut().zip(&inputs) {
        *x = <S::Decoder as Model>::token_at(t, 0)?;
    }
    let (enc, dec) = (model.encoder(), model.decoder());
    let mut s = <S::Encoder as Model>::zero_state();
    for t in 0..N {
        tape.encoder.outputs[t] = enc.step_train(&mut s, &source[t], &mut tape.encoder.caches[t]);
    }
    tape.encoder_state = s;
    let mut d = model.seed(&s, &tape.encoder.outputs);
    let mut loss = 0.0;
    for t in 0..counted {
        tape.decoder.outputs[t] = dec.step_train(&mut d, &xs[t], &mut tape.decoder.caches[t]);
        loss -= ln(tape.decoder.outputs[t].as_ref()[target[t] as usize]);
    }
    tape.counted = counted;
    Ok(loss)
}

/// Backpropagation through what [`forward_train`] recorded for `target` (the loss's gradient
/// taken w.r.t. the softmax's logits, `p - onehot`, at the counted steps), through the seam
/// into the encoder; every parameter gradient is added into `grads`.
pub fn backward<S: Seq2Seq, const N: usize, const M: usize>(
    model: &S,
    target: &[u32; M],
    tape: &Seq2SeqTape<S, N, M>,
    grads: &mut S,
) {
    const { sizes::<S, N, M>() };
    let mut dys = [<S::Decoder as Model>::zero_output(); M];
    for t in 0..tape.counted.min(M) {
        let d = dys[t].as_mut();
        d.copy_from_slice(tape.decoder.outputs[t].as_ref());
        // (`forward_train` refused a token outside the vocabulary; a different `target`
        // here cannot index out of bounds.)
        if let Some(v) = d.get_mut(target[t] as usize) {
            *v -= Scalar::<S>::ONE;
        }
    }
    let (enc, dec) = (model.encoder(), model.decoder());
    let mut d_seed = <S::Decoder as Model>::zero_state();
    {
        let tr = dec.transposed();
        let g = grads.decoder_mut();
        let n = tape.counted.min(M);
        let caches = &tape.decoder.caches[..n];
        dec.backward_through(&tr, caches, &dys[..n], true, &mut d_seed, g, None);
    }
    let mut d_enc = <S::Encoder as Model>::zero_state();
    let mut d_outs = [<S::Encoder as Model>::zero_output(); N];
    model.seed_backward(
        &d_seed,
        &tape.encoder.outputs,
        grads,
        &mut d_enc,
        &mut d_outs,
    );
    let tr = enc.transposed();
    let g = grads.encoder_mut();
    enc.backward_through(
        &tr,
        &tape.encoder.caches,
        &d_outs,
        false,
        &mut d_enc,
        g,
        None,
    );
}

/// [`forward_train`] then [`backward`]: one training example's loss, its gradients added into
/// `grads`.
pub fn loss_and_grad<S: Seq2Seq, const N: usize, const M: usize>(
    model: &S,
    source: &[EncoderInput<S>; N],
    target: &[u32; M],
    tape: &mut Seq2SeqTape<S, N, M>,
    grads: &mut S,
) -> Result<f64, TokenError> {
    let loss = forward_train(model, source, target, tape)?;
    backward(model, target, tape, grads);
    Ok(loss)
}

/// The log-probability of one whole output under teacher forcing: `tokens` then the end token
/// (when `ended`), each step's `ln p` summed in f64; what [`Decoded::log_prob`] holds.
/// Used to check decoders against enumeration. A token outside the decoder's vocabulary is a
/// [`TokenError`].
pub fn log_prob<S: Seq2Seq, const N: usize>(
    model: &S,
    source: &[EncoderInput<S>; N],
    tokens: &[u32],
    ended: bool,
) -> Result<f64, TokenError> {
    const { source_len::<S, N>() };
    for (position, &t) in tokens.iter().enumerate() {
        <S::Decoder as Model>::token_at(t, position)?;
    }
    <S::Decoder as Model>::token_at(S::END, tokens.len())?;
    let dec = model.decoder();
    let mut state = start(model, source);
    let mut token = S::START;
    let mut lp = 0.0;
    let steps = tokens.len() + ended as usize;
    for t in 0..steps {
        let p = dec.step(&mut state, &token_input::<S>(token));
        let next = if t < tokens.len() { tokens[t] } else { S::END };
        lp += ln(p.as_ref()[next as usize]);
        token = next;
    }
    Ok(lp)
}
