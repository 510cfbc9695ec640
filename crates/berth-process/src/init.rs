//! The container's init, run in the clone3 child: a list of small named
//! steps. Any failure travels to the parent as `(step, errno, message)`;
//! after `Ready` init blocks on `exec.fifo` until `start`, then execs.

use std::convert::Infallible;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_cgroups::CgroupEntry;
use nix::fcntl::{open, OFlag};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::stat::{umask, Mode};

use crate::console;
use crate::errors::{error_chain, root_errno};
use crate::exec_path::{find_executable, home_of};
use crate::hooks::run_hooks;
use crate::namespaces;
use crate::sync::{InitFailure, Message, SyncChannel};
use crate::trace;
use crate::{ContainerSetup, InitConfig};

/// A failed step, before it is flattened onto the channel.
struct StepError {
    step: &'static str,
    source: Box<dyn std::error::Error>,
}

type Step<T> = Result<T, StepError>;

/// Run `f` as the step named `step` (timed when the runtime traces).
fn step<T, E>(step: &'static str, f: impl FnOnce() -> Result<T, E>) -> Step<T>
where
    E: std::error::Error + 'static,
{
    let started = trace::begin();
    let result = f();
    trace::end(step, started);
    result.map_err(|e| StepError {
        step,
        source: Box::new(e),
    })
}

impl StepError {
    fn into_failure(self) -> InitFailure {
        let chain = error_chain(self.source.as_ref());
        // The executable lookup speaks for itself in runc's words
        // (`exec: "x": executable file not found in $PATH`).
        let message = if self.step == "exec" {
            chain
        } else {
            format!("{}: {chain}", self.step)
        };
        InitFailure {
            step: self.step.to_string(),
            errno: root_errno(self.source.as_ref()),
            message,
            steps: Vec::new(),
        }
    }
}

/// Entry point of the child. Never returns: it execs the user's program or
/// exits after telling the parent why it could not.
pub fn run(cfg: &InitConfig, chan: SyncChannel, entry: CgroupEntry, cloned_into: bool) -> ! {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        steps(cfg, &chan, entry, cloned_into)
    }));
    let mut failure = match result {
        Ok(Err(e)) => e.into_failure(),
        Ok(Ok(never)) => match never {},
        Err(_) => InitFailure {
            step: "init".into(),
            errno: 0,
            message: "init panicked".into(),
            steps: Vec::new(),
        },
    };
    failure.steps = trace::take().unwrap_or_default();
    if chan.send(&Message::Failed(failure.clone()), &[]).is_err() {
        // After Ready nobody listens: the container's stderr is all we have.
        eprintln!("berth init: {}", failure.message);
    }
    std::process::exit(1)
}

fn steps(
    cfg: &InitConfig,
    chan: &SyncChannel,
    entry: CgroupEntry,
    cloned_into: bool,
) -> Step<Infallible> {
    if cfg.trace {
        trace::enable();
    }
    let idmapped = enter_the_cgroup(cfg, chan, entry, cloned_into)?;
    join_namespaces(cfg)?;
    if cfg.namespaces.in_user_namespace() {
        step("become root in the user namespace", become_namespace_root)?;
        step("die with the runtime", die_with_the_runtime)?;
    }
    if let Some(offsets) = &cfg.namespaces.new_timens {
        step("create the time namespace", || {
            enter_new_time_namespace(chan, offsets)
        })?;
    }
    let created = match &cfg.setup {
        Some(setup) => Some(set_up_container(cfg, setup, chan, idmapped)?),
        None => {
            if cfg.process.terminal {
                step("set up the console", || {
                    console::setup_in_init(chan, false, cfg.process.console_size)
                })?;
            }
            None
        }
    };
    apply_process_settings(cfg)?;
    let executable = step("exec", || {
        find_executable(&cfg.process.args[0], &cfg.process.env)
    })?;
    step("mark fds close-on-exec", || {
        berth_sys::process::cloexec_from(3 + cfg.extra_fds)
    })?;
    let program = Program::new(&executable, cfg);
    report_ready_and_exec(cfg, chan, created.as_ref(), &program)
}

/// From the clone to the container's cgroup: non-dumpable, dying with the
/// runtime, `Continue` (with the idmapped trees the runtime sent, which it
/// returns), the cgroup joined, the runtime's fds closed, the CPU affinity.
fn enter_the_cgroup(
    cfg: &InitConfig,
    chan: &SyncChannel,
    entry: CgroupEntry,
    cloned_into: bool,
) -> Step<Vec<(usize, OwnedFd)>> {
    // Until execve, /proc/<pid>/exe is the berth binary: non-dumpable, no
    // other process may open it (CVE-2019-5736). execve resets the flag.
    // A runtime that is not root may open /proc/<init>/uid_map only while
    // init is dumpable: then the flag goes once the maps are written
    // (nothing of the container runs before that; runc does the same).
    let maps_by_unprivileged_runtime =
        cfg.rootless_euid && cfg.namespaces.has_new(CloneFlags::CLONE_NEWUSER);
    if !maps_by_unprivileged_runtime {
        step("make init non-dumpable", || {
            nix::sys::prctl::set_dumpable(false)
        })?;
    }
    // A runtime killed before it hands init over takes init with it (and
    // a runtime that died before this line closed the channel: init's next
    // read or write fails and it exits).
    step("die with the runtime", die_with_the_runtime)?;
    step("set the initial CPU affinity", || {
        cfg.cpu_affinity.apply_initial()
    })?;
    let idmapped = step("wait for the runtime", || {
        crate::idmap::receive_until_continue(chan)
    })?;
    if maps_by_unprivileged_runtime {
        step("make init non-dumpable", || {
            nix::sys::prctl::set_dumpable(false)
        })?;
    }
    // Everything init does from here on, and the container after it, is
    // charged to the container's cgroup; init's first few pages (its stack
    // before Continue) stay with the runtime's, as with runc and crun.
    step("join the container's cgroup", || {
        entry.join_current(cloned_into)
    })?;
    // No fd of the host may be open while init resolves container paths
    // (cwd = /proc/self/fd/N, CVE-2024-21626): only the channel, the fifo,
    // the fds the container is given and the runtime's detached mount trees
    // (mounted before pivot_root) stay.
    step("close the runtime's fds", || {
        berth_sys::process::close_fds_except(&kept_fds(cfg, chan, &idmapped))
    })?;
    // Not the runtime's affinity (`taskset berth run`): the final one, or
    // every CPU the cgroup allows.
    step("set the CPU affinity", || cfg.cpu_affinity.apply_final())?;
    Ok(idmapped)
}

/// From `Ready` to execve: a NOTIFY filter's listener to the agent before
/// `Ready`, the step times, `Ready`, the runtime letting go, the exec.fifo
/// wait (create), then the seccomp filter, the startContainer hooks under
/// it, and execve.
fn report_ready_and_exec(
    cfg: &InitConfig,
    chan: &SyncChannel,
    created: Option<&(&OwnedFd, Option<String>)>,
    program: &Program,
) -> Step<Infallible> {
    // The agent must have the listener before Ready (create's runtime is
    // gone after it): a filter with SCMP_ACT_NOTIFY rules is loaded here.
    let notify = cfg.seccomp.as_ref().is_some_and(|s| s.filter.uses_notify());
    if notify {
        load_seccomp(cfg, chan)?;
    }
    if let Some(steps) = trace::take() {
        step("report the step times", || {
            chan.send(&Message::Trace(steps), &[])
        })?;
    }
    step("report ready", || chan.send(&Message::Ready, &[]))?;
    step("wait for the runtime to let go", || be_released(chan))?;
    if let Some((fifo, _)) = created {
        // Init may wait for a long time: its heap's free pages (the
        // runtime's, copied at the clone, and the channel's buffers) go
        // back to the kernel first.
        berth_sys::process::release_free_heap();
        wait_for_start(fifo)?;
    }
    restore_signal_dispositions();
    if !notify {
        // The last step before execve: under the filter runs nothing but
        // the startContainer hooks (as with runc, whose init loads it
        // before them) and execve, so any profile that lets the program
        // run lets init finish.
        load_seccomp(cfg, chan)?;
    }
    if let Some((_, hook_state)) = created {
        start_container_hooks(cfg, hook_state.as_deref())?;
    }
    exec(program)
}

/// `PR_SET_PDEATHSIG` SIGKILL: set at start and again after each change of
/// the effective ids (which clears it), cleared when the runtime lets go.
fn die_with_the_runtime() -> std::io::Result<()> {
    berth_sys::process::set_parent_death_signal(libc::SIGKILL)
}

/// The fds init keeps: the channel, the exec.fifo (an `O_PATH` fd of a
/// fifo, not a directory), `--preserve-fds` (the caller's choice; the
/// cwd check below still applies) and the detached trees the runtime made
/// (idmapped copies and bind sources opened for a user namespace: mounted
/// before pivot_root).
fn kept_fds(
    cfg: &InitConfig,
    chan: &SyncChannel,
    idmapped: &[(usize, OwnedFd)],
) -> Vec<std::os::fd::RawFd> {
    let preserved = (0..cfg.extra_fds).map(|n| 3 + n as std::os::fd::RawFd);
    let fifo = cfg.setup.as_ref().map(|s| s.fifo.as_raw_fd());
    let bind_sources = cfg.setup.as_ref().map(|s| &s.rootfs.bind_sources);
    preserved
        .chain(fifo)
        .chain(idmapped.iter().map(|(_, fd)| fd.as_raw_fd()))
        .chain(bind_sources.into_iter().flat_map(|b| b.raw_fds()))
        .chain(std::iter::once(chan.as_raw_fd()))
        .collect()
}

/// After `Ready` the runtime records init and sends `Release`; init stops
/// dying with it and says so, so the runtime may exit. Nobody reads the
/// channel after that: a later failure goes to the container's stderr.
fn be_released(chan: &SyncChannel) -> Result<(), crate::sync::SyncError> {
    chan.expect(&Message::Release, "Release")?;
    berth_sys::process::set_parent_death_signal(0).map_err(|e| crate::sync::SyncError::Io {
        op: "prctl(PR_SET_PDEATHSIG, 0)",
        source: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
    })?;
    chan.send(&Message::Released, &[])?;
    chan.close_write()
}

/// The container's own setup (create, not exec): cgroup namespace,
/// keyring, oom score, rootfs, creation hooks, pivot_root, console, names,
/// sysctls. Returns the exec.fifo and the state the hooks were given.
fn set_up_container<'a>(
    cfg: &InitConfig,
    setup: &'a ContainerSetup,
    chan: &SyncChannel,
    idmapped: Vec<(usize, OwnedFd)>,
) -> Step<(&'a OwnedFd, Option<String>)> {
    if cfg.namespaces.new_cgroupns {
        step("unshare the cgroup namespace", || {
            unshare(CloneFlags::CLONE_NEWCGROUP)
        })?;
    }
    if let Some(name) = &setup.new_session_keyring {
        step("join a new session keyring", || join_keyring(name))?;
    }
    if let Some(score) = setup.oom_score_adj {
        step("write oom_score_adj", || write_oom_score_adj(score))?;
    }
    step("prepare rootfs", || {
        berth_rootfs::prepare_rootfs(&setup.rootfs, &idmapped)
    })?;
    drop(idmapped);
    let hook_state = if setup.wants_hooks() {
        Some(container_creation_hooks(setup, chan)?)
    } else {
        None
    };
    step("enter rootfs", || berth_rootfs::enter_rootfs(&setup.rootfs))?;
    step("create cwd", || create_cwd(&cfg.process.cwd))?;
    if cfg.process.terminal {
        step("set up the console", || {
            console::setup_in_init(chan, true, cfg.process.console_size)
        })?;
    }
    set_names(setup)?;
    step("write sysctls", || crate::sysctl::write_all(&setup.sysctl))?;
    step("finish rootfs", || {
        berth_rootfs::finish_rootfs(&setup.rootfs)
    })?;
    Ok((&setup.fifo, hook_state))
}

/// Ask the runtime to run prestart and createRuntime, then run
/// createContainer here, in the container's namespaces before pivot_root,
/// with the container's root filesystem as working directory (as runc: a
/// relative path in such a hook is inside the rootfs).
/// Returns the state the hooks were given.
fn container_creation_hooks(setup: &ContainerSetup, chan: &SyncChannel) -> Step<String> {
    step("hooks", || chan.send(&Message::RunHooks, &[]))?;
    let state = step("hooks", || match chan.recv()? {
        (Message::HooksDone { state }, _) => Ok(state),
        (got, _) => Err(crate::sync::SyncError::Unexpected {
            expected: "HooksDone",
            got,
        }),
    })?;
    let hooks = setup.hooks.create_container.as_deref().unwrap_or_default();
    step("hooks", || {
        run_hooks("createContainer", hooks, &state, Some(&setup.rootfs.rootfs))
    })?;
    Ok(state)
}

/// startContainer hooks, in the container, after `start`.
fn start_container_hooks(cfg: &InitConfig, state: Option<&str>) -> Step<()> {
    let (Some(setup), Some(state)) = (&cfg.setup, state) else {
        return Ok(());
    };
    let state = crate::hooks::with_status(state, "created");
    let hooks = setup.hooks.start_container.as_deref().unwrap_or_default();
    step("hooks", || run_hooks("startContainer", hooks, &state, None))
}

fn join_namespaces(cfg: &InitConfig) -> Step<()> {
    for (flag, path) in &cfg.namespaces.join {
        if namespaces::is_current(*flag, path) {
            continue;
        }
        step("join namespace", || namespaces::join(*flag, path))?;
    }
    Ok(())
}

/// The kernel puts only the children of the unsharing process into a new
/// time namespace, and its clock offsets can be set only until a process
/// is in it. So: unshare, have the runtime write the offsets, then enter it
/// ourselves (init is single-threaded).
fn enter_new_time_namespace(chan: &SyncChannel, offsets: &str) -> Result<(), crate::ProcessError> {
    unshare(namespaces::CLONE_NEWTIME).map_err(|e| crate::ProcessError::Io {
        what: "unshare(CLONE_NEWTIME)".into(),
        source: e.into(),
    })?;
    if !offsets.is_empty() {
        chan.send(&Message::WriteTimeOffsets, &[])?;
        chan.expect(&Message::TimeOffsetsWritten, "TimeOffsetsWritten")?;
    }
    namespaces::join(
        namespaces::CLONE_NEWTIME,
        &PathBuf::from("/proc/self/ns/time_for_children"),
    )
}

/// In a user namespace init starts with the runtime's (unmapped) ids; uid
/// and gid 0 of the namespace are its root, with the namespace's
/// capabilities.
fn become_namespace_root() -> nix::Result<()> {
    let root_gid = nix::unistd::Gid::from_raw(0);
    let root_uid = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid)?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid)
}

/// A kernel without keyrings (ENOSYS) is not an error, as with runc.
fn join_keyring(name: &str) -> std::io::Result<()> {
    match berth_sys::process::join_session_keyring(name) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => Ok(()),
        other => other.map(drop),
    }
}

fn write_oom_score_adj(score: i32) -> std::io::Result<()> {
    std::fs::write("/proc/self/oom_score_adj", score.to_string())
}

fn set_names(setup: &ContainerSetup) -> Step<()> {
    if let Some(name) = &setup.hostname {
        step("set hostname", || nix::unistd::sethostname(name))?;
    }
    if let Some(name) = &setup.domainname {
        step("set domainname", || {
            berth_sys::process::set_domainname(name)
        })?;
    }
    Ok(())
}

/// rlimits, bounding set, user, cwd, capabilities, no_new_privs: in the
/// order the kernel needs (privileged steps before the uid change).
/// Without no_new_privs, loading a seccomp filter needs CAP_SYS_ADMIN: init
/// keeps it effective until execve (which does not pass it on).
fn apply_process_settings(cfg: &InitConfig) -> Step<()> {
    // While init is still root, in the container's /proc (runc's order).
    step("apply apparmor profile", || {
        berth_security::apply_apparmor_profile(cfg.process.apparmor_profile.as_deref())
    })?;
    step("set rlimits", || {
        berth_security::set_rlimits(&cfg.process.rlimits)
    })?;
    set_scheduling_attributes(cfg)?;
    step("drop bounding set", || {
        berth_security::drop_bounding_set(&cfg.process.capabilities)
    })?;
    let cwd_before = std::env::set_current_dir(&cfg.process.cwd);
    step("give stdio to the user", || {
        berth_security::give_stdio_to(cfg.process.user.uid.as_raw())
    })?;
    step("set user", || {
        berth_security::switch_user(&cfg.process.user, cfg.rootless_euid)
    })?;
    step("die with the runtime", die_with_the_runtime)?;
    umask(cfg.process.user.umask);
    if cwd_before.is_err() {
        // The user may lack access that root had, or the reverse.
        step("chdir to cwd", || chdir(&cfg.process.cwd))?;
    }
    step("chdir to cwd", cwd_inside_root)?;
    let needs_sys_admin = cfg.seccomp.is_some()
        && !cfg.process.no_new_privileges
        && !berth_security::keeps_sys_admin(&cfg.process.capabilities);
    step("apply capabilities", || {
        if needs_sys_admin {
            berth_security::apply_capabilities_keeping_sys_admin(&cfg.process.capabilities)
        } else {
            berth_security::apply_capabilities(&cfg.process.capabilities)
        }
    })?;
    if cfg.process.no_new_privileges {
        step("set no_new_privs", berth_security::set_no_new_privs)?;
    }
    Ok(())
}

/// Scheduler, I/O priority, personality and memory policy: while init is
/// still root with every capability (a real-time policy or class needs
/// CAP_SYS_NICE / CAP_SYS_ADMIN), before a seccomp filter may forbid the
/// syscalls (runc's order).
fn set_scheduling_attributes(cfg: &InitConfig) -> Step<()> {
    let attrs = &cfg.process.attrs;
    step("set the scheduler", || attrs.apply_scheduler())?;
    step("set the I/O priority", || attrs.apply_io_priority())?;
    step("set the personality", || attrs.apply_personality())?;
    step("set the memory policy", || attrs.apply_memory_policy())
}

/// Load the seccomp filter, and hand its listener (SCMP_ACT_NOTIFY rules)
/// to the runtime, which passes it to the seccomp agent.
fn load_seccomp(cfg: &InitConfig, chan: &SyncChannel) -> Step<()> {
    let Some(seccomp) = &cfg.seccomp else {
        return Ok(());
    };
    let listener = step("load the seccomp filter", || seccomp.filter.load())?;
    if let Some(listener) = listener {
        step("hand over the seccomp listener", || {
            send_listener(chan, listener)
        })?;
    }
    Ok(())
}

/// Send the listener and wait until the agent has it; then close ours.
fn send_listener(chan: &SyncChannel, listener: OwnedFd) -> Result<(), crate::sync::SyncError> {
    chan.send(&Message::SeccompListener, &[listener.as_raw_fd()])?;
    chan.expect(&Message::SeccompListenerDone, "SeccompListenerDone")
}

/// The cwd must be reachable from the container's root: the kernel's
/// getcwd gives "(unreachable)" (glibc: ENOENT) for a directory outside
/// it, e.g. one reached through an fd of the host.
fn cwd_inside_root() -> Result<(), crate::ProcessError> {
    match nix::unistd::getcwd() {
        Ok(path) if path.is_absolute() => Ok(()),
        Ok(_) | Err(nix::errno::Errno::ENOENT) => Err(crate::ProcessError::Config(
            "current working directory is outside of container mount namespace root -- \
             possible container breakout detected"
                .into(),
        )),
        Err(e) => Err(crate::ProcessError::Io {
            what: "getcwd".into(),
            source: e.into(),
        }),
    }
}

/// `process.cwd` is created (0755, as root, inside the container after
/// pivot_root) when missing, as runc does.
/// `mkdir -p` of the cwd; a cwd that exists but is not a directory is
/// ENOTDIR, as Go's `os.MkdirAll` (runc) says, not mkdir's EEXIST.
fn create_cwd(cwd: &Path) -> Result<(), crate::ProcessError> {
    use std::os::unix::fs::DirBuilderExt;
    let made = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(cwd);
    made.map_err(|e| crate::ProcessError::Io {
        what: format!("mkdir {}", cwd.display()),
        source: match e.kind() {
            std::io::ErrorKind::AlreadyExists => std::io::Error::from_raw_os_error(libc::ENOTDIR),
            _ => e,
        },
    })
}

fn chdir(cwd: &Path) -> Result<(), crate::ProcessError> {
    std::env::set_current_dir(cwd).map_err(|e| crate::ProcessError::Io {
        what: format!("chdir {}", cwd.display()),
        source: e,
    })
}

/// Block until `start` opens the fifo for reading, then hand it one byte.
/// The fifo is reopened through our own /proc/self/fd: the O_PATH fd was
/// taken before pivot_root, when the state directory was still visible.
fn wait_for_start(fifo: &OwnedFd) -> Step<()> {
    let path = format!("/proc/self/fd/{}", fifo.as_fd().as_raw_fd());
    let writer = step("open exec.fifo for start", || {
        open(
            path.as_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    })?;
    step("signal start", || {
        std::fs::File::from(writer).write_all(b"0")
    })
}

/// What execve gets, made before the seccomp filter is loaded (the
/// environment may need /etc/passwd), so that little runs under it.
struct Program {
    path: CString,
    args: Vec<CString>,
    env: Vec<CString>,
}

impl Program {
    fn new(executable: &Path, cfg: &InitConfig) -> Program {
        Program {
            path: cstring(executable.as_os_str().as_encoded_bytes()),
            args: cfg
                .process
                .args
                .iter()
                .map(|a| cstring(a.as_bytes()))
                .collect(),
            env: environment(cfg)
                .iter()
                .map(|e| cstring(e.as_bytes()))
                .collect(),
        }
    }
}

fn exec(program: &Program) -> Step<Infallible> {
    step("exec", || {
        nix::unistd::execve(&program.path, &program.args, &program.env)
    })
}

fn cstring(bytes: &[u8]) -> CString {
    // Config strings cannot hold NUL bytes (validated before the clone).
    CString::new(bytes.to_vec()).unwrap_or_default()
}

/// The process environment: the config's, plus HOME from the container's
/// /etc/passwd when the config does not set it (as runc).
fn environment(cfg: &InitConfig) -> Vec<String> {
    let mut env = cfg.process.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = home_of(Path::new("/etc/passwd"), cfg.process.user.uid.as_raw())
            .unwrap_or_else(|| PathBuf::from("/"));
        env.push(format!("HOME={}", home.display()));
    }
    env
}

/// The runtime ignores SIGPIPE (Rust's default) and may block signals it
/// forwards; the user's program starts with default dispositions and an
/// empty signal mask.
fn restore_signal_dispositions() {
    let _ = SigSet::empty().thread_set_mask();
    berth_sys::process::default_signal(Signal::SIGPIPE);
}
