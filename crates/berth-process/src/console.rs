//! `process.terminal`: init opens a pty inside the container, sends the
//! master to the runtime, which passes it on to `--console-socket` with
//! SCM_RIGHTS (as runc); the slave becomes init's stdio and controlling tty.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use berth_sys::process::{set_window_size, WindowSize};
use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};

use crate::sync::{Message, SyncChannel};
use crate::ProcessError;

fn io(what: &str) -> impl FnOnce(nix::errno::Errno) -> ProcessError + '_ {
    move |e| ProcessError::Io {
        what: what.to_string(),
        source: e.into(),
    }
}

/// In the new process, inside the container: new session, pty from the
/// container's /dev/ptmx (of `size` when given), master to the runtime,
/// slave on stdio (and, for a container's init, on /dev/console).
pub fn setup_in_init(
    chan: &SyncChannel,
    bind_console: bool,
    size: Option<WindowSize>,
) -> Result<(), ProcessError> {
    nix::unistd::setsid().map_err(io("setsid"))?;
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(io("open /dev/ptmx"))?;
    grantpt(&master).map_err(io("grantpt"))?;
    unlockpt(&master).map_err(io("unlockpt"))?;
    if let Some(size) = size {
        set_window_size(master.as_fd(), size).map_err(|e| ProcessError::Io {
            what: "set the terminal size (process.consoleSize)".into(),
            source: e,
        })?;
    }
    let slave_path = PathBuf::from(ptsname_r(&master).map_err(io("ptsname"))?);
    chan.send(&Message::ConsoleMaster, &[master.as_raw_fd()])?;
    drop(master);
    if bind_console {
        berth_rootfs::mount_console(&slave_path)?;
    }
    let slave = nix::fcntl::open(
        &slave_path,
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(io("open the pty slave"))?;
    nix::unistd::dup2_stdin(&slave).map_err(io("dup2 the pty slave onto stdin"))?;
    nix::unistd::dup2_stdout(&slave).map_err(io("dup2 the pty slave onto stdout"))?;
    nix::unistd::dup2_stderr(&slave).map_err(io("dup2 the pty slave onto stderr"))?;
    berth_sys::process::set_controlling_terminal(slave.as_fd()).map_err(|e| ProcessError::Io {
        what: "ioctl(TIOCSCTTY)".into(),
        source: e,
    })?;
    Ok(())
}

/// In the runtime: hand the pty master to whoever listens on the console
/// socket, with the pty's name as payload (as runc).
pub fn send_to_console_socket(socket: &UnixStream, master: &OwnedFd) -> Result<(), ProcessError> {
    crate::sync::send_with_fd(socket, b"/dev/ptmx", master)
        .map_err(io("send the pty master to the console socket"))
}
