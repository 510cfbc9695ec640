//! `linux.resources` → cgroup files, for v1, hybrid and v2 with one translation:
//! [`settings_from_spec`] reads the spec into version-free [`Setting`]s (zero =
//! unchanged, validation, unimplemented fields refused), [`translate`] turns each
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
pub use settings::{ignored_settings, settings_from_spec, Setting, Throttle};
pub use translate::{
    blkio_weight_to_io_weight, shares_to_weight, translate, CgroupWrite, Dialect, HostFacts,
    Target, Translation,
};

use crate::cgroup::enable_on_ancestors;
use crate::{fsutil, Cgroup, CgroupError, Layout};

impl Cgroup {
    /// Applies `linux.resources` to the (created) cgroup. Absent and zero values
    /// leave the current setting unchanged, so `update` can pass what it got.
    /// Fields this crate does not implement, or cannot apply on this host's
    /// cgroup version, are an error naming the field; nothing is written then.
    pub fn apply_resources(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        let settings = settings_from_spec(resources)?;
        if settings.is_empty() {
            return Ok(());
        }
        let facts = self.host_facts();
        let translation = translate(&settings, &facts)?;
        if let Some(rules) = &translation.device_program {
            let dir = self
                .unified_dir()
                .ok_or_else(|| CgroupError::MissingHierarchy {
                    controller: "cgroup2 (unified)".to_string(),
                    needed_for: "linux.resources.devices".to_string(),
                })?;
            ebpf::install_device_program(dir, rules)?;
        }
        let writes = &translation.writes;
        if facts.hugetlb_unified && writes.iter().any(|w| w.target == Target::Unified) {
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
            match self.perform(w) {
                Err(e) if w.retry_after_next && e.errno() == Some(Errno::EINVAL) => {
                    deferred = Some(w);
                    continue;
                }
                done => done?,
            }
            if let Some(retry) = deferred.take() {
                self.perform(retry)?;
            }
        }
        deferred.map_or(Ok(()), |retry| self.perform(retry))
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
        dir.ok_or_else(|| CgroupError::MissingHierarchy {
            controller: controller.to_string(),
            needed_for: w.field.to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
