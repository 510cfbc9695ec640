//! `create`: validate the bundle, claim the id, make the cgroup, spawn init
//! and persist the state. A failure undoes every step already done.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use berth_cgroups::{Cgroup, ResourcePlan};
use berth_process::trace::Phases;
use berth_process::{
    ContainerSetup, InitConfig, Namespaces, NetDevice, PidfdOf, PidfdSocket, ProcessPlan, Seccomp,
    Spawned, StepTime, Sysctl,
};
use berth_rootfs::{BindSources, CgroupMountSource, RootfsPlan};
use berth_spec::Linux;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use crate::config::Bundle;
use crate::id::validate_id;
use crate::liveness::stat_of;
pub use crate::plan::CreateOptions;
use crate::plan::{creating_state, linux, ContainerPlan};
use crate::process_attrs::InheritedAttrs;
use crate::process_plan::set_variable;
use crate::state::ContainerState;
use crate::store::{ContainerDir, Store};
use crate::timefmt::rfc3339_nano;
use crate::ContainerError;

/// A created container: init is alive, blocked on exec.fifo.
#[derive(Debug)]
pub struct Created {
    pub state: ContainerState,
    /// The pty master for `run` in the foreground with a terminal.
    pub console: Option<OwnedFd>,
    pub dir: ContainerDir,
    /// What runc would log as warnings (a non-empty cgroup, ignored fields).
    pub warnings: Vec<String>,
    /// With `trace`: the runtime's phases and init's steps, in order.
    pub trace: Vec<StepTime>,
}

/// Undo guard: removes the cgroup and the state directory unless disarmed.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Option<Cgroup>,
    /// Without a mount namespace: the rootfs and how many mounts it had in
    /// the host's table before create; what init stacked on it is detached.
    host_mounts: Option<(PathBuf, usize)>,
}

impl Undo {
    /// Claims the container's state directory (`mkdir`, `flock`): from
    /// here on a failure removes it.
    fn claim(store: &Store, id: &str) -> Result<Undo, ContainerError> {
        Ok(Undo {
            dir: Some(store.create(id)?),
            cgroup: None,
            host_mounts: None,
        })
    }

    fn dir(&self) -> &ContainerDir {
        self.dir.as_ref().expect("claimed")
    }

    /// Keeps everything made: the container exists.
    fn disarm(mut self) -> ContainerDir {
        self.cgroup = None;
        self.host_mounts = None;
        self.dir.take().expect("claimed")
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some((rootfs, keep)) = &self.host_mounts {
            let _ = berth_rootfs::detach_mounts_above(rootfs, *keep);
        }
        if let Some(cgroup) = &self.cgroup {
            let _ = cgroup.destroy();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

pub fn create(store: &Store, opts: &CreateOptions<'_>) -> Result<Created, ContainerError> {
    let mut phases = Phases::new(opts.trace);
    validate_id(opts.id)?;
    let mut plan = crate::plan::plan(opts)?;
    phases.mark("runtime: load, validate and plan the bundle");
    let console = connect_console(plan.process.terminal, opts.console_socket, opts.foreground)?;
    let pidfd_socket = opts.pidfd_socket.map(PidfdSocket::connect).transpose()?;
    let mut undo = Undo::claim(store, opts.id)?;
    let mut state = record_planned(&mut undo, &mut plan, opts.id)?;
    state.cgroup = make_cgroup(&plan, opts.rootless_cgroups)?;
    phases.mark("runtime: create the cgroup and apply the resources");
    let fifo = make_fifo(&undo.dir().fifo_path())?;
    let rootfs = rootfs_plan(&mut plan, opts, state.cgroup.mount_view());
    let setup = container_setup(
        &plan.bundle,
        opts,
        &plan.namespaces,
        rootfs,
        fifo,
        plan.sysctls,
        plan.resources,
    );
    let (process, namespaces, cgroup) = (plan.process, plan.namespaces, state.cgroup.clone());
    let mut init = init_config(opts, process, namespaces, cgroup, setup, plan.seccomp);
    open_bind_sources_for_userns(&mut init)?;
    state.host_rootfs_mounts = host_rootfs_mounts(&init)?;
    undo.host_mounts = state
        .host_rootfs_mounts
        .map(|keep| (plan.bundle.rootfs.clone(), keep));
    phases.mark("runtime: prepare init");
    let mut spawned = spawn_recorded(&init, console.as_ref(), undo.dir(), &mut state)?;
    phases.steps.append(&mut spawned.trace);
    phases.mark("runtime: spawn init until Ready");
    state.creating = false;
    state.intel_rdt = plan.rdt_group;
    hand_over(
        &spawned,
        &mut state,
        &plan.bundle,
        undo.dir(),
        opts,
        pidfd_socket.as_ref(),
    )?;
    let dir = undo.disarm();
    phases.mark("runtime: save the state");
    Ok(Created {
        state,
        console: spawned.console,
        dir,
        warnings: plan.warnings,
        trace: phases.steps,
    })
}

/// Recoverable from its first moment: what will be made is on disk before
/// it is made (a killed runtime leaves what `delete -f` needs), and a
/// failure from here on removes the planned cgroup. The inherited
/// attributes move from the plan to the state.
fn record_planned(
    undo: &mut Undo,
    plan: &mut ContainerPlan,
    id: &str,
) -> Result<ContainerState, ContainerError> {
    let inherited = std::mem::take(&mut plan.inherited);
    let mut state = creating_container_state(&plan.bundle, id, &plan.cgroup, inherited);
    state.new_pid_ns = plan.namespaces.has_new(CloneFlags::CLONE_NEWPID);
    undo.dir().save_draft(&state)?;
    undo.cgroup = Some(plan.cgroup.clone());
    Ok(state)
}

/// Clones init; right after the clone the state records its pid and start
/// time (a killed runtime leaves a container `delete -f` finds).
fn spawn_recorded(
    init: &InitConfig,
    console: Option<&UnixStream>,
    dir: &ContainerDir,
    state: &mut ContainerState,
) -> Result<Spawned, ContainerError> {
    Ok(berth_process::spawn_init(init, console, |pid| {
        state.pid = pid;
        state.start_time = stat_of(pid).map(|s| s.start_time).unwrap_or(0);
        dir.save_draft(state).map_err(std::io::Error::other)
    })?)
}

/// Init is Ready: its resctrl group, the pidfd for `--pidfd-socket`, the
/// final state and the pid file, then init is released. A failure kills
/// init (and removes the resctrl group) before the undo guard runs.
fn hand_over(
    spawned: &Spawned,
    state: &mut ContainerState,
    bundle: &Bundle,
    dir: &ContainerDir,
    opts: &CreateOptions<'_>,
    pidfd_socket: Option<&PidfdSocket>,
) -> Result<(), ContainerError> {
    let finished = crate::intel_rdt::apply(state.intel_rdt.as_mut(), linux(bundle), spawned.pid)
        .and_then(|()| send_pidfd(pidfd_socket, spawned.pid, PidfdOf::Init))
        .and_then(|()| dir.save(state))
        .and_then(|()| write_pid_file(opts.pid_file, spawned.pid))
        .and_then(|()| Ok(spawned.release()?));
    if let Err(e) = finished {
        berth_process::kill_and_reap(spawned.pid);
        let _ = state.intel_rdt.as_ref().map(|g| g.destroy());
        return Err(e);
    }
    Ok(())
}

/// The container's cgroup made from its plan, with the resources applied:
/// runc's rootless cgroupfs manager (hierarchies the caller may not use are
/// left out) or the driver's own (cgroupfs, or a systemd unit adopting
/// init, also rootless: then the user's systemd makes it).
fn make_cgroup(plan: &ContainerPlan, rootless: bool) -> Result<Cgroup, ContainerError> {
    let planned = &plan.cgroup;
    if rootless && planned.systemd_unit().is_none() {
        let path_given = !linux(&plan.bundle).cgroups_path.is_empty();
        let made = planned.create_rootless(path_given, &plan.resources)?;
        made.apply_resources(&plan.resources)?;
        return Ok(made);
    }
    planned.prepare(&plan.resources)?;
    Ok(planned.clone())
}

/// Without a mount namespace init mounts in the host's table: how many
/// mounts the rootfs path has there before, so that `delete` (or a failed
/// create) detaches only what the container stacked on it.
fn host_rootfs_mounts(init: &InitConfig) -> Result<Option<usize>, ContainerError> {
    match &init.setup {
        Some(setup) if setup.rootfs.host_mount_ns => {
            let count = berth_rootfs::mounts_on(&setup.rootfs.rootfs)
                .map_err(berth_process::ProcessError::from)?;
            Ok(Some(count))
        }
        _ => Ok(None),
    }
}

/// In a user namespace init's root may not reach a bind source on the host:
/// the runtime opens them now, as runc does, and init moves them in. A
/// runtime that is not root (rootless) may not clone mounts, and its
/// container's root is the caller itself: init opens them.
fn open_bind_sources_for_userns(init: &mut InitConfig) -> Result<(), ContainerError> {
    if !init.namespaces.in_user_namespace() || init.rootless_euid {
        return Ok(());
    }
    if let Some(setup) = init.setup.as_mut() {
        setup.rootfs.bind_sources =
            BindSources::open(&setup.rootfs.mounts).map_err(berth_process::ProcessError::from)?;
    }
    Ok(())
}

/// The state of a container whose init is not cloned yet (pid 0).
fn creating_container_state(
    bundle: &Bundle,
    id: &str,
    cgroup: &Cgroup,
    inherited: InheritedAttrs,
) -> ContainerState {
    ContainerState {
        id: id.to_string(),
        pid: 0,
        start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: rfc3339_nano(SystemTime::now()),
        annotations: bundle.spec.annotations.clone(),
        cgroup: cgroup.clone(),
        hooks: bundle.spec.hooks.clone(),
        seccomp: crate::seccomp::to_raw(linux(bundle).seccomp.as_ref()),
        creating: true,
        inherited,
        intel_rdt: None,
        host_rootfs_mounts: None,
        new_pid_ns: false,
    }
}

/// The console socket, checked against `process.terminal` as runc does.
/// In the foreground without a socket, the runtime keeps the pty master.
pub(crate) fn connect_console(
    terminal: bool,
    socket: Option<&Path>,
    foreground: bool,
) -> Result<Option<UnixStream>, ContainerError> {
    match (terminal, socket) {
        (true, Some(path)) => {
            UnixStream::connect(path)
                .map(Some)
                .map_err(|source| ContainerError::Io {
                    what: format!("connect to console socket {}", path.display()),
                    source,
                })
        }
        (true, None) if foreground => Ok(None),
        (true, None) => Err(ContainerError::Config(
            "cannot allocate tty if runc will detach without setting console socket".into(),
        )),
        (false, Some(_)) => Err(ContainerError::Config(
            "cannot use console socket if runc will not allocate tty".into(),
        )),
        (false, None) => Ok(None),
    }
}

/// Makes `exec.fifo` (0622) and opens it `O_PATH` for init.
fn make_fifo(path: &Path) -> Result<OwnedFd, ContainerError> {
    let io_error = |what: &str, e: nix::errno::Errno| ContainerError::Io {
        what: format!("{what} {}", path.display()),
        source: e.into(),
    };
    let old = nix::sys::stat::umask(Mode::empty());
    let made = nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o622));
    nix::sys::stat::umask(old);
    made.map_err(|e| io_error("mkfifo", e))?;
    let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC;
    nix::fcntl::open(path, flags, Mode::empty()).map_err(|e| io_error("open", e))
}

/// What berth-rootfs needs, from the plan (its mounts and devices move
/// there) and the made cgroup.
fn rootfs_plan(plan: &mut ContainerPlan, opts: &CreateOptions<'_>, cgroup: &Cgroup) -> RootfsPlan {
    let bundle = &plan.bundle;
    let linux = linux(bundle);
    let cgroup_source = match cgroup.layout() {
        berth_cgroups::Layout::V2 => CgroupMountSource::V2 {
            dir: cgroup.unified_dir().map(Path::to_path_buf),
            own_cgroupns: plan.namespaces.new_cgroupns,
        },
        berth_cgroups::Layout::V1 | berth_cgroups::Layout::Hybrid => CgroupMountSource::V1 {
            hierarchies: cgroup.v1_mount_sources(),
        },
    };
    RootfsPlan {
        rootfs: bundle.rootfs.clone(),
        readonly: bundle.spec.root.as_ref().is_some_and(|r| r.readonly),
        mounts: std::mem::take(&mut plan.mounts),
        rootfs_propagation: plan.root_propagation,
        devices: std::mem::take(&mut plan.devices),
        masked_paths: linux.masked_paths.clone(),
        readonly_paths: linux.readonly_paths.clone(),
        no_pivot: opts.no_pivot,
        cgroup: cgroup_source,
        bind_sources: Default::default(),
        host_mount_ns: !plan.namespaces.has(CloneFlags::CLONE_NEWNS),
    }
}

/// Init's configuration: its process and, as a container's init, its
/// setup. execCPUAffinity is not init's (runtime-spec): it gets every CPU
/// of its cgroup.
fn init_config(
    opts: &CreateOptions<'_>,
    process: ProcessPlan,
    namespaces: Namespaces,
    cgroup: Cgroup,
    setup: ContainerSetup,
    seccomp: Option<Seccomp>,
) -> InitConfig {
    let extra_fds = opts.preserve_fds + opts.listen_fds;
    let mut cfg = InitConfig::for_process(process, namespaces, cgroup, extra_fds);
    if opts.listen_fds > 0 {
        let env = &mut cfg.process.env;
        set_variable(env, format!("LISTEN_FDS={}", opts.listen_fds));
        set_variable(env, "LISTEN_PID=1".into());
    }
    cfg.setup = Some(setup);
    cfg.seccomp = seccomp;
    cfg.trace = opts.trace;
    cfg
}

/// What only the container's init does (rootfs, names, sysctls, keyring,
/// oom score, creation hooks, exec.fifo, net devices, the resources a
/// systemd unit gets once init exists).
fn container_setup(
    bundle: &Bundle,
    opts: &CreateOptions<'_>,
    namespaces: &Namespaces,
    rootfs: RootfsPlan,
    fifo: OwnedFd,
    sysctl: Vec<Sysctl>,
    resources: ResourcePlan,
) -> ContainerSetup {
    let linux = linux(bundle);
    let own_uts = namespaces.has(CloneFlags::CLONE_NEWUTS);
    ContainerSetup {
        rootfs,
        fifo,
        hostname: bundle.spec.hostname.clone().filter(|_| own_uts),
        domainname: bundle.spec.domainname.clone().filter(|_| own_uts),
        sysctl,
        oom_score_adj: crate::plan::process(bundle).oom_score_adj,
        new_session_keyring: (!opts.no_new_keyring).then(|| opts.id.to_string()),
        hooks: bundle.spec.hooks.clone().unwrap_or_default(),
        hook_state: creating_state(bundle, opts.id),
        bundle: bundle.dir.clone(),
        net_devices: net_devices(linux),
        resources,
    }
}

/// `linux.netDevices`: each host interface and its name in the container
/// (the host's name when none is given).
fn net_devices(linux: &Linux) -> Vec<NetDevice> {
    let device = |(host, dev): (&String, &berth_spec::LinuxNetDevice)| NetDevice {
        host_name: host.clone(),
        name: if dev.name.is_empty() {
            host.clone()
        } else {
            dev.name.clone()
        },
    };
    linux.net_devices.iter().map(device).collect()
}

/// Hands a pidfd of `pid` to `--pidfd-socket`, when given.
pub(crate) fn send_pidfd(
    socket: Option<&PidfdSocket>,
    pid: i32,
    of: PidfdOf,
) -> Result<(), ContainerError> {
    match socket {
        Some(socket) => Ok(socket.send(pid, of)?),
        None => Ok(()),
    }
}

/// Write the pid file atomically: decimal digits, no newline; a relative
/// path is relative to the caller's cwd.
pub(crate) fn write_pid_file(path: Option<&Path>, pid: i32) -> Result<(), ContainerError> {
    let Some(path) = path else { return Ok(()) };
    let path = std::path::absolute(path).map_err(|source| ContainerError::Io {
        what: format!("pid file {}", path.display()),
        source,
    })?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|source| ContainerError::Io {
            what: format!("write pid file {}", path.display()),
            source,
        })
}
