//! `run` in the foreground: the runtime stays as the container's parent,
//! forwards the signals it gets to init, reaps, and reports init's exit.

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::ProcessError;

/// Signals the supervisor handles itself: everything catchable except the
/// synchronous fault signals.
fn handled_signals() -> SigSet {
    let mut set = SigSet::all();
    for sig in [
        Signal::SIGKILL,
        Signal::SIGSTOP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGFPE,
        Signal::SIGILL,
        Signal::SIGTRAP,
        Signal::SIGSYS,
    ] {
        set.remove(sig);
    }
    set
}

fn io(what: &'static str) -> impl FnOnce(nix::errno::Errno) -> ProcessError {
    move |e| ProcessError::Io {
        what: what.into(),
        source: e.into(),
    }
}

/// Block the signals `supervise` will read, before init is cloned (so none
/// is lost in between). Init unblocks them before it execs.
pub fn block_signals() -> Result<(), ProcessError> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled_signals()), None)
        .map_err(io("block signals"))
}

/// Become a subreaper (unless told not to), so orphans of the container
/// are reparented to us and reaped.
pub fn become_subreaper() -> Result<(), ProcessError> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io("prctl(PR_SET_CHILD_SUBREAPER)"))
}

/// The shell convention for an exit status: the code, or 128 + signal.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Forward signals to `init` until it exits; return its exit code.
pub fn supervise(init: i32) -> Result<i32, ProcessError> {
    let sfd =
        SignalFd::with_flags(&handled_signals(), SfdFlags::SFD_CLOEXEC).map_err(io("signalfd"))?;
    let init = Pid::from_raw(init);
    loop {
        if let Some(code) = reap(init)? {
            return Ok(code);
        }
        let Some(info) = sfd.read_signal().map_err(io("read signalfd"))? else {
            continue;
        };
        let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
            continue;
        };
        if sig != Signal::SIGCHLD {
            let _ = kill(init, sig);
        }
    }
}

/// Reap every exited child; Some(code) once init is among them.
fn reap(init: Pid) -> Result<Option<i32>, ProcessError> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(status) if status.pid() == Some(init) => {
                if let Some(code) = exit_code(status) {
                    return Ok(Some(code));
                }
            }
            Ok(_) => {}
            Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(io("waitpid")(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        let pid = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            Some(137)
        );
        assert_eq!(exit_code(WaitStatus::StillAlive), None);
    }

    #[test]
    fn fault_signals_are_never_blocked() {
        let set = handled_signals();
        assert!(!set.contains(Signal::SIGSEGV));
        assert!(set.contains(Signal::SIGTERM));
        assert!(set.contains(Signal::SIGCHLD));
    }
}
