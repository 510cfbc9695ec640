//! The startup phase trace for `--debug`: how long each named step of init
//! (and each phase of the runtime) took. Off unless asked for: a step then
//! costs one uncontended lock, and init sends nothing more. On, init sends
//! its steps to the runtime in one `Trace` message before `Ready`; the CLI
//! logs them as debug lines.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One timed step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepTime {
    pub step: String,
    /// Wall time in microseconds.
    pub micros: u64,
}

impl StepTime {
    pub fn new(step: &str, took: Duration) -> StepTime {
        StepTime {
            step: step.to_string(),
            micros: u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

/// The runtime's own phases, timed one after the other: each `mark` ends
/// the phase that began at the previous one. Does nothing when off.
#[derive(Debug)]
pub struct Phases {
    last: Option<Instant>,
    pub steps: Vec<StepTime>,
}

impl Phases {
    pub fn new(on: bool) -> Phases {
        Phases {
            last: on.then(Instant::now),
            steps: Vec::new(),
        }
    }

    /// The phase `name` ends now.
    pub fn mark(&mut self, name: &str) {
        if let Some(last) = self.last {
            let now = Instant::now();
            self.steps.push(StepTime::new(name, now - last));
            self.last = Some(now);
        }
    }
}

/// Init's steps so far; `None` when tracing is off. A plain static, not a
/// `thread_local!`: init has one thread, and a thread-local that needs
/// dropping registers its destructor on first use (glibc's
/// `__cxa_thread_atexit_impl`), whose lazily bound call into ld.so walks
/// every library's symbol table: about 300 KiB of ld.so and libc pages
/// resident in every waiting init (docs/benchmarks.md).
static STEPS: Mutex<Option<Vec<StepTime>>> = Mutex::new(None);

fn steps() -> MutexGuard<'static, Option<Vec<StepTime>>> {
    STEPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Start recording this process' steps (init, when the runtime traces).
pub(crate) fn enable() {
    *steps() = Some(Vec::new());
}

/// The start time of a step, when tracing is on.
pub(crate) fn begin() -> Option<Instant> {
    steps().is_some().then(Instant::now)
}

/// Record a step begun at `started` (a no-op when tracing is off).
pub(crate) fn end(step: &str, started: Option<Instant>) {
    if let Some(started) = started {
        let took = StepTime::new(step, started.elapsed());
        if let Some(v) = steps().as_mut() {
            v.push(took);
        }
    }
}

/// The steps recorded so far (empty when tracing is off), emptied.
pub(crate) fn take() -> Option<Vec<StepTime>> {
    steps().as_mut().map(std::mem::take)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_marked_only_when_on() {
        let mut off = Phases::new(false);
        off.mark("a");
        assert!(off.steps.is_empty());
        let mut on = Phases::new(true);
        on.mark("a");
        on.mark("b");
        assert_eq!(on.steps.len(), 2);
        assert_eq!(on.steps[1].step, "b");
    }

    #[test]
    fn off_records_nothing_and_on_records_in_order() {
        end("a", begin());
        assert_eq!(take(), None);
        enable();
        end("a", begin());
        end("b", begin());
        let steps: Vec<String> = take().unwrap().into_iter().map(|s| s.step).collect();
        assert_eq!(steps, ["a", "b"]);
        assert_eq!(take(), Some(Vec::new()));
    }
}
