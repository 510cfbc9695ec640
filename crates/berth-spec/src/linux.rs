//! `linux`: namespaces, id mappings, devices, sysctls, seccomp, paths
//! (runtime-spec `config-linux.md`). `linux.resources` is in `resources`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::resources::{LinuxDeviceType, LinuxResources};
use crate::serde_util::{is_zero, null_as_default};

/// `linux`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linux {
    /// User namespace: user id ranges.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub uid_mappings: Vec<LinuxIdMapping>,
    /// User namespace: group id ranges.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub gid_mappings: Vec<LinuxIdMapping>,
    /// Offsets of a new time namespace's clocks, by clock name
    /// (`monotonic`, `boottime`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub time_offsets: HashMap<String, LinuxTimeOffset>,
    /// Kernel parameters to write under /proc/sys (`net.ipv4.ip_forward`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub sysctl: HashMap<String, String>,
    /// cgroup limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<LinuxResources>,
    /// The container's cgroup; empty: derived from the container id.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub cgroups_path: String,
    /// Namespaces to create or join, in order.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub namespaces: Vec<LinuxNamespace>,
    /// Device nodes to create in the container's /dev.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub devices: Vec<LinuxDevice>,
    /// Host network interfaces moved into the container's network
    /// namespace (runtime-spec 1.3), by their name on the host.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub net_devices: BTreeMap<String, LinuxNetDevice>,
    /// The seccomp filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<LinuxSeccomp>,
    /// Propagation of the container's root mount (`rslave`, `private`...).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub rootfs_propagation: String,
    /// Container paths hidden from the process.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub masked_paths: Vec<String>,
    /// Container paths made read-only.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub readonly_paths: Vec<String>,
    /// SELinux context of the mounts; empty: none.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub mount_label: String,
    /// Intel RDT (resctrl) class of service and monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_rdt: Option<LinuxIntelRdt>,
    /// NUMA memory policy (set_mempolicy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_policy: Option<LinuxMemoryPolicy>,
    /// Execution domain (personality).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<LinuxPersonality>,
}

/// One clock's offset in `linux.timeOffsets`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxTimeOffset {
    #[serde(default)]
    pub secs: i64,
    #[serde(default)]
    pub nanosecs: u32,
}

/// `linux.memoryPolicy`: mode (`MPOL_BIND`...), node list (`"0-1,3"`),
/// mode flags (`MPOL_F_STATIC_NODES`...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxMemoryPolicy {
    #[serde(default, deserialize_with = "null_as_default")]
    pub mode: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub nodes: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub flags: Vec<String>,
}

/// `linux.personality`: domain `LINUX` or `LINUX32`; the spec defines no
/// flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxPersonality {
    #[serde(default, deserialize_with = "null_as_default")]
    pub domain: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub flags: Vec<String>,
}

/// `linux.intelRdt`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxIntelRdt {
    /// The resctrl group (CLOS); empty: one named after the container.
    #[serde(
        rename = "closID",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub clos_id: String,
    /// Lines for the group's `schemata` file (runtime-spec 1.3).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub schemata: Vec<String>,
    /// `L3:<cache id>=<mask>;...`
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub l3_cache_schema: String,
    /// `MB:<cache id>=<bandwidth>;...`
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub mem_bw_schema: String,
    /// A monitoring group for the container (runtime-spec 1.3).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "crate::serde_util::is_false"
    )]
    pub enable_monitoring: bool,
    /// runtime-spec 1.1's monitoring flags, replaced by
    /// `enableMonitoring`; kept to refuse them by name.
    #[serde(rename = "enableCMT", default, skip_serializing_if = "Option::is_none")]
    pub enable_cmt: Option<bool>,
    #[serde(rename = "enableMBM", default, skip_serializing_if = "Option::is_none")]
    pub enable_mbm: Option<bool>,
}

/// One entry of `linux.netDevices`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxNetDevice {
    /// The interface's name in the container; empty: the host name.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
}

/// One entry of `linux.namespaces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxNamespace {
    /// Which namespace.
    #[serde(rename = "type")]
    pub typ: LinuxNamespaceType,
    /// An existing namespace to join; absent: create a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// The namespace kinds of `linux.namespaces[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinuxNamespaceType {
    /// `pid`.
    Pid,
    /// `network`.
    Network,
    /// `mount`.
    Mount,
    /// `ipc`.
    Ipc,
    /// `uts`.
    Uts,
    /// `user`.
    User,
    /// `cgroup`.
    Cgroup,
    /// `time`.
    Time,
}

impl LinuxNamespaceType {
    /// The name as the config spells it (`"network"`).
    pub fn as_str(self) -> &'static str {
        match self {
            LinuxNamespaceType::Pid => "pid",
            LinuxNamespaceType::Network => "network",
            LinuxNamespaceType::Mount => "mount",
            LinuxNamespaceType::Ipc => "ipc",
            LinuxNamespaceType::Uts => "uts",
            LinuxNamespaceType::User => "user",
            LinuxNamespaceType::Cgroup => "cgroup",
            LinuxNamespaceType::Time => "time",
        }
    }
}

/// One entry of `linux.devices`: a node to create in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxDevice {
    /// Path in the container.
    #[serde(default, deserialize_with = "null_as_default")]
    pub path: PathBuf,
    /// `c`, `b`, `u` or `p`.
    #[serde(rename = "type")]
    pub typ: LinuxDeviceType,
    /// Major number.
    #[serde(default)]
    pub major: i64,
    /// Minor number.
    #[serde(default)]
    pub minor: i64,
    /// Permission bits; absent: 0666.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<u32>,
    /// Owner; absent: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Group; absent: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

/// `linux.seccomp`. Actions, architectures, flags and operators are kept
/// as the config spells them (`SCMP_ACT_ERRNO`, `SCMP_ARCH_X86_64`...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxSeccomp {
    /// Action for syscalls no rule matches.
    pub default_action: String,
    /// errno returned by a default action of `SCMP_ACT_ERRNO`/`TRACE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// Architectures the filter covers.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub architectures: Vec<String>,
    /// seccomp(2) flags (`SECCOMP_FILTER_FLAG_LOG`...).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub flags: Vec<String>,
    /// Unix socket that gets the listener fd of `SCMP_ACT_NOTIFY`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub listener_path: String,
    /// Opaque data sent with the listener fd.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub listener_metadata: String,
    /// The rules, in order.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub syscalls: Vec<LinuxSyscall>,
}

/// One rule of `linux.seccomp.syscalls`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxSyscall {
    /// Syscall names the rule matches.
    pub names: Vec<String>,
    /// What happens when it matches.
    pub action: String,
    /// errno returned by `SCMP_ACT_ERRNO`/`TRACE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Argument conditions, all of which must hold.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<LinuxSeccompArg>,
}

/// One argument condition of a seccomp rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxSeccompArg {
    /// Argument index (0-5).
    pub index: u32,
    /// Value compared with.
    pub value: u64,
    /// Second value (`SCMP_CMP_MASKED_EQ`); zero when absent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value_two: u64,
    /// Comparison (`SCMP_CMP_EQ`...).
    pub op: String,
}

/// One id range of a user namespace or idmapped mount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxIdMapping {
    /// First id in the container.
    #[serde(rename = "containerID", default)]
    pub container_id: u32,
    /// First id on the host.
    #[serde(rename = "hostID", default)]
    pub host_id: u32,
    /// Number of ids.
    #[serde(default)]
    pub size: u32,
}
