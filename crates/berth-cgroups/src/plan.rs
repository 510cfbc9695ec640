//! Where a container's cgroup goes: `linux.cgroupsPath` rules of runc's cgroupfs
//! driver, applied to the host's hierarchies. Pure functions over [`HostCgroups`].

use std::path::{Component, Path, PathBuf};

use crate::cgroup::{Cgroup, UnifiedDir, V1Hierarchy};
use crate::host::{CgroupMount, HostCgroups, OwnCgroup, CGROUP_ROOT};
use crate::{CgroupError, Layout};

/// The v1 controllers runc's cgroupfs driver manages; hierarchies holding none
/// of them (e.g. `misc`, a `name=` hierarchy other than systemd) are left alone.
const KNOWN_V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "devices",
    "memory",
    "cpu",
    "cpuacct",
    "pids",
    "blkio",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "freezer",
    "rdma",
    "name=systemd",
];

/// The container's path inside every hierarchy, after cleaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InnerPath {
    /// `/a/b`: under each hierarchy's root.
    Absolute(PathBuf),
    /// `a/b` (or the default, the container id): under the runtime's own cgroup.
    Relative(PathBuf),
    /// The runtime's own cgroup itself (on pure v2 too, not its parent).
    Own,
}

impl Cgroup {
    /// Computes (does not create) the container's cgroup from `linux.cgroupsPath`
    /// as runc's cgroupfs driver does:
    /// - `None` or empty: the container id, relative (see below);
    /// - `/a/b`: under the root of every hierarchy;
    /// - `a/b`: under the runtime's own cgroup in each v1 hierarchy and in hybrid's
    ///   unified tree; under the *parent* of its own cgroup on pure v2;
    /// - `slice:prefix:name` (systemd driver form): an error.
    ///
    /// `..` never climbs out of a hierarchy. v1 hierarchies that are not mounted are
    /// skipped; a missing `devices` hierarchy is an error.
    pub fn plan(cgroups_path: Option<&str>, id: &str) -> Result<Cgroup, CgroupError> {
        let inner = inner_path(cgroups_path, id)?;
        plan_on(&HostCgroups::read()?, &inner)
    }
}

impl Cgroup {
    /// The runtime's own cgroup in every hierarchy: where a process that
    /// does not join the container's cgroup stays.
    pub(crate) fn runtime_own() -> Result<Cgroup, CgroupError> {
        plan_on(&HostCgroups::read()?, &InnerPath::Own)
    }
}

/// Turns `linux.cgroupsPath` (or its absence) into the container's inner path.
pub(crate) fn inner_path(cgroups_path: Option<&str>, id: &str) -> Result<InnerPath, CgroupError> {
    let given = cgroups_path.filter(|p| !p.is_empty());
    if let Some(path) = given {
        if is_systemd_form(path) {
            return Err(CgroupError::SystemdPath(path.to_string()));
        }
    }
    let raw = given.unwrap_or(id);
    let cleaned = clean_path(raw);
    if cleaned.as_os_str().is_empty() {
        let reason = if given.is_some() {
            "it resolves to the root of the cgroup hierarchy or to the runtime's own cgroup"
        } else {
            "the container id does not make a cgroup name"
        };
        return Err(CgroupError::InvalidPath {
            path: raw.to_string(),
            reason: reason.to_string(),
        });
    }
    Ok(if raw.starts_with('/') {
        InnerPath::Absolute(cleaned)
    } else {
        InnerPath::Relative(cleaned)
    })
}

/// `slice:prefix:name` as the systemd driver takes it (`system.slice:docker:abc`).
fn is_systemd_form(path: &str) -> bool {
    !path.starts_with('/') && path.split(':').count() == 3
}

/// Lexically cleans a path the way runc's `CleanPath` does, so that it can never
/// climb out of the hierarchy: `.` and empty parts go, `..` pops a part and stops
/// at the top. The result is relative (no leading `/`); empty means the top itself.
pub(crate) fn clean_path(path: &str) -> PathBuf {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    parts.iter().collect()
}

/// Computes the container's cgroup directories in every hierarchy of `host`.
pub(crate) fn plan_on(host: &HostCgroups, inner: &InnerPath) -> Result<Cgroup, CgroupError> {
    let v1 = match host.layout {
        Layout::V2 => Vec::new(),
        Layout::V1 | Layout::Hybrid => plan_v1(host, inner)?,
    };
    let unified = match host.layout {
        Layout::V1 => None,
        Layout::Hybrid | Layout::V2 => Some(plan_unified(host, inner)?),
    };
    Ok(Cgroup::from_parts(host.layout, v1, unified))
}

/// The managed v1 hierarchies in mountinfo order (the order runc mounts them in
/// the container), each hierarchy once even if it is mounted several times.
fn plan_v1(host: &HostCgroups, inner: &InnerPath) -> Result<Vec<V1Hierarchy>, CgroupError> {
    let mut hierarchies: Vec<V1Hierarchy> = Vec::new();
    for mount in host.mounts.iter().filter(|m| !m.v2) {
        let Some(own) = own_cgroup_of(&host.own, mount) else {
            continue; // not a hierarchy runc manages (misc, name=other, ...)
        };
        if hierarchies.iter().any(|h| h.controllers == own.controllers) {
            continue;
        }
        hierarchies.push(V1Hierarchy {
            name: mount_name(&mount.mountpoint),
            controllers: own.controllers.clone(),
            mountpoint: mount.mountpoint.clone(),
            dir: container_dir(mount, own, inner, false)?,
        });
    }
    if !hierarchies.iter().any(|h| h.has_controller("devices")) {
        return Err(CgroupError::MissingHierarchy {
            controller: "devices".to_string(),
            needed_for: "device access control, which is not optional".to_string(),
        });
    }
    Ok(hierarchies)
}

/// The `/proc/self/cgroup` line of a managed v1 hierarchy mounted at `mount`:
/// the one whose controllers are all among the mount's super options.
fn own_cgroup_of<'a>(own: &'a [OwnCgroup], mount: &CgroupMount) -> Option<&'a OwnCgroup> {
    own.iter().filter(|o| is_managed_v1(o)).find(|o| {
        o.controllers
            .iter()
            .all(|c| mount.super_options.contains(c))
    })
}

fn is_managed_v1(own: &OwnCgroup) -> bool {
    own.controllers
        .iter()
        .any(|c| KNOWN_V1_CONTROLLERS.contains(&c.as_str()))
}

/// The name of a hierarchy under `/sys/fs/cgroup`: its mount point's last part.
fn mount_name(mountpoint: &Path) -> String {
    mountpoint
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn plan_unified(host: &HostCgroups, inner: &InnerPath) -> Result<UnifiedDir, CgroupError> {
    let mount = unified_mount(host)?;
    let own = host
        .own
        .iter()
        .find(|o| o.controllers.is_empty())
        .ok_or_else(|| CgroupError::Parse {
            path: PathBuf::from("/proc/self/cgroup"),
            detail: "no cgroup2 line (0::/...)".to_string(),
        })?;
    // Pure v2: runc starts relative paths at the PARENT of its own cgroup (its
    // own one usually holds processes, so it cannot enable controllers there).
    // Hybrid: runc's v1 driver joins the unified tree like any v1 hierarchy.
    let from_parent = host.layout == Layout::V2 && *inner != InnerPath::Own;
    Ok(UnifiedDir {
        mountpoint: mount.mountpoint.clone(),
        dir: container_dir(mount, own, inner, from_parent)?,
    })
}

/// The cgroup2 mount: at `/sys/fs/cgroup` for pure v2, else the first one.
fn unified_mount(host: &HostCgroups) -> Result<&CgroupMount, CgroupError> {
    let v2_mounts = || host.mounts.iter().filter(|m| m.v2);
    let wanted =
        |m: &&CgroupMount| host.layout != Layout::V2 || m.mountpoint == Path::new(CGROUP_ROOT);
    v2_mounts()
        .find(wanted)
        .or_else(|| v2_mounts().next())
        .ok_or_else(|| CgroupError::Layout("no cgroup2 mount in /proc/self/mountinfo".to_string()))
}

/// `mountpoint/[own cgroup (or its parent), relative to the mount's root]/inner`.
fn container_dir(
    mount: &CgroupMount,
    own: &OwnCgroup,
    inner: &InnerPath,
    from_parent: bool,
) -> Result<PathBuf, CgroupError> {
    match inner {
        InnerPath::Absolute(path) => Ok(mount.mountpoint.join(path)),
        InnerPath::Relative(path) => {
            let own_dir = own_dir_in_mount(mount, own)?;
            let base = match from_parent {
                true => own_dir.parent().map(Path::to_path_buf).unwrap_or_default(),
                false => own_dir,
            };
            Ok(mount.mountpoint.join(base).join(path))
        }
        InnerPath::Own => Ok(mount.mountpoint.join(own_dir_in_mount(mount, own)?)),
    }
}

/// The runtime's own cgroup as a path relative to the mount point.
fn own_dir_in_mount(mount: &CgroupMount, own: &OwnCgroup) -> Result<PathBuf, CgroupError> {
    let relative = own.path.strip_prefix(&mount.root).map_err(|_| {
        CgroupError::Layout(format!(
            "the runtime's own cgroup {} is outside the part {} of the hierarchy mounted at {}",
            own.path.display(),
            mount.root.display(),
            mount.mountpoint.display()
        ))
    })?;
    Ok(clean_path(&relative.to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::{HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP};
    use crate::host::{parse_mountinfo, parse_proc_cgroup};

    fn host(layout: Layout, mountinfo: &str, proc_cgroup: &str) -> HostCgroups {
        HostCgroups {
            layout,
            mounts: parse_mountinfo(mountinfo, Path::new("mi")).unwrap(),
            own: parse_proc_cgroup(proc_cgroup, Path::new("pc")).unwrap(),
        }
    }

    fn hybrid() -> HostCgroups {
        host(Layout::Hybrid, HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP)
    }

    const V2_MOUNTINFO: &str =
        "25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";

    fn plan(host: &HostCgroups, path: Option<&str>, id: &str) -> Result<Cgroup, CgroupError> {
        plan_on(host, &inner_path(path, id)?)
    }

    fn v1_dir(cg: &Cgroup, name: &str) -> PathBuf {
        cg.v1_mount_sources()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
    }

    #[test]
    fn clean_path_never_climbs_out() {
        assert_eq!(clean_path("/a/../../b/./c/"), Path::new("b/c"));
        assert_eq!(clean_path("../../x"), Path::new("x"));
        assert_eq!(clean_path("a//b"), Path::new("a/b"));
        assert_eq!(clean_path("/"), Path::new(""));
        assert_eq!(clean_path("."), Path::new(""));
    }

    #[test]
    fn default_path_is_the_id_relative_to_own_cgroup() {
        // what `runc run` with no cgroupsPath did on this host: memory nested
        // under the caller's own memory cgroup, the rest at the top
        let cg = plan(&hybrid(), None, "ctr1").unwrap();
        assert_eq!(
            v1_dir(&cg, "memory"),
            Path::new("/sys/fs/cgroup/memory/process_api/d376/ctr1")
        );
        assert_eq!(v1_dir(&cg, "pids"), Path::new("/sys/fs/cgroup/pids/ctr1"));
        assert_eq!(
            v1_dir(&cg, "systemd"),
            Path::new("/sys/fs/cgroup/systemd/ctr1")
        );
        assert_eq!(
            cg.unified_dir(),
            Some(Path::new("/sys/fs/cgroup/unified/ctr1"))
        );
        assert_eq!(cg, plan(&hybrid(), Some(""), "ctr1").unwrap());
    }

    #[test]
    fn absolute_path_is_under_each_root() {
        let cg = plan(&hybrid(), Some("/docker/abc"), "abc").unwrap();
        assert_eq!(
            v1_dir(&cg, "memory"),
            Path::new("/sys/fs/cgroup/memory/docker/abc")
        );
        assert_eq!(
            cg.unified_dir(),
            Some(Path::new("/sys/fs/cgroup/unified/docker/abc"))
        );
    }

    #[test]
    fn relative_path_is_under_own_cgroup() {
        let cg = plan(&hybrid(), Some("a/../../b"), "x").unwrap();
        assert_eq!(
            v1_dir(&cg, "memory"),
            Path::new("/sys/fs/cgroup/memory/process_api/d376/b")
        );
        assert_eq!(v1_dir(&cg, "cpu"), Path::new("/sys/fs/cgroup/cpu/b"));
    }

    #[test]
    fn hybrid_lists_every_mounted_v1_hierarchy_in_mount_order() {
        let cg = plan(&hybrid(), None, "c").unwrap();
        let names: Vec<String> = cg.v1_mount_sources().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                "systemd"
            ]
        );
        assert_eq!(cg.layout(), Layout::Hybrid);
    }

    #[test]
    fn joint_controllers_are_named_after_the_mount_point() {
        let mi = "1 0 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                  2 0 0:2 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n";
        let pc = "3:cpu,cpuacct:/user\n2:devices:/\n1:net_cls,net_prio:/\n";
        let cg = plan(&host(Layout::V1, mi, pc), None, "c").unwrap();
        assert_eq!(
            cg.v1_mount_sources(),
            [
                (
                    "cpu,cpuacct".to_string(),
                    PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/user/c")
                ),
                (
                    "devices".to_string(),
                    PathBuf::from("/sys/fs/cgroup/devices/c")
                ),
            ]
        );
        assert_eq!(cg.unified_dir(), None);
    }

    #[test]
    fn each_managed_hierarchy_once() {
        let mi = "1 0 0:1 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n\
                  2 0 0:2 / /sys/fs/cgroup/misc rw - cgroup cgroup rw,misc\n\
                  3 0 0:1 / /mnt/devices-again rw - cgroup cgroup rw,devices\n";
        let pc = "2:misc:/\n1:devices:/\n";
        let cg = plan(&host(Layout::V1, mi, pc), None, "c").unwrap();
        assert_eq!(
            cg.v1_mount_sources(),
            [(
                "devices".to_string(),
                PathBuf::from("/sys/fs/cgroup/devices/c")
            )]
        );
    }

    #[test]
    fn a_bind_mounted_hierarchy_part_is_taken_off_the_own_path() {
        let mi = "1 0 0:1 /outer /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n";
        let pc = "2:devices:/outer/inner\n";
        let cg = plan(&host(Layout::V1, mi, pc), Some("c"), "x").unwrap();
        assert_eq!(
            v1_dir(&cg, "devices"),
            Path::new("/sys/fs/cgroup/devices/inner/c")
        );
        let pc_outside = "2:devices:/elsewhere\n";
        assert!(plan(&host(Layout::V1, mi, pc_outside), Some("c"), "x").is_err());
    }

    #[test]
    fn missing_devices_hierarchy_is_an_error() {
        let mi = "1 0 0:1 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
        let err = plan(&host(Layout::V1, mi, "1:pids:/\n"), None, "c").unwrap_err();
        assert!(err.to_string().contains("devices"), "{err}");
    }

    #[test]
    fn v2_relative_paths_start_at_the_parent_of_own_cgroup() {
        let h = host(Layout::V2, V2_MOUNTINFO, "0::/user.slice/session-1.scope\n");
        let cg = plan(&h, None, "ctr").unwrap();
        assert_eq!(
            cg.unified_dir(),
            Some(Path::new("/sys/fs/cgroup/user.slice/ctr"))
        );
        assert!(cg.v1_mount_sources().is_empty());
        let root = host(Layout::V2, V2_MOUNTINFO, "0::/\n");
        let cg = plan(&root, Some("a/b"), "ctr").unwrap();
        assert_eq!(cg.unified_dir(), Some(Path::new("/sys/fs/cgroup/a/b")));
        let cg = plan(&h, Some("/kubepods/pod1/ctr"), "ctr").unwrap();
        assert_eq!(
            cg.unified_dir(),
            Some(Path::new("/sys/fs/cgroup/kubepods/pod1/ctr"))
        );
    }

    #[test]
    fn systemd_form_is_refused_clearly() {
        let err = plan(&hybrid(), Some("system.slice:docker:abc"), "abc").unwrap_err();
        assert!(matches!(err, CgroupError::SystemdPath(_)));
        assert!(
            err.to_string()
                .contains("needs the systemd cgroup driver (--systemd-cgroup)"),
            "{err}"
        );
        // a colon in an absolute path is just a name
        assert!(plan(&hybrid(), Some("/a:b:c"), "x").is_ok());
    }

    #[test]
    fn paths_that_resolve_to_a_root_are_refused() {
        for p in ["/", "/..", ".", "a/.."] {
            let err = plan(&hybrid(), Some(p), "x").unwrap_err();
            assert!(matches!(err, CgroupError::InvalidPath { .. }), "{p}: {err}");
        }
    }
}
