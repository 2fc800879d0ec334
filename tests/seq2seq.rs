//! Encoder-decoder models against Keras (`tests/fixtures/generate_seq2seq.py`: an encoder
//! `Embedding -> LSTM|GRU` whose final state starts the decoder `Embedding -> LSTM|GRU ->
//! attention -> Dense(softmax)`, teacher-forced, forward, attention weights, loss and every
//! gradient), by finite differences, and greedy / beam search against exhaustive enumeration.

mod common;

use common::{tensor, Fixture};
use rnn::optim::Params;
use rnn::seq2seq::{self, Seq2Seq};
use rnn::{rnn_model, Model, Real, Shape, TensorView, WeightSource};
use serde_json::Value;

/// Declares the four fixture models for one scalar and maths.
macro_rules! fixture_models {
    ($m:ident, $t:ident, $math:ident) => {
        mod $m {
            use super::*;
            rnn_model! {
                pub struct LstmAdditive {
                    scalar = $t; math = $math; source_len = 5; target_len = 4; start = 1; end = 0;
                    embedding(7, 3) -> lstm(4) => embedding(6, 3) -> lstm(4) -> attention(6) -> dense(6, activation = softmax)
                }
                pub struct LstmDot {
                    scalar = $t; math = $math; source_len = 5; target_len = 4; start = 1; end = 0;
                    embedding(7, 3) -> lstm(4) => embedding(6, 3) -> lstm(4) -> attention(6, score = dot) -> dense(6, activation = softmax)
                }
                pub struct LstmNone {
                    scalar = $t; math = $math; source_len = 5; target_len = 4; start = 1; end = 0;
                    embedding(7, 3) -> lstm(4) => embedding(6, 3) -> lstm(4) -> dense(6, activation = softmax)
                }
                pub struct GruAdditive {
                    scalar = $t; math = $math; source_len = 5; target_len = 4; start = 1; end = 0;
                    embedding(7, 3) -> gru(4) => embedding(6, 3) -> gru(4) -> attention(6) -> dense(6, activation = softmax)
                }
            }
        }
    };
}

fixture_models!(f64_exact, f64, exact);
fixture_models!(f32_exact, f32, exact);
fixture_models!(f32_fast, f32, fast);

/// A case's `{name: tensor}` map as a weight source.
struct Named<T>(Vec<(String, Shape, Vec<T>)>);

impl<T: Real> Named<T> {
    fn of(v: &Value) -> Self {
        let map = v.as_object().unwrap();
        Named(
            map.iter()
                .map(|(k, t)| {
                    let (shape, data) = tensor(t);
                    (
                        k.clone(),
                        Shape::new(&shape),
                        data.into_iter().map(T::from_f64).collect(),
                    )
                })
                .collect(),
        )
    }
}

impl<T: Real> WeightSource<T> for Named<T> {
    fn tensor(&self, name: &str) -> Option<TensorView<'_, T>> {
        self.0.iter().find(|t| t.0 == name).map(|t| TensorView {
            shape: t.1,
            data: &t.2,
        })
    }
}

/// The name of tensor `k` of one half, in the fixture's (Keras's) naming.
fn tensor_name<M: Model>(k: usize) -> String {
    let info = M::tensor_info(k);
    format!("{}/{}", M::LAYERS[info.layer].name, info.name)
}

fn close(got: f64, want: f64, rtol: f64, atol: f64) -> bool {
    (got - want).abs() <= atol + rtol * want.abs()
}

fn check_all(what: &str, got: &[f64], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            close(*g, *w, rtol, atol),
            "{what}[{i}]: ours {g}, Keras {w}"
        );
    }
}

fn ints(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u32)
        .collect()
}

/// Loads a case, runs it teacher-forced and compares outputs, attention, loss and gradients.
fn run_case<S>(file: &str, case: &str, rtol: f64, atol: f64) -> usize
where
    S: Seq2Seq + Params<Scalar = seq2seq::Scalar<S>>,
    <S::Encoder as Model>::Input: Copy,
{
    let fx = Fixture::load(file);
    let c = fx.v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == case)
        .unwrap();
    let src = Named::<seq2seq::Scalar<S>>::of(&c["weights"]);
    // SAFETY: a zeroed slot written in place.
    let mut model: S = unsafe {
        let mut s = core::mem::MaybeUninit::<S>::uninit();
        S::params_zeroed_in_place(s.as_mut_ptr());
        s.assume_init()
    };
    model
        .encoder_mut()
        .load(rnn::Layout::Keras, &src)
        .unwrap_or_else(|e| panic!("{case}: encoder: {e}"));
    model
        .decoder_mut()
        .load(rnn::Layout::Keras, &src)
        .unwrap_or_else(|e| panic!("{case}: decoder: {e}"));
    let source: [u32; 5] = ints(&c["source"]).try_into().unwrap();
    let target: [u32; 4] = ints(&c["target"]).try_into().unwrap();
    let dec_in = ints(&c["decoder_input"]);
    let xs = <S::Encoder as Model>::tokens(&source).unwrap();
    let (inputs, counted) = seq2seq::teacher_inputs(S::START, S::END, &target);
    assert_eq!(&inputs[..], &dec_in[..], "{case}: teacher forcing");
    assert_eq!(counted, 4);

    // Forward, step by step, with the attention weights of every step.
    let mut state = seq2seq::start(&model, &xs);
    let (_, want_probs) = tensor(&c["probs"]);
    let want_att = c.get("attention").map(|a| tensor(a).1);
    for (t, &tok) in inputs.iter().enumerate() {
        let x = <S::Decoder as Model>::token(tok).unwrap();
        let p = model.decoder().step(&mut state, &x);
        let p: Vec<f64> = p.as_ref().iter().map(|v| v.to_f64()).collect();
        check_all(
            &format!("{case} probs[{t}]"),
            &p,
            &want_probs[t * 6..(t + 1) * 6],
            rtol,
            atol,
        );
        match (&want_att, S::attention_weights(&state)) {
            (Some(w), Some(a)) => {
                let a: Vec<f64> = a.iter().map(|v| v.to_f64()).collect();
                check_all(
                    &format!("{case} attention[{t}]"),
                    &a,
                    &w[t * 5..(t + 1) * 5],
                    rtol,
                    atol,
                );
            }
            (None, None) => {}
            _ => panic!("{case}: attention present on one side only"),
        }
    }
    // Encoder outputs.
    let (_, outs) = seq2seq::encode(&model, &xs);
    let (_, want_he) = tensor(&c["enc_outputs"]);
    let he: Vec<f64> = outs
        .iter()
        .flat_map(|o| o.as_ref().iter().map(|v| v.to_f64()))
        .collect();
    check_all(&format!("{case} enc_outputs"), &he, &want_he, rtol, atol);

    // Loss and gradients.
    let mut grads: S = unsafe {
        let mut s = core::mem::MaybeUninit::<S>::uninit();
        S::params_zeroed_in_place(s.as_mut_ptr());
        s.assume_init()
    };
    let mut tape = seq2seq::Seq2SeqTape::<S, 5, 4>::new();
    let loss = seq2seq::loss_and_grad(&model, &xs, &target, &mut tape, &mut grads).unwrap();
    let want_loss = c["loss"].as_f64().unwrap();
    assert!(
        close(loss, want_loss, rtol, atol),
        "{case}: loss {loss}, Keras {want_loss}"
    );
    let mut checked = 0;
    let ne = <S::Encoder as Model>::TENSORS;
    for k in 0..S::PARAM_TENSORS {
        let name = if k < ne {
            tensor_name::<S::Encoder>(k)
        } else {
            tensor_name::<S::Decoder>(k - ne)
        };
        let want = tensor(&c["grads"][&name]).1;
        assert!(!want.is_empty(), "{case}: no Keras gradient for {name}");
        let got: Vec<f64> = grads.param_tensor(k).iter().map(|v| v.to_f64()).collect();
        check_all(&format!("{case} d{name}"), &got, &want, rtol, atol);
        checked += 1;
    }
    assert_eq!(
        checked,
        c["grads"].as_object().unwrap().len(),
        "{case}: every Keras gradient compared"
    );
    checked
}

macro_rules! fixture_cases {
    ($m:ident, $file:literal, $rtol:expr, $atol:expr) => {
        let n = run_case::<$m::LstmAdditive>($file, "lstm_additive", $rtol, $atol)
            + run_case::<$m::LstmDot>($file, "lstm_dot", $rtol, $atol)
            + run_case::<$m::LstmNone>($file, "lstm_none", $rtol, $atol)
            + run_case::<$m::GruAdditive>($file, "gru_additive", $rtol, $atol);
        assert_eq!(n, 14 + 11 + 10 + 14);
    };
}

#[test]
fn encoder_decoder_with_attention_matches_keras_f64() {
    fixture_cases!(f64_exact, "seq2seq_f64", 1e-9, 1e-11);
}

#[test]
fn encoder_decoder_with_attention_matches_keras_f32() {
    fixture_cases!(f32_exact, "seq2seq_f32", 2e-4, 2e-6);
    // The fast tanh and sigmoid (max abs error 4.7e-7) move the outputs a little more.
    fixture_cases!(f32_fast, "seq2seq_f32", 1e-3, 1e-5);
}

rnn_model! {
    /// For finite differences: every kind of seam (LSTM h and c, GRU h) and both scores.
    struct FdAdditive {
        scalar = f64; math = exact; source_len = 4; target_len = 3; start = 1; end = 0;
        embedding(5, 3) -> lstm(4) -> lstm(5) => embedding(4, 2) -> lstm(5) -> attention(3) -> dense(4, activation = softmax)
    }
    struct FdDot {
        scalar = f64; math = exact; source_len = 4; target_len = 3; start = 1; end = 0;
        embedding(5, 3) -> gru(4) => embedding(4, 2) -> gru(4) -> attention(3, score = dot) -> dense(4, activation = softmax)
    }
    struct FdFeatures {
        scalar = f64; math = exact; source_len = 3; target_len = 3; start = 2; end = 3;
        rnn(2, 3) => embedding(4, 2) -> rnn(3) -> attention(2) -> dense(5, activation = tanh) -> dense(4, activation = softmax)
    }
}

/// Central finite differences of the teacher-forced loss w.r.t. every parameter.
fn finite_differences<S, const N: usize, const M: usize>(
    model: &mut S,
    source: &[seq2seq::EncoderInput<S>; N],
    target: &[u32; M],
) -> usize
where
    S: Seq2Seq + Params<Scalar = f64>,
{
    let mut grads: S = unsafe {
        let mut s = core::mem::MaybeUninit::<S>::uninit();
        S::params_zeroed_in_place(s.as_mut_ptr());
        s.assume_init()
    };
    let mut tape = seq2seq::Seq2SeqTape::<S, N, M>::new();
    seq2seq::loss_and_grad(model, source, target, &mut tape, &mut grads).unwrap();
    let mut checked = 0;
    for k in 0..S::PARAM_TENSORS {
        for i in 0..model.param_tensor(k).len() {
            let h = 1e-6;
            let w = model.param_tensor(k)[i];
            let mut at = |v: f64, model: &mut S| {
                model.param_tensor_mut(k)[i] = v;
                seq2seq::forward_train(model, source, target, &mut tape).unwrap()
            };
            let up = at(w + h, model);
            let down = at(w - h, model);
            model.param_tensor_mut(k)[i] = w;
            let (fd, g) = ((up - down) / (2.0 * h), grads.param_tensor(k)[i]);
            assert!(
                (fd - g).abs() <= 1e-7 + 1e-5 * g.abs(),
                "tensor {k}[{i}]: backward {g}, finite differences {fd}"
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn gradients_through_attention_and_the_seam_match_finite_differences() {
    let mut m = FdAdditive::init(3);
    let src = FdAdditive::source(&[4, 0, 2, 2]).unwrap();
    // The target ends early: the step after the end token is not counted.
    let n = finite_differences(&mut m, &src, &[3, 0, 2]);
    assert_eq!(n, FdAdditive::PARAM_COUNT);

    let mut m = FdDot::init(5);
    let src = FdDot::source(&[1, 3, 0, 4]).unwrap();
    assert_eq!(
        finite_differences(&mut m, &src, &[2, 3, 0]),
        FdDot::PARAM_COUNT
    );

    let mut m = FdFeatures::init(8);
    let src = [[0.5, -1.0], [0.25, 0.75], [-0.5, 0.1]];
    assert_eq!(
        finite_differences(&mut m, &src, &[1, 0, 1]),
        FdFeatures::PARAM_COUNT
    );
}

#[test]
fn a_step_after_the_end_token_gets_no_gradient() {
    let m = FdAdditive::init(3);
    let src = FdAdditive::source(&[4, 0, 2, 2]).unwrap();
    let mut tape = FdAdditiveTape::new();
    let (mut g1, mut g2) = (FdAdditive::zeros(), FdAdditive::zeros());
    let l1 = m
        .loss_and_grad(&src, &[3, 0, 2], &mut tape, &mut g1)
        .unwrap();
    let l2 = m
        .loss_and_grad(&src, &[3, 0, 1], &mut tape, &mut g2)
        .unwrap();
    assert_eq!(l1, l2);
    for k in 0..FdAdditive::PARAM_TENSORS {
        assert_eq!(g1.param_tensor(k), g2.param_tensor(k));
    }
    // A token outside the decoder's vocabulary is an error, not a read out of bounds.
    assert!(m
        .loss_and_grad(&src, &[3, 9, 0], &mut tape, &mut g1)
        .is_err());
    assert!(FdAdditive::source(&[5, 0, 0, 0]).is_err());
}

rnn_model! {
    /// Small enough to enumerate: 4 target tokens, at most 3 steps: 1 + 3 + 9 outputs that
    /// end and 27 that fill the capacity, 40 in all.
    struct Tiny {
        scalar = f64; math = exact; source_len = 3; target_len = 3; start = 1; end = 0;
        embedding(5, 4) -> gru(6) => embedding(4, 3) -> gru(6) -> attention(5) -> dense(4, activation = softmax)
    }
}

/// Every output the decoder can write, with its exact log-probability.
fn enumerate(m: &Tiny, src: &[[f64; 1]; 3]) -> Vec<(Vec<u32>, bool, f64)> {
    let mut all = Vec::new();
    let mut prefixes: Vec<Vec<u32>> = vec![vec![]];
    for len in 0..=3 {
        let mut next = Vec::new();
        for p in &prefixes {
            if len < 3 {
                all.push((p.clone(), true, m.log_prob(src, p, true).unwrap()));
                for v in 1..4 {
                    let mut q = p.clone();
                    q.push(v);
                    next.push(q);
                }
            } else {
                all.push((p.clone(), false, m.log_prob(src, p, false).unwrap()));
            }
        }
        prefixes = next;
    }
    all
}

#[test]
fn beam_search_with_room_for_every_output_is_the_exact_top_k() {
    for seed in 0..6 {
        let mut m = Tiny::init(seed);
        // Sharper distributions than the initializers give, so the order matters.
        for k in 0..Tiny::PARAM_TENSORS {
            m.param_tensor_mut(k).iter_mut().for_each(|w| *w *= 3.0);
        }
        let src = Tiny::source(&[(seed % 5) as u32, 2, 4]).unwrap();
        let all = enumerate(&m, &src);
        assert_eq!(all.len(), 40);
        let total: f64 = all.iter().map(|o| o.2.exp()).sum();
        assert!(
            (total - 1.0).abs() < 1e-12,
            "the outputs' probabilities sum to {total}"
        );
        for alpha in [0.0, 1.0] {
            let score =
                |o: &(Vec<u32>, bool, f64)| o.2 / ((o.0.len() + o.1 as usize) as f64).powf(alpha);
            let mut exact = all.clone();
            exact.sort_by(|a, b| score(b).partial_cmp(&score(a)).unwrap());
            let beams = m.beam_search::<40>(&src, alpha);
            assert_eq!(beams.count, 40);
            for (b, e) in beams.as_slice().iter().zip(&exact) {
                assert_eq!(
                    (b.tokens(), b.ended),
                    (&e.0[..], e.1),
                    "seed {seed}, alpha {alpha}"
                );
                assert!((b.log_prob - e.2).abs() < 1e-12);
                assert!((b.score(alpha) - score(e)).abs() < 1e-12);
            }
            // Fewer beams: every output is a real one, scored exactly, best first; the top
            // K of an exhaustive search are at least as good.
            let few = m.beam_search::<3>(&src, alpha);
            assert_eq!(few.count, 3);
            for (j, b) in few.as_slice().iter().enumerate() {
                let e = all
                    .iter()
                    .find(|e| e.0 == b.tokens() && e.1 == b.ended)
                    .unwrap();
                assert!((b.log_prob - e.2).abs() < 1e-12);
                assert!(b.score(alpha) <= score(&exact[j]) + 1e-12);
                if j > 0 {
                    assert!(b.score(alpha) <= few.hyps[j - 1].score(alpha));
                }
            }
        }
        // One beam is greedy decoding.
        let g = m.translate(&src);
        let one = m.beam_search::<1>(&src, 0.0);
        assert_eq!(
            (one.best().tokens(), one.best().ended),
            (g.tokens(), g.ended)
        );
        assert!((one.best().log_prob - g.log_prob).abs() < 1e-12);
        assert!((g.log_prob - m.log_prob(&src, g.tokens(), g.ended).unwrap()).abs() < 1e-12);
        assert!(
            m.log_prob(&src, &[2, 4], true).is_err(),
            "a token outside the vocabulary"
        );
    }
}

#[test]
fn greedy_decoding_reports_its_attention() {
    let m = Tiny::init(2);
    let src = Tiny::source(&[3, 1, 4]).unwrap();
    let mut att = [[f64::NAN; 3]; 3];
    let d = m.translate_with_attention(&src, &mut att);
    assert_eq!(d, m.translate(&src));
    for row in &att[..d.steps()] {
        let s: f64 = row.iter().sum();
        assert!(
            (s - 1.0).abs() < 1e-12 && row.iter().all(|a| *a > 0.0),
            "{row:?}"
        );
    }
}
