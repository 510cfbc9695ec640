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
//!
//! Rootless (`--rootless`, or auto), the systemd driver talks to the user's
//! systemd instance over the user bus, as runc does (pure cgroup v2 only).

use crate::cgroup::CgroupEntry;
use crate::plan::plan_on;
use crate::resources::ResourcePlan;
use crate::systemd::{resource_properties, unit_from_path, user_bus_uid, Started};
use crate::{host::HostCgroups, plan::InnerPath, Cgroup, CgroupError, Layout};

/// Which cgroup driver places the container (`--systemd-cgroup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Driver {
    #[default]
    Cgroupfs,
    Systemd,
}

impl Cgroup {
    /// Plans the container's cgroup for `driver` from `linux.cgroupsPath`
    /// (see [`Cgroup::plan`] for cgroupfs; systemd: `slice:prefix:name`, in
    /// the user's systemd instance when `rootless`).
    pub fn plan_for(
        driver: Driver,
        rootless: bool,
        cgroups_path: Option<&str>,
        id: &str,
    ) -> Result<Cgroup, CgroupError> {
        match driver {
            Driver::Cgroupfs => Cgroup::plan(cgroups_path, id),
            Driver::Systemd => {
                if !crate::systemd::is_running() {
                    return Err(CgroupError::SystemdNotRunning);
                }
                let host = HostCgroups::read()?;
                if rootless && host.layout != Layout::V2 {
                    return Err(CgroupError::SystemdRootlessV1);
                }
                let user_bus_uid = match rootless {
                    true => Some(user_bus_uid().map_err(|source| CgroupError::Systemd {
                        action: "finding the user bus for",
                        unit: cgroups_path.unwrap_or(id).to_string(),
                        source,
                    })?),
                    false => None,
                };
                let (unit, dir) = unit_from_path(cgroups_path, id, user_bus_uid)?;
                let inner = InnerPath::Absolute(crate::plan::clean_path(&dir.to_string_lossy()));
                let mut planned = plan_on(&host, &inner)?.with_unit(unit);
                // Device rules are not expected to work rootless (runc).
                planned.rootless = rootless;
                Ok(planned)
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

    /// Applies planned resources to the (created) cgroup. Fields this host's
    /// cgroup version cannot apply are an error naming the field; nothing is
    /// written then.
    pub fn apply_resources(&self, resources: &ResourcePlan) -> Result<(), CgroupError> {
        let Some(translation) = self.translate(resources)? else {
            return Ok(());
        };
        if let Some(unit) = self.systemd_unit() {
            unit.set_properties(resource_properties(&translation)?)?;
        }
        self.write_translation(&translation)
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
        let started = unit.start(first_pid, self.layout(), props)?;
        self.create()?;
        match started {
            Started::New => self.add_process_to_v1(pid, unit.is_slice())?,
            // runc 1.1 joins the v1 controllers only: init stays out of
            // the existing scope's name=systemd and cgroup2 directories.
            Started::Existing if !unit.is_slice() => self.add_process_to_v1_controllers(pid)?,
            Started::Existing => self.add_process_to_v1(pid, true)?,
        }
        match translation {
            Some(t) => self.write_translation(&t),
            None => Ok(()),
        }
    }
}
