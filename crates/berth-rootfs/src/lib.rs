//! berth-rootfs: the container's root filesystem — spec mounts, propagation,
//! recursive attributes, /dev, masked and read-only paths, pivot_root.
//!
//! Runs inside the container's init, already in its new mount namespace,
//! root in the host user namespace, single-threaded. The caller runs, in
//! order: [`prepare_rootfs`], [`enter_rootfs`], [`mount_console`] (only
//! with `terminal: true`), [`finish_rootfs`].
//!
//! Every container path is resolved inside the rootfs with openat2
//! (`RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`); mounts target the resolved
//! fd (`/proc/self/fd/N` of the host's procfs before pivot_root,
//! open_tree/move_mount/mount_setattr after it).

pub mod cgroup;
pub mod console;
pub mod copyup;
pub mod devices;
pub mod error;
pub mod finish;
pub mod idmap;
pub mod mountinfo;
pub mod mountops;
pub mod mountplan;
pub mod mounts;
pub mod options;
pub mod path;
pub mod pivot;
pub mod procfs;
pub mod root;
pub mod sys;
#[cfg(test)]
mod sys_tests;

use std::io::{stderr, stdin, stdout};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, Mode};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

pub use error::{Location, RootfsError};
pub use mountplan::{MountKind, MountPlan, PlannedMount};
use root::RootDir;
pub use sys::{MountSys, RealSys};

/// Everything the rootfs setup needs, taken from the spec and the cgroup
/// manager.
#[derive(Debug, Clone)]
pub struct RootfsPlan {
    /// Absolute, canonical host path of root.path.
    pub rootfs: PathBuf,
    /// root.readonly.
    pub readonly: bool,
    /// The config's mounts, parsed by the planner ([`MountPlan::parse`]).
    pub mounts: MountPlan,
    /// linux.rootfsPropagation, planned ([`root_propagation`]); None: the
    /// default (rslave).
    pub rootfs_propagation: Option<MsFlags>,
    /// The device nodes to make: runc's defaults and `linux.devices`,
    /// planned ([`devices::devices_to_create`]).
    pub devices: Vec<devices::DeviceNode>,
    /// linux.maskedPaths.
    pub masked_paths: Vec<String>,
    /// linux.readonlyPaths.
    pub readonly_paths: Vec<String>,
    /// --no-pivot.
    pub no_pivot: bool,
    /// What a mount of type cgroup shows.
    pub cgroup: CgroupMountSource,
    /// Bind sources the runtime opened for init (a user namespace).
    pub bind_sources: BindSources,
    /// No mount namespace of its own (runc's chroot mode): every mount is
    /// made in the runtime's mount table, the host's propagation is left
    /// alone, and init chroots instead of pivot_root.
    pub host_mount_ns: bool,
}

/// Bind-mount sources opened by the runtime, before init enters a user
/// namespace whose root may not reach them on the host (a 0700 directory
/// of host root): each a detached copy of the source's mount
/// (`open_tree(OPEN_TREE_CLONE)`, recursive for `rbind`), which init moves
/// into place. runc passes such sources as fds too.
#[derive(Debug, Clone, Default)]
pub struct BindSources(Vec<(usize, std::sync::Arc<std::os::fd::OwnedFd>)>);

impl BindSources {
    /// Opens the source of every bind mount in `mounts`.
    pub fn open(mounts: &MountPlan) -> Result<BindSources, RootfsError> {
        let mut opened = Vec::new();
        for (m, source) in mounts.binds() {
            let mut flags = berth_sys::mount::OPEN_TREE_CLONE;
            if m.options.is_recursive_bind() {
                flags |= berth_sys::mount::AT_RECURSIVE as u32;
            }
            let cwd = nix::fcntl::AT_FDCWD;
            let fd = berth_sys::mount::open_tree(cwd, source, flags)
                .map_err(RootfsError::at_both("open bind source", source, &m.dest))
                .map_err(|e| m.wrap(e))?;
            opened.push((m.index, std::sync::Arc::new(fd)));
        }
        Ok(BindSources(opened))
    }

    /// The fds of the opened sources.
    pub fn raw_fds(&self) -> impl Iterator<Item = std::os::fd::RawFd> + '_ {
        self.0
            .iter()
            .map(|(_, fd)| std::os::fd::AsRawFd::as_raw_fd(fd.as_ref()))
    }

    /// The opened source of mount `index`, if the runtime opened it.
    fn get(&self, index: usize) -> Option<BorrowedFd<'_>> {
        self.0
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, fd)| fd.as_fd())
    }
}

/// What a mount of type `cgroup` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupMountSource {
    /// v1 or hybrid: one bind per hierarchy: (name under /sys/fs/cgroup,
    /// e.g. "cpu,cpuacct" or "memory" or "systemd"; host directory of the
    /// container's cgroup in that hierarchy).
    V1 {
        /// The hierarchies, in the order they are mounted.
        hierarchies: Vec<(String, PathBuf)>,
    },
    /// pure v2: the host directory of the container's cgroup;
    /// `own_cgroupns` true when the init has its own cgroup namespace.
    V2 {
        /// Host directory of the container's cgroup; `None` for a rootless
        /// container that could not get one (the mount is then masked
        /// with an empty read-only tmpfs, as runc does).
        dir: Option<PathBuf>,
        /// The init has its own cgroup namespace.
        own_cgroupns: bool,
    },
}

/// `linux.rootfsPropagation` as flags (None when unset), refused when it is
/// no propagation mode or, with `--no-pivot`, a private one.
pub fn root_propagation(value: &str, no_pivot: bool) -> Result<Option<MsFlags>, RootfsError> {
    if value.is_empty() {
        return Ok(None);
    }
    let flags = options::propagation_flags(value).ok_or_else(|| RootfsError::InvalidValue {
        field: "linux.rootfsPropagation",
        value: value.to_string(),
        reason: "not a propagation mode",
    })?;
    if no_pivot && flags.contains(MsFlags::MS_PRIVATE) {
        return Err(RootfsError::InvalidValue {
            field: "linux.rootfsPropagation",
            value: value.to_string(),
            reason: "[r]private is not safe without pivot_root",
        });
    }
    Ok(Some(flags))
}

/// Mounts one planned mount inside the rootfs; an idmapped one from the
/// detached tree the runtime made for it, a bind source the runtime opened
/// from that.
fn mount_planned(
    root: &RootDir,
    m: &PlannedMount,
    tree: Option<BorrowedFd<'_>>,
    plan: &RootfsPlan,
) -> Result<(), RootfsError> {
    if m.idmap.is_some() && tree.is_none() {
        let reason = "the runtime prepared no idmapped mount for it";
        return Err(m.wrap(m.refuse("", reason.into())));
    }
    // The runtime's detached tree: an idmapped copy, or the source it
    // opened before init entered a user namespace.
    let prepared = tree.or_else(|| plan.bind_sources.get(m.index));
    let result = match m.kind {
        MountKind::Bind => mounts::mount_bind(root, m, prepared),
        MountKind::ProcOrSys => mounts::mount_proc_or_sys(root, m),
        MountKind::Tmpfs => mounts::mount_tmpfs(root, m),
        MountKind::Cgroup => cgroup::mount_cgroup(root, m, &plan.cgroup),
        MountKind::Other => mounts::mount_other(root, m),
    };
    result.map_err(|e| m.wrap(e))
}

/// Before pivot_root: host / made rslave (or as rootfsPropagation asks),
/// the rootfs bound on itself, every spec mount in order (an idmapped one
/// from `idmapped`: (index in `mounts`, detached tree) as
/// [`idmap::IdmapRequest::open`] made them), then (unless /dev is a bind
/// mount) device nodes, /dev/ptmx and the /dev symlinks.
pub fn prepare_rootfs(plan: &RootfsPlan, idmapped: &[(usize, OwnedFd)]) -> Result<(), RootfsError> {
    prepare_rootfs_with(&RealSys, plan, idmapped)
}

/// [`prepare_rootfs`] with the mount syscalls of `sys`.
pub fn prepare_rootfs_with(
    sys: &dyn MountSys,
    plan: &RootfsPlan,
    idmapped: &[(usize, OwnedFd)],
) -> Result<(), RootfsError> {
    check_host_proc()?;
    if !plan.host_mount_ns {
        set_host_propagation(sys, &plan.rootfs, plan.rootfs_propagation)?;
    }
    bind_rootfs_on_itself(sys, &plan.rootfs)?;
    let root = RootDir::open_with(&plan.rootfs, sys)?;
    for m in &plan.mounts {
        let tree = idmapped
            .iter()
            .find(|(i, _)| *i == m.index)
            .map(|(_, fd)| fd.as_fd());
        mount_planned(&root, m, tree, plan)?;
    }
    if plan.mounts.sets_up_dev() {
        populate_dev(&root, plan)?;
    }
    Ok(())
}

/// How many mounts are stacked on `path` in the caller's mount table (for a
/// container without a mount namespace, whose mounts are made there).
pub fn mounts_on(path: &Path) -> Result<usize, RootfsError> {
    let content =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|source| RootfsError::Io {
            step: "read",
            at: Location::host("/proc/self/mountinfo"),
            source,
        })?;
    Ok(mountinfo::parse(&content)
        .iter()
        .filter(|m| m.mount_point == path)
        .count())
}

/// Detaches (with everything below them) the mounts stacked on `path` above
/// the first `keep`: what a container without a mount namespace left in
/// the host's mount table.
pub fn detach_mounts_above(path: &Path, keep: usize) -> Result<(), RootfsError> {
    while mounts_on(path)? > keep {
        nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH)
            .map_err(RootfsError::at_host("unmount", path))?;
    }
    Ok(())
}

/// mount(2) targets are /proc/self/fd/N paths: /proc must be procfs.
fn check_host_proc() -> Result<(), RootfsError> {
    let proc_dir = nix::fcntl::open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(RootfsError::at_host("open", "/proc"))?;
    let fs = fstatfs(proc_dir.as_fd()).map_err(RootfsError::at_host("statfs", "/proc"))?;
    if fs.filesystem_type() == PROC_SUPER_MAGIC {
        Ok(())
    } else {
        Err(RootfsError::NotProcfs {
            path: PathBuf::from("/proc"),
        })
    }
}

fn propagate(sys: &dyn MountSys, target: &Path, flags: MsFlags) -> Result<(), Errno> {
    sys.mount(None, target, None, flags, None)
}

/// / gets the asked propagation (default rslave: host mounts still reach
/// the container, nothing goes back); the mount holding the rootfs is made
/// private (slave if rslave was asked) so that pivot_root works and the
/// rootfs bind does not leak to the host.
fn set_host_propagation(
    sys: &dyn MountSys,
    rootfs: &Path,
    asked: Option<MsFlags>,
) -> Result<(), RootfsError> {
    let flags = asked.unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    propagate(sys, Path::new("/"), flags)
        .map_err(RootfsError::at_host("set propagation of", "/"))?;
    let parent_flags = if flags.contains(MsFlags::MS_SLAVE) {
        MsFlags::MS_SLAVE
    } else {
        MsFlags::MS_PRIVATE
    };
    let mut dir = rootfs;
    loop {
        match propagate(sys, dir, parent_flags) {
            // EINVAL: not a mount point; try the parent directory.
            Err(Errno::EINVAL) if dir != Path::new("/") => {
                dir = dir.parent().unwrap_or(Path::new("/"))
            }
            result => {
                return result.map_err(RootfsError::at_host(
                    "set propagation of rootfs parent mount",
                    dir,
                ))
            }
        }
    }
}

fn bind_rootfs_on_itself(sys: &dyn MountSys, rootfs: &Path) -> Result<(), RootfsError> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    sys.mount(Some(rootfs), rootfs, None, flags, None)
        .map_err(RootfsError::at_host("bind rootfs on itself", rootfs))
}

fn populate_dev(root: &RootDir, plan: &RootfsPlan) -> Result<(), RootfsError> {
    let method = if plan.mounts.dev_is_tmpfs() {
        devices::DeviceMethod::Mknod
    } else {
        devices::DeviceMethod::Bind
    };
    devices::create_devices(root, &plan.devices, method)
        .map_err(|e| e.context("error creating device nodes"))?;
    devices::setup_ptmx(root).map_err(|e| e.context("error setting up ptmx"))?;
    devices::setup_dev_symlinks(root).map_err(|e| e.context("error setting up /dev symlinks"))
}

/// pivot_root into the rootfs and detach the old root (or, with no_pivot,
/// MS_MOVE + chroot; without a mount namespace, a plain chroot), chdir /, apply a shared/unbindable rootfsPropagation
/// to the new /, and point stdio that was the host's /dev/null at the
/// container's.
pub fn enter_rootfs(plan: &RootfsPlan) -> Result<(), RootfsError> {
    let propagation = plan.rootfs_propagation.filter(|_| !plan.host_mount_ns);
    let jail = if plan.host_mount_ns {
        pivot::chroot_into(&plan.rootfs)
    } else if plan.no_pivot {
        pivot::move_into(&plan.rootfs)
    } else {
        pivot::pivot_into(&plan.rootfs)
    };
    jail.map_err(|e| e.context("error jailing process inside rootfs"))?;
    if let Some(flags) = propagation {
        pivot::apply_root_propagation(flags)
            .map_err(|e| e.context("unable to apply root propagation flags"))?;
    }
    if plan.mounts.sets_up_dev() {
        reopen_dev_null().map_err(|e| e.context("error reopening /dev/null inside container"))?;
    }
    Ok(())
}

/// Stdio fds that are a null device (the host's /dev/null) are re-opened on
/// the container's /dev/null.
fn reopen_dev_null() -> Result<(), RootfsError> {
    let root = RootDir::open(Path::new("/"))?;
    let null_path = finish::open_dev_null(&root)?;
    let null = root
        .resolve(Path::new("/dev/null"), OFlag::O_RDWR | OFlag::O_NOFOLLOW)
        .map_err(RootfsError::at_dest("open", "/dev/null"))?;
    let null_rdev = fstat(null_path.as_fd())
        .map_err(RootfsError::at_dest("stat", "/dev/null"))?
        .st_rdev;
    let is_null = |fd: BorrowedFd<'_>| fstat(fd).is_ok_and(|st| st.st_rdev == null_rdev);
    if is_null(stdin().as_fd()) {
        nix::unistd::dup2_stdin(&null)
            .map_err(RootfsError::at_dest("dup2 onto stdin", "/dev/null"))?;
    }
    if is_null(stdout().as_fd()) {
        nix::unistd::dup2_stdout(&null)
            .map_err(RootfsError::at_dest("dup2 onto stdout", "/dev/null"))?;
    }
    if is_null(stderr().as_fd()) {
        nix::unistd::dup2_stderr(&null)
            .map_err(RootfsError::at_dest("dup2 onto stderr", "/dev/null"))?;
    }
    Ok(())
}

/// After pivot, with terminal:true: bind the pty slave (e.g. /dev/pts/0)
/// onto /dev/console, created safely.
pub fn mount_console(slave: &Path) -> Result<(), RootfsError> {
    console::bind_console(slave).map_err(|e| e.context("error mounting console"))
}

/// After pivot: read-only for tmpfs and /dev mounts that asked for it,
/// readonlyPaths, maskedPaths, then root.readonly.
pub fn finish_rootfs(plan: &RootfsPlan) -> Result<(), RootfsError> {
    finish_rootfs_with(&RealSys, plan)
}

/// [`finish_rootfs`] with the mount syscalls of `sys`, in the root `/`
/// (the container's, after pivot_root).
pub fn finish_rootfs_with(sys: &dyn MountSys, plan: &RootfsPlan) -> Result<(), RootfsError> {
    let root = RootDir::open_with(Path::new("/"), sys)?;
    for m in plan.mounts.iter().filter(|m| m.defers_readonly()) {
        if m.options.flags.contains(MsFlags::MS_RDONLY) {
            finish::remount_readonly(&root, &m.dest)?;
        }
    }
    for p in &plan.readonly_paths {
        finish::readonly_path(&root, Path::new(p))
            .map_err(|e| e.context(format!("can't make {p:?} read-only")))?;
    }
    if !plan.masked_paths.is_empty() {
        let dev_null = finish::open_dev_null(&root).map_err(|e| e.context("can't mask paths"))?;
        for p in &plan.masked_paths {
            finish::mask_path(&root, Path::new(p), dev_null.as_fd())
                .map_err(|e| e.context(format!("can't mask path {p:?}")))?;
        }
    }
    if plan.readonly {
        finish::make_mount_readonly(sys, root.fd(), Path::new("/"))
            .map_err(|e| e.context("error setting rootfs as readonly"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_propagation_values() {
        assert_eq!(root_propagation("", false).unwrap(), None);
        assert_eq!(
            root_propagation("rshared", true).unwrap(),
            Some(MsFlags::MS_SHARED | MsFlags::MS_REC)
        );
        let bad = root_propagation("sideways", false).unwrap_err();
        assert!(bad.to_string().contains("linux.rootfsPropagation"), "{bad}");
        let unsafe_private = root_propagation("rprivate", true).unwrap_err();
        assert!(unsafe_private
            .to_string()
            .contains("not safe without pivot_root"));
    }
}
