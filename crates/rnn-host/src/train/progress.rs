//! The progress of [`fit`](super::fit): a live bar per epoch (indicatif, shown only when
//! stderr is a terminal) and one summary line per epoch on stderr.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// One epoch's bar, or nothing when not verbose.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    verbose: bool,
}

impl Progress {
    /// A bar over `batches` batches for epoch `epoch` (0-based) of `epochs`.
    pub(crate) fn epoch(verbose: bool, epoch: usize, epochs: usize, batches: usize) -> Self {
        let live = verbose && std::io::stderr().is_terminal();
        let bar = live.then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(batches as u64),
                ProgressDrawTarget::stderr_with_hz(8),
            );
            bar.set_style(
                ProgressStyle::with_template("Epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(format!("{}/{}", epoch + 1, epochs));
            bar
        });
        Progress { bar, verbose }
    }

    /// Batch `done` (1-based) finished with the running mean loss `loss`.
    pub(crate) fn batch(&self, done: usize, loss: f64) {
        if let Some(b) = &self.bar {
            b.set_position(done as u64);
            b.set_message(format!("loss {loss:.5}"));
        }
    }

    /// The epoch's summary line (replaces the bar).
    pub(crate) fn finish(self, line: &str) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if self.verbose {
            eprintln!("{line}");
        }
    }
}
