//! Cloning an exec'd process into a container whose pid namespace belongs
//! to the container's own user namespace, for a runtime that is not root
//! (rootless `exec`). Joining that pid namespace needs CAP_SYS_ADMIN in its
//! user namespace, which the runtime has only after joining the user
//! namespace too, and a process cannot leave a user namespace again. So a
//! short-lived helper joins both and clones the process with
//! `CLONE_PARENT`: it becomes the runtime's own child, in the container's
//! pid namespace, as if the runtime had cloned it. runc's nsexec forks for
//! the same reason.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use berth_cgroups::CgroupEntry;
use berth_sys::process::{fork_into, Forked};
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::{namespaces, InitConfig, ProcessError};

/// The user namespace an unprivileged runtime must be in before it can
/// join the container's pid namespace: `Some` for a rootless `exec` into a
/// container with its own user namespace.
pub(crate) fn user_namespace_first(cfg: &InitConfig) -> Option<&Path> {
    cfg.namespaces.join_pid.as_ref()?;
    if !cfg.rootless_euid {
        return None;
    }
    cfg.namespaces
        .join
        .iter()
        .find(|(flag, _)| *flag == CloneFlags::CLONE_NEWUSER)
        .map(|(_, path)| path.as_path())
}

/// Clones the process through a helper that joins `userns` and the pid
/// namespace first (see the module docs). Returns what [`fork_into`] does,
/// as seen by the runtime (the process's host pid) or by the process.
pub(crate) fn clone_via_helper(
    cfg: &InitConfig,
    entry: &CgroupEntry,
    userns: &Path,
    clone: impl FnOnce(&InitConfig, &CgroupEntry, i32) -> Result<(Forked, bool), ProcessError>,
) -> Result<(Forked, bool), ProcessError> {
    let (mut from_helper, mut to_runtime) = UnixStream::pair().map_err(|e| ProcessError::Io {
        what: "socketpair for the namespace helper".into(),
        source: e,
    })?;
    let helper = fork_into(0, None).map_err(|e| ProcessError::Io {
        what: "fork the namespace helper".into(),
        source: e,
    })?;
    match helper {
        Forked::Child => {
            drop(from_helper);
            let pid_ns = cfg
                .namespaces
                .join_pid
                .as_ref()
                .expect("checked by the caller");
            let cloned = namespaces::join(CloneFlags::CLONE_NEWUSER, &userns.to_path_buf())
                .and_then(|()| namespaces::join(CloneFlags::CLONE_NEWPID, pid_ns))
                .and_then(|()| clone(cfg, entry, libc::CLONE_PARENT));
            let report = match cloned {
                // The process itself: go on as the runtime's child.
                Ok((Forked::Child, cloned_into)) => return Ok((Forked::Child, cloned_into)),
                Ok((Forked::Parent { pid }, cloned_into)) => {
                    format!("{pid} {}", u8::from(cloned_into))
                }
                Err(e) => format!("error {}", crate::error_chain(&e)),
            };
            let _ = to_runtime.write_all(report.as_bytes());
            std::process::exit(0)
        }
        Forked::Parent { pid: helper } => {
            drop(to_runtime);
            let mut report = String::new();
            let read = from_helper.read_to_string(&mut report);
            let _ = waitpid(Pid::from_raw(helper), None);
            read.map_err(|e| ProcessError::Io {
                what: "read the namespace helper's report".into(),
                source: e,
            })?;
            parse_report(&report)
        }
    }
}

/// `"<pid> <cloned_into 0|1>"` or `"error <message>"`.
fn parse_report(report: &str) -> Result<(Forked, bool), ProcessError> {
    if let Some(message) = report.strip_prefix("error ") {
        return Err(ProcessError::Config(message.to_string()));
    }
    let mut words = report.split_whitespace();
    match (words.next().map(str::parse), words.next()) {
        (Some(Ok(pid)), Some(cloned_into)) => Ok((Forked::Parent { pid }, cloned_into == "1")),
        _ => Err(ProcessError::Config(format!(
            "the namespace helper exited without cloning the process ({report:?})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse() {
        assert!(matches!(
            parse_report("123 1"),
            Ok((Forked::Parent { pid: 123 }, true))
        ));
        let err = parse_report("error setns /proc/1/ns/pid: operation not permitted");
        assert!(err.unwrap_err().to_string().contains("setns"));
        assert!(parse_report("").is_err());
    }
}
