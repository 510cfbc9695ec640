//! `exec`: a new process in a live container: the same process steps as a
//! container's init (user, capabilities, rlimits, cwd, PATH lookup, tty),
//! after joining the namespaces and the cgroup of the container's init.

use std::os::fd::OwnedFd;
use std::path::Path;

use berth_process::{InitConfig, Namespaces, PidfdOf, PidfdSocket, Seccomp};
use berth_spec::Process;

use crate::create::{connect_console, send_pidfd, write_pid_file};
use crate::query::load;
use crate::state::{ContainerState, HookStateView};
use crate::status::Status;
use crate::store::Store;
use crate::ContainerError;

/// What `exec` was asked for.
#[derive(Debug)]
pub struct ExecOptions<'a> {
    pub id: &'a str,
    pub process: Process,
    pub console_socket: Option<&'a Path>,
    /// `--pidfd-socket`: gets a pidfd of the process (runc 1.2+).
    pub pidfd_socket: Option<&'a Path>,
    pub pid_file: Option<&'a Path>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// `--cgroup`: existing sub-cgroups to run in instead of the
    /// container's own (`[controller[,controller]:]path`).
    pub sub_cgroups: &'a [String],
    /// Not detached: the runtime waits and may proxy the terminal.
    pub foreground: bool,
    /// Time the process' steps (`--debug`).
    pub trace: bool,
}

/// The exec'd process, started.
#[derive(Debug)]
pub struct Execed {
    pub pid: i32,
    /// The pty master when the runtime proxies the terminal itself.
    pub console: Option<OwnedFd>,
    /// With `trace`: how long each step of the process took.
    pub trace: Vec<berth_process::StepTime>,
}

/// Where exec may go: runc's refusals.
fn check_status(status: Status, ignore_paused: bool) -> Result<(), ContainerError> {
    match status {
        Status::Stopped => Err(ContainerError::State(
            "cannot exec in a stopped container".into(),
        )),
        Status::Paused if !ignore_paused => Err(ContainerError::State(
            "cannot exec in a paused container (use --ignore-paused to override)".into(),
        )),
        _ => Ok(()),
    }
}

pub fn exec(store: &Store, opts: &ExecOptions<'_>) -> Result<Execed, ContainerError> {
    let loaded = load(store, opts.id, false)?;
    check_status(loaded.status, opts.ignore_paused)?;
    let inherited = &loaded.state.inherited;
    let process = crate::process_plan::plan_exec_process(&opts.process, inherited)?;
    let cgroup = loaded.state.cgroup.with_sub_cgroups(opts.sub_cgroups)?;
    let seccomp = container_seccomp(&loaded.state)?;
    let cpu_affinity = inherited.exec_cpu_affinity(&opts.process)?;
    let console = connect_console(process.terminal, opts.console_socket, opts.foreground)?;
    let pidfd_socket = opts.pidfd_socket.map(PidfdSocket::connect).transpose()?;
    let namespaces = Namespaces::of_process(loaded.state.pid);
    let mut cfg = InitConfig::for_process(process, namespaces, cgroup, opts.preserve_fds);
    cfg.seccomp = seccomp;
    cfg.cpu_affinity = cpu_affinity;
    cfg.trace = opts.trace;
    let spawned = berth_process::spawn_init(&cfg, console.as_ref(), |_| Ok(()))?;
    let joined = match &loaded.state.intel_rdt {
        Some(group) => group.add(spawned.pid).map_err(ContainerError::from),
        None => Ok(()),
    };
    let finished = joined
        .and_then(|()| send_pidfd(pidfd_socket.as_ref(), spawned.pid, PidfdOf::Exec))
        .and_then(|()| write_pid_file(opts.pid_file, spawned.pid))
        .and_then(|()| Ok(spawned.release()?));
    if let Err(e) = finished {
        berth_process::kill_and_reap(spawned.pid);
        return Err(e);
    }
    Ok(Execed {
        pid: spawned.pid,
        console: spawned.console,
        trace: spawned.trace,
    })
}

/// The container's seccomp filter applies to every process exec'd into it
/// (runc); its agent is told the container is running, with init's pid.
fn container_seccomp(state: &ContainerState) -> Result<Option<Seccomp>, ContainerError> {
    let spec = crate::seccomp::from_raw(state.seccomp.as_deref())?;
    crate::seccomp::build(spec.as_ref(), || {
        serde_json::to_value(HookStateView::new(
            &state.id,
            Status::Running,
            state.pid,
            &state.bundle,
            state.annotations.as_ref(),
        ))
        .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_like_runc() {
        assert_eq!(
            check_status(Status::Stopped, false)
                .unwrap_err()
                .to_string(),
            "cannot exec in a stopped container"
        );
        assert!(check_status(Status::Paused, false)
            .unwrap_err()
            .to_string()
            .contains("--ignore-paused"));
        assert!(check_status(Status::Paused, true).is_ok());
        assert!(check_status(Status::Created, false).is_ok());
        assert!(check_status(Status::Running, false).is_ok());
    }
}
