//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a
//! transient unit that systemd creates over D-Bus, `prefix-name.scope` in a
//! slice (or a slice of its own), as runc 1.1's driver does. Everything but
//! creating, changing and removing the unit is the cgroupfs code: the unit's
//! cgroup directories are planned like an absolute `cgroupsPath`, resources
//! are translated once into cgroup file writes and the unit properties are
//! read off those writes ([`properties`]), the files are written as with the
//! cgroupfs driver, and freeze/kill/stats/ps use the directories.
//!
//! Rootless, the unit is made by the user's own systemd instance over the
//! user bus (runc's rootless systemd driver, cgroup v2 only): its slice is
//! below that instance's cgroup (`user@UID.service`), `user.slice` by default.

mod dbus;
mod devices;
mod properties;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use dbus::{user_bus_uid, DbusError};
use dbus::{Bus, Value, Writer};
use properties::for_version;
pub(crate) use properties::resource_properties;

use crate::{CgroupError, Layout};

/// The slice a unit goes in when `cgroupsPath` names none (runc's default).
const DEFAULT_SLICE: &str = "system.slice";
/// The same for a rootless container, in the user's systemd instance.
const DEFAULT_USER_SLICE: &str = "user.slice";
/// The scope prefix when there is no `cgroupsPath` (runc uses `runc`).
const DEFAULT_PREFIX: &str = "berth";

/// The container's systemd unit; kept in the container's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemdUnit {
    /// `prefix-name.scope`, or the name itself when that is a `.slice`.
    pub name: String,
    /// The slice it is placed in (a scope) or wants (a slice).
    pub slice: String,
    /// Rootless: the unit is in the user's systemd instance, reached on the
    /// user bus as this uid; `None`: the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_bus_uid: Option<u32>,
}

impl SystemdUnit {
    /// A slice unit (`cgroupsPath` `parent.slice::name.slice`) rather than a
    /// scope: systemd gives slices no processes, so the runtime moves init in.
    pub fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }
}

/// Whether systemd is the host's init: `/run/systemd/system` is a directory
/// (sd_booted(3), runc's test).
pub(crate) fn is_running() -> bool {
    std::fs::symlink_metadata("/run/systemd/system").is_ok_and(|m| m.is_dir())
}

/// The unit and its cgroup path below the hierarchy root, from
/// `linux.cgroupsPath` as runc's systemd driver reads it: `slice:prefix:name`
/// (an empty slice is `system.slice`), or nothing for
/// `system.slice:<default prefix>:<id>`. With `user_bus_uid` (rootless) the
/// unit is the user instance's: `user.slice` is the default slice and the
/// path is below the instance's own cgroup, which it asks for.
pub(crate) fn unit_from_path(
    cgroups_path: Option<&str>,
    id: &str,
    user_bus_uid: Option<u32>,
) -> Result<(SystemdUnit, PathBuf), CgroupError> {
    let (unit, dir) = unit_in_manager(cgroups_path, id, user_bus_uid)?;
    if user_bus_uid.is_none() {
        return Ok((unit, dir));
    }
    let mut bus = unit.bus("finding the cgroup of")?;
    let manager = bus
        .manager_property("ControlGroup")
        .map_err(failed("finding the cgroup of", &unit.name))?;
    let below = dir.strip_prefix("/").unwrap_or(&dir);
    Ok((unit, PathBuf::from(manager).join(below)))
}

/// [`unit_from_path`] with the path relative to the manager's own cgroup.
fn unit_in_manager(
    cgroups_path: Option<&str>,
    id: &str,
    user_bus_uid: Option<u32>,
) -> Result<(SystemdUnit, PathBuf), CgroupError> {
    let default_slice = match user_bus_uid {
        Some(_) => DEFAULT_USER_SLICE,
        None => DEFAULT_SLICE,
    };
    let (slice, prefix, name) = match cgroups_path.filter(|p| !p.is_empty()) {
        None => (default_slice, DEFAULT_PREFIX, id),
        Some(path) => match path.split(':').collect::<Vec<_>>()[..] {
            [slice, prefix, name] => (slice, prefix, name),
            _ => return Err(CgroupError::SystemdPathFormat(path.to_string())),
        },
    };
    let slice = if slice.is_empty() {
        default_slice
    } else {
        slice
    };
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else {
        format!("{prefix}-{name}.scope")
    };
    let dir = if name.ends_with(".slice") {
        expand_slice(name)?
    } else {
        expand_slice(slice)?.join(&unit)
    };
    let unit = SystemdUnit {
        name: unit,
        slice: slice.to_string(),
        user_bus_uid,
    };
    Ok((unit, dir))
}

/// The cgroup path of a slice (runc's `ExpandSlice`): `a-b-c.slice` is
/// `/a.slice/a-b.slice/a-b-c.slice`, `-.slice` the root.
pub fn expand_slice(slice: &str) -> Result<PathBuf, CgroupError> {
    let invalid = || CgroupError::InvalidSlice(slice.to_string());
    let name = slice.strip_suffix(".slice").ok_or_else(invalid)?;
    if slice.contains('/') {
        return Err(invalid());
    }
    if name == "-" {
        return Ok(PathBuf::from("/"));
    }
    let mut path = PathBuf::from("/");
    let mut prefix = String::new();
    for part in name.split('-') {
        if part.is_empty() {
            return Err(invalid());
        }
        path.push(format!("{prefix}{part}.slice"));
        prefix.push_str(part);
        prefix.push('-');
    }
    Ok(path)
}

/// A D-Bus failure while doing `action` to `unit`.
fn failed<'a>(action: &'static str, unit: &'a str) -> impl FnOnce(DbusError) -> CgroupError + 'a {
    move |source| CgroupError::Systemd {
        action,
        unit: unit.to_string(),
        source,
    }
}

/// What [`SystemdUnit::start`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Started {
    /// A new unit, holding the first pid it was given.
    New,
    /// The unit was there already (`UnitExists`): as runc 1.1, that is no
    /// error, the unit only gets the resource properties and the first pid
    /// stays where it is.
    Existing,
}

impl SystemdUnit {
    /// A connection to the unit's systemd (the system's, or the user's).
    fn bus(&self, action: &'static str) -> Result<Bus, CgroupError> {
        Bus::open(self.user_bus_uid).map_err(failed(action, &self.name))
    }

    /// StartTransientUnit with `pid` (a scope's first process) and the
    /// resource properties (those this systemd knows), then waits for the
    /// job. A failed job is reset so that no unit is left behind.
    pub(crate) fn start(
        &self,
        pid: Option<i32>,
        layout: Layout,
        resources: Vec<(&'static str, Value)>,
    ) -> Result<Started, CgroupError> {
        let fail = failed("starting", &self.name);
        let mut bus = self.bus("starting")?;
        let resources = for_version(resources, || bus.systemd_version());
        bus.watch_jobs().map_err(failed("starting", &self.name))?;
        let mut props = self.unit_properties(pid, layout);
        props.extend(resources.iter().cloned());
        let mut body = Writer::default();
        body.str(&self.name);
        body.str("replace");
        body.properties(&props);
        body.array(8, |_| {}); // no auxiliary units
        let job = match bus.call_manager("StartTransientUnit", "ssa(sv)a(sa(sv))", body) {
            Ok(reply) => reply.into_iter().next().unwrap_or_default(),
            Err(e) if e.remote_name() == Some("org.freedesktop.systemd1.UnitExists") => {
                self.set_properties_on(&mut bus, &resources)?;
                return Ok(Started::Existing);
            }
            Err(e) => return Err(fail(e)),
        };
        let result = bus
            .wait_for_job(&job)
            .map_err(failed("starting", &self.name))?;
        if result != "done" {
            reset_failed(&mut bus, &self.name);
            return Err(CgroupError::SystemdJob {
                unit: self.name.clone(),
                result,
            });
        }
        Ok(Started::New)
    }

    /// What every unit gets, as runc sets it: description, placement,
    /// delegation, the first pid, accounting, no default dependencies.
    fn unit_properties(&self, pid: Option<i32>, layout: Layout) -> Vec<(&'static str, Value)> {
        let mut props = vec![(
            "Description",
            Value::Str(format!("berth container {}", self.name)),
        )];
        if self.is_slice() {
            props.push(("Wants", Value::Strs(vec![self.slice.clone()])));
        } else {
            props.push(("Slice", Value::Str(self.slice.clone())));
            props.push(("Delegate", Value::Bool(true)));
        }
        if let Some(pid) = pid {
            props.push(("PIDs", Value::U32s(vec![pid as u32])));
        }
        let io_accounting = match layout {
            Layout::V2 => "IOAccounting",
            Layout::V1 | Layout::Hybrid => "BlockIOAccounting",
        };
        for accounting in [
            "MemoryAccounting",
            "CPUAccounting",
            io_accounting,
            "TasksAccounting",
        ] {
            props.push((accounting, Value::Bool(true)));
        }
        props.push(("DefaultDependencies", Value::Bool(false)));
        props
    }

    /// SetUnitProperties (runtime only, as runc) with the resource
    /// properties this systemd knows: `update`.
    pub(crate) fn set_properties(
        &self,
        resources: Vec<(&'static str, Value)>,
    ) -> Result<(), CgroupError> {
        if resources.is_empty() {
            return Ok(());
        }
        let mut bus = self.bus("setting properties of")?;
        let resources = for_version(resources, || bus.systemd_version());
        self.set_properties_on(&mut bus, &resources)
    }

    fn set_properties_on(
        &self,
        bus: &mut Bus,
        resources: &[(&'static str, Value)],
    ) -> Result<(), CgroupError> {
        if resources.is_empty() {
            return Ok(());
        }
        let mut body = Writer::default();
        body.str(&self.name);
        body.bool(true);
        body.properties(resources);
        bus.call_manager("SetUnitProperties", "sba(sv)", body)
            .map(|_| ())
            .map_err(failed("setting properties of", &self.name))
    }

    /// StopUnit and wait for it (a unit systemd already dropped, because its
    /// processes are gone, is fine), then ResetFailedUnit so that a failed
    /// unit goes too, as runc does.
    pub(crate) fn stop(&self) -> Result<(), CgroupError> {
        let mut bus = self.bus("stopping")?;
        bus.watch_jobs().map_err(failed("stopping", &self.name))?;
        let mut body = Writer::default();
        body.str(&self.name);
        body.str("replace");
        match bus.call_manager("StopUnit", "ss", body) {
            Ok(reply) => {
                let job = reply.into_iter().next().unwrap_or_default();
                // runc only warns when the stop job is not "done".
                bus.wait_for_job(&job)
                    .map_err(failed("stopping", &self.name))?;
            }
            Err(e) if e.remote_name() == Some("org.freedesktop.systemd1.NoSuchUnit") => {}
            Err(e) => return Err(failed("stopping", &self.name)(e)),
        }
        reset_failed(&mut bus, &self.name);
        Ok(())
    }
}

/// ResetFailedUnit; a unit that is not failed (or gone) is no error.
fn reset_failed(bus: &mut Bus, unit: &str) {
    let mut body = Writer::default();
    body.str(unit);
    let _not_failed_or_gone_is_fine = bus.call_manager("ResetFailedUnit", "s", body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn slices_expand_to_their_parents_as_in_runc() {
        let cases = [
            ("system.slice", "/system.slice"),
            ("-.slice", "/"),
            ("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice"),
            (
                "kubepods-burstable-pod123.slice",
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice",
            ),
        ];
        for (slice, path) in cases {
            assert_eq!(expand_slice(slice).unwrap(), Path::new(path), "{slice}");
        }
    }

    #[test]
    fn bad_slices_are_runcs_errors() {
        for bad in [
            "system",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            "a/b.slice",
            ".slice",
            "slice",
        ] {
            let e = expand_slice(bad).unwrap_err();
            assert_eq!(e.to_string(), format!("invalid slice name: {bad}"));
        }
    }

    #[test]
    fn cgroups_path_gives_the_scope_and_its_directory() {
        let (unit, dir) = unit_in_manager(Some("system.slice:kit:abc"), "id", None).unwrap();
        assert_eq!(unit.name, "kit-abc.scope");
        assert_eq!(unit.slice, "system.slice");
        assert!(!unit.is_slice());
        assert_eq!(dir, Path::new("/system.slice/kit-abc.scope"));

        let (unit, dir) = unit_in_manager(Some("machine-a.slice:p:n"), "id", None).unwrap();
        assert_eq!(unit.name, "p-n.scope");
        assert_eq!(dir, Path::new("/machine.slice/machine-a.slice/p-n.scope"));

        let (unit, dir) = unit_in_manager(Some(":docker:x"), "id", None).unwrap();
        assert_eq!(
            (unit.slice.as_str(), unit.name.as_str()),
            ("system.slice", "docker-x.scope")
        );
        assert_eq!(dir, Path::new("/system.slice/docker-x.scope"));
    }

    #[test]
    fn no_cgroups_path_is_the_default_slice_and_prefix() {
        for none in [None, Some("")] {
            let (unit, dir) = unit_in_manager(none, "ctr", None).unwrap();
            assert_eq!(unit.name, "berth-ctr.scope");
            assert_eq!(dir, Path::new("/system.slice/berth-ctr.scope"));
        }
    }

    #[test]
    fn a_slice_name_makes_a_slice_that_wants_its_parent() {
        let (unit, dir) = unit_in_manager(
            Some("kubepods.slice:x:kubepods-besteffort.slice"),
            "id",
            None,
        )
        .unwrap();
        assert!(unit.is_slice());
        assert_eq!(unit.name, "kubepods-besteffort.slice");
        assert_eq!(unit.slice, "kubepods.slice");
        assert_eq!(dir, Path::new("/kubepods.slice/kubepods-besteffort.slice"));
        let props = unit.unit_properties(None, Layout::V2);
        assert!(props.contains(&("Wants", Value::Strs(vec!["kubepods.slice".into()]))));
        assert!(!props.iter().any(|(n, _)| *n == "Delegate" || *n == "PIDs"));
    }

    #[test]
    fn a_path_not_in_the_systemd_form_is_runcs_error() {
        for bad in ["/a/b", "a:b", "a:b:c:d"] {
            let e = unit_in_manager(Some(bad), "id", None).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "expected cgroupsPath to be of format \"slice:prefix:name\" \
                     for systemd cgroups, got \"{bad}\" instead"
                )
            );
        }
        let e = unit_in_manager(Some("system:p:n"), "id", None).unwrap_err();
        assert_eq!(e.to_string(), "invalid slice name: system");
    }

    #[test]
    fn a_rootless_unit_defaults_to_the_user_slice() {
        let (unit, dir) = unit_in_manager(None, "ctr", Some(1000)).unwrap();
        assert_eq!(unit.name, "berth-ctr.scope");
        assert_eq!(unit.slice, "user.slice");
        assert_eq!(unit.user_bus_uid, Some(1000));
        assert_eq!(dir, Path::new("/user.slice/berth-ctr.scope"));
        let (unit, _) = unit_in_manager(Some(":p:n"), "id", Some(1000)).unwrap();
        assert_eq!(unit.slice, "user.slice");
    }

    #[test]
    fn a_scope_is_delegated_with_its_pid_and_accounting() {
        let (unit, _) = unit_in_manager(Some("system.slice:kit:a"), "a", None).unwrap();
        let v2 = unit.unit_properties(Some(42), Layout::V2);
        for expected in [
            ("Slice", Value::Str("system.slice".into())),
            ("Delegate", Value::Bool(true)),
            ("PIDs", Value::U32s(vec![42])),
            ("IOAccounting", Value::Bool(true)),
            ("DefaultDependencies", Value::Bool(false)),
        ] {
            assert!(v2.contains(&expected), "{expected:?}");
        }
        let v1 = unit.unit_properties(Some(42), Layout::Hybrid);
        assert!(v1.contains(&("BlockIOAccounting", Value::Bool(true))));
    }
}
