//! `process`: what the container runs and with which privileges
//! (runtime-spec `config.md`, "Process").

use std::path::PathBuf;

use crate::serde_util::{is_false, is_zero, is_zero_i32, null_as_default};
use serde::{Deserialize, Serialize};

/// `process` (also the whole of `exec --process FILE`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    /// Attach a pseudo-terminal.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub terminal: bool,
    /// The terminal's size when the process starts (with `terminal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<ConsoleSize>,
    /// The user the process runs as; absent or null: uid 0, gid 0 (runc
    /// reads it as Go's zero value).
    #[serde(default, deserialize_with = "null_as_default")]
    pub user: User,
    /// argv; `args[0]` is looked up in the container's PATH.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<String>,
    /// Windows' command line; ignored on Linux.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub command_line: String,
    /// The whole environment (`KEY=value`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    /// Working directory in the container (required, absolute; absent or
    /// null reads as empty, which validation refuses with runc's words).
    #[serde(default, deserialize_with = "null_as_default")]
    pub cwd: PathBuf,
    /// The five capability sets; absent means every set empty.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "LinuxCapabilities::is_empty"
    )]
    pub capabilities: LinuxCapabilities,
    /// Resource limits, applied in order.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rlimits: Vec<PosixRlimit>,
    /// Set `no_new_privs` before exec.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub no_new_privileges: bool,
    /// AppArmor profile; empty: none.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub apparmor_profile: String,
    /// `/proc/self/oom_score_adj`; absent: left as inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// SELinux label; empty: none.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub selinux_label: String,
    /// I/O priority (ioprio_set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_priority: Option<LinuxIoPriority>,
    /// Scheduling policy and attributes (sched_setattr).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Scheduler>,
    /// CPU affinity of `exec`'d processes (not of the container's init).
    #[serde(
        rename = "execCPUAffinity",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exec_cpu_affinity: Option<CpuAffinity>,
}

/// `process.ioPriority`: class (`IOPRIO_CLASS_RT`, `_BE`, `_IDLE`) and
/// level (0-7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxIoPriority {
    #[serde(default, deserialize_with = "null_as_default")]
    pub class: String,
    #[serde(default)]
    pub priority: i64,
}

/// `process.scheduler`: the fields of sched_setattr(2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduler {
    /// `SCHED_OTHER`, `SCHED_FIFO`, ...
    #[serde(default, deserialize_with = "null_as_default")]
    pub policy: String,
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub nice: i32,
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub priority: i32,
    /// `SCHED_FLAG_RESET_ON_FORK`, ...
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub flags: Vec<String>,
    /// SCHED_DEADLINE: nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub runtime: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deadline: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub period: u64,
}

/// `process.execCPUAffinity`: cpu lists (`"0-3,7"`) for an exec'd process
/// before (`initial`) and after (`final`) it joins the container's cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuAffinity {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub initial: String,
    #[serde(
        rename = "final",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub final_: String,
}

/// `process.user`: numeric ids in the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// User id (absent or null: 0, as Go reads it).
    #[serde(default, deserialize_with = "null_as_default")]
    pub uid: u32,
    /// Primary group id (absent or null: 0).
    #[serde(default, deserialize_with = "null_as_default")]
    pub gid: u32,
    /// File creation mask; absent: 0022.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umask: Option<u32>,
    /// Supplementary groups (the primary gid is not added).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub additional_gids: Vec<u32>,
    /// Windows' user name; ignored on Linux.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub username: String,
}

/// `process.capabilities`: names as the kernel spells them (`CAP_KILL`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxCapabilities {
    /// The bounding set.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub bounding: Vec<String>,
    /// The effective set.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub effective: Vec<String>,
    /// The inheritable set.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub inheritable: Vec<String>,
    /// The permitted set.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub permitted: Vec<String>,
    /// The ambient set.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ambient: Vec<String>,
}

impl LinuxCapabilities {
    /// True when every set is empty (as when `capabilities` is absent).
    pub fn is_empty(&self) -> bool {
        self.sets().iter().all(|(_, set)| set.is_empty())
    }

    /// The five sets with their field names, in the spec's order.
    pub fn sets(&self) -> [(&'static str, &[String]); 5] {
        [
            ("bounding", &self.bounding),
            ("effective", &self.effective),
            ("inheritable", &self.inheritable),
            ("permitted", &self.permitted),
            ("ambient", &self.ambient),
        ]
    }
}

/// One entry of `process.rlimits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PosixRlimit {
    /// Which limit; an unknown name is a parse error naming it.
    #[serde(rename = "type")]
    pub typ: PosixRlimitType,
    /// Hard limit.
    #[serde(default)]
    pub hard: u64,
    /// Soft limit.
    #[serde(default)]
    pub soft: u64,
}

/// The rlimit names of getrlimit(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PosixRlimitType {
    #[serde(rename = "RLIMIT_AS")]
    As,
    #[serde(rename = "RLIMIT_CORE")]
    Core,
    #[serde(rename = "RLIMIT_CPU")]
    Cpu,
    #[serde(rename = "RLIMIT_DATA")]
    Data,
    #[serde(rename = "RLIMIT_FSIZE")]
    Fsize,
    #[serde(rename = "RLIMIT_LOCKS")]
    Locks,
    #[serde(rename = "RLIMIT_MEMLOCK")]
    Memlock,
    #[serde(rename = "RLIMIT_MSGQUEUE")]
    Msgqueue,
    #[serde(rename = "RLIMIT_NICE")]
    Nice,
    #[serde(rename = "RLIMIT_NOFILE")]
    Nofile,
    #[serde(rename = "RLIMIT_NPROC")]
    Nproc,
    #[serde(rename = "RLIMIT_RSS")]
    Rss,
    #[serde(rename = "RLIMIT_RTPRIO")]
    Rtprio,
    #[serde(rename = "RLIMIT_RTTIME")]
    Rttime,
    #[serde(rename = "RLIMIT_SIGPENDING")]
    Sigpending,
    #[serde(rename = "RLIMIT_STACK")]
    Stack,
}

/// `process.consoleSize`: rows and columns of the process's terminal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSize {
    pub height: u32,
    pub width: u32,
}
