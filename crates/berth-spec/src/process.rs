//! `process`: what the container runs and with which privileges
//! (runtime-spec `config.md`, "Process").

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::serde_util::{is_false, null_as_default};

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
    /// I/O priority (not implemented by berth: refused when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_priority: Option<Value>,
    /// Scheduling policy (not implemented by berth: refused when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Value>,
    /// CPU affinity of `exec`'d processes (not implemented by berth:
    /// refused when present).
    #[serde(
        rename = "execCPUAffinity",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exec_cpu_affinity: Option<Value>,
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
