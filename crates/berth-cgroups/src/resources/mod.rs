//! `linux.resources` → cgroup files, for v1, hybrid and v2 with one translation:
//! [`ResourcePlan::from_spec`] reads the spec into version-free [`Setting`]s
//! (zero = unchanged, validation, unimplemented fields refused) before any
//! cgroup exists (the container planner, `update`), [`translate`] turns each
//! setting into file writes (or, for v2 devices, an eBPF program) for the host's
//! [`Dialect`], and [`Cgroup::apply_resources`] reads the few host facts the
//! translation needs and performs the writes.

mod devices;
mod ebpf;
mod settings;
mod translate;

use std::path::Path;

use berth_spec::LinuxResources;
use nix::errno::Errno;

pub use devices::{runc_device_rules, DeviceRule};
pub use ebpf::device_program;
pub(crate) use settings::{ignored_settings, settings_from_spec};
pub use settings::{Setting, Throttle};
pub use translate::{
    blkio_weight_to_io_weight, shares_to_weight, translate, CgroupWrite, Dialect, HostFacts,
    Target, Translation,
};

use crate::cgroup::enable_on_ancestors;
use crate::{fsutil, Cgroup, CgroupError, Layout};

/// `linux.resources` read and checked, before any cgroup exists: what the
/// drivers apply. Absent and zero values are left out (they leave the
/// current setting unchanged, so `update` can pass what it got).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourcePlan {
    settings: Vec<Setting>,
    /// `memory.checkBeforeUpdate`: a memory limit at or below the usage is
    /// refused when it is applied.
    check_memory_before_update: bool,
    /// A warning for each field given and ignored, as runc does.
    ignored: Vec<String>,
}

impl ResourcePlan {
    /// Reads `linux.resources` (see the module docs); a value the kernel
    /// would refuse or a field berth does not implement is an error naming
    /// the field.
    pub fn from_spec(resources: &LinuxResources) -> Result<ResourcePlan, CgroupError> {
        let memory = resources.memory.as_ref();
        Ok(ResourcePlan {
            settings: settings_from_spec(resources)?,
            check_memory_before_update: memory.is_some_and(|m| m.check_before_update == Some(true)),
            ignored: ignored_settings(resources),
        })
    }

    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// What runc would log as warnings: the fields given and ignored
    /// (`memory.kernel`, `memory.kernelTCP`).
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    /// The memory and memory+swap limits (positive: set, not unlimited).
    fn memory_limits(&self) -> [(&'static str, Option<i64>); 2] {
        let (limit, swap) = self
            .settings
            .iter()
            .find_map(|s| match s {
                Setting::Memory { limit, swap } => Some((*limit, *swap)),
                _ => None,
            })
            .unwrap_or_default();
        [("memory+swap", swap), ("memory", limit)]
    }
}

impl Cgroup {
    /// The resources as file writes for this cgroup; `None` when they set
    /// nothing.
    pub(crate) fn translate(
        &self,
        resources: &ResourcePlan,
    ) -> Result<Option<Translation>, CgroupError> {
        if resources.settings.is_empty() {
            return Ok(None);
        }
        if resources.check_memory_before_update {
            self.check_memory_usage(resources)?;
        }
        translate(&resources.settings, &self.host_facts()).map(Some)
    }

    /// Performs a translation: the device program, then the writes in order.
    pub(crate) fn write_translation(&self, translation: &Translation) -> Result<(), CgroupError> {
        if let Some(rules) = &translation.device_program {
            let installed = self
                .unified_dir()
                .ok_or_else(|| CgroupError::MissingHierarchy {
                    controller: "cgroup2 (unified)".to_string(),
                    needed_for: "linux.resources.devices".to_string(),
                })
                .and_then(|dir| ebpf::install_device_program(dir, rules));
            // Rootless: device rules are not expected to work (runc).
            if !self.rootless {
                installed?;
            }
        }
        let writes = &translation.writes;
        let unified_writes = writes.iter().any(|w| w.target == Target::Unified);
        if unified_writes && self.host_facts().hugetlb_unified {
            if let Some(unified) = self.unified() {
                enable_on_ancestors(unified, Some(&["hugetlb"]))?;
            }
        }
        self.perform_all(writes)
    }

    /// Performs the writes in order; one marked `retry_after_next` that fails
    /// with EINVAL is retried once the write after it is done.
    fn perform_all(&self, writes: &[CgroupWrite]) -> Result<(), CgroupError> {
        let mut deferred: Option<&CgroupWrite> = None;
        for w in writes {
            match self.perform_tolerated(w) {
                Err(e) if w.retry_after_next && e.errno() == Some(Errno::EINVAL) => {
                    deferred = Some(w);
                    continue;
                }
                done => done?,
            }
            if let Some(retry) = deferred.take() {
                self.perform_tolerated(retry)?;
            }
        }
        deferred.map_or(Ok(()), |retry| self.perform_tolerated(retry))
    }

    /// One write; rootless, device rules are not expected to work (runc).
    fn perform_tolerated(&self, w: &CgroupWrite) -> Result<(), CgroupError> {
        let done = self.perform(w);
        match w.target {
            Target::V1("devices") if self.rootless => Ok(()),
            _ => done,
        }
    }

    /// `memory.checkBeforeUpdate` (runtime-spec 1.1, runc 1.2): a memory or
    /// memory+swap limit at or below the current usage is refused, in runc's
    /// words. runc checks on cgroup v2 only; berth reads v1's usage too. As
    /// runc, a usage that cannot be read (no cgroup yet) passes.
    fn check_memory_usage(&self, resources: &ResourcePlan) -> Result<(), CgroupError> {
        let usage = match self.layout() {
            Layout::V2 => self.unified_dir().map(|d| (d, "memory.current")),
            Layout::V1 | Layout::Hybrid => {
                self.v1_dir("memory").map(|d| (d, "memory.usage_in_bytes"))
            }
        };
        let Some(usage) = usage
            .and_then(|(dir, file)| fsutil::read_trimmed(dir, file).ok())
            .and_then(|v| v.parse::<u64>().ok())
        else {
            return Ok(());
        };
        for (what, limit) in resources.memory_limits() {
            match limit.filter(|l| *l > 0).map(|l| l as u64) {
                Some(limit) if limit <= usage => {
                    return Err(CgroupError::BelowUsage { what, limit, usage })
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Reads what [`translate`] needs to know about this host's cgroup files.
    pub fn host_facts(&self) -> HostFacts {
        let dialect = match self.layout() {
            Layout::V2 => Dialect::V2,
            Layout::V1 | Layout::Hybrid => Dialect::V1,
        };
        let has = |dir: Option<&Path>, file: &str| dir.is_some_and(|d| d.join(file).exists());
        let memory = self.v1_dir("memory");
        let blkio = self.v1_dir("blkio");
        HostFacts {
            dialect,
            current_memory_limit: memory
                .and_then(|d| fsutil::read_trimmed(d, "memory.limit_in_bytes").ok())
                .and_then(|v| v.parse().ok()),
            memsw_available: has(memory, "memory.memsw.limit_in_bytes"),
            blkio_bfq_only: !has(blkio, "blkio.weight") && has(blkio, "blkio.bfq.weight"),
            io_bfq: dialect == Dialect::V2 && has(self.unified_dir(), "io.bfq.weight"),
            hugetlb_unified: self.layout() == Layout::Hybrid
                && self.v1_dir("hugetlb").is_none()
                && self.unified_has_controller("hugetlb"),
        }
    }

    /// Whether the unified tree offers `controller` at its root.
    fn unified_has_controller(&self, controller: &str) -> bool {
        self.unified()
            .and_then(|u| fsutil::read_trimmed(&u.mountpoint, "cgroup.controllers").ok())
            .is_some_and(|c| c.split_whitespace().any(|c| c == controller))
    }

    fn perform(&self, w: &CgroupWrite) -> Result<(), CgroupError> {
        let dir = self.write_dir(w)?;
        let path = dir.join(&w.file);
        fsutil::write_raw(&path, &w.value).map_err(|source| {
            let missing = source.kind() == std::io::ErrorKind::NotFound;
            match w.target {
                Target::Unified if missing => CgroupError::ControllerNotEnabled {
                    field: w.field.to_string(),
                    controller: w.file.split('.').next().unwrap_or_default().to_string(),
                    path: dir.to_path_buf(),
                    source,
                },
                _ => CgroupError::ResourceWrite {
                    field: w.field.to_string(),
                    path,
                    value: w.value.clone(),
                    source,
                },
            }
        })
    }

    fn write_dir(&self, w: &CgroupWrite) -> Result<&Path, CgroupError> {
        let (dir, controller) = match w.target {
            Target::V1(controller) => (self.v1_dir(controller), controller),
            Target::Unified => (self.unified_dir(), "cgroup2 (unified)"),
        };
        dir.ok_or_else(|| match self.rootless {
            // A rootless create left this hierarchy out.
            true => CgroupError::RootlessNotJoined {
                controller: match w.target {
                    Target::V1(controller) => controller.to_string(),
                    Target::Unified => w.file.split('.').next().unwrap_or_default().to_string(),
                },
            },
            false => CgroupError::MissingHierarchy {
                controller: controller.to_string(),
                needed_for: w.field.to_string(),
            },
        })
    }
}

#[cfg(test)]
mod tests;
