//! `kill`: signal the container's init, or with `--all` every process in
//! its cgroup.

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::query::load;
use crate::signal::parse_signal;
use crate::status::{check, Operation};
use crate::store::Store;
use crate::ContainerError;

/// Signal container `id`. As runc, the container must exist before the
/// signal is parsed, and must not be stopped, except with `all`: as runc
/// 1.1, `--all` also signals what is left in a stopped container's cgroup
/// (nothing once the cgroup is gone, e.g. a systemd scope whose processes
/// all exited). containerd's shim calls it after init exited to kill init's
/// children when the container has no pid namespace of its own.
pub fn kill(store: &Store, id: &str, signal: &str, all: bool) -> Result<(), ContainerError> {
    let loaded = load(store, id, true)?;
    let signal: Option<Signal> = parse_signal(signal)?;
    if all {
        loaded
            .state
            .cgroup
            .kill_all(signal.map_or(0, |s| s as i32))?;
        return Ok(());
    }
    check(loaded.status, Operation::Kill, id)?;
    nix::sys::signal::kill(Pid::from_raw(loaded.state.pid), signal).map_err(|e| {
        ContainerError::Io {
            what: format!(
                "kill pid {} with {}",
                loaded.state.pid,
                signal.map_or("signal 0", |s| s.as_str())
            ),
            source: e.into(),
        }
    })
}
