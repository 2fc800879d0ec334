//! A team of threads for one `fit` call: member `i` runs part `i` of every batch, and waits
//! for the next batch spinning, not asleep.
//!
//! Why not rayon here: a batch of the card model is ~0.5 ms of work per thread, and on the
//! KVM guests we measure on, waking a sleeping worker took a good part of that (2 threads ran at
//! 1.09x one thread's speed with rayon's parallel iterator, and at 1.1x with `broadcast`, which
//! at least fixed the assignment). A member that has finished spins (then yields, then naps) for
//! the next round, so it starts within microseconds while training runs, and the assignment of
//! parts to members is fixed, so results never depend on timing. `evaluate` outside `fit` still
//! uses rayon.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::time::Duration;

/// A round's job, as the leader hands it to the members.
type Job<'a> = dyn Fn(usize) + Sync + 'a;

/// What the leader and the members share.
struct Shared {
    /// Incremented by the leader to start a round (or to stop).
    round: AtomicUsize,
    /// Members that have finished the current round.
    done: AtomicUsize,
    /// Set before the last round: members leave.
    stop: AtomicBool,
    /// Set by a member whose part panicked.
    panicked: AtomicBool,
    /// Points to the leader's `&Job` for the current round.
    job: AtomicPtr<&'static Job<'static>>,
}

/// `n` threads: the caller (member 0) and `n - 1` spawned members. Not `Sync`: only the
/// thread that made it can start a round, so rounds never overlap (a job cannot capture the
/// team and start a round inside a round).
pub(crate) struct Team<'a> {
    shared: &'a Shared,
    n: usize,
    _one_leader: core::marker::PhantomData<core::cell::Cell<()>>,
}

impl Team<'_> {
    /// Number of members, the caller included.
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// Runs `job(i)` for every member `i` (`job(0)` on this thread) and returns when all have
    /// finished. A panic in a member's part panics here (and every later round panics too:
    /// `fit` does not go on after one).
    pub(crate) fn run(&self, job: &(dyn Fn(usize) + Sync)) {
        if self.n > 1 {
            let mut r: &Job<'_> = job;
            // SAFETY: the pointer is read by members only between the `round` increment below
            // and their `done` increment, and this function does not return before every member
            // has counted itself done, so `job` (and `r`) outlive every use.
            let p = unsafe {
                core::mem::transmute::<*mut &Job<'_>, *mut &'static Job<'static>>(&mut r)
            };
            self.shared.job.store(p, Ordering::Release);
            self.shared.done.store(0, Ordering::Relaxed);
            self.shared.round.fetch_add(1, Ordering::Release);
        }
        // The members may still be using `job` when this thread's part panics: wait for them
        // before the panic goes on.
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(0)));
        if self.n > 1 {
            let mut spins = 0u32;
            while self.shared.done.load(Ordering::Acquire) < self.n - 1 {
                idle(&mut spins);
            }
        }
        if let Err(e) = mine {
            std::panic::resume_unwind(e);
        }
        if self.shared.panicked.load(Ordering::Relaxed) {
            panic!("a training thread panicked");
        }
    }
}

/// Spin, then yield, then nap: members wait for the next round hot while batches come every
/// fraction of a millisecond, without burning a core through a long pause (a checkpoint).
fn idle(spins: &mut u32) {
    *spins = spins.saturating_add(1);
    if *spins < 1 << 14 {
        std::hint::spin_loop();
    } else if *spins < 1 << 16 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Runs `f` with a team of `n` threads (1: this thread alone), each spawned member with a stack
/// of `stack` bytes.
pub(crate) fn with_team<R>(n: usize, stack: usize, f: impl FnOnce(&Team<'_>) -> R) -> R {
    let shared = Shared {
        round: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        panicked: AtomicBool::new(false),
        job: AtomicPtr::new(core::ptr::null_mut()),
    };
    let n = n.max(1);
    std::thread::scope(|s| {
        // Stops the members however this ends (a failed spawn or a panic in `f` included),
        // so the scope can join them.
        struct Stop<'a>(&'a Shared);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.stop.store(true, Ordering::Release);
                self.0.round.fetch_add(1, Ordering::Release);
            }
        }
        let _stop = Stop(&shared);
        for i in 1..n {
            let shared = &shared;
            std::thread::Builder::new()
                .name(format!("rnn-fit-{i}"))
                .stack_size(stack)
                .spawn_scoped(s, move || member(shared, i))
                .expect("the OS refused to start a training thread");
        }
        f(&Team {
            shared: &shared,
            n,
            _one_leader: core::marker::PhantomData,
        })
    })
}

/// A member's life: wait for a round, run its part, count itself done.
fn member(shared: &Shared, i: usize) {
    let mut seen = 0;
    loop {
        let mut spins = 0u32;
        let round = loop {
            let r = shared.round.load(Ordering::Acquire);
            if r != seen {
                break r;
            }
            idle(&mut spins);
        };
        seen = round;
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let p = shared.job.load(Ordering::Acquire);
        // SAFETY: the leader stored a pointer to a live `&Job` before this round started and
        // keeps it alive until this member counts itself done (see `Team::run`).
        let job: &Job<'_> = unsafe { *p };
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(i))).is_ok();
        if !ok {
            shared.panicked.store(true, Ordering::Relaxed);
        }
        shared.done.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn every_member_runs_its_part_every_round() {
        let hits = Mutex::new(vec![0usize; 3]);
        with_team(3, 1 << 20, |team| {
            assert_eq!(team.len(), 3);
            for _ in 0..1000 {
                team.run(&|i| hits.lock().unwrap()[i] += 1);
            }
        });
        assert_eq!(*hits.lock().unwrap(), vec![1000, 1000, 1000]);
    }

    #[test]
    fn a_panicking_part_panics_the_leader_and_the_team_stops() {
        let r = std::panic::catch_unwind(|| {
            with_team(2, 1 << 20, |team| {
                team.run(&|i| {
                    if i == 1 {
                        panic!("part 1 fails");
                    }
                })
            })
        });
        assert!(r.is_err());
    }
}
