//! `linux.resources`: cgroup limits (runtime-spec `config-linux.md`,
//! "Control groups"). Also what `update` reads.
//!
//! Numeric limits stay `Option`, as the spec has them: berth reads absent
//! and zero alike ("leave unchanged", what `docker update` sends) except
//! where zero is a value of its own (`swappiness: 0`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::serde_util::null_as_default;

/// `linux.resources`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxResources {
    /// Device access rules, applied in order.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub devices: Vec<LinuxDeviceCgroup>,
    /// Memory limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<LinuxMemory>,
    /// CPU shares, bandwidth, realtime and cpuset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<LinuxCpu>,
    /// Process count limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<LinuxPids>,
    /// Block I/O weights and throttles.
    #[serde(rename = "blockIO", default, skip_serializing_if = "Option::is_none")]
    pub block_io: Option<LinuxBlockIo>,
    /// Huge page limits, one per page size.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub hugepage_limits: Vec<LinuxHugepageLimit>,
    /// net_cls and net_prio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<LinuxNetwork>,
    /// RDMA limits by device name.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub rdma: HashMap<String, LinuxRdma>,
    /// Raw cgroup v2 files and their values (`memory.high`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub unified: HashMap<String, String>,
}

/// One device cgroup rule of `linux.resources.devices`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxDeviceCgroup {
    /// Allow (true) or deny (false); always written, as runc writes it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub allow: bool,
    /// `a`, `b` or `c`; absent: `a` (all).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<LinuxDeviceType>,
    /// Major number; absent or -1: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<i64>,
    /// Minor number; absent or -1: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<i64>,
    /// Some of `r`, `w`, `m`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub access: String,
}

/// `linux.resources.memory`, in bytes; -1 is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxMemory {
    /// Memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Soft limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<i64>,
    /// Memory plus swap limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<i64>,
    /// Kernel memory limit (deprecated by Linux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<i64>,
    /// Kernel TCP buffer limit (deprecated by Linux).
    #[serde(rename = "kernelTCP", default, skip_serializing_if = "Option::is_none")]
    pub kernel_tcp: Option<i64>,
    /// Swappiness, 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swappiness: Option<u64>,
    /// Disable the OOM killer.
    #[serde(
        rename = "disableOOMKiller",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disable_oom_killer: Option<bool>,
    /// cgroup v1 `memory.use_hierarchy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_hierarchy: Option<bool>,
    /// Refuse an update below the current usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_before_update: Option<bool>,
}

/// `linux.resources.cpu`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxCpu {
    /// Relative weight (v1 cpu.shares).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares: Option<u64>,
    /// CFS quota per period, in µs; -1: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    /// CFS burst, in µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
    /// CFS period, in µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    /// Realtime runtime per period, in µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_runtime: Option<i64>,
    /// Realtime period, in µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_period: Option<u64>,
    /// cpuset CPUs (`0-3,7`); empty: unchanged.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub cpus: String,
    /// cpuset memory nodes; empty: unchanged.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub mems: String,
    /// SCHED_IDLE for the cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<i64>,
}

/// `linux.resources.pids`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxPids {
    /// Maximum number of tasks; -1 (any negative): unlimited, 0: unchanged.
    #[serde(default)]
    pub limit: i64,
}

/// `linux.resources.blockIO`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxBlockIo {
    /// Weight, 10-1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    /// Leaf weight (CFQ only, gone from Linux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_weight: Option<u16>,
    /// Per-device weights.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub weight_device: Vec<LinuxWeightDevice>,
    /// Read bytes per second, per device.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub throttle_read_bps_device: Vec<LinuxThrottleDevice>,
    /// Write bytes per second, per device.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub throttle_write_bps_device: Vec<LinuxThrottleDevice>,
    /// Read operations per second, per device.
    #[serde(
        rename = "throttleReadIOPSDevice",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub throttle_read_iops_device: Vec<LinuxThrottleDevice>,
    /// Write operations per second, per device.
    #[serde(
        rename = "throttleWriteIOPSDevice",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub throttle_write_iops_device: Vec<LinuxThrottleDevice>,
}

/// One entry of `blockIO.weightDevice`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxWeightDevice {
    /// Major number.
    #[serde(default)]
    pub major: i64,
    /// Minor number.
    #[serde(default)]
    pub minor: i64,
    /// Weight for this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    /// Leaf weight for this device (CFQ only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_weight: Option<u16>,
}

/// One entry of the `blockIO.throttle*Device` lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxThrottleDevice {
    /// Major number.
    #[serde(default)]
    pub major: i64,
    /// Minor number.
    #[serde(default)]
    pub minor: i64,
    /// Bytes or operations per second.
    #[serde(default)]
    pub rate: u64,
}

/// One entry of `linux.resources.hugepageLimits`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxHugepageLimit {
    /// Page size as the kernel spells it (`2MB`, `1GB`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub page_size: String,
    /// Limit in bytes.
    #[serde(default)]
    pub limit: i64,
}

/// `linux.resources.network`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxNetwork {
    /// net_cls class id.
    #[serde(rename = "classID", default, skip_serializing_if = "Option::is_none")]
    pub class_id: Option<u32>,
    /// net_prio priorities by interface.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub priorities: Vec<LinuxInterfacePriority>,
}

/// One entry of `network.priorities`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxInterfacePriority {
    /// Interface name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Priority on it.
    #[serde(default)]
    pub priority: u32,
}

/// One device's limits of `linux.resources.rdma`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxRdma {
    /// Maximum HCA handles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hca_handles: Option<u32>,
    /// Maximum HCA objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hca_objects: Option<u32>,
}

/// A device type letter, as `linux.devices[].type` and
/// `linux.resources.devices[].type` spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LinuxDeviceType {
    /// `a`: every type (device cgroup rules only).
    #[serde(rename = "a")]
    All,
    /// `b`: block device.
    #[serde(rename = "b")]
    Block,
    /// `c`: character device.
    #[serde(rename = "c")]
    Char,
    /// `u`: unbuffered character device.
    #[serde(rename = "u")]
    Unbuffered,
    /// `p`: FIFO.
    #[serde(rename = "p")]
    Fifo,
}

impl LinuxDeviceType {
    /// The letter as the config spells it (`"c"`).
    pub fn as_str(self) -> &'static str {
        match self {
            LinuxDeviceType::All => "a",
            LinuxDeviceType::Block => "b",
            LinuxDeviceType::Char => "c",
            LinuxDeviceType::Unbuffered => "u",
            LinuxDeviceType::Fifo => "p",
        }
    }
}
