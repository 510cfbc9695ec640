//! Spawning the container's init: one `clone3` into new namespaces (no
//! re-exec of the runtime), a typed sync channel, and init as a list of
//! small named steps (see `init`).

mod child;
mod console;
mod errors;
mod exec_path;
pub mod hooks;
mod idmap;
mod init;
pub mod namespaces;
mod netdev;
mod pidfd;
mod seccomp_agent;
mod spawn;
pub mod supervise;
pub mod sync;
mod sysctl;
pub mod trace;
mod via_userns;

use std::os::fd::OwnedFd;
use std::path::PathBuf;

pub use berth_sys::process::{running_in_user_namespace, WindowSize};
pub use child::kill_and_reap;
pub use errors::{error_chain, go_strerror, go_strerror_of, root_errno};
pub use namespaces::Namespaces;
pub use netdev::NetDevice;
pub use pidfd::{PidfdOf, PidfdSocket};
pub use seccomp_agent::SeccompAgent;
pub use spawn::{spawn_init, Spawned};
pub use sync::InitFailure;
pub use sysctl::Sysctl;
pub use trace::StepTime;

use berth_security::{Capabilities, Rlimit, User};
use berth_spec::Hooks;

/// Everything the new process needs, computed by the runtime before the
/// clone (the child inherits it as a copy of the parent's memory). `create`
/// fills `setup`; `exec` leaves it empty and only joins namespaces.
#[derive(Debug)]
pub struct InitConfig {
    pub namespaces: Namespaces,
    pub cgroup: berth_cgroups::Cgroup,
    /// The container's own setup, for its init (None for `exec`).
    pub setup: Option<ContainerSetup>,
    /// The process init becomes (user, capabilities, rlimits, ...).
    pub process: ProcessPlan,
    /// Fds 3..3+extra_fds stay open in the container (`--preserve-fds`
    /// and socket-activation fds).
    pub extra_fds: u32,
    /// The container's `linux.seccomp` (for its init and for `exec`).
    pub seccomp: Option<Seccomp>,
    /// `execCPUAffinity` (exec only); without it all CPUs of the cgroup.
    pub cpu_affinity: berth_security::attrs::CpuAffinity,
    /// The runtime is not root (runc's `RootlessEUID`): it writes the maps
    /// of a new user namespace under the kernel's unprivileged rules and
    /// init leaves the supplementary groups alone.
    pub rootless_euid: bool,
    /// Time init's steps and send them before `Ready` (`--debug`).
    pub trace: bool,
}

/// A seccomp filter for init to load, and the agent that gets its listener
/// fd when rules are `SCMP_ACT_NOTIFY`.
#[derive(Debug)]
pub struct Seccomp {
    pub filter: berth_security::seccomp::Filter,
    pub agent: Option<SeccompAgent>,
}

/// A container's process (`process` of config.json, or exec's
/// `process.json`), planned by the runtime before the clone: every value
/// parsed and checked, in the types init applies.
#[derive(Debug, Clone)]
pub struct ProcessPlan {
    pub terminal: bool,
    /// `process.consoleSize`.
    pub console_size: Option<berth_sys::process::WindowSize>,
    pub rlimits: Vec<Rlimit>,
    pub capabilities: Capabilities,
    pub no_new_privileges: bool,
    /// `process.apparmorProfile` (None: none).
    pub apparmor_profile: Option<String>,
    pub user: User,
    pub cwd: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// Scheduler, I/O priority, personality, memory policy.
    pub attrs: berth_security::attrs::ProcessAttrs,
}

impl InitConfig {
    /// The process part, the same for a container's init and for `exec`.
    /// No seccomp filter or CPU affinity: those are the caller's to add
    /// (exec inherits the container's).
    pub fn for_process(
        process: ProcessPlan,
        namespaces: Namespaces,
        cgroup: berth_cgroups::Cgroup,
        extra_fds: u32,
    ) -> InitConfig {
        InitConfig {
            namespaces,
            cgroup,
            setup: None,
            process,
            extra_fds,
            seccomp: None,
            cpu_affinity: Default::default(),
            rootless_euid: !nix::unistd::geteuid().is_root(),
            trace: false,
        }
    }
}

/// What only a container's init does: its rootfs, names, sysctls, keyring,
/// oom score, creation hooks, and the exec.fifo it waits on.
#[derive(Debug)]
pub struct ContainerSetup {
    pub rootfs: berth_rootfs::RootfsPlan,
    /// `exec.fifo` in the container's state directory, opened `O_PATH` by
    /// the runtime: init may not be allowed to look into that directory
    /// (in a user namespace it is not root there).
    pub fifo: OwnedFd,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// `linux.sysctl`, planned, in key order.
    pub sysctl: Vec<Sysctl>,
    pub oom_score_adj: Option<i32>,
    /// Join a new session keyring of this name (unless `--no-new-keyring`).
    pub new_session_keyring: Option<String>,
    /// The config's hooks (no lists when none).
    pub hooks: Hooks,
    /// The state hooks get, without `pid` (the runtime adds it).
    pub hook_state: serde_json::Value,
    /// The bundle: the working directory of the runtime's hooks (prestart,
    /// createRuntime).
    pub bundle: PathBuf,
    /// `linux.netDevices`, moved by the runtime into init's network
    /// namespace before it goes on.
    pub net_devices: Vec<NetDevice>,
    /// `linux.resources` as enforced, planned, for a cgroup driver that
    /// applies them once init exists ([`berth_cgroups::Cgroup::adopt_init`]).
    pub resources: berth_cgroups::ResourcePlan,
}

impl ContainerSetup {
    /// Does init have to stop for hooks (any hook before the user's
    /// program)?
    pub fn wants_hooks(&self) -> bool {
        let lists = [
            &self.hooks.prestart,
            &self.hooks.create_runtime,
            &self.hooks.create_container,
            &self.hooks.start_container,
        ];
        lists
            .iter()
            .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()))
    }
}

/// Errors of spawning and of init's steps.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("{0}")]
    Config(String),
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sync(#[from] sync::SyncError),
    #[error(transparent)]
    Rootfs(#[from] berth_rootfs::RootfsError),
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::CgroupError),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    /// A step of init failed; the message is init's own, with its cause.
    #[error("unable to start container process: {}", .0.message)]
    Init(InitFailure),
    #[error("unable to start container process: init exited before it was ready ({0})")]
    InitDied(String),
}

impl ProcessError {
    /// The errno at the root of the failure (0: none): init's, as it sent
    /// it in `Failed{errno}`, or the one in this error's source chain.
    pub fn errno(&self) -> i32 {
        match self {
            ProcessError::Init(failure) => failure.errno,
            other => errors::root_errno(other),
        }
    }
}
