//! In the runtime: hand the seccomp listener fd (rules with
//! `SCMP_ACT_NOTIFY`) to the agent listening on
//! `linux.seccomp.listenerPath`, as runc does: one message on a fresh
//! connection, the container process state (runtime-spec's
//! `ContainerProcessState`) as JSON with the fd attached.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::ProcessError;

/// The name of the listener fd in the message's `fds`.
const SECCOMP_FD_NAME: &str = "seccompFd";

/// The agent and what it is told.
#[derive(Debug)]
pub struct SeccompAgent {
    /// `linux.seccomp.listenerPath`.
    pub listener_path: PathBuf,
    /// `linux.seccomp.listenerMetadata`, passed on as is.
    pub metadata: String,
    /// The container's state (`ociVersion`, `id`, `status`, `pid`,
    /// `bundle`, `annotations`): "creating" for a container's init, whose
    /// pid the runtime fills in; "running" with init's pid for `exec`.
    pub state: Value,
}

impl SeccompAgent {
    /// The message for the process `pid` (a container's init when
    /// `is_init`).
    fn process_state(&self, pid: i32, is_init: bool) -> Value {
        let mut state = self.state.clone();
        if is_init {
            state["pid"] = pid.into();
        }
        let mut message = json!({
            "ociVersion": state["ociVersion"].clone(),
            "fds": [SECCOMP_FD_NAME],
            "pid": pid,
        });
        if !self.metadata.is_empty() {
            message["metadata"] = self.metadata.clone().into();
        }
        message["state"] = state;
        message
    }

    /// Connect to the agent and send it the listener of process `pid`.
    pub(crate) fn hand_over(
        &self,
        listener: &OwnedFd,
        pid: i32,
        is_init: bool,
    ) -> Result<(), ProcessError> {
        let path = self.listener_path.display();
        let socket = UnixStream::connect(&self.listener_path).map_err(|source| {
            ProcessError::Io {
                what: format!(
                    "failed to connect with seccomp agent specified in the seccomp profile: connect {path}"
                ),
                source,
            }
        })?;
        let payload = self.process_state(pid, is_init).to_string();
        crate::sync::send_with_fd(&socket, payload.as_bytes(), listener).map_err(|e| {
            ProcessError::Io {
                what: format!("cannot send seccomp fd to {path}"),
                source: e.into(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::MsgFlags;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixListener;

    fn agent(path: PathBuf, metadata: &str) -> SeccompAgent {
        SeccompAgent {
            listener_path: path,
            metadata: metadata.into(),
            state: json!({"ociVersion": "1.2.0", "id": "c1", "status": "creating",
                          "pid": 0, "bundle": "/b"}),
        }
    }

    #[test]
    fn the_message_is_runtime_specs_container_process_state() {
        let a = agent(PathBuf::from("/x"), "meta");
        assert_eq!(
            a.process_state(42, true),
            json!({"ociVersion": "1.2.0", "fds": ["seccompFd"], "pid": 42, "metadata": "meta",
                   "state": {"ociVersion": "1.2.0", "id": "c1", "status": "creating",
                             "pid": 42, "bundle": "/b"}})
        );
        // exec: the state keeps init's pid; no metadata, no field.
        let mut a = agent(PathBuf::from("/x"), "");
        a.state["pid"] = 7.into();
        let msg = a.process_state(42, false);
        assert_eq!(
            (msg["pid"].as_i64(), msg["state"]["pid"].as_i64()),
            (Some(42), Some(7))
        );
        assert!(msg.get("metadata").is_none());
    }

    #[test]
    fn the_agent_gets_the_state_and_the_fd() {
        let dir = std::env::temp_dir().join(format!("berth-agent-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("agent.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let fd = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        agent(path.clone(), "m").hand_over(&fd, 9, true).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 4096];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = nix::sys::socket::recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .unwrap();
        let fds = msg.cmsgs().unwrap().count();
        let len = msg.bytes;
        let got: Value = serde_json::from_slice(&buf[..len]).unwrap();
        assert_eq!((got["pid"].as_i64(), fds), (Some(9), 1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_agent_is_named() {
        let fd = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        let err = agent(PathBuf::from("/nonexistent/agent.sock"), "")
            .hand_over(&fd, 1, true)
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("failed to connect with seccomp agent specified in the seccomp profile: connect /nonexistent/agent.sock"));
    }
}
