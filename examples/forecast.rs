// Over 400 lines: the whole forecasting chapter (data, five models, two baselines, 10-step forecasts, plots) in one runnable file.
//! The forecasting chapter, end to end: train, evaluate against baselines, save plots.
//!
//! 10,000 synthetic series (two sines plus noise, the seeds' `generate_time_series`), 50 steps
//! in, the 51st to predict; 7,000 / 2,000 / 1,000 train / validation / test. Prints validation
//! MSE for the naive last-value baseline, a linear model over the 50 inputs, SimpleRNN(1), two
//! stacked SimpleRNN(20) + Dense, and the card model `lstm(1, 16) -> gru(16) -> dense(1)`; then
//! forecasts 10 steps ahead, iteratively, with a 10-wide output, and with Monte Carlo dropout
//! (100 passes of the 10-wide model trained with `dropout(0.2)`: mean and spread); writes PNG
//! plots.
//!
//! ```text
//! cargo run --release --example forecast [-- --epochs 20 --out target/forecast --csv FILE]
//! ```
//! `--csv FILE` reads the series from a CSV file instead (one series per row, at least 61
//! values each, no header), through `rnn::csv`.

use rnn::data::{generate_time_series, split3};
use rnn::loss::{Loss, Steps};
use rnn::optim::Adam;
use rnn::plot::{write_png, Chart, Series};
use rnn::train::{evaluate, fit, Dataset, FitConfig, History};
use rnn::{rnn_model, Model, Rng};
use std::path::PathBuf;
use std::time::Instant;

rnn_model! {
    /// Linear regression over the whole window: one dense step on 50 inputs.
    pub struct Linear { dense(50, 1) }
    /// The smallest recurrent model: one SimpleRNN unit.
    pub struct Rnn1 { rnn(1, 1) }
    /// Two stacked SimpleRNN(20) and a dense head.
    pub struct DeepRnn { rnn(1, 20) -> rnn(20) -> dense(1) }
    /// The card model.
    pub struct Card { lstm(1, 16) -> gru(16) -> dense(1) }
    /// The card model with a 10-wide output: the next 10 values at once.
    pub struct Card10 { lstm(1, 16) -> gru(16) -> dense(10) }
    /// The same with dropout before its head, for Monte Carlo dropout forecasts.
    pub struct Card10Mc { lstm(1, 16) -> gru(16) -> dropout(0.2) -> dense(10) }
}

const N: usize = 50;
const AHEAD: usize = 10;

/// Train five models on 10,000 series, compare them with baselines, plot the results.
#[derive(clap::Parser)]
struct Args {
    /// Epochs per model.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Folder for the plots.
    #[arg(long, default_value = "target/forecast")]
    out: PathBuf,
    /// Read the series from this CSV file (one series per row, or one long column).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Worker threads per batch (0 = automatic).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// `count` series of `len` values: generated (seeded) or the first `len` of each CSV row.
/// Up to `count` series of `len` values, flattened: generated (seeded), or from the CSV file.
///
/// A CSV file is either one series per row (rows of at least `len` values; a header line is
/// accepted) or one long series in a single column, cut into overlapping windows of `len`.
/// Returns fewer than `count` series when the file holds fewer.
fn series(args: &Args, seed: u64, count: usize, len: usize) -> Vec<f32> {
    let Some(path) = &args.csv else {
        let mut v = vec![0.0f32; count * len];
        generate_time_series(&mut Rng::new(seed), count, len, &mut v);
        return v;
    };
    let t = rnn::csv::read_csv(path, false)
        .or_else(|_| rnn::csv::read_csv(path, true))
        .unwrap_or_else(|e| {
            eprintln!("{}: {e}", path.display());
            std::process::exit(1)
        });
    if t.width() == 1 {
        let s: Vec<f32> = t.rows.iter().map(|r| r[0] as f32).collect();
        return s.windows(len).take(count).flatten().copied().collect();
    }
    if t.width() < len {
        return Vec::new();
    }
    t.rows
        .iter()
        .take(count)
        .flat_map(|r| r[..len].iter().map(|&v| v as f32))
        .collect()
}

fn windows(raw: &[f32], len: usize) -> Vec<[[f32; 1]; N]> {
    raw.chunks(len)
        .map(|s| core::array::from_fn(|t| [s[t]]))
        .collect()
}

type Part<'a> = (&'a [[[f32; 1]; N]], &'a [[f32; 1]]);

/// The three splits as data sets of any model with one input and one output per step.
#[allow(clippy::type_complexity)]
fn split_sets<'a, M: Model<Input = [f32; 1], Output = [f32; 1]>>(
    (tr, va, te): (Part<'a>, Part<'a>, Part<'a>),
) -> (Dataset<'a, M, N>, Dataset<'a, M, N>, Dataset<'a, M, N>) {
    (
        Dataset {
            inputs: tr.0,
            targets: tr.1,
        },
        Dataset {
            inputs: va.0,
            targets: va.1,
        },
        Dataset {
            inputs: te.0,
            targets: te.1,
        },
    )
}

fn fail(what: &str, e: rnn::train::TrainError) -> ! {
    eprintln!("{what}: {e}");
    std::process::exit(1)
}

fn train<M: Model<Scalar = f32> + Sync + Send, const S: usize>(
    name: &str,
    model: &mut M,
    lr: f64,
    train: Dataset<'_, M, S>,
    valid: Dataset<'_, M, S>,
    args: &Args,
) -> (History, f64, f64) {
    let t0 = Instant::now();
    eprintln!("\n== {name} ({} parameters)", M::PARAM_COUNT);
    let cfg = FitConfig {
        epochs: args.epochs,
        batch_size: 32,
        seed: 7,
        threads: args.threads,
        ..FitConfig::default()
    };
    let h =
        fit(model, &mut Adam::new(lr), train, Some(valid), &cfg).unwrap_or_else(|e| fail(name, e));
    let secs = t0.elapsed().as_secs_f64();
    let v = evaluate(model, valid, Steps::Last, Loss::Mse, args.threads)
        .unwrap_or_else(|e| fail(name, e));
    (h, v, secs)
}

/// The one-step table.
fn report(rows: &[(String, usize, f64, f64, f64)], args: &Args) {
    println!(
        "\nValidation / test MSE, {} epochs, Adam, batch 32:\n",
        args.epochs
    );
    println!("| model | params | valid MSE | test MSE | train time |");
    println!("|---|---:|---:|---:|---:|");
    for (name, p, v, t, s) in rows {
        println!("| {name} | {p} | {v:.5} | {t:.5} | {s:.1} s |");
    }
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    std::fs::create_dir_all(&args.out).expect("create the output folder");
    let t_all = Instant::now();

    // ---- data: 10,000 series of 51 steps, 7,000 / 2,000 / 1,000 ----
    let raw = series(&args, 42, 10_000, N + 1);
    let xs = windows(&raw, N + 1);
    let ys: Vec<[f32; 1]> = raw.chunks(N + 1).map(|s| [s[N]]).collect();
    // 7,000 / 2,000 / 1,000 for the generated 10,000; the same 70 / 20 / 10 % for a file.
    let (n_train, n_valid) = (xs.len() * 7 / 10, xs.len() * 2 / 10);
    if n_valid == 0 {
        eprintln!("need at least 10 series of {} values", N + 1);
        std::process::exit(1);
    }
    println!(
        "{} series: {n_train} train, {n_valid} validation, {} test",
        xs.len(),
        xs.len() - n_train - n_valid
    );
    let (x_train, x_valid, x_test) = split3(&xs, n_train, n_valid);
    let (y_train, y_valid, y_test) = split3(&ys, n_train, n_valid);

    let mut rows: Vec<(String, usize, f64, f64, f64)> = Vec::new(); // name, params, valid, test, secs

    // ---- naive baseline: predict the last value ----
    let naive = |x: &[[[f32; 1]; N]], y: &[[f32; 1]]| {
        x.iter()
            .zip(y)
            .map(|(x, y)| ((x[N - 1][0] - y[0]) as f64).powi(2))
            .sum::<f64>()
            / x.len() as f64
    };
    rows.push((
        "naive (last value)".into(),
        0,
        naive(x_valid, y_valid),
        naive(x_test, y_test),
        0.0,
    ));

    // ---- linear model over the 50 inputs: one dense step on the whole window ----
    let flat = |x: &[[[f32; 1]; N]]| -> Vec<[[f32; N]; 1]> {
        x.iter()
            .map(|s| [core::array::from_fn(|t| s[t][0])])
            .collect()
    };
    let (lt, lv, ls) = (flat(x_train), flat(x_valid), flat(x_test));
    let mut linear = Linear::init(1);
    let (_, v, secs) = train(
        "linear",
        &mut linear,
        1e-3,
        Dataset {
            inputs: &lt,
            targets: y_train,
        },
        Dataset {
            inputs: &lv,
            targets: y_valid,
        },
        &args,
    );
    let t = evaluate(
        &linear,
        Dataset {
            inputs: &ls,
            targets: y_test,
        },
        Steps::Last,
        Loss::Mse,
        args.threads,
    )
    .unwrap_or_else(|e| fail("linear", e));
    rows.push((
        "linear, dense(50, 1)".into(),
        Linear::PARAM_COUNT,
        v,
        t,
        secs,
    ));

    // ---- recurrent models ----
    let tr = |_: &str| ((x_train, y_train), (x_valid, y_valid), (x_test, y_test));
    let mut rnn1 = Rnn1::init(2);
    let (d_tr, d_va, d_te) = split_sets::<Rnn1>(tr("rnn1"));
    let (_, v, secs) = train("rnn(1, 1)", &mut rnn1, 5e-3, d_tr, d_va, &args);
    rows.push((
        "SimpleRNN(1), rnn(1, 1)".into(),
        Rnn1::PARAM_COUNT,
        v,
        evaluate(&rnn1, d_te, Steps::Last, Loss::Mse, 0).unwrap_or_else(|e| fail("rnn1", e)),
        secs,
    ));

    let mut deep = DeepRnn::init(3);
    let (d_tr, d_va, d_te) = split_sets::<DeepRnn>(tr("deep"));
    let (_, v, secs) = train(
        "rnn(1, 20) -> rnn(20) -> dense(1)",
        &mut deep,
        1e-3,
        d_tr,
        d_va,
        &args,
    );
    rows.push((
        "rnn(1, 20) -> rnn(20) -> dense(1)".into(),
        DeepRnn::PARAM_COUNT,
        v,
        evaluate(&deep, d_te, Steps::Last, Loss::Mse, 0).unwrap_or_else(|e| fail("deep", e)),
        secs,
    ));

    let mut card = Card::init(4);
    let (d_tr, d_va, d_te) = split_sets::<Card>(tr("card"));
    let (card_hist, v, secs) = train(
        "lstm(1, 16) -> gru(16) -> dense(1)",
        &mut card,
        1e-3,
        d_tr,
        d_va,
        &args,
    );
    let card_valid = v;
    // The trained card model, for the browser page (`web/`; `web/weights/forecast.safetensors`
    // is a copy of this file).
    let card_file = args.out.join("card.safetensors");
    if let Err(e) = rnn::files::save(&card, &card_file, rnn::Layout::Keras) {
        eprintln!("{}: {e}", card_file.display());
    }
    rows.push((
        "lstm(1, 16) -> gru(16) -> dense(1)".into(),
        Card::PARAM_COUNT,
        v,
        evaluate(&card, d_te, Steps::Last, Loss::Mse, 0).unwrap_or_else(|e| fail("card", e)),
        secs,
    ));

    // ---- the card model in integers (rnn::quant): int8 weights, int16 activations ----
    // Post-training quantization, calibrated on the training inputs; the validation set run
    // through the integer step only.
    let calib: Vec<[f32; 1]> = x_train.iter().flatten().copied().collect();
    let (qcard, exp) = rnn::quant::quantize(&card, &calib).unwrap_or_else(|e| {
        eprintln!("quantize: {e}");
        std::process::exit(1)
    });
    let int_mse = |xs: &[[[f32; 1]; N]], ys: &[[f32; 1]]| {
        use rnn::quant::QCell;
        let (mut se, mut worst) = (0.0f64, 0.0f64);
        for (x, y) in xs.iter().zip(ys) {
            let mut s = qcard.new_state();
            let mut out = [0i32; 1];
            for v in x {
                out = qcard.step(&mut s, &[rnn::quant::quantize_input(v[0], exp)]);
            }
            let yq = rnn::quant::dequantize(out[0]);
            se += (yq - y[0] as f64).powi(2);
            worst = worst.max((yq - card.forward_last(x)[0] as f64).abs());
        }
        (se / xs.len() as f64, worst)
    };
    let ((q_valid, worst), (q_test, _)) = (int_mse(x_valid, y_valid), int_mse(x_test, y_test));
    rows.push((
        "the same in integers (int8 weights, int16 activations)".into(),
        Card::PARAM_COUNT,
        q_valid,
        q_test,
        0.0,
    ));
    println!(
        "\nint8 card model: validation MSE {q_valid:.5} against f32 {card_valid:.5} ({:+.1} %), worst |int - f32| output over the validation set {worst:.4} (input scale 2^{exp})",
        100.0 * (q_valid / card_valid - 1.0)
    );

    report(&rows, &args);

    // ---- learning curves of the card model ----
    let epochs: Vec<f64> = (1..=card_hist.loss.len()).map(|e| e as f64).collect();
    let curves = args.out.join("learning_curves.png");
    write_png(
        &Chart {
            title: "Card model lstm(1,16) -> gru(16) -> dense(1): MSE per epoch",
            x_label: "epoch",
            y_label: "MSE",
            log_y: true,
            width: 800,
            height: 500,
            series: &[
                Series {
                    label: "training loss",
                    x: &epochs,
                    y: &card_hist.loss,
                    color: [31, 119, 180],
                    marker: true,
                },
                Series {
                    label: "validation loss",
                    x: &epochs,
                    y: &card_hist.val_loss,
                    color: [255, 127, 14],
                    marker: true,
                },
            ],
        },
        &curves,
    )
    .expect("write learning curves");

    // ---- 10 steps ahead: 10,000 series of 60 steps ----
    let raw60 = series(&args, 43, 10_000, N + AHEAD);
    let xs60 = windows(&raw60, N + AHEAD);
    let ys60: Vec<[f32; AHEAD]> = raw60
        .chunks(N + AHEAD)
        .map(|s| core::array::from_fn(|k| s[N + k]))
        .collect();
    if xs60.len() < 10 {
        println!(
            "\n(no 10-steps-ahead part: the file's series are shorter than {} values)",
            N + AHEAD
        );
        return;
    }
    let (n60_train, n60_valid) = (xs60.len() * 7 / 10, xs60.len() * 2 / 10);
    let (x60_train, x60_valid, _) = split3(&xs60, n60_train, n60_valid);
    let (y60_train, y60_valid, _) = split3(&ys60, n60_train, n60_valid);
    let mse10 = |pred: &dyn Fn(&[[f32; 1]; N]) -> [f32; AHEAD]| {
        x60_valid
            .iter()
            .zip(y60_valid)
            .map(|(x, y)| {
                let p = pred(x);
                (0..AHEAD)
                    .map(|k| ((p[k] - y[k]) as f64).powi(2))
                    .sum::<f64>()
                    / AHEAD as f64
            })
            .sum::<f64>()
            / x60_valid.len() as f64
    };
    let naive10 = mse10(&|x| [x[N - 1][0]; AHEAD]);
    // Iteratively: the one-step card model, its prediction fed back as the next input.
    let iterate = |x: &[[f32; 1]; N]| -> [f32; AHEAD] {
        let mut s = Card::zero_state();
        let mut y = [0.0];
        for v in x {
            y = card.step(&mut s, v);
        }
        let mut out = [0.0; AHEAD];
        for o in out.iter_mut() {
            *o = y[0];
            y = card.step(&mut s, &y);
        }
        out
    };
    let iter10 = mse10(&iterate);
    let mut card10 = Card10::init(5);
    let (_, v10, secs10) = train(
        "lstm(1, 16) -> gru(16) -> dense(10)",
        &mut card10,
        1e-3,
        Dataset {
            inputs: x60_train,
            targets: y60_train,
        },
        Dataset {
            inputs: x60_valid,
            targets: y60_valid,
        },
        &args,
    );
    let direct10 = mse10(&|x| card10.forward_last(x));
    assert!(
        (direct10 - v10).abs() < 1e-6 * (1.0 + v10),
        "evaluate() and forward_last() disagree"
    );

    // Monte Carlo dropout (the seeds' tip): the same head trained with dropout(0.2), then 100
    // passes with dropout on; their mean is the forecast and their spread its uncertainty.
    let mut mc = Card10Mc::init(5);
    let (_, _, secs_mc) = train(
        "lstm(1, 16) -> gru(16) -> dropout(0.2) -> dense(10)",
        &mut mc,
        1e-3,
        Dataset {
            inputs: x60_train,
            targets: y60_train,
        },
        Dataset {
            inputs: x60_valid,
            targets: y60_valid,
        },
        &args,
    );
    const PASSES: usize = 100;
    let mut mc_tape = Box::new(rnn::Tape::<Card10Mc, N>::new());
    let mut mc_rng = Rng::new(99);
    let mut mc_forecast = |x: &[[f32; 1]; N]| {
        let (mean, sd) = mc.predict_mc(x, PASSES, &mut mc_rng, &mut mc_tape);
        (mean[N - 1], sd[N - 1])
    };
    let mut inside = 0usize;
    let mc10 = x60_valid
        .iter()
        .zip(y60_valid)
        .map(|(x, y)| {
            let (m, sd) = mc_forecast(x);
            inside += (0..AHEAD)
                .filter(|&k| (y[k] - m[k]).abs() <= 2.0 * sd[k])
                .count();
            (0..AHEAD)
                .map(|k| ((m[k] - y[k]) as f64).powi(2))
                .sum::<f64>()
                / AHEAD as f64
        })
        .sum::<f64>()
        / x60_valid.len() as f64;
    let covered = inside as f64 / (x60_valid.len() * AHEAD) as f64;

    println!(
        "\n10 steps ahead (validation MSE over the 10 values, {} series of 60 steps):\n",
        x60_valid.len()
    );
    println!("| method | valid MSE |");
    println!("|---|---:|");
    println!("| naive (repeat the last value) | {naive10:.5} |");
    println!("| card model, iterated 10 times | {iter10:.5} |");
    println!(
        "| lstm(1, 16) -> gru(16) -> dense(10), 10-wide output ({secs10:.1} s) | {direct10:.5} |"
    );
    println!(
        "| the same with dropout(0.2), mean of {PASSES} Monte Carlo dropout passes ({secs_mc:.1} s) | {mc10:.5} |"
    );
    println!(
        "\nMonte Carlo dropout: {:.1} % of the true values lie within 2 standard deviations of the mean.",
        100.0 * covered
    );

    // ---- forecast plot ----
    let s = &x60_valid[0];
    let truth: Vec<f64> = (0..N)
        .map(|t| s[t][0] as f64)
        .chain(y60_valid[0].iter().map(|&v| v as f64))
        .collect();
    let tx: Vec<f64> = (0..N + AHEAD).map(|t| t as f64).collect();
    let fx: Vec<f64> = (N..N + AHEAD).map(|t| t as f64).collect();
    let it: Vec<f64> = iterate(s).iter().map(|&v| v as f64).collect();
    let di: Vec<f64> = card10.forward_last(s).iter().map(|&v| v as f64).collect();
    let (mc_mean, mc_sd) = mc_forecast(s);
    let mcm: Vec<f64> = mc_mean.iter().map(|&v| v as f64).collect();
    let band = |sign: f64| -> Vec<f64> {
        (0..AHEAD)
            .map(|k| (mc_mean[k] + sign as f32 * 2.0 * mc_sd[k]) as f64)
            .collect()
    };
    let (hi, lo) = (band(1.0), band(-1.0));
    let plot = args.out.join("forecast.png");
    write_png(
        &Chart {
            title: "10-step forecast of a validation series",
            x_label: "time step",
            y_label: "value",
            log_y: false,
            width: 800,
            height: 500,
            series: &[
                Series {
                    label: "actual",
                    x: &tx,
                    y: &truth,
                    color: [40, 40, 40],
                    marker: false,
                },
                Series {
                    label: "card model, iterated",
                    x: &fx,
                    y: &it,
                    color: [214, 39, 40],
                    marker: true,
                },
                Series {
                    label: "10-wide output",
                    x: &fx,
                    y: &di,
                    color: [44, 160, 44],
                    marker: true,
                },
                Series {
                    label: "MC dropout mean",
                    x: &fx,
                    y: &mcm,
                    color: [148, 103, 189],
                    marker: true,
                },
                Series {
                    label: "MC dropout mean +- 2 sd",
                    x: &fx,
                    y: &hi,
                    color: [197, 176, 213],
                    marker: false,
                },
                Series {
                    label: "",
                    x: &fx,
                    y: &lo,
                    color: [197, 176, 213],
                    marker: false,
                },
            ],
        },
        &plot,
    )
    .expect("write forecast plot");
    println!("\nPlots: {} and {}", curves.display(), plot.display());
    println!("Card model validation MSE {card_valid:.5} (Keras reaches 0.0027 with it in 20 epochs); total {:.0} s", t_all.elapsed().as_secs_f64());
}
