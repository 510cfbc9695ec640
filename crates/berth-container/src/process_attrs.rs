//! The scheduling attributes of a container's processes: init's from the
//! config; an exec'd process's from its `process.json`, where it leaves
//! one out the container's (runc: scheduler, I/O priority and
//! execCPUAffinity of the config unless the exec'd process sets its own;
//! personality and memory policy always the container's).

use berth_security::attrs::{AttrError, CpuAffinity, ProcessAttrs};
use berth_spec::{
    CpuAffinity as SpecCpuAffinity, Linux, LinuxIoPriority, LinuxMemoryPolicy, LinuxPersonality,
    Process, Scheduler,
};
use serde::{Deserialize, Serialize};

use crate::ContainerError;

/// The config fields that `exec` inherits, kept in `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InheritedAttrs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Scheduler>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_priority: Option<LinuxIoPriority>,
    #[serde(
        rename = "execCPUAffinity",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exec_cpu_affinity: Option<SpecCpuAffinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<LinuxPersonality>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_policy: Option<LinuxMemoryPolicy>,
}

/// A refused field of the attributes is a [`crate::ConfigError`] naming it.
pub(crate) fn invalid(e: berth_security::attrs::AttrError) -> ContainerError {
    match e {
        AttrError::Invalid { field, reason } => crate::ConfigError::new(field, reason).into(),
        other => ContainerError::Config(other.to_string()),
    }
}

impl InheritedAttrs {
    /// What the config sets.
    pub fn of_config(process: &Process, linux: &Linux) -> InheritedAttrs {
        InheritedAttrs {
            scheduler: process.scheduler.clone(),
            io_priority: process.io_priority.clone(),
            exec_cpu_affinity: process.exec_cpu_affinity.clone(),
            personality: linux.personality.clone(),
            memory_policy: linux.memory_policy.clone(),
        }
    }

    /// For `skip_serializing_if`.
    pub fn is_empty(&self) -> bool {
        *self == InheritedAttrs::default()
    }

    /// The attributes of a process started with `process` (the config's
    /// own for init, exec's `process.json`), checked.
    pub fn for_process(&self, process: &Process) -> Result<ProcessAttrs, ContainerError> {
        ProcessAttrs::from_spec(
            process.scheduler.as_ref().or(self.scheduler.as_ref()),
            process.io_priority.as_ref().or(self.io_priority.as_ref()),
            self.personality.as_ref(),
            self.memory_policy.as_ref(),
        )
        .map_err(invalid)
    }

    /// The CPU affinity of an exec'd process (`process.execCPUAffinity`,
    /// or the config's).
    pub fn exec_cpu_affinity(&self, process: &Process) -> Result<CpuAffinity, ContainerError> {
        let spec = process.exec_cpu_affinity.as_ref();
        CpuAffinity::from_spec(spec.or(self.exec_cpu_affinity.as_ref())).map_err(invalid)
    }
}
