//! The one error type of this crate. Every variant names the file, directory or
//! spec field involved and keeps the OS error as its `source`.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

/// Something went wrong while planning, creating, driving or removing a cgroup.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroup or proc file could not be read.
    #[error("reading {path}")]
    Read { path: PathBuf, source: io::Error },

    /// A cgroup file or directory could not be opened.
    #[error("opening {path}")]
    Open { path: PathBuf, source: io::Error },

    /// A cgroup file could not be written.
    #[error("writing {value:?} to {path}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },

    /// A resource value could not be written to its cgroup file.
    #[error("{field}: writing {value:?} to {path}")]
    ResourceWrite {
        field: String,
        path: PathBuf,
        value: String,
        source: io::Error,
    },

    /// A cgroup directory could not be created.
    #[error("creating cgroup directory {path}")]
    Mkdir { path: PathBuf, source: io::Error },

    /// A cgroup directory could not be removed (still busy after the retries, ...).
    #[error("removing cgroup directory {path}")]
    Rmdir { path: PathBuf, source: io::Error },

    /// A cgroup directory could not be listed.
    #[error("listing cgroup directory {path}")]
    ReadDir { path: PathBuf, source: io::Error },

    /// `statfs` failed while detecting the cgroup layout.
    #[error("statfs {path}")]
    Statfs { path: PathBuf, source: Errno },

    /// The host's cgroup mounts are not a layout this crate understands.
    #[error("unsupported cgroup layout: {0}")]
    Layout(String),

    /// A line of `/proc/self/mountinfo` or `/proc/self/cgroup` could not be parsed,
    /// or a cgroup file held an unexpected value.
    #[error("unexpected content in {path}: {detail}")]
    Parse { path: PathBuf, detail: String },

    /// An `exec --cgroup` sub-cgroup cannot be used.
    #[error("--cgroup {request:?}: {reason}")]
    SubCgroup { request: String, reason: String },

    /// `linux.cgroupsPath` cannot be used.
    #[error("linux.cgroupsPath {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },

    /// `linux.cgroupsPath` is in the systemd driver's `slice:prefix:name` form
    /// but the cgroupfs driver is in use.
    #[error(
        "linux.cgroupsPath {0:?} is in the systemd form \"slice:prefix:name\", \
         which needs the systemd cgroup driver (--systemd-cgroup); \
         with the cgroupfs driver use a path such as \"/machine/ctr\""
    )]
    SystemdPath(String),

    /// With the systemd driver, `linux.cgroupsPath` is not `slice:prefix:name`
    /// (runc's words).
    #[error(
        "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, \
         got {0:?} instead"
    )]
    SystemdPathFormat(String),

    /// `--systemd-cgroup` on a host whose init is not systemd (runc's words).
    #[error("systemd not running on this host, cannot use systemd cgroups manager")]
    SystemdNotRunning,

    /// Rootless `--systemd-cgroup` on a host with v1 hierarchies (runc's words).
    #[error("cannot use rootless systemd cgroups manager on cgroup v1")]
    SystemdRootlessV1,

    /// A systemd slice name that does not make a cgroup path (runc's words).
    #[error("invalid slice name: {0}")]
    InvalidSlice(String),

    /// A D-Bus call to systemd failed.
    #[error("systemd: {action} unit {unit}")]
    Systemd {
        action: &'static str,
        unit: String,
        source: crate::systemd::DbusError,
    },

    /// systemd's job for the unit did not end with `done` (runc's words).
    #[error("error creating systemd unit `{unit}`: got `{result}`")]
    SystemdJob { unit: String, result: String },

    /// A cgroup hierarchy that the operation requires is not mounted.
    #[error("the {controller} cgroup hierarchy is not mounted (needed for {needed_for})")]
    MissingHierarchy {
        controller: String,
        needed_for: String,
    },

    /// `memory.checkBeforeUpdate`: a new limit at or below the usage (runc's words).
    #[error("rejecting {what} limit {limit} <= usage {usage} (linux.resources.memory.checkBeforeUpdate)")]
    BelowUsage {
        what: &'static str,
        limit: u64,
        usage: u64,
    },

    /// `linux.intelRdt` cannot be applied (runc's words).
    #[error("{0}")]
    IntelRdt(String),

    /// A resctrl file or directory could not be written.
    #[error("{what}")]
    Resctrl { what: String, source: io::Error },

    /// A resource field has a value that cannot be applied.
    #[error("invalid {field}: {reason}")]
    InvalidValue { field: String, reason: String },

    /// A configuration runc refuses as invalid (its words lead the message).
    #[error("invalid configuration: {field}: {reason}")]
    InvalidConfig { field: String, reason: String },

    /// A resource field is set but not supported (on this cgroup layout or at all).
    #[error("{field} is not supported{detail}")]
    Unsupported { field: String, detail: String },

    /// A resource field needs a cgroup v2 controller that is not enabled for the cgroup.
    #[error("{field}: cgroup v2 controller {controller:?} is not enabled for {path} (not in its parent's cgroup.subtree_control)")]
    ControllerNotEnabled {
        field: String,
        controller: String,
        path: PathBuf,
        source: io::Error,
    },

    /// cgroup v2 device control: a `bpf(2)` step failed.
    #[error("linux.resources.devices: {step} (cgroup v2 device control by eBPF) for {path}{}",
        if verifier_log.is_empty() { String::new() } else { format!(" (verifier log: {verifier_log})") })]
    DeviceProgram {
        step: &'static str,
        path: PathBuf,
        source: io::Error,
        verifier_log: String,
    },

    /// Rootless, no `linux.cgroupsPath`: a limit for a v1 hierarchy the
    /// caller could not create a cgroup in (runc's words).
    #[error("cannot set {controller} limit: container could not join or create cgroup")]
    RootlessNotJoined { controller: String },

    /// Rootless on pure v2, no `linux.cgroupsPath`: limits asked for, and
    /// the cgroup could not be created (runc's words).
    #[error("rootless needs no limits + no cgrouppath when no permission is granted for cgroups")]
    RootlessNeedsPermission(#[source] Box<CgroupError>),

    /// A rootless container that got no cgroup (no access) where one is
    /// needed.
    #[error("the container has no {what} of its own (rootless, without cgroup access), needed for {needed_for}")]
    RootlessNoCgroup {
        what: &'static str,
        needed_for: &'static str,
    },

    /// Freezing did not complete in time.
    #[error("timed out freezing the cgroup {path}")]
    FreezeTimeout { path: PathBuf },

    /// Sending a signal to a process of the cgroup failed.
    #[error("sending signal {signal} to pid {pid}")]
    Signal {
        pid: i32,
        signal: i32,
        source: Errno,
    },
}

impl CgroupError {
    /// The errno behind this error, where there is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Self::Read { source, .. }
            | Self::Open { source, .. }
            | Self::Write { source, .. }
            | Self::ResourceWrite { source, .. }
            | Self::Mkdir { source, .. }
            | Self::Rmdir { source, .. }
            | Self::ReadDir { source, .. }
            | Self::ControllerNotEnabled { source, .. }
            | Self::DeviceProgram { source, .. } => source.raw_os_error().map(Errno::from_raw),
            Self::Statfs { source, .. } | Self::Signal { source, .. } => Some(*source),
            _ => None,
        }
    }

    pub(crate) fn unsupported(field: &str, detail: &str) -> Self {
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" {detail}")
        };
        Self::Unsupported {
            field: field.to_string(),
            detail,
        }
    }

    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::InvalidValue {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}
