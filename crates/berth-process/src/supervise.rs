//! `run` in the foreground: the runtime stays as the container's parent,
//! forwards the signals it gets to init, reaps, and reports init's exit.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
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

/// Forward signals to `init` until it exits; return its exit code. With a
/// pty master (terminal without console socket), also proxy the terminal:
/// stdin to the container, its output to stdout, window size changes.
pub fn supervise(init: i32, console: Option<OwnedFd>) -> Result<i32, ProcessError> {
    let sfd =
        SignalFd::with_flags(&handled_signals(), SfdFlags::SFD_CLOEXEC).map_err(io("signalfd"))?;
    let mut tty = console.map(TtyProxy::new);
    let init = Pid::from_raw(init);
    let mut exit = None;
    loop {
        if exit.is_none() {
            exit = reap(init)?;
        }
        if let Some(code) = exit {
            if tty.as_ref().is_none_or(|t| t.drained) {
                return Ok(code);
            }
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(t) = &tty {
            t.add_poll_fds(&mut fds);
        }
        let timeout = if exit.is_some() { 100u8 } else { 255u8 };
        match poll(&mut fds, PollTimeout::from(timeout)) {
            Ok(0) if exit.is_some() => return Ok(exit.unwrap_or_default()),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(io("poll")(e)),
        }
        let revents: Vec<PollFlags> = fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::empty()))
            .collect();
        if let Some(t) = tty.as_mut() {
            t.pump(&revents[1..])?;
        }
        if revents[0].intersects(PollFlags::POLLIN) {
            handle_signal(&sfd, init, tty.as_ref())?;
        }
    }
}

fn handle_signal(sfd: &SignalFd, init: Pid, tty: Option<&TtyProxy>) -> Result<(), ProcessError> {
    let Some(info) = sfd.read_signal().map_err(io("read signalfd"))? else {
        return Ok(());
    };
    match (Signal::try_from(info.ssi_signo as i32), tty) {
        (Ok(Signal::SIGCHLD) | Err(_), _) => {}
        (Ok(Signal::SIGWINCH), Some(t)) => t.copy_window_size(),
        (Ok(sig), _) => {
            let _ = kill(init, sig);
        }
    }
    Ok(())
}

/// The runtime's end of a container terminal: raw mode on our own terminal
/// while it runs, bytes copied both ways.
struct TtyProxy {
    master: std::fs::File,
    stdin_open: bool,
    drained: bool,
    saved: Option<Termios>,
}

impl TtyProxy {
    fn new(master: OwnedFd) -> TtyProxy {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok();
        if let Some(orig) = &saved {
            let mut raw = orig.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        let proxy = TtyProxy {
            master: std::fs::File::from(master),
            stdin_open: true,
            drained: false,
            saved,
        };
        proxy.copy_window_size();
        proxy
    }

    fn copy_window_size(&self) {
        if let Some(size) = berth_sys::process::window_size(std::io::stdin().as_fd()) {
            let _ = berth_sys::process::set_window_size(self.master.as_fd(), size);
        }
    }

    fn add_poll_fds<'a>(&'a self, fds: &mut Vec<PollFd<'a>>) {
        fds.push(PollFd::new(self.master.as_fd(), PollFlags::POLLIN));
        if self.stdin_open {
            fds.push(PollFd::new(
                berth_sys::process::borrow_fd(0),
                PollFlags::POLLIN,
            ));
        }
    }

    /// Copy what is ready: `revents` are the master's, then stdin's.
    fn pump(&mut self, revents: &[PollFlags]) -> Result<(), ProcessError> {
        let readable = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
        if revents.first().is_some_and(|r| r.intersects(readable)) {
            let mut buf = [0u8; 8192];
            match self.master.read(&mut buf) {
                Ok(0) | Err(_) => self.drained = true,
                Ok(n) => {
                    let mut out = std::io::stdout();
                    let _ = out.write_all(&buf[..n]).and_then(|()| out.flush());
                }
            }
        }
        if self.stdin_open && revents.get(1).is_some_and(|r| r.intersects(readable)) {
            let mut buf = [0u8; 8192];
            match std::io::stdin().read(&mut buf) {
                Ok(0) | Err(_) => self.stdin_open = false,
                Ok(n) => {
                    let _ = self.master.write_all(&buf[..n]);
                }
            }
        }
        Ok(())
    }
}

impl Drop for TtyProxy {
    fn drop(&mut self) {
        if let Some(orig) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, orig);
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
