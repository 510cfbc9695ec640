//! Children of the runtime that a failed spawn must not leave behind.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// Kills and reaps the child unless disarmed: a failed spawn leaves no
/// process behind.
pub(crate) struct ChildGuard(pub(crate) Option<Pid>);

impl ChildGuard {
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            kill_and_reap(pid.as_raw());
        }
    }
}

/// SIGKILL a child of ours and reap it (a spawn that cannot be completed).
pub fn kill_and_reap(pid: i32) {
    let pid = Pid::from_raw(pid);
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
}
