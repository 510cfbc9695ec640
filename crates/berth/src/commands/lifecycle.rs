//! create, start, run, state, kill, delete.

use berth_container::{CgroupDriver, CreateOptions, Store};
use berth_process::supervise;

use crate::cli::{CreateArgs, RunArgs};
use crate::Failure;

/// Socket-activation fds handed to us (LISTEN_FDS), passed on as runc does.
fn listen_fds() -> u32 {
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The cgroup manager `--systemd-cgroup` and `--rootless` chose.
#[derive(Debug, Clone, Copy)]
pub struct CgroupManager {
    pub driver: CgroupDriver,
    pub rootless: bool,
}

fn options(args: &CreateArgs, foreground: bool, cgroups: CgroupManager) -> CreateOptions<'_> {
    CreateOptions {
        id: &args.id,
        bundle: &args.bundle,
        console_socket: args.console_socket.as_deref(),
        pidfd_socket: args.pidfd_socket.as_deref(),
        pid_file: args.pid_file.as_deref(),
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
        preserve_fds: args.preserve_fds,
        listen_fds: listen_fds(),
        foreground,
        cgroup_driver: cgroups.driver,
        rootless_cgroups: cgroups.rootless,
        trace: debug_on(),
    }
}

/// `--debug` was given: the startup phase trace is wanted.
pub fn debug_on() -> bool {
    tracing::enabled!(tracing::Level::DEBUG)
}

/// With `--debug`, a failed init's steps (the failed one last) are logged
/// before the error.
pub fn log_failed_init_steps<T>(
    result: Result<T, berth_container::ContainerError>,
) -> Result<T, berth_container::ContainerError> {
    if let Err(berth_container::ContainerError::Process(berth_process::ProcessError::Init(f))) =
        &result
    {
        log_trace(&f.steps);
    }
    result
}

/// One debug line per timed step: the runtime's phases and init's steps.
pub fn log_trace(steps: &[berth_process::StepTime]) {
    for s in steps {
        tracing::debug!("{}: {}.{:03} ms", s.step, s.micros / 1000, s.micros % 1000);
    }
}

pub fn create(store: &Store, args: &CreateArgs, cgroups: CgroupManager) -> Result<(), Failure> {
    let created = log_failed_init_steps(berth_container::create(
        store,
        &options(args, false, cgroups),
    ))?;
    warn_all(created.warnings);
    log_trace(&created.trace);
    tracing::debug!(
        "created container {} with init pid {}",
        args.id,
        created.state.pid
    );
    Ok(())
}

/// What runc logs as warnings: a poststop hook's failure, a non-empty
/// cgroup at create.
fn warn_all(warnings: Vec<String>) {
    for warning in warnings {
        tracing::warn!("{warning}");
    }
}

pub fn start(store: &Store, id: &str) -> Result<(), Failure> {
    Ok(berth_container::start(store, id)?)
}

/// create + start; in the foreground, forward signals, wait, and exit with
/// the container's status (deleting it unless --keep).
pub fn run(store: &Store, args: &RunArgs, cgroups: CgroupManager) -> Result<i32, Failure> {
    let id = args.create.id.as_str();
    if !args.detach {
        supervise::block_signals()?;
        if !args.no_subreaper {
            supervise::become_subreaper()?;
        }
    }
    let created = log_failed_init_steps(berth_container::create(
        store,
        &options(&args.create, !args.detach, cgroups),
    ))?;
    warn_all(created.warnings);
    log_trace(&created.trace);
    let pid = created.state.pid;
    let console = created.console;
    drop(created.dir);
    if let Err(e) = berth_container::start(store, id) {
        let _ = berth_container::delete(store, id, true);
        return Err(e.into());
    }
    if args.detach {
        return Ok(0);
    }
    let code = supervise::supervise(pid, console)?;
    if !args.keep {
        warn_all(berth_container::delete(store, id, true)?);
    }
    Ok(code)
}

pub fn state(store: &Store, id: &str) -> Result<(), Failure> {
    let loaded = berth_container::load(store, id, false)?;
    let view = loaded.state.view(loaded.status, "");
    crate::stdout::line(serde_json::to_string_pretty(&view)?)
}

pub fn kill(store: &Store, id: &str, signal: &str, all: bool) -> Result<(), Failure> {
    Ok(berth_container::kill(store, id, signal, all)?)
}

pub fn delete(store: &Store, id: &str, force: bool) -> Result<(), Failure> {
    warn_all(berth_container::delete(store, id, force)?);
    Ok(())
}

/// What `checkpoint` and `restore` answer until CRIU is integrated.
const NO_CRIU: &str = "berth does not support checkpoint/restore yet (CRIU is not integrated)";

/// `checkpoint`: as runc, the container must exist and run; then refused.
pub fn checkpoint(store: &Store, id: &str) -> Result<(), Failure> {
    let loaded = berth_container::load(store, id, false)?;
    if loaded.status != berth_container::Status::Running {
        return Err(Failure::new("container is not running".into()));
    }
    Err(Failure::new(format!("checkpoint: {NO_CRIU}")))
}

/// `restore`: as runc, the id must be new; then refused.
pub fn restore(store: &Store, id: &str) -> Result<(), Failure> {
    if berth_container::load(store, id, false).is_ok() {
        return Err(Failure::new(
            "container with given ID already exists".into(),
        ));
    }
    Err(Failure::new(format!("restore: {NO_CRIU}")))
}
