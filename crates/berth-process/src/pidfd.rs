//! `--pidfd-socket` (runc 1.2+): a pidfd of the container's init (or of an
//! exec'd process) sent to a unix socket by `SCM_RIGHTS`, as runc does: one
//! message whose payload is runc's init type, "standard" for a container's
//! init and "setns" for `exec`, with the pidfd attached.

use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::sync::send_with_fd;
use crate::ProcessError;

/// A connection to the `--pidfd-socket` listener, made before anything is
/// created (a socket nobody listens on fails the command early).
#[derive(Debug)]
pub struct PidfdSocket(UnixStream);

/// Which process the pidfd is of, in runc's words.
#[derive(Debug, Clone, Copy)]
pub enum PidfdOf {
    /// A container's init ("standard").
    Init,
    /// A process exec'd into a container ("setns").
    Exec,
}

impl PidfdSocket {
    /// Connects to `path`.
    pub fn connect(path: &Path) -> Result<PidfdSocket, ProcessError> {
        UnixStream::connect(path)
            .map(PidfdSocket)
            .map_err(|source| ProcessError::Io {
                what: format!("failed to dial {} (--pidfd-socket)", path.display()),
                source,
            })
    }

    /// Sends a pidfd of `pid`.
    pub fn send(&self, pid: i32, of: PidfdOf) -> Result<(), ProcessError> {
        let pidfd = berth_sys::process::pidfd_open(pid).map_err(|source| {
            let what = if source.raw_os_error() == Some(libc::ENOSYS) {
                "--pidfd-socket requires >= v5.3 kernel: pidfd_open".to_string()
            } else {
                format!("pidfd_open {pid}")
            };
            ProcessError::Io { what, source }
        })?;
        let payload: &[u8] = match of {
            PidfdOf::Init => b"standard",
            PidfdOf::Exec => b"setns",
        };
        send_with_fd(&self.0, payload, &pidfd).map_err(|e| ProcessError::Io {
            what: "failed to send pidfd on socket".into(),
            source: e.into(),
        })
    }
}
