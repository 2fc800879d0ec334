//! Training checkpoints: the model, the optimizer's state, the best weights and the progress of
//! [`fit`](super::fit), in one safetensors file written atomically, so that a run resumed from
//! it gives the same result, bit for bit, as one that was never interrupted.
//!
//! The file holds the tensors `model/{layer}/...`, `optimizer/0/{layer}/...` and
//! `optimizer/1/{layer}/...` (the optimizer's model-shaped buffers), `best/{layer}/...` (the
//! best epoch's weights under early stopping), in Keras layout and the model's precision, and
//! in its header: the model's name, the epochs done, the shuffle seed, the history and the
//! early-stopping state, every float as the hex of its bits.

use super::History;
use crate::files::{self, write_atomic, FileError, LoadOptions, Tensors};
use rnn_core::optim::Optimizer;
use rnn_core::{Layout, Model};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// When [`fit`](super::fit) saves a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveWhen {
    /// After every epoch.
    EveryEpoch,
    /// After an epoch whose validation loss is the best so far (every epoch without
    /// validation data).
    OnImprovement,
}

/// Where and when [`fit`](super::fit) saves its checkpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The checkpoint file (replaced atomically each time).
    pub path: PathBuf,
    /// When to save it.
    pub when: SaveWhen,
}

/// The progress of a run, as saved and resumed.
pub(crate) struct Progress {
    pub epochs_done: usize,
    pub hist: History,
    pub best_val: f64,
    pub since_best: usize,
    pub have_best: bool,
}

fn names<M: Model>(prefix: &str) -> Vec<(String, String)> {
    M::LAYERS
        .iter()
        .map(|l| (format!("{prefix}/{}/", l.name), String::new()))
        .collect()
}

fn hex(v: f64) -> String {
    format!("{:016x}", v.to_bits())
}

fn hexes(v: &[f64]) -> String {
    v.iter().map(|&x| hex(x)).collect::<Vec<_>>().join(",")
}

fn bad(path: &Path, why: impl std::fmt::Display) -> FileError {
    FileError::Format(format!(
        "{}: not a usable checkpoint: {why}",
        path.display()
    ))
}

/// Writes the checkpoint atomically.
pub(crate) fn save<M: Model, O: Optimizer<M>>(
    path: &Path,
    model: &M,
    opt: &O,
    best: &M,
    seed: u64,
    p: &Progress,
) -> Result<(), FileError> {
    let mut t = Tensors::new::<M>();
    t.add(model, Layout::Keras, Some(&names::<M>("model")))?;
    let (buffers, counters) = opt.state();
    for (i, b) in buffers.iter().enumerate() {
        if let Some(b) = b {
            t.add(
                *b,
                Layout::Keras,
                Some(&names::<M>(&format!("optimizer/{i}"))),
            )?;
        }
    }
    if p.have_best {
        t.add(best, Layout::Keras, Some(&names::<M>("best")))?;
    }
    let meta: HashMap<String, String> = [
        ("rnn.checkpoint", "1".to_string()),
        ("model", M::NAME.to_string()),
        ("epochs_done", p.epochs_done.to_string()),
        ("seed", seed.to_string()),
        ("loss", hexes(&p.hist.loss)),
        ("val_loss", hexes(&p.hist.val_loss)),
        ("best_epoch", p.hist.best_epoch.to_string()),
        ("best_val", hex(p.best_val)),
        ("since_best", p.since_best.to_string()),
        ("have_best", p.have_best.to_string()),
        (
            "optimizer_buffers",
            buffers.iter().filter(|b| b.is_some()).count().to_string(),
        ),
        ("optimizer_counters", hexes(&counters)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let bytes = t.serialize(Some(meta))?;
    write_atomic(path, &bytes).map_err(|source| FileError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a checkpoint of a run with shuffle seed `seed` into `model`, `opt` and `best`;
/// returns the run's progress. Nothing is changed unless everything checks out (`model` and
/// the optimizer are written last).
pub(crate) fn load<M: Model, O: Optimizer<M>>(
    path: &Path,
    model: &mut M,
    opt: &mut O,
    best: &mut M,
    seed: u64,
) -> Result<Progress, FileError> {
    let bytes = std::fs::read(path).map_err(|source| FileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let meta = files::metadata(&bytes)?;
    let get = |k: &str| {
        meta.get(k)
            .ok_or_else(|| bad(path, format!("no `{k}` in its header")))
    };
    let num = |k: &str| -> Result<usize, FileError> {
        get(k)?
            .parse()
            .map_err(|_| bad(path, format!("`{k}` is not a number")))
    };
    let floats = |k: &str| -> Result<Vec<f64>, FileError> {
        let s = get(k)?;
        if s.is_empty() {
            return Ok(Vec::new());
        }
        s.split(',')
            .map(|h| u64::from_str_radix(h, 16).map(f64::from_bits))
            .collect::<Result<_, _>>()
            .map_err(|_| bad(path, format!("`{k}` is not a list of hex floats")))
    };
    if get("rnn.checkpoint")? != "1" {
        return Err(bad(path, "unknown checkpoint version"));
    }
    if get("model")? != M::NAME {
        return Err(bad(
            path,
            format!("it is of model `{}`, not `{}`", get("model")?, M::NAME),
        ));
    }
    let saved: u64 = get("seed")?
        .parse()
        .map_err(|_| bad(path, "`seed` is not a number"))?;
    if saved != seed {
        return Err(bad(
            path,
            format!("it was written by a run with seed {saved}, this one has seed {seed}"),
        ));
    }
    let p = Progress {
        epochs_done: num("epochs_done")?,
        hist: History {
            loss: floats("loss")?,
            val_loss: floats("val_loss")?,
            best_epoch: num("best_epoch")?,
        },
        best_val: floats("best_val")?
            .first()
            .copied()
            .unwrap_or(f64::INFINITY),
        since_best: num("since_best")?,
        have_best: get("have_best")? == "true",
    };
    let counters: [f64; 3] = floats("optimizer_counters")?
        .try_into()
        .map_err(|_| bad(path, "`optimizer_counters` does not hold 3 values"))?;
    let with = |prefix: &str| {
        let mut o = LoadOptions::new(Layout::Keras);
        o.names = Some(names::<M>(prefix));
        o.allow_extra = true;
        o
    };
    let mut buffers = [crate::boxed::zeros::<M>(), crate::boxed::zeros::<M>()];
    let n = num("optimizer_buffers")?.min(2);
    for (i, b) in buffers.iter_mut().enumerate().take(n) {
        files::load_bytes(&mut **b, &bytes, &with(&format!("optimizer/{i}")))?;
    }
    if p.have_best {
        files::load_bytes(best, &bytes, &with("best"))?;
    }
    files::load_bytes(model, &bytes, &with("model"))?;
    let refs: [Option<&M>; 2] = [(n > 0).then(|| &*buffers[0]), (n > 1).then(|| &*buffers[1])];
    opt.restore(refs, counters);
    Ok(p)
}
