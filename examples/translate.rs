//! A toy translation with an encoder-decoder: dates written in words to ISO 8601.
//!
//! "the twenty first of march nineteen eighty four" -> "1984-03-21". The task (generated here,
//! seeded; after Géron's exercise) draws a date from 1950-01-01 to 2029-12-31 and writes it
//! in one of three orders: `march twenty first nineteen eighty four`, `the twenty first of
//! march nineteen eighty four`, `twenty first march nineteen eighty four`; years are read as
//! people say them (`nineteen oh five`, `two thousand nine`, `twenty twelve`). Sources are
//! left-padded to 8 words; targets are the 10 characters then the end token. Every tenth date
//! (by a hash of the date) is held out: no date of the test set is ever seen in training.
//!
//! Two models train for the same epochs on the same data: an encoder-decoder whose decoder
//! attends over the encoder's states (Bahdanau's additive score) and one without attention.
//! The decoder reads its own previous output at test time (greedy decoding).
//!
//! ```text
//! cargo run --release --example translate [-- --epochs 12 --out target/translate]
//! ```
//! Prints the exact-match sequence accuracy and the character accuracy on the held-out dates,
//! beam search's accuracy too, and the training time, and writes one attention matrix
//! (`attention.png`).

use rnn::optim::{Adam, Optimizer, Params};
use rnn::plot::{write_heatmap_png, Heatmap};
use rnn::seq2seq::Seq2Seq;
use rnn::{rnn_model, Rng};
use std::path::PathBuf;
use std::time::Instant;

/// Source words (left-padded).
const N: usize = 8;
/// Target tokens: 10 characters and the end token.
const M: usize = 11;

/// The words and the reference phrases, shared with the firmware and its host test.
mod dates {
    #![allow(dead_code)]
    include!("../firmware/src/dates.rs");
}
use dates::WORDS;

/// Target tokens: 0 end, 1 start, 2..=11 the digits, 12 the dash.
const END: u32 = 0;
const START: u32 = 1;

rnn_model! {
    /// Words in, ISO characters out, attending over the words.
    pub struct Attentive {
        source_len = 8; target_len = 11; start = 1; end = 0;
        embedding(65, 16) -> lstm(32) => embedding(13, 8) -> lstm(32) -> attention(32) -> dense(13, activation = softmax)
    }
    /// The same without attention: the decoder sees only the encoder's final state.
    pub struct Plain {
        source_len = 8; target_len = 11; start = 1; end = 0;
        embedding(65, 16) -> lstm(32) => embedding(13, 8) -> lstm(32) -> dense(13, activation = softmax)
    }
}

#[derive(clap::Parser)]
struct Args {
    /// Epochs.
    #[arg(long, default_value_t = 12)]
    epochs: usize,
    /// Training examples per epoch.
    #[arg(long, default_value_t = 16_000)]
    train: usize,
    /// Held-out examples.
    #[arg(long, default_value_t = 2_000)]
    test: usize,
    /// Folder for the plot and the trained translator's weights (`translator.safetensors`,
    /// the attentive model; `firmware/weights/` holds the copy the firmware bakes in).
    #[arg(long, default_value = "target/translate")]
    out: PathBuf,
}

fn word(w: &str) -> u32 {
    WORDS.iter().position(|x| *x == w).expect("a known word") as u32
}

const UNITS: [&str; 10] = [
    "", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
const TEENS: [&str; 10] = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const ORDINALS: [&str; 20] = [
    "",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
];

/// 1..=99 as words.
fn number(n: u32, out: &mut Vec<&'static str>) {
    match n {
        1..=9 => out.push(UNITS[n as usize]),
        10..=19 => out.push(TEENS[n as usize - 10]),
        _ => {
            out.push(TENS[n as usize / 10]);
            if !n.is_multiple_of(10) {
                out.push(UNITS[n as usize % 10]);
            }
        }
    }
}

fn day_words(d: u32, out: &mut Vec<&'static str>) {
    match d {
        1..=19 => out.push(ORDINALS[d as usize]),
        20 => out.push("twentieth"),
        30 => out.push("thirtieth"),
        _ => {
            out.push(TENS[d as usize / 10]);
            out.push(ORDINALS[d as usize % 10]);
        }
    }
}

fn year_words(y: u32, out: &mut Vec<&'static str>) {
    match y {
        2000 => out.extend(["two", "thousand"]),
        2001..=2009 => {
            out.extend(["two", "thousand"]);
            number(y - 2000, out);
        }
        _ => {
            number(y / 100, out);
            match y % 100 {
                0 => {}
                r @ 1..=9 => {
                    out.push("oh");
                    number(r, out);
                }
                r => number(r, out),
            }
        }
    }
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A date as (year, month, day).
type Date = (u32, u32, u32);

fn held_out(d: Date) -> bool {
    let h = (d.0 * 373 + d.1 * 31 + d.2).wrapping_mul(2_654_435_761);
    (h >> 16).is_multiple_of(10)
}

fn random_date(rng: &mut Rng, test: bool) -> Date {
    loop {
        let year = 1950 + rng.below(80) as u32;
        let month = 1 + rng.below(12) as u32;
        let day = 1 + rng.below(days_in(month, year) as usize) as u32;
        if held_out((year, month, day)) == test {
            return (year, month, day);
        }
    }
}

/// One example: the source words (left-padded ids) and the target tokens.
fn example(rng: &mut Rng, test: bool) -> ([u32; N], [u32; M], String) {
    let (y, m, d) = random_date(rng, test);
    let month = WORDS[2 + m as usize];
    let mut w: Vec<&str> = Vec::new();
    let (mut day, mut year) = (Vec::new(), Vec::new());
    day_words(d, &mut day);
    year_words(y, &mut year);
    match rng.below(3) {
        0 => {
            w.push(month);
            w.extend(&day);
        }
        1 => {
            w.push("the");
            w.extend(&day);
            w.push("of");
            w.push(month);
        }
        _ => {
            w.extend(&day);
            w.push(month);
        }
    }
    w.extend(&year);
    assert!(w.len() <= N, "{w:?}");
    let mut src = [0u32; N];
    for (s, x) in src[N - w.len()..].iter_mut().zip(&w) {
        *s = word(x);
    }
    let iso = format!("{y:04}-{m:02}-{d:02}");
    let mut tgt = [END; M];
    for (t, c) in tgt.iter_mut().zip(iso.chars()) {
        *t = if c == '-' {
            12
        } else {
            2 + c.to_digit(10).unwrap()
        };
    }
    (src, tgt, w.join(" "))
}

fn text(tokens: &[u32]) -> String {
    tokens
        .iter()
        .map(|&t| match t {
            2..=11 => char::from(b'0' + (t - 2) as u8),
            12 => '-',
            _ => '?',
        })
        .collect()
}

/// A zeroed value built in place (the model's gradients).
fn zeroed<S: Params>() -> Box<S> {
    let mut b = Box::<S>::new_uninit();
    // SAFETY: `params_zeroed_in_place` writes every field.
    unsafe {
        S::params_zeroed_in_place(b.as_mut_ptr());
        b.assume_init()
    }
}

/// What every model here offers, so one loop trains both.
trait Translator: Seq2Seq + Params<Scalar = f32> + Sync + Send + Sized {
    fn init(seed: u64) -> Self;
    fn src(tokens: &[u32; N]) -> [[f32; 1]; N];
    fn greedy(&self, src: &[[f32; 1]; N]) -> rnn::seq2seq::Decoded<M>;
    fn beam(&self, src: &[[f32; 1]; N]) -> rnn::seq2seq::Decoded<M>;
    fn grad(&self, src: &[[f32; 1]; N], tgt: &[u32; M], grads: &mut Self) -> f64;
}

macro_rules! translator {
    ($t:ident, $tape:ident) => {
        impl Translator for $t {
            fn init(seed: u64) -> Self {
                $t::init(seed)
            }
            fn src(tokens: &[u32; N]) -> [[f32; 1]; N] {
                $t::source(tokens).expect("ids from the vocabulary")
            }
            fn greedy(&self, src: &[[f32; 1]; N]) -> rnn::seq2seq::Decoded<M> {
                self.translate(src)
            }
            fn beam(&self, src: &[[f32; 1]; N]) -> rnn::seq2seq::Decoded<M> {
                *self.beam_search::<4>(src, 0.0).best()
            }
            fn grad(&self, src: &[[f32; 1]; N], tgt: &[u32; M], grads: &mut Self) -> f64 {
                let mut tape = Box::new($tape::new());
                self.loss_and_grad(src, tgt, &mut tape, grads)
                    .expect("ids from the vocabulary")
            }
        }
    };
}
translator!(Attentive, AttentiveTape);
translator!(Plain, PlainTape);

struct Data {
    train: Vec<([u32; N], [u32; M])>,
    test: Vec<([u32; N], [u32; M], String)>,
}

/// Accuracy on the held-out set: exact sequences, characters.
fn accuracy<S: Translator>(model: &S, data: &Data, beam: bool) -> (f64, f64) {
    let (mut exact, mut chars) = (0, 0);
    for (s, t, _) in &data.test {
        let src = S::src(s);
        let d = if beam {
            model.beam(&src)
        } else {
            model.greedy(&src)
        };
        let want = &t[..10];
        exact += usize::from(d.tokens() == want && d.ended);
        chars += want
            .iter()
            .zip(d.tokens().iter().chain(std::iter::repeat(&END)))
            .filter(|(a, b)| a == b)
            .count();
    }
    let n = data.test.len() as f64;
    (exact as f64 / n, chars as f64 / (10.0 * n))
}

/// Trains on two threads (each half of every batch, gradients summed), Adam, batch 32.
fn train<S: Translator>(name: &str, data: &Data, epochs: usize, seed: u64) -> (Box<S>, f64) {
    let mut model = Box::new(S::init(seed));
    let mut opt = Box::new(Adam::<S>::new(0.005));
    let t0 = Instant::now();
    let mut rng = Rng::new(seed + 100);
    let mut order: Vec<usize> = (0..data.train.len()).collect();
    for epoch in 0..epochs {
        rng.shuffle(&mut order);
        let mut loss = 0.0;
        for batch in order.chunks(32) {
            let m = &*model;
            let (a, b) = batch.split_at(batch.len() / 2);
            let work = |part: &[usize]| {
                let mut g = zeroed::<S>();
                let mut l = 0.0;
                for &i in part {
                    let (s, t) = &data.train[i];
                    l += m.grad(&S::src(s), t, &mut g);
                }
                (g, l)
            };
            let ((mut g, la), (g2, lb)) = std::thread::scope(|sc| {
                let h = sc.spawn(|| work(b));
                (work(a), h.join().expect("a worker"))
            });
            let scale = 1.0 / batch.len() as f32;
            for k in 0..S::PARAM_TENSORS {
                for (x, y) in g.param_tensor_mut(k).iter_mut().zip(g2.param_tensor(k)) {
                    *x = (*x + *y) * scale;
                }
            }
            opt.step(&mut model, &g);
            loss += la + lb;
        }
        let l = loss / data.train.len() as f64;
        if !l.is_finite() {
            eprintln!("{name}: the loss diverged (epoch {})", epoch + 1);
            std::process::exit(1);
        }
        let (acc, _) = accuracy(&*model, data, false);
        println!(
            "  {name:<10} epoch {:>2}: loss {l:.4} per sequence, held-out exact match {:.1} %",
            epoch + 1,
            100.0 * acc
        );
    }
    (model, t0.elapsed().as_secs_f64())
}

fn main() -> std::io::Result<()> {
    let args: Args = clap::Parser::parse();
    assert_eq!(WORDS.len(), 65, "the embedding's vocabulary");
    assert_eq!((Attentive::START, Attentive::END), (START, END));
    let mut rng = Rng::new(7);
    let data = Data {
        train: (0..args.train)
            .map(|_| {
                let (s, t, _) = example(&mut rng, false);
                (s, t)
            })
            .collect(),
        test: (0..args.test).map(|_| example(&mut rng, true)).collect(),
    };
    println!(
        "dates in words -> ISO: {} training and {} held-out examples (held-out dates never trained on)",
        data.train.len(),
        data.test.len()
    );
    println!(
        "`Attentive`: {} parameters; `Plain`: {}",
        Attentive::PARAM_COUNT,
        Plain::PARAM_COUNT
    );
    let (att, t_att) = train::<Attentive>("attention", &data, args.epochs, 1);
    let (plain, t_plain) = train::<Plain>("plain", &data, args.epochs, 1);
    let rows = [
        (
            "with attention",
            accuracy(&*att, &data, false),
            accuracy(&*att, &data, true),
            t_att,
        ),
        (
            "without attention",
            accuracy(&*plain, &data, false),
            accuracy(&*plain, &data, true),
            t_plain,
        ),
    ];
    println!();
    println!("| model | exact match (greedy) | characters (greedy) | exact match (beam, K = 4) | training time |");
    println!("|---|---:|---:|---:|---:|");
    for (name, (e, c), (eb, _), t) in rows {
        println!(
            "| {name} | {:.2} % | {:.2} % | {:.2} % | {t:.1} s |",
            100.0 * e,
            100.0 * c,
            100.0 * eb
        );
    }
    // The firmware's reference phrases (held-out dates).
    let mut right = 0;
    for (words, iso) in dates::PHRASES {
        let date: Vec<u32> = iso
            .split('-')
            .map(|p| p.parse().expect("an ISO date"))
            .collect();
        assert!(
            held_out((date[0], date[1], date[2])),
            "{iso} is a held-out date"
        );
        let s = dates::source(words).expect("known words");
        let d = att.translate(&Attentive::src(&s));
        right += usize::from(text(d.tokens()) == iso && d.ended);
        println!("  {words:<50} -> {}", text(d.tokens()));
    }
    println!(
        "reference phrases right: {right} of {}",
        dates::PHRASES.len()
    );
    std::fs::create_dir_all(&args.out)?;
    let weights = args.out.join("translator.safetensors");
    rnn::files::save_seq2seq(&*att, &weights, rnn::Layout::Keras)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    println!("weights: {}", weights.display());

    // One attention matrix: target characters (rows) over source words (columns).
    let (s, _, _) = data
        .test
        .iter()
        .find(|e| e.2.starts_with("the "))
        .unwrap_or(&data.test[0]);
    let mut a = [[0.0f32; N]; M];
    let d = att.translate_with_attention(&Attentive::src(s), &mut a);
    let out = text(d.tokens());
    let mut rows: Vec<String> = out.chars().map(|c| c.to_string()).collect();
    if d.ended {
        rows.push("<end>".into());
    }
    let row_refs: Vec<&str> = rows.iter().map(|r| r.as_str()).collect();
    let cols: Vec<&str> = s.iter().map(|&w| WORDS[w as usize]).collect();
    let values: Vec<f64> = a[..rows.len()]
        .iter()
        .flat_map(|r| r.iter().map(|&v| f64::from(v)))
        .collect();
    let title = format!(
        "attention: {}",
        cols.iter()
            .filter(|w| **w != "<pad>")
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    );
    let map = Heatmap {
        title: &title,
        values: &values,
        rows: &row_refs,
        cols: &cols,
        cell: 36,
    };
    let path = args.out.join("attention.png");
    write_heatmap_png(&map, &path)?;
    println!("attention matrix: {}", path.display());
    Ok(())
}
