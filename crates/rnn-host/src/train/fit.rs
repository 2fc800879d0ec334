//! [`fit`] and [`evaluate`]: mini-batches over a team of threads that lives for the whole call.

use super::checkpoint::{self, SaveWhen};
use super::progress::Progress;
use super::team::{self, Team};
use super::{add_params, auto_threads, check_set, check_steps};
use super::{Dataset, FitConfig, History, TrainError};
use rayon::prelude::*;
use rnn_core::loss::{accumulate_dropout_with, sequence_loss, Loss, Steps};
use rnn_core::optim::Optimizer;
use rnn_core::{Cell, Model, Real, Rng, Tape};

/// A worker's scratch: its gradient accumulator, tape and output-gradient buffer (on the
/// heap, so a large model never sits on a worker's stack).
struct Worker<M: Model, const N: usize> {
    grads: Box<M>,
    tape: Box<Tape<M, N>>,
    dys: Box<[M::Output; N]>,
}

impl<M: Model, const N: usize> Worker<M, N> {
    fn new() -> Self {
        Worker {
            grads: crate::boxed::zeros(),
            tape: crate::boxed::tape(),
            dys: crate::boxed::array(M::zero_output()),
        }
    }
}

/// The seed of sample `i`'s dropout masks in `epoch`: a stream of its own (not the shuffling
/// one), with the epoch and the sample mixed in.
fn dropout_seed(seed: u64, epoch: usize, i: usize) -> u64 {
    let a = Rng::new(seed ^ 0xd809_7a1e_5eed_0000).next_u64();
    a ^ (epoch as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9)
        ^ (i as u64).wrapping_mul(0x94d0_49bb_1331_11eb)
}

/// Whether every parameter is a finite number.
fn all_finite<M: Model>(m: &M) -> bool {
    (0..M::TENSORS).all(|k| m.tensor(k).iter().all(|v| v.is_finite()))
}

/// The pool's size: `requested`, or [`auto_threads`] for 0; never more than there is work.
fn threads<M: Model, const N: usize>(requested: usize, batch: usize) -> usize {
    match requested {
        0 => auto_threads::<M, N>(batch),
        n => n,
    }
    .min(batch.max(1))
}

/// Stack bytes of a training thread: room for the model's temporaries (the transposed weights of
/// a step's backward pass are the size of the weights).
fn stack<M: Model>() -> usize {
    (2 << 20) + 4 * core::mem::size_of::<M>()
}

/// A pool of `n` workers for one call, with stacks that fit the model's temporaries (the
/// transposed weights of a step's backward pass are the size of the weights).
fn pool<M: Model>(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .stack_size(stack::<M>())
        .thread_name(|i| format!("rnn-fit-{i}"))
        .build()
        .expect("the OS refused to start the training threads")
}

/// Mean loss of `model` over a data set (as Keras's `evaluate`), spread over `threads`
/// workers (0 = automatic, see [`FitConfig::threads`]).
pub fn evaluate<M: Model + Sync, const N: usize>(
    model: &M,
    data: Dataset<'_, M, N>,
    steps: Steps,
    loss: Loss,
    threads_req: usize,
) -> Result<f64, TrainError> {
    let k = check_steps(steps, N)?;
    check_set("evaluation", &data, k)?;
    let nt = threads::<M, N>(threads_req, data.len());
    Ok(mean_loss(
        model,
        data,
        steps,
        loss,
        k,
        match (nt > 1).then(|| pool::<M>(nt)).as_ref() {
            Some(p) => Runner::Pool(p),
            None => Runner::One,
        },
    ))
}

/// Where [`mean_loss`] runs its parts.
enum Runner<'a, 'b> {
    /// A rayon pool (`evaluate`).
    Pool(&'a rayon::ThreadPool),
    /// `fit`'s team.
    Team(&'a Team<'b>),
    /// This thread.
    One,
}

/// The mean loss over `data`, in parts on `runner`'s threads (or this thread); the parts'
/// sums are added in order, so the result does not depend on timing.
fn mean_loss<M: Model + Sync, const N: usize>(
    model: &M,
    data: Dataset<'_, M, N>,
    steps: Steps,
    loss: Loss,
    k: usize,
    runner: Runner<'_, '_>,
) -> f64 {
    let sum = |range: core::ops::Range<usize>| {
        let mut tape = crate::boxed::tape::<M, N>();
        let mut dys = crate::boxed::array::<_, N>(M::zero_output());
        let mut sum = 0.0;
        for i in range {
            model.forward_train(&data.inputs[i], &mut tape);
            let t = &data.targets[i * k..(i + 1) * k];
            sum += sequence_loss(&tape, t, steps, loss, M::Scalar::ONE, &mut dys)
                .0
                .to_f64();
        }
        sum
    };
    let part = |c: usize, nt: usize| {
        let chunk = data.len().div_ceil(nt);
        sum((c * chunk).min(data.len())..((c + 1) * chunk).min(data.len()))
    };
    let total = match runner {
        Runner::One => sum(0..data.len()),
        Runner::Pool(pool) => {
            let nt = pool.current_num_threads();
            let parts: Vec<f64> =
                pool.install(|| (0..nt).into_par_iter().map(|c| part(c, nt)).collect());
            parts.iter().sum()
        }
        Runner::Team(team) => {
            let nt = team.len();
            let parts: Vec<std::sync::Mutex<f64>> =
                (0..nt).map(|_| std::sync::Mutex::new(0.0)).collect();
            team.run(&|c| *parts[c].lock().expect("a training thread panicked") = part(c, nt));
            parts
                .into_iter()
                .map(|p| p.into_inner().expect("a training thread panicked"))
                .sum()
        }
    };
    total / data.len() as f64
}

/// Mini-batch training with validation, early stopping and progress.
///
/// Each batch's gradient is the mean over its sequences (computed by the workers: one tape
/// and one gradient accumulator each, allocated once per call; the steps themselves allocate
/// nothing), then one optimizer step, as Keras's `fit` with `shuffle=True`. The reported
/// epoch loss is the mean of the batch losses. Arguments and the optimizer's hyper-parameters
/// are checked first; a bad one is a [`TrainError`]. The first NaN or infinity (in a batch's
/// loss or gradient, in the weights after a step, in the validation loss) stops training with
/// [`TrainError::NonFinite`], naming the epoch and batch; the model then holds the last finite
/// weights, or the best epoch's under early stopping.
pub fn fit<M: Model + Sync + Send, O: Optimizer<M>, const N: usize>(
    model: &mut M,
    opt: &mut O,
    train: Dataset<'_, M, N>,
    valid: Option<Dataset<'_, M, N>>,
    cfg: &FitConfig,
) -> Result<History, TrainError> {
    if cfg.batch_size == 0 {
        return Err(TrainError::BatchSize);
    }
    let k = check_steps(cfg.steps, N)?;
    check_set("training", &train, k)?;
    if let Some(v) = &valid {
        check_set("validation", v, k)?;
    }
    opt.check()?;
    let nt = threads::<M, N>(cfg.threads, cfg.batch_size);
    // Each worker's tape and gradients, and its share of the batch loss.
    let mut slots: Vec<std::sync::Mutex<(Worker<M, N>, f64)>> = (0..nt)
        .map(|_| std::sync::Mutex::new((Worker::new(), 0.0)))
        .collect();
    let mut order = vec![0usize; train.len()];
    let mut batches = rnn_core::data::Batches::new(&mut order, cfg.batch_size);
    let mut rng = Rng::new(cfg.seed);
    let mut hist = History::default();
    // The weights before the current batch's step, to restore if it makes them non-finite.
    let mut before = crate::boxed::zeros::<M>();
    let mut best = crate::boxed::zeros::<M>();
    // The transposed weights live on the heap too, refreshed in place every batch.
    let mut tr = crate::boxed::transposed(&*model);
    let mut have_best = false;
    let mut best_val = f64::INFINITY;
    // Stops with the last finite weights, or the best epoch's under early stopping.
    let fail = |model: &mut M, best: &M, have_best: bool, epoch: usize, batch, what| {
        let kept = if cfg.patience.is_some() && have_best {
            model.copy_from(best);
            "the best epoch's weights"
        } else {
            "the weights before that batch"
        };
        Err(TrainError::NonFinite {
            epoch: epoch + 1,
            batch,
            what,
            kept,
        })
    };
    let mut since_best = 0;
    let n_batches = train.len().div_ceil(cfg.batch_size);
    let ck_err = |e: crate::files::FileError| TrainError::Checkpoint(e.to_string());
    let mut start = 0;
    if let Some(path) = &cfg.resume {
        let p = checkpoint::load(path, model, opt, &mut best, cfg.seed).map_err(ck_err)?;
        (start, hist) = (p.epochs_done, p.hist);
        (best_val, since_best, have_best) = (p.best_val, p.since_best, p.have_best);
        // The shuffles of the epochs done, replayed: the next epoch sees the same order.
        for _ in 0..start {
            let _ = batches.epoch(&mut rng);
        }
    }
    // This thread is member 0 of the team and takes its share of every batch (see `team`).
    let body = |team: &Team<'_>| -> Result<History, TrainError> {
        for epoch in start..cfg.epochs {
            let t0 = std::time::Instant::now();
            let progress = Progress::epoch(cfg.verbose, epoch, cfg.epochs, n_batches);
            let mut epoch_loss = 0.0;
            for (bi, batch) in batches.epoch(&mut rng).enumerate() {
                let scale = M::Scalar::from_f64(1.0 / batch.len() as f64);
                let m: &M = model;
                // The weights are fixed within a batch: transpose them once for every sequence.
                // SAFETY: `tr` is a valid, aligned `M::Transposed` (of plain floats, no drop).
                unsafe { m.chain().transposed_in_place(&mut *tr) };
                let tr = &*tr;
                let run = |w: &mut Worker<M, N>, idx: &[usize]| {
                    let mut l = 0.0;
                    for &i in idx {
                        let t = &train.targets[i * k..(i + 1) * k];
                        // Dropout masks: one seeded stream per (seed, epoch, sample), so the
                        // run does not depend on the number of threads.
                        let mut drops = Rng::new(dropout_seed(cfg.seed, epoch, i));
                        let drops = <M::Chain as Cell<M::Scalar>>::DROPOUT.then_some(&mut drops);
                        l += accumulate_dropout_with(
                            m,
                            tr,
                            &train.inputs[i],
                            t,
                            cfg.steps,
                            cfg.loss,
                            scale,
                            &mut w.tape,
                            &mut w.dys,
                            &mut w.grads,
                            drops,
                        )
                        .to_f64();
                    }
                    l
                };
                let batch_loss_sum: f64 = match nt {
                    // One worker: this thread, no hand-off at all.
                    1 => run(
                        &mut slots[0].get_mut().expect("a training worker panicked").0,
                        batch,
                    ),
                    _ => {
                        // Member `i` takes chunk `i`: a fixed assignment, so results do not
                        // depend on timing.
                        let per = batch.len().div_ceil(nt);
                        let slots = &slots;
                        team.run(&|i| {
                            let lo = (i * per).min(batch.len());
                            let hi = (lo + per).min(batch.len());
                            let mut w = slots[i].lock().expect("a training worker panicked");
                            let l = run(&mut w.0, &batch[lo..hi]);
                            w.1 = l;
                        });
                        slots
                            .iter()
                            .map(|w| w.lock().expect("a training worker panicked").1)
                            .sum()
                    }
                };
                epoch_loss += batch_loss_sum / batch.len() as f64;
                let (first, rest) = slots.split_at_mut(1);
                let first = &mut first[0].get_mut().expect("a training worker panicked").0;
                for w in rest.iter_mut() {
                    let w = &mut w.get_mut().expect("a training worker panicked").0;
                    add_params(&mut *first.grads, &w.grads);
                    w.grads.set_zero();
                }
                let bad = if !batch_loss_sum.is_finite() {
                    Some("training loss")
                } else if !all_finite(&*first.grads) {
                    Some("gradient")
                } else {
                    before.copy_from(model);
                    opt.step(model, &first.grads);
                    (!all_finite(model)).then(|| {
                        model.copy_from(&before);
                        "weights after the optimizer step"
                    })
                };
                first.grads.set_zero();
                if let Some(what) = bad {
                    return fail(model, &best, have_best, epoch, Some(bi + 1), what);
                }
                progress.batch(bi + 1, epoch_loss / (bi + 1) as f64);
            }
            let loss = epoch_loss / n_batches as f64;
            hist.loss.push(loss);
            let mut line = format!("Epoch {}/{}: loss {:.5}", epoch + 1, cfg.epochs, loss);
            let mut stop = false;
            if let Some(v) = valid {
                let runner = if nt > 1 {
                    Runner::Team(team)
                } else {
                    Runner::One
                };
                let vl = mean_loss(model, v, cfg.steps, cfg.loss, k, runner);
                if !vl.is_finite() {
                    return fail(model, &best, have_best, epoch, None, "validation loss");
                }
                hist.val_loss.push(vl);
                line += &format!(" - val_loss {vl:.5}");
                if vl < best_val {
                    best_val = vl;
                    hist.best_epoch = epoch;
                    best.copy_from(model);
                    have_best = true;
                    since_best = 0;
                } else {
                    since_best += 1;
                    // Keras: stop once `wait >= patience` (and never after the first epoch).
                    if cfg.patience.is_some_and(|p| since_best >= p) && epoch > 0 {
                        stop = true;
                    }
                }
            } else {
                hist.best_epoch = epoch;
            }
            progress.finish(&format!("{line} ({:.1}s)", t0.elapsed().as_secs_f64()));
            if let Some(c) = &cfg.checkpoint {
                let improved = valid.is_none() || hist.best_epoch == epoch;
                if c.when == SaveWhen::EveryEpoch || improved {
                    let p = checkpoint::Progress {
                        epochs_done: epoch + 1,
                        hist: hist.clone(),
                        best_val,
                        since_best,
                        have_best,
                    };
                    checkpoint::save(&c.path, model, opt, &best, cfg.seed, &p).map_err(ck_err)?;
                }
            }
            if stop {
                // Keras's `restore_best_weights`: only when training stops early.
                model.copy_from(&best);
                break;
            }
        }
        Ok(hist)
    };
    team::with_team(nt, stack::<M>(), body)
}
