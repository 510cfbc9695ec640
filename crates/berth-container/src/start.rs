//! `start`: open exec.fifo so the blocked init can exec the user's program.

use std::io::Read;
use std::os::fd::AsFd;

use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

use crate::query::load;
use crate::status::{check, Operation, Status};
use crate::store::Store;
use crate::ContainerError;

/// Let init exec the user's program, then run the poststart hooks. A
/// failing one stops the container (SIGKILL) and fails `start`, as
/// runtime-spec 1.3 says (runc 1.1-1.3 run them at create with the same
/// outcome; runc's main branch moved them to start, as here).
pub fn start(store: &Store, id: &str) -> Result<(), ContainerError> {
    let loaded = load(store, id, true)?;
    check(loaded.status, Operation::Start, id)?;
    let fifo_path = loaded.dir.fifo_path();
    let io = |what: &str| {
        let what = format!("{what} {}", fifo_path.display());
        move |e: nix::errno::Errno| ContainerError::Io {
            what,
            source: e.into(),
        }
    };
    // Non-blocking open never hangs: if init died, we notice below.
    let fifo = std::fs::File::from(
        open(
            &fifo_path,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io("open"))?,
    );
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::from(100u8)).map_err(io("poll"))?;
        if ready > 0 && read_start_byte(&fifo)? {
            break;
        }
        if !loaded.state.init_alive() {
            return Err(ContainerError::State(
                "container process is already dead".into(),
            ));
        }
    }
    std::fs::remove_file(&fifo_path).map_err(|source| ContainerError::Io {
        what: format!("remove {}", fifo_path.display()),
        source,
    })?;
    let state = &loaded.state;
    if let Err(e) = state.run_hooks("poststart", |h| &h.poststart, Status::Running) {
        let _ = kill(Pid::from_raw(state.pid), Signal::SIGKILL);
        return Err(ContainerError::Process(e.into()));
    }
    Ok(())
}

/// Read init's byte; false when nothing is there yet.
fn read_start_byte(mut fifo: &std::fs::File) -> Result<bool, ContainerError> {
    let mut byte = [0u8; 1];
    match fifo.read(&mut byte) {
        Ok(1) => Ok(true),
        Ok(_) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
        Err(source) => Err(ContainerError::Io {
            what: "read exec.fifo".into(),
            source,
        }),
    }
}
