//! The one channel between the runtime and the container's init: a
//! `SOCK_SEQPACKET` socketpair carrying typed messages (JSON, one message per
//! packet) and file descriptors by `SCM_RIGHTS`.
//!
//! Message flow of `create` (see docs/architecture.md):
//! ```text
//! parent                               init
//!   | -- IdmappedMount{index}+fd ------> |   one per idmapped mount, if any
//!   | -- Continue ---------------------> |   cgroup placed, resources applied
//!   | <--------------- WriteTimeOffsets |   only with linux.timeOffsets:
//!   | -- TimeOffsetsWritten -----------> |   the new time namespace's offsets
//!   | <------------------------ RunHooks |   only with hooks: mounts done
//!   | -- HooksDone{state} -------------> |   prestart + createRuntime ran
//!   | <-------------- ConsoleMaster+fd - |   only with process.terminal
//!   | <------------ SeccompListener+fd - |   only with SCMP_ACT_NOTIFY rules:
//!   | -- SeccompListenerDone ----------> |   the agent has the listener
//!   | <------------------ Trace{steps} - |   only with --debug: step timings
//!   | <-------------------------- Ready  |   set up
//!   | -- Release ----------------------> |   recorded: stop dying with us
//!   | <----------------------- Released  |   then exec.fifo (create) / exec
//!   | <--------------- Failed{step,..}   |   instead of Ready, on any error
//! ```
//! A new user namespace needs no message: the runtime knows init's pid and
//! writes its id maps before `Continue`. Later features add messages here
//! without changing the transport.
//!
//! A message without fds is a plain `write(2)` (one packet), so that the
//! syscalls init makes after loading a seccomp filter are those runc's init
//! makes (it writes to its sync pipe): `write`, not `sendmsg`.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use serde::{Deserialize, Serialize};

/// The largest message we send; a config-independent bound (errors are
/// truncated to fit).
const MAX_MESSAGE: usize = 64 * 1024;

/// An init failure as it crosses the channel: which step failed, the errno
/// of the root cause (0 when there is none) and the whole cause chain; when
/// the runtime traces (`--debug`), the steps done until then, the failed
/// one last.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InitFailure {
    pub step: String,
    pub errno: i32,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<crate::StepTime>,
}

/// Everything that travels on the channel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Message {
    /// parent -> init, before `Continue`: the detached idmapped tree of
    /// `mounts[index]` travels with this message.
    IdmappedMount { index: usize },
    /// parent -> init: the cgroup is ready and the process is in it.
    Continue,
    /// init -> parent: init has unshared a time namespace; write the
    /// offsets to its `/proc/<pid>/timens_offsets` (in a user namespace
    /// init may not: its /proc files belong to the host's root).
    WriteTimeOffsets,
    /// parent -> init: written; init enters the namespace.
    TimeOffsetsWritten,
    /// init -> parent: the pty master travels with this message.
    ConsoleMaster,
    /// init -> parent: mounts are done; run the prestart and createRuntime
    /// hooks now (before pivot_root).
    RunHooks,
    /// parent -> init: the runtime's hooks ran; the state they were given.
    HooksDone { state: String },
    /// init -> parent: the seccomp listener fd (SCMP_ACT_NOTIFY) travels
    /// with this message, for the seccomp agent.
    SeccompListener,
    /// parent -> init: the agent has the listener; init closes its copy.
    SeccompListenerDone,
    /// init -> parent, only when the runtime traces (`--debug`): how long
    /// each step took, sent right before `Ready`.
    Trace(Vec<crate::trace::StepTime>),
    /// init -> parent: set up, about to block on exec.fifo.
    Ready,
    /// init -> parent: a step failed; init exits after sending this.
    Failed(InitFailure),
    /// parent -> init: the runtime has recorded init (after `Ready`); init
    /// no longer dies with it.
    Release,
    /// init -> parent: init cleared its parent-death signal; the runtime
    /// may exit.
    Released,
}

/// Errors of the channel itself.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("sync channel: {op}")]
    Io {
        op: &'static str,
        #[source]
        source: nix::errno::Errno,
    },
    #[error("sync channel: the other side closed the channel")]
    Closed,
    #[error("sync channel: malformed message: {0}")]
    Malformed(String),
    #[error("sync channel: expected {expected}, got {got:?}")]
    Unexpected {
        expected: &'static str,
        got: Message,
    },
}

/// One end of the channel.
#[derive(Debug)]
pub struct SyncChannel {
    fd: OwnedFd,
}

impl AsRawFd for SyncChannel {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl SyncChannel {
    /// A connected pair: (parent's end, init's end). Both close on exec.
    pub fn pair() -> Result<(SyncChannel, SyncChannel), SyncError> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|source| SyncError::Io {
            op: "socketpair",
            source,
        })?;
        Ok((SyncChannel { fd: a }, SyncChannel { fd: b }))
    }

    /// Send one message, with `fds` attached.
    pub fn send(&self, msg: &Message, fds: &[RawFd]) -> Result<(), SyncError> {
        let mut bytes = serde_json::to_vec(msg).map_err(|e| SyncError::Malformed(e.to_string()))?;
        bytes.truncate(MAX_MESSAGE);
        if fds.is_empty() {
            return self.write(&bytes);
        }
        sendmsg::<()>(
            self.fd.as_raw_fd(),
            &[IoSlice::new(&bytes)],
            &[ControlMessage::ScmRights(fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(|source| SyncError::Io {
            op: "sendmsg",
            source,
        })?;
        Ok(())
    }

    /// One packet without fds. A closed peer is EPIPE: SIGPIPE is ignored
    /// in the runtime and in init until just before execve.
    fn write(&self, bytes: &[u8]) -> Result<(), SyncError> {
        let written = loop {
            match nix::unistd::write(&self.fd, bytes) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other,
            }
        };
        written.map(drop).map_err(|source| SyncError::Io {
            op: "write",
            source,
        })
    }

    /// Receive one message and the fds that came with it.
    pub fn recv(&self) -> Result<(Message, Vec<OwnedFd>), SyncError> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut cmsg_space = nix::cmsg_space!([RawFd; 4]);
        let (len, fds) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = loop {
                match recvmsg::<()>(
                    self.fd.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg_space),
                    MsgFlags::MSG_CMSG_CLOEXEC,
                ) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    other => {
                        break other.map_err(|source| SyncError::Io {
                            op: "recvmsg",
                            source,
                        })?
                    }
                }
            };
            (msg.bytes, received_fds(&msg)?)
        };
        if len == 0 {
            return Err(SyncError::Closed);
        }
        let msg =
            serde_json::from_slice(&buf[..len]).map_err(|e| SyncError::Malformed(e.to_string()))?;
        Ok((msg, fds))
    }

    /// Shut down our sending side: a later `send` fails (EPIPE) instead of
    /// queueing a message nobody will read.
    pub fn close_write(&self) -> Result<(), SyncError> {
        nix::sys::socket::shutdown(self.fd.as_raw_fd(), nix::sys::socket::Shutdown::Write).map_err(
            |source| SyncError::Io {
                op: "shutdown",
                source,
            },
        )
    }

    /// Receive one message that must be `expected`.
    pub fn expect(&self, expected: &Message, name: &'static str) -> Result<(), SyncError> {
        let (got, _) = self.recv()?;
        if &got == expected {
            Ok(())
        } else {
            Err(SyncError::Unexpected {
                expected: name,
                got,
            })
        }
    }
}

fn received_fds(msg: &nix::sys::socket::RecvMsg<'_, '_, ()>) -> Result<Vec<OwnedFd>, SyncError> {
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs().map_err(|source| SyncError::Io {
        op: "recvmsg control data",
        source,
    })? {
        if let ControlMessageOwned::ScmRights(raw) = cmsg {
            // The kernel just installed these fds for us; nobody else owns them.
            fds.extend(
                raw.into_iter()
                    .filter_map(|fd| berth_sys::process::adopt_fd(fd).ok()),
            );
        }
    }
    Ok(fds)
}

/// Sends `payload` with one fd attached (`SCM_RIGHTS`) on a unix stream
/// socket: the pty master to `--console-socket`, a seccomp listener to its
/// agent.
pub(crate) fn send_with_fd(
    socket: &std::os::unix::net::UnixStream,
    payload: &[u8],
    fd: &OwnedFd,
) -> nix::Result<()> {
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(payload)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_fds() {
        let (a, b) = SyncChannel::pair().unwrap();
        let failure = Message::Failed(InitFailure {
            step: "mount".into(),
            errno: 2,
            message: "no such file".into(),
            steps: Vec::new(),
        });
        a.send(&failure, &[]).unwrap();
        assert_eq!(b.recv().unwrap().0, failure);
        let file = std::fs::File::open("/dev/null").unwrap();
        b.send(&Message::ConsoleMaster, &[file.as_raw_fd()])
            .unwrap();
        let (msg, fds) = a.recv().unwrap();
        assert_eq!(msg, Message::ConsoleMaster);
        assert_eq!(fds.len(), 1);
    }

    #[test]
    fn closed_peer_is_reported_as_closed() {
        let (a, b) = SyncChannel::pair().unwrap();
        drop(b);
        assert!(matches!(a.recv(), Err(SyncError::Closed)));
    }

    #[test]
    fn unexpected_message_names_what_was_expected() {
        let (a, b) = SyncChannel::pair().unwrap();
        a.send(&Message::Ready, &[]).unwrap();
        let err = b.expect(&Message::Continue, "Continue").unwrap_err();
        assert!(err.to_string().contains("expected Continue"));
    }
}
