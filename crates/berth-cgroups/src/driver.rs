//! The two drivers behind one [`Cgroup`]: what happens before init is cloned,
//! how init enters, and what happens after the clone while init waits.
//!
//! - cgroupfs: the directories and resources are made before the clone and
//!   init is cloned into them (`CLONE_INTO_CGROUP`, v1 `tasks`).
//! - systemd: a scope needs a first process, so the unit is started after the
//!   clone with init's pid (StartTransientUnit `PIDs`), which systemd moves
//!   into it; the runtime then joins it to the v1 hierarchies systemd does
//!   not manage and writes the resource files. Starting the unit with the
//!   runtime's own pid instead would move the runtime, which then would have
//!   to move itself out again: two migrations instead of one.

use crate::cgroup::CgroupEntry;
use crate::plan::plan_on;
use crate::resources::ResourcePlan;
use crate::systemd::{resource_properties, unit_from_path};
use crate::{host::HostCgroups, plan::InnerPath, Cgroup, CgroupError};

/// Which cgroup driver places the container (`--systemd-cgroup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Driver {
    #[default]
    Cgroupfs,
    Systemd,
}

impl Cgroup {
    /// Plans the container's cgroup for `driver` from `linux.cgroupsPath`
    /// (see [`Cgroup::plan`] for cgroupfs; systemd: `slice:prefix:name`).
    pub fn plan_for(
        driver: Driver,
        cgroups_path: Option<&str>,
        id: &str,
    ) -> Result<Cgroup, CgroupError> {
        match driver {
            Driver::Cgroupfs => Cgroup::plan(cgroups_path, id),
            Driver::Systemd => {
                if !crate::systemd::is_running() {
                    return Err(CgroupError::SystemdNotRunning);
                }
                let (unit, dir) = unit_from_path(cgroups_path, id)?;
                let inner = InnerPath::Absolute(crate::plan::clean_path(&dir.to_string_lossy()));
                Ok(plan_on(&HostCgroups::read()?, &inner)?.with_unit(unit))
            }
        }
    }

    /// Before init is cloned. cgroupfs: creates the directories and applies
    /// the resources. systemd: checks the resources (and their unit
    /// properties), so that a bad value fails before anything exists.
    pub fn prepare(&self, resources: &ResourcePlan) -> Result<(), CgroupError> {
        if self.systemd_unit().is_some() {
            if let Some(translation) = self.translate(resources)? {
                resource_properties(&translation)?;
            }
            return Ok(());
        }
        self.create()?;
        self.apply_resources(resources)
    }

    /// How a container's init enters: see [`Cgroup::prepare_entry`]; with the
    /// systemd driver nothing (it is placed by [`Cgroup::adopt_init`]).
    pub fn prepare_init_entry(&self) -> Result<CgroupEntry, CgroupError> {
        match self.systemd_unit() {
            Some(_) => Ok(CgroupEntry::placed_by_runtime()),
            None => self.prepare_entry(),
        }
    }

    /// After init (`pid`) is cloned, before it goes on. systemd: starts the
    /// unit with init in it and the resources as unit properties, makes the
    /// directories systemd does not (v1 hierarchies it does not manage), moves
    /// init into those, and writes the resource files. cgroupfs: nothing.
    pub fn adopt_init(&self, pid: i32, resources: &ResourcePlan) -> Result<(), CgroupError> {
        let Some(unit) = self.systemd_unit() else {
            return Ok(());
        };
        let translation = self.translate(resources)?;
        let props = match &translation {
            Some(t) => resource_properties(t)?,
            None => Vec::new(),
        };
        let first_pid = (!unit.is_slice()).then_some(pid);
        unit.start(first_pid, self.layout(), &props)?;
        self.create()?;
        self.add_process_to_v1(pid, unit.is_slice())?;
        match translation {
            Some(t) => self.write_translation(&t),
            None => Ok(()),
        }
    }
}
