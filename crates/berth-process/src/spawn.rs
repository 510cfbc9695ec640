//! The runtime's side of spawning init: clone3 into the new namespaces and
//! the cgroup (the child finishes joining it), then serve the sync channel until init
//! reports `Ready` (or why it failed).

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use berth_cgroups::CgroupEntry;
use berth_sys::process::{fork_into, Forked};
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use crate::child::ChildGuard;
use crate::console::send_to_console_socket;
use crate::hooks::run_hooks;
use crate::idmap::send_idmapped_mounts;
use crate::sync::{Message, SyncChannel, SyncError};
use crate::{init, namespaces, netdev, ContainerSetup, InitConfig, ProcessError};

/// A spawned init, blocked on exec.fifo.
#[derive(Debug)]
pub struct Spawned {
    /// Its pid in the runtime's pid namespace.
    pub pid: i32,
    /// The pty master, when init has a terminal and no console socket was
    /// given (`run` in the foreground proxies it).
    pub console: Option<OwnedFd>,
    /// How long each of init's steps took (with `InitConfig::trace`).
    pub trace: Vec<crate::StepTime>,
    /// Until [`Spawned::release`], init dies with the runtime.
    chan: SyncChannel,
}

impl Spawned {
    /// Hand init over once it is recorded: it stops dying with the runtime
    /// (`PR_SET_PDEATHSIG`) and goes on to exec.fifo or execve. Until this,
    /// a runtime killed at any moment takes init with it.
    pub fn release(&self) -> Result<(), ProcessError> {
        self.chan.send(&Message::Release, &[])?;
        match self.chan.recv() {
            Ok((Message::Released, _)) => Ok(()),
            Ok((Message::Failed(failure), _)) => Err(ProcessError::Init(failure)),
            Ok((other, _)) => Err(SyncError::Unexpected {
                expected: "Released",
                got: other,
            }
            .into()),
            Err(SyncError::Closed) => Err(ProcessError::InitDied(exit_of(self.pid))),
            Err(e) => Err(e.into()),
        }
    }
}

/// Clone init and drive it to `Ready`. The caller must be single-threaded
/// and must have prepared `cfg.cgroup` ([`berth_cgroups::Cgroup::prepare`]);
/// a container's init is adopted by it after the clone, before init goes on.
/// `on_cloned` records init's pid (with its start time) as soon as it
/// exists, so that a runtime killed from then on leaves a container that
/// `delete --force` can find.
pub fn spawn_init(
    cfg: &InitConfig,
    console_socket: Option<&UnixStream>,
    on_cloned: impl FnOnce(i32) -> std::io::Result<()>,
) -> Result<Spawned, ProcessError> {
    let (parent, child) = SyncChannel::pair()?;
    let first = crate::via_userns::user_namespace_first(cfg);
    if let (Some(path), None) = (&cfg.namespaces.join_pid, first) {
        namespaces::join(CloneFlags::CLONE_NEWPID, path)?;
    }
    let entry = match &cfg.setup {
        Some(_) => cfg.cgroup.prepare_init_entry()?,
        None => cfg.cgroup.prepare_exec_entry()?,
    };
    let (forked, cloned_into) = match first {
        Some(userns) => crate::via_userns::clone_via_helper(cfg, &entry, userns, clone_init)?,
        None => clone_init(cfg, &entry, 0)?,
    };
    match forked {
        Forked::Child => {
            drop(parent);
            init::run(cfg, child, entry, cloned_into)
        }
        Forked::Parent { pid } => {
            drop(child);
            drop(entry);
            let guard = ChildGuard(Some(Pid::from_raw(pid)));
            on_cloned(pid).map_err(|source| ProcessError::Io {
                what: "record the container's init".into(),
                source,
            })?;
            if cfg.namespaces.has_new(CloneFlags::CLONE_NEWUSER) {
                namespaces::write_id_maps(pid, &cfg.namespaces)?;
            }
            if let Some(setup) = &cfg.setup {
                cfg.cgroup.adopt_init(pid, &setup.resources)?;
                send_idmapped_mounts(&setup.rootfs.mounts, &cfg.namespaces, pid, &parent)?;
                if let Some(netns) = netdev::target_netns(&cfg.namespaces, pid) {
                    netdev::move_devices(&setup.net_devices, &netns)?;
                }
            }
            let (console, trace) = serve_init(cfg, &parent, pid, console_socket)?;
            guard.disarm();
            Ok(Spawned {
                pid,
                console,
                trace,
                chan: parent,
            })
        }
    }
}

/// clone3 into the new namespaces and, where the kernel can, straight into
/// the cgroup2 part of the container's cgroup; says whether it could.
/// `extra_flags`: `CLONE_PARENT` from the namespace helper.
fn clone_init(
    cfg: &InitConfig,
    entry: &CgroupEntry,
    extra_flags: i32,
) -> Result<(Forked, bool), ProcessError> {
    let flags = cfg.namespaces.clone_flags.bits() | extra_flags;
    let attempt = match entry.clone_into() {
        Some(cgroup) => match fork_into(flags, Some(cgroup)) {
            // Kernels before 5.7: no clone3 or no CLONE_INTO_CGROUP.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::E2BIG)) => None,
            // A rootless exec the caller may not move into the cgroup.
            Err(e) if entry.best_effort() && is_permission_denied(&e) => None,
            other => Some(other.map(|forked| (forked, true))),
        },
        None => None,
    };
    let forked = attempt.unwrap_or_else(|| fork_into(flags, None).map(|f| (f, false)));
    forked.map_err(|e| ProcessError::Io {
        what: "clone3 the container's init".into(),
        source: e,
    })
}

fn is_permission_denied(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM))
}

/// Let init proceed, forward its console (or keep it when there is no
/// console socket), and wait for its verdict; with it, init's step times
/// when it traces.
fn serve_init(
    cfg: &InitConfig,
    chan: &SyncChannel,
    pid: i32,
    console_socket: Option<&UnixStream>,
) -> Result<(Option<OwnedFd>, Vec<crate::StepTime>), ProcessError> {
    chan.send(&Message::Continue, &[])?;
    let mut kept = None;
    let mut trace = Vec::new();
    loop {
        match chan.recv() {
            Ok((Message::Ready, _)) => return Ok((kept, trace)),
            Ok((Message::Trace(steps), _)) => trace = named_init_steps(steps),
            Ok((Message::Failed(mut failure), _)) => {
                failure.steps = named_init_steps(std::mem::take(&mut failure.steps));
                return Err(ProcessError::Init(failure));
            }
            Ok((Message::ConsoleMaster, fds)) => {
                kept = forward_console(console_socket, fds)?;
            }
            Ok((Message::WriteTimeOffsets, _)) => {
                let offsets = cfg.namespaces.new_timens.as_deref().unwrap_or_default();
                namespaces::write_time_offsets(pid, offsets)?;
                chan.send(&Message::TimeOffsetsWritten, &[])?;
            }
            Ok((Message::SeccompListener, fds)) => {
                pass_seccomp_listener(cfg, pid, fds)?;
                chan.send(&Message::SeccompListenerDone, &[])?;
            }
            Ok((Message::RunHooks, _)) => {
                let Some(setup) = &cfg.setup else {
                    return Err(ProcessError::Config(
                        "hooks asked for by an exec'd process".into(),
                    ));
                };
                let state = run_runtime_hooks(setup, pid)?;
                chan.send(&Message::HooksDone { state }, &[])?;
            }
            Ok((other, _)) => {
                return Err(SyncError::Unexpected {
                    expected: "Ready",
                    got: other,
                }
                .into())
            }
            Err(SyncError::Closed) => return Err(ProcessError::InitDied(exit_of(pid))),
            Err(e) => return Err(e.into()),
        }
    }
}

fn forward_console(
    socket: Option<&UnixStream>,
    fds: Vec<OwnedFd>,
) -> Result<Option<OwnedFd>, ProcessError> {
    let Some(master) = fds.into_iter().next() else {
        return Err(ProcessError::Config(
            "init sent no pty master with its console message".into(),
        ));
    };
    match socket {
        Some(socket) => send_to_console_socket(socket, &master).map(|()| None),
        None => Ok(Some(master)),
    }
}

/// Give init's seccomp listener to the agent of `listenerPath`.
fn pass_seccomp_listener(
    cfg: &InitConfig,
    pid: i32,
    fds: Vec<OwnedFd>,
) -> Result<(), ProcessError> {
    let agent = cfg.seccomp.as_ref().and_then(|s| s.agent.as_ref());
    let (Some(agent), Some(listener)) = (agent, fds.first()) else {
        return Err(ProcessError::Config(
            "init sent a seccomp listener but there is no listenerPath or no fd".into(),
        ));
    };
    agent.hand_over(listener, pid, cfg.setup.is_some())
}

/// prestart then createRuntime, in the runtime's namespaces, with the
/// state (status "creating", init's pid) on stdin and the bundle as cwd.
fn run_runtime_hooks(setup: &ContainerSetup, pid: i32) -> Result<String, ProcessError> {
    let mut state = setup.hook_state.clone();
    state["pid"] = pid.into();
    let state = state.to_string();
    let prestart = setup.hooks.prestart.as_deref().unwrap_or_default();
    run_hooks("prestart", prestart, &state, Some(&setup.bundle))?;
    let create_runtime = setup.hooks.create_runtime.as_deref().unwrap_or_default();
    run_hooks("createRuntime", create_runtime, &state, Some(&setup.bundle))?;
    Ok(state)
}

/// Init's steps as the runtime reports them: `init: <step>`.
fn named_init_steps(steps: Vec<crate::StepTime>) -> Vec<crate::StepTime> {
    steps
        .into_iter()
        .map(|s| crate::StepTime {
            step: format!("init: {}", s.step),
            ..s
        })
        .collect()
}

/// How a child that closed the channel ended, in words.
fn exit_of(pid: i32) -> String {
    match waitpid(Pid::from_raw(pid), None) {
        Ok(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
        Ok(WaitStatus::Signaled(_, sig, _)) => format!("killed by {sig}"),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("waitpid: {e}"),
    }
}
