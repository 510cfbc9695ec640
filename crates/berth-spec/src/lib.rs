//! berth-spec: the OCI runtime-spec 1.2 configuration (`config.json`) as
//! plain serde types, Linux parts only.
//!
//! The types follow the spec's JSON field for field (`config.md`,
//! `config-linux.md`): plain `pub` fields, no getters, no builders, no
//! validation beyond the JSON shape. What a field means to the runtime, and
//! which values it refuses, is for berth-container and the crates below it.
//!
//! Conventions:
//! - a list, map, string or flag whose absence means the same as empty,
//!   zero or false is a `Vec`, `HashMap`, `String` or `bool` that defaults
//!   when absent, reads `null` as empty (as Go's runc does) and is left out
//!   of the JSON when empty;
//! - `Option` is kept where absence differs from zero or empty (resource
//!   limits where absent and zero mean "leave unchanged" but other values
//!   do not, `oomScoreAdj`, `hooks`, `annotations`, a namespace's `path`);
//! - fields berth does not implement (`linux.intelRdt`, ...) are kept as
//!   raw JSON so that the runtime can
//!   refuse them by name;
//! - serializing never adds a field the input did not have (no `null`s).
//!
//! Capabilities are strings (`"CAP_CHOWN"`): which names exist is the
//! kernel's and berth-security's business, not the config format's.

mod config;
mod json_path;
mod linux;
mod process;
mod resources;
mod serde_util;

pub use config::{Hook, Hooks, Mount, Root, Spec};
pub use json_path::describe_error;
pub use linux::{
    Linux, LinuxDevice, LinuxIdMapping, LinuxIntelRdt, LinuxMemoryPolicy, LinuxNamespace,
    LinuxNamespaceType, LinuxNetDevice, LinuxPersonality, LinuxSeccomp, LinuxSeccompArg,
    LinuxSyscall, LinuxTimeOffset,
};
pub use process::{
    ConsoleSize, CpuAffinity, LinuxCapabilities, LinuxIoPriority, PosixRlimit, PosixRlimitType,
    Process, Scheduler, User,
};
pub use resources::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxHugepageLimit,
    LinuxInterfacePriority, LinuxMemory, LinuxNetwork, LinuxPids, LinuxRdma, LinuxResources,
    LinuxThrottleDevice, LinuxWeightDevice,
};

#[cfg(test)]
mod tests;
