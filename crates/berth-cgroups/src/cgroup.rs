//! The container's cgroup: its directories in every hierarchy, and creating,
//! joining, listing and removing them.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{fsutil, CgroupError, Layout, SystemdUnit};

/// The container's directory in one cgroup v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Hierarchy {
    /// The hierarchy's name under `/sys/fs/cgroup`: its mount point's last part
    /// (`memory`, `cpu,cpuacct`, `systemd`).
    pub name: String,
    /// Its controllers as `/proc/self/cgroup` names them (`cpu`, `name=systemd`).
    pub controllers: Vec<String>,
    /// Where the hierarchy is mounted on the host.
    pub mountpoint: PathBuf,
    /// The container's cgroup directory in it.
    pub dir: PathBuf,
}

impl V1Hierarchy {
    /// Whether this hierarchy carries `controller` (`memory`, `name=systemd`).
    pub fn has_controller(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The container's directory in the cgroup2 tree (pure v2, or hybrid's `unified`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnifiedDir {
    /// Where the cgroup2 tree is mounted on the host.
    pub mountpoint: PathBuf,
    /// The container's cgroup directory in it.
    pub dir: PathBuf,
}

/// A container's cgroup on one host; persisted in the container's state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    layout: Layout,
    #[serde(default)]
    pub(crate) v1: Vec<V1Hierarchy>,
    #[serde(default)]
    pub(crate) unified: Option<UnifiedDir>,
    /// The systemd unit owning these directories (`--systemd-cgroup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    systemd: Option<SystemdUnit>,
    /// Made by runc's rootless cgroup manager (`--rootless`): device rules
    /// that cannot be applied are skipped, a limit for a hierarchy the
    /// caller could not create a cgroup in is refused in runc's words.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) rootless: bool,
    /// Where init really is in each hierarchy, for the container's
    /// `/sys/fs/cgroup` mount: set by [`Cgroup::create_rootless`] when some
    /// hierarchies were left out (init stays in the runtime's cgroup there).
    #[serde(skip)]
    pub(crate) mount_view: Option<Box<Cgroup>>,
}

impl Cgroup {
    pub(crate) fn from_parts(
        layout: Layout,
        v1: Vec<V1Hierarchy>,
        unified: Option<UnifiedDir>,
    ) -> Self {
        Self {
            layout,
            v1,
            unified,
            systemd: None,
            rootless: false,
            mount_view: None,
        }
    }

    /// The same directories, owned by a systemd unit.
    pub(crate) fn with_unit(self, unit: SystemdUnit) -> Self {
        Self {
            systemd: Some(unit),
            ..self
        }
    }

    /// The systemd unit of this cgroup (systemd driver), if any.
    pub fn systemd_unit(&self) -> Option<&SystemdUnit> {
        self.systemd.as_ref()
    }

    /// The cgroup whose directories the container's `/sys/fs/cgroup` mount
    /// shows: this one, or where init stayed in the hierarchies a rootless
    /// create left out.
    pub fn mount_view(&self) -> &Cgroup {
        self.mount_view.as_deref().unwrap_or(self)
    }

    /// The host's layout this cgroup was planned for.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The container's directory in each mounted v1 hierarchy (empty on pure v2).
    pub fn v1_hierarchies(&self) -> &[V1Hierarchy] {
        &self.v1
    }

    /// The container's directory in the v1 hierarchy carrying `controller`.
    pub fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|h| h.has_controller(controller))
            .map(|h| h.dir.as_path())
    }

    /// The container's cgroup2 directory (pure v2, or hybrid's unified tree).
    pub fn unified_dir(&self) -> Option<&Path> {
        self.unified.as_ref().map(|u| u.dir.as_path())
    }

    pub(crate) fn unified(&self) -> Option<&UnifiedDir> {
        self.unified.as_ref()
    }

    /// What runc bind-mounts for a `cgroup` mount at `/sys/fs/cgroup` on v1/hybrid
    /// hosts: (name under `/sys/fs/cgroup`, host directory of this container's
    /// cgroup in that hierarchy). Hybrid's unified tree is not included (runc 1.1
    /// does not mount it in the container). For joint hierarchies such as
    /// `cpu,cpuacct`, runc also links each controller name to the joint directory;
    /// [`V1Hierarchy::controllers`] gives those names.
    pub fn v1_mount_sources(&self) -> Vec<(String, PathBuf)> {
        self.v1
            .iter()
            .map(|h| (h.name.clone(), h.dir.clone()))
            .collect()
    }

    /// Every directory of this cgroup, v1 hierarchies first.
    fn all_dirs(&self) -> impl Iterator<Item = &Path> {
        self.v1
            .iter()
            .map(|h| h.dir.as_path())
            .chain(self.unified_dir())
    }

    /// Creates the directories (`mkdir -p`) in every hierarchy. v1 cpuset levels
    /// get their parent's `cpuset.cpus`/`cpuset.mems` where empty (else no task
    /// could join). Pure v2: every controller available at each ancestor is
    /// enabled in its `cgroup.subtree_control`, as runc does.
    pub fn create(&self) -> Result<(), CgroupError> {
        self.v1.iter().try_for_each(create_v1)?;
        self.unified
            .as_ref()
            .map_or(Ok(()), |u| create_unified(u, self.layout))
    }

    /// Moves process `pid` into the container's cgroup in every hierarchy, by
    /// writing it to each `cgroup.procs` (the tests' way to populate a
    /// cgroup; a container's processes join through
    /// [`Cgroup::prepare_entry`], which avoids this write's wait).
    #[cfg(test)]
    pub(crate) fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        self.all_dirs().try_for_each(|dir| add_pid(dir, pid))
    }

    /// Moves process `pid` into the container's directory of each v1
    /// hierarchy (and, with `unified`, of the cgroup2 tree). Used after
    /// systemd placed it in its unit: one migration just ran, so these do not
    /// wait for an RCU grace period.
    pub(crate) fn add_process_to_v1(&self, pid: i32, unified: bool) -> Result<(), CgroupError> {
        let v1 = self.v1.iter().map(|h| h.dir.as_path());
        let unified = self.unified_dir().filter(|_| unified);
        v1.chain(unified).try_for_each(|dir| add_pid(dir, pid))
    }

    /// Moves process `pid` into the container's directory of each v1
    /// hierarchy with a controller (not `name=systemd`).
    pub(crate) fn add_process_to_v1_controllers(&self, pid: i32) -> Result<(), CgroupError> {
        self.v1
            .iter()
            .filter(|h| !h.has_controller("name=systemd"))
            .try_for_each(|h| add_pid(&h.dir, pid))
    }

    /// Opens, in the runtime, what a process about to be cloned needs to enter
    /// this cgroup by itself: see [`CgroupEntry`].
    pub fn prepare_entry(&self) -> Result<CgroupEntry, CgroupError> {
        let clone_into = match self.unified_dir() {
            Some(dir) => Some(fsutil::open_dir(dir).map_err(|source| CgroupError::Open {
                path: dir.to_path_buf(),
                source,
            })?),
            None => None,
        };
        let tasks = self
            .v1
            .iter()
            .map(|h| fsutil::open_for_write(&h.dir.join("tasks")))
            .collect::<Result<_, _>>()?;
        Ok(CgroupEntry {
            clone_into,
            unified_dir: self.unified_dir().map(Path::to_path_buf),
            tasks,
            best_effort: false,
        })
    }

    /// What an `exec`'d process needs to enter this cgroup: see
    /// [`Cgroup::prepare_entry`]. For a rootless container the caller may
    /// not be allowed to move a process there (its own cgroup is not below
    /// a common ancestor it owns): as runc, the process then stays in the
    /// caller's cgroup ([`CgroupEntry::best_effort`]).
    pub fn prepare_exec_entry(&self) -> Result<CgroupEntry, CgroupError> {
        if !self.rootless {
            return self.prepare_entry();
        }
        let clone_into = self
            .unified_dir()
            .and_then(|dir| fsutil::open_dir(dir).ok());
        let tasks = self
            .v1
            .iter()
            .filter_map(|h| fsutil::open_for_write(&h.dir.join("tasks")).ok())
            .collect();
        Ok(CgroupEntry {
            clone_into,
            unified_dir: self.unified_dir().map(Path::to_path_buf),
            tasks,
            best_effort: true,
        })
    }

    /// `exec --cgroup`: the same cgroup with some hierarchies' directories
    /// replaced by an existing sub-cgroup. Each request is
    /// `[controller[,controller]:]path`, `path` relative to the container's
    /// cgroup; without controllers it applies to every hierarchy (and the
    /// cgroup2 tree), with them to the v1 hierarchies that carry them.
    pub fn with_sub_cgroups(&self, requests: &[String]) -> Result<Cgroup, CgroupError> {
        let mut sub = self.clone();
        for request in requests {
            let (controllers, path) = parse_sub_cgroup(request)?;
            sub.enter_sub_cgroup(request, controllers.as_deref(), &path)?;
        }
        Ok(sub)
    }

    fn enter_sub_cgroup(
        &mut self,
        request: &str,
        controllers: Option<&[&str]>,
        path: &Path,
    ) -> Result<(), CgroupError> {
        let wanted = |h: &V1Hierarchy| match controllers {
            None => true,
            Some(list) => list.iter().any(|c| h.has_controller(c)),
        };
        let mut dirs: Vec<&mut PathBuf> = self
            .v1
            .iter_mut()
            .filter(|h| wanted(h))
            .map(|h| &mut h.dir)
            .collect();
        if controllers.is_none() {
            dirs.extend(self.unified.as_mut().map(|u| &mut u.dir));
        }
        if dirs.is_empty() {
            return Err(CgroupError::SubCgroup {
                request: request.to_string(),
                reason: "no hierarchy of this container has that controller".into(),
            });
        }
        if path.as_os_str().is_empty() {
            return Ok(());
        }
        for dir in dirs {
            let target = dir.join(path);
            if !target.is_dir() {
                return Err(CgroupError::SubCgroup {
                    request: request.to_string(),
                    reason: format!("{} does not exist", target.display()),
                });
            }
            *dir = target;
        }
        Ok(())
    }

    /// The directory whose `cgroup.procs` lists the container's processes: the
    /// unified one on pure v2, else the v1 `devices` hierarchy (always there).
    pub(crate) fn procs_dir(&self) -> Option<&Path> {
        match self.layout {
            Layout::V2 => self.unified_dir(),
            Layout::V1 | Layout::Hybrid => self
                .v1_dir("devices")
                .or_else(|| self.v1.first().map(|h| h.dir.as_path())),
        }
    }

    /// Every pid in the container's cgroup and the cgroups below it. Empty if the
    /// cgroup does not exist (any more); an error for a rootless container
    /// that got no cgroup.
    pub fn processes(&self) -> Result<Vec<i32>, CgroupError> {
        let mut pids = Vec::new();
        match self.procs_dir() {
            Some(dir) => collect_pids(dir, &mut pids)?,
            // A rootless create left every hierarchy out: nothing lists
            // the container's processes (runc fails there too).
            None if self.rootless => {
                return Err(CgroupError::RootlessNoCgroup {
                    what: "cgroup",
                    needed_for: "listing its processes",
                })
            }
            None => {}
        }
        Ok(pids)
    }

    /// Stops the systemd unit (systemd driver), then removes the container's
    /// cgroup directories (and any child cgroups inside them) in every
    /// hierarchy. `EBUSY` is retried briefly; missing ones are fine,
    /// so it is idempotent. Parents are never removed (`/docker` stays, as with
    /// runc). Every hierarchy is tried; the first error is returned.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let stopped = self.systemd.as_ref().map_or(Ok(()), SystemdUnit::stop);
        self.remove_dirs().and(stopped)
    }

    fn remove_dirs(&self) -> Result<(), CgroupError> {
        let mut first_error = None;
        for dir in self.all_dirs() {
            if let Err(e) = fsutil::remove_cgroup_tree(dir) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn add_pid(dir: &Path, pid: i32) -> Result<(), CgroupError> {
    fsutil::write(dir, "cgroup.procs", &pid.to_string())
}

/// `[controller[,controller]:]path` of `exec --cgroup`. As runc, the path
/// is cleaned and taken relative to the container's cgroup (`/`, `a/..` and
/// an empty path are that cgroup itself); one that leads out of it is
/// refused with runc's words (`.. is not a sub cgroup path`).
fn parse_sub_cgroup(request: &str) -> Result<(Option<Vec<&str>>, PathBuf), CgroupError> {
    let (controllers, path) = match request.split_once(':') {
        Some((list, path)) => (Some(list.split(',').collect::<Vec<_>>()), path),
        None => (None, request),
    };
    let cleaned = clean_below(Path::new(path)).ok_or_else(|| CgroupError::SubCgroup {
        request: request.to_string(),
        reason: format!("{path} is not a sub cgroup path"),
    })?;
    if controllers
        .as_ref()
        .is_some_and(|l| l.iter().any(|c| c.is_empty()))
    {
        return Err(CgroupError::SubCgroup {
            request: request.to_string(),
            reason: "empty controller name".into(),
        });
    }
    Ok((controllers, cleaned))
}

/// `path` cleaned lexically as relative to a base directory (a leading `/`
/// is that base); `None` when a `..` would climb above it.
fn clean_below(path: &Path) -> Option<PathBuf> {
    let mut cleaned = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::Normal(name) => cleaned.push(name),
            // `..` pops a level; with none left it climbs out.
            std::path::Component::ParentDir if !cleaned.pop() => return None,
            _ => {}
        }
    }
    Some(cleaned)
}

/// The directories from the first one below `mountpoint` down to `dir`.
fn levels(mountpoint: &Path, dir: &Path) -> Vec<PathBuf> {
    let relative = dir.strip_prefix(mountpoint).unwrap_or(Path::new(""));
    let mut current = mountpoint.to_path_buf();
    relative
        .components()
        .map(|part| {
            current.push(part);
            current.clone()
        })
        .collect()
}

/// `mkdir -p` of the container's directory in one v1 hierarchy (cpuset
/// levels inherit their parent's cpus and mems).
pub(crate) fn create_v1(h: &V1Hierarchy) -> Result<(), CgroupError> {
    let copy_cpuset = h.has_controller("cpuset");
    for level in levels(&h.mountpoint, &h.dir) {
        fsutil::mkdir(&level)?;
        if copy_cpuset {
            inherit_cpuset(&level)?;
        }
    }
    Ok(())
}

/// `mkdir -p` of the container's cgroup2 directory; on pure v2 the
/// controllers are enabled on its ancestors.
pub(crate) fn create_unified(u: &UnifiedDir, layout: Layout) -> Result<(), CgroupError> {
    for level in levels(&u.mountpoint, &u.dir) {
        fsutil::mkdir(&level)?;
    }
    if layout == Layout::V2 {
        enable_on_ancestors(u, None)?;
    }
    Ok(())
}

fn parent_of(path: &Path) -> &Path {
    path.parent().unwrap_or(path)
}

/// Fills an empty `cpuset.cpus` / `cpuset.mems` from the parent's.
fn inherit_cpuset(dir: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if fsutil::read_trimmed(dir, file)?.is_empty() {
            let inherited = fsutil::read_trimmed(parent_of(dir), file)?;
            fsutil::write(dir, file, &inherited)?;
        }
    }
    Ok(())
}

/// Enables controllers (all available, or `only` those) in the
/// `cgroup.subtree_control` of every ancestor of the unified directory, from the
/// mount point down, so that the directory gets their files.
pub(crate) fn enable_on_ancestors(
    u: &UnifiedDir,
    only: Option<&[&str]>,
) -> Result<(), CgroupError> {
    levels(&u.mountpoint, &u.dir)
        .iter()
        .try_for_each(|level| enable_controllers(parent_of(level), only))
}

/// Enables in `dir`'s `cgroup.subtree_control` the controllers available there
/// (`only`: just those of them). Like runc, a refused write is retried one
/// controller at a time and refusals are left for the resource writes to report
/// (they then fail with [`CgroupError::ControllerNotEnabled`]).
fn enable_controllers(dir: &Path, only: Option<&[&str]>) -> Result<(), CgroupError> {
    let available = fsutil::read_trimmed(dir, "cgroup.controllers")?;
    let enabled = fsutil::read_trimmed(dir, "cgroup.subtree_control")?;
    let missing: Vec<String> = available
        .split_whitespace()
        .filter(|c| only.is_none_or(|only| only.contains(c)))
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let path = dir.join("cgroup.subtree_control");
    if fsutil::write_raw(&path, &missing.join(" ")).is_err() {
        for one in &missing {
            let _refused_is_reported_later = fsutil::write_raw(&path, one);
        }
    }
    Ok(())
}

/// Appends the pids of `dir`'s `cgroup.procs` and of every cgroup below it.
fn collect_pids(dir: &Path, pids: &mut Vec<i32>) -> Result<(), CgroupError> {
    let procs = dir.join("cgroup.procs");
    let text = match fsutil::read(&procs) {
        Ok(text) => text,
        Err(e) if fsutil::is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for line in text.lines().filter(|l| !l.is_empty()) {
        pids.push(line.trim().parse().map_err(|_| CgroupError::Parse {
            path: procs.clone(),
            detail: format!("not a pid: {line:?}"),
        })?);
    }
    for child in fsutil::child_dirs(dir)? {
        collect_pids(&child, pids)?;
    }
    Ok(())
}

/// How a process about to be cloned enters the container's cgroup without the
/// runtime writing its pid to `cgroup.procs`: such a write waits for an RCU
/// grace period (5-15 ms here) whenever no other migration ran just before.
///
/// - cgroup2 (pure v2, or hybrid's unified tree): `clone3` with
///   `CLONE_INTO_CGROUP` and [`CgroupEntry::clone_into`].
/// - each v1 hierarchy: the child writes `0` (itself) to the hierarchy's
///   `tasks` file, opened here by the runtime. Moving the calling thread alone
///   skips the kernel's global threadgroup lock and so the wait (init is
///   single-threaded, so its one thread is the whole process); the kernel
///   checks permission against the opener's credentials, the runtime's.
#[derive(Debug)]
pub struct CgroupEntry {
    clone_into: Option<OwnedFd>,
    unified_dir: Option<PathBuf>,
    tasks: Vec<(PathBuf, File)>,
    /// A rootless `exec`: joining is tried, a refusal leaves the process in
    /// the caller's cgroup (runc ignores these errors there).
    best_effort: bool,
}

impl CgroupEntry {
    /// Nothing to join: the runtime places the process after the clone
    /// (systemd driver, [`Cgroup::adopt_init`]).
    pub(crate) fn placed_by_runtime() -> Self {
        Self {
            clone_into: None,
            unified_dir: None,
            tasks: Vec::new(),
            best_effort: false,
        }
    }

    /// Whether a refused join is no error: see [`Cgroup::prepare_exec_entry`].
    pub fn best_effort(&self) -> bool {
        self.best_effort
    }

    /// The cgroup2 directory fd to pass to `clone3` with `CLONE_INTO_CGROUP`.
    pub fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        self.clone_into.as_ref().map(|fd| fd.as_fd())
    }

    /// In the cloned child, once the runtime lets it go on: join every v1
    /// hierarchy, and the cgroup2 tree too when the clone could not place the
    /// child there (`cloned_into` false: a kernel without `CLONE_INTO_CGROUP`).
    pub fn join_current(self, cloned_into: bool) -> Result<(), CgroupError> {
        let best_effort = self.best_effort;
        let joined = self.join_all(cloned_into);
        match joined {
            Err(_) if best_effort => Ok(()),
            other => other,
        }
    }

    fn join_all(self, cloned_into: bool) -> Result<(), CgroupError> {
        for (path, mut file) in self.tasks {
            file.write_all(b"0")
                .map_err(fsutil::write_error(&path, "0"))?;
        }
        match self.unified_dir {
            Some(dir) if !cloned_into => fsutil::write(&dir, "cgroup.procs", "0"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_cgroup_requests_parse_and_stay_below() {
        let (controllers, path) = parse_sub_cgroup("memory,pids:a/b").unwrap();
        assert_eq!(controllers, Some(vec!["memory", "pids"]));
        assert_eq!(path, Path::new("a/b"));
        let (controllers, path) = parse_sub_cgroup("sub").unwrap();
        assert_eq!((controllers, path), (None, PathBuf::from("sub")));
        for (own, cleaned) in [
            ("/", ""),
            ("", ""),
            ("memory:", ""),
            ("a/..", ""),
            ("/a/./b", "a/b"),
        ] {
            assert_eq!(
                parse_sub_cgroup(own).unwrap().1,
                Path::new(cleaned),
                "{own}"
            );
        }
        for bad in ["../x", "..", ":x", "a/../../b"] {
            assert!(parse_sub_cgroup(bad).is_err(), "{bad}");
        }
        let err = parse_sub_cgroup("pids:a/../..").unwrap_err().to_string();
        assert!(err.ends_with(": a/../.. is not a sub cgroup path"), "{err}");
    }

    #[test]
    fn levels_walk_down_from_below_the_mount() {
        let l = levels(
            Path::new("/sys/fs/cgroup/pids"),
            Path::new("/sys/fs/cgroup/pids/a/b"),
        );
        assert_eq!(
            l,
            [
                PathBuf::from("/sys/fs/cgroup/pids/a"),
                PathBuf::from("/sys/fs/cgroup/pids/a/b")
            ]
        );
    }

    #[test]
    fn state_round_trips_through_json() {
        let cg = Cgroup::from_parts(
            Layout::Hybrid,
            vec![V1Hierarchy {
                name: "cpu,cpuacct".into(),
                controllers: vec!["cpu".into(), "cpuacct".into()],
                mountpoint: "/sys/fs/cgroup/cpu,cpuacct".into(),
                dir: "/sys/fs/cgroup/cpu,cpuacct/c".into(),
            }],
            Some(UnifiedDir {
                mountpoint: "/sys/fs/cgroup/unified".into(),
                dir: "/sys/fs/cgroup/unified/c".into(),
            }),
        );
        let json = serde_json::to_string(&cg).unwrap();
        assert!(json.contains("\"layout\":\"hybrid\""), "{json}");
        assert_eq!(serde_json::from_str::<Cgroup>(&json).unwrap(), cg);
        assert_eq!(
            cg.v1_dir("cpuacct"),
            Some(Path::new("/sys/fs/cgroup/cpu,cpuacct/c"))
        );
    }
}
