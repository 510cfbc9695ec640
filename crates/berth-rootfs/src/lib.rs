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
pub mod mountinfo;
pub mod mountops;
pub mod mounts;
pub mod options;
pub mod path;
pub mod pivot;
pub mod procfs;
pub mod root;

use std::io::{stderr, stdin, stdout};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, Mode};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

pub use error::{Location, RootfsError};
use mounts::SpecMount;
use root::RootDir;

/// Everything the rootfs setup needs, taken from the spec and the cgroup
/// manager.
#[derive(Debug, Clone)]
pub struct RootfsPlan {
    /// Absolute, canonical host path of root.path.
    pub rootfs: PathBuf,
    /// root.readonly.
    pub readonly: bool,
    /// Spec mounts, in order.
    pub mounts: Vec<berth_spec::Mount>,
    /// linux.rootfsPropagation; empty: the default (rslave).
    pub rootfs_propagation: String,
    /// linux.devices.
    pub devices: Vec<berth_spec::LinuxDevice>,
    /// linux.maskedPaths.
    pub masked_paths: Vec<String>,
    /// linux.readonlyPaths.
    pub readonly_paths: Vec<String>,
    /// --no-pivot.
    pub no_pivot: bool,
    /// What a mount of type cgroup shows.
    pub cgroup: CgroupMountSource,
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

impl RootfsPlan {
    /// linux.rootfsPropagation as flags; None when unset (empty).
    pub fn root_propagation(&self) -> Result<Option<MsFlags>, RootfsError> {
        let value = self.rootfs_propagation.as_str();
        if value.is_empty() {
            return Ok(None);
        }
        let flags = options::propagation_flags(value).ok_or_else(|| RootfsError::InvalidValue {
            field: "linux.rootfsPropagation",
            value: value.to_string(),
            reason: "not a propagation mode",
        })?;
        if self.no_pivot && flags.contains(MsFlags::MS_PRIVATE) {
            return Err(RootfsError::InvalidValue {
                field: "linux.rootfsPropagation",
                value: value.to_string(),
                reason: "[r]private is not safe without pivot_root",
            });
        }
        Ok(Some(flags))
    }

    /// The spec mounts, parsed (unsupported fields are refused here).
    fn spec_mounts(&self) -> Result<Vec<SpecMount<'_>>, RootfsError> {
        self.mounts.iter().map(SpecMount::new).collect()
    }

    /// The runtime populates /dev unless /dev is a bind mount.
    fn sets_up_dev(mounts: &[SpecMount<'_>]) -> bool {
        !mounts.iter().any(SpecMount::is_dev_bind)
    }
}

/// Makes relative bind-mount sources absolute against the bundle directory,
/// as runc does (the spec says they are relative to the bundle). Call it on
/// `RootfsPlan::mounts` when the init's working directory is not the
/// bundle.
pub fn absolutize_bind_sources(mounts: &mut [berth_spec::Mount], bundle: &Path) {
    for m in mounts.iter_mut() {
        let is_bind = SpecMount::new(m).is_ok_and(|s| s.kind == mounts::MountKind::Bind);
        if let Some(source) = m.source.as_mut().filter(|s| is_bind && s.is_relative()) {
            *source = bundle.join(&source);
        }
    }
}

/// Mounts one spec mount inside the rootfs.
fn mount_spec(
    root: &RootDir,
    m: &SpecMount<'_>,
    cgroup_source: &CgroupMountSource,
) -> Result<(), RootfsError> {
    let result = match m.kind {
        mounts::MountKind::Bind => mounts::mount_bind(root, m),
        mounts::MountKind::ProcOrSys => mounts::mount_proc_or_sys(root, m),
        mounts::MountKind::Tmpfs => mounts::mount_tmpfs(root, m),
        mounts::MountKind::Cgroup => cgroup::mount_cgroup(root, m, cgroup_source),
        mounts::MountKind::Other => mounts::mount_other(root, m),
    };
    result.map_err(|e| m.wrap(e))
}

/// Before pivot_root: host / made rslave (or as rootfsPropagation asks),
/// the rootfs bound on itself, every spec mount in order, then (unless
/// /dev is a bind mount) device nodes, /dev/ptmx and the /dev symlinks.
pub fn prepare_rootfs(plan: &RootfsPlan) -> Result<(), RootfsError> {
    let propagation = plan.root_propagation()?;
    let mounts = plan.spec_mounts()?;
    check_host_proc()?;
    set_host_propagation(&plan.rootfs, propagation)?;
    bind_rootfs_on_itself(&plan.rootfs)?;
    let root = RootDir::open(&plan.rootfs)?;
    for m in &mounts {
        mount_spec(&root, m, &plan.cgroup)?;
    }
    if RootfsPlan::sets_up_dev(&mounts) {
        populate_dev(&root, plan, &mounts)?;
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

fn propagate(target: &Path, flags: MsFlags) -> Result<(), nix::errno::Errno> {
    nix::mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
}

/// / gets the asked propagation (default rslave: host mounts still reach
/// the container, nothing goes back); the mount holding the rootfs is made
/// private (slave if rslave was asked) so that pivot_root works and the
/// rootfs bind does not leak to the host.
fn set_host_propagation(rootfs: &Path, asked: Option<MsFlags>) -> Result<(), RootfsError> {
    let flags = asked.unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    propagate(Path::new("/"), flags).map_err(RootfsError::at_host("set propagation of", "/"))?;
    let parent_flags = if flags.contains(MsFlags::MS_SLAVE) {
        MsFlags::MS_SLAVE
    } else {
        MsFlags::MS_PRIVATE
    };
    let mut dir = rootfs;
    loop {
        match propagate(dir, parent_flags) {
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

fn bind_rootfs_on_itself(rootfs: &Path) -> Result<(), RootfsError> {
    nix::mount::mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(RootfsError::at_host("bind rootfs on itself", rootfs))
}

fn populate_dev(
    root: &RootDir,
    plan: &RootfsPlan,
    mounts: &[SpecMount<'_>],
) -> Result<(), RootfsError> {
    let method = if mounts.iter().any(SpecMount::is_dev_tmpfs) {
        devices::DeviceMethod::Mknod
    } else {
        devices::DeviceMethod::Bind
    };
    let nodes = devices::devices_to_create(&plan.devices)?;
    devices::create_devices(root, &nodes, method)
        .map_err(|e| e.context("error creating device nodes"))?;
    devices::setup_ptmx(root).map_err(|e| e.context("error setting up ptmx"))?;
    devices::setup_dev_symlinks(root).map_err(|e| e.context("error setting up /dev symlinks"))
}

/// pivot_root into the rootfs and detach the old root (or, with no_pivot,
/// MS_MOVE + chroot), chdir /, apply a shared/unbindable rootfsPropagation
/// to the new /, and point stdio that was the host's /dev/null at the
/// container's.
pub fn enter_rootfs(plan: &RootfsPlan) -> Result<(), RootfsError> {
    let propagation = plan.root_propagation()?;
    let jail = if plan.no_pivot {
        pivot::move_into(&plan.rootfs)
    } else {
        pivot::pivot_into(&plan.rootfs)
    };
    jail.map_err(|e| e.context("error jailing process inside rootfs"))?;
    if let Some(flags) = propagation {
        pivot::apply_root_propagation(flags)
            .map_err(|e| e.context("unable to apply root propagation flags"))?;
    }
    if RootfsPlan::sets_up_dev(&plan.spec_mounts()?) {
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
    let root = RootDir::open(Path::new("/"))?;
    for m in plan.spec_mounts()?.iter().filter(|m| m.defers_readonly()) {
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
        finish::make_mount_readonly(root.fd(), Path::new("/"))
            .map_err(|e| e.context("error setting rootfs as readonly"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_spec::Mount;

    fn mount(json: &str) -> Mount {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn relative_bind_sources_are_joined_to_the_bundle() {
        let mut mounts = vec![
            mount(r#"{"destination":"/a","type":"bind","source":"data","options":["rbind"]}"#),
            mount(
                r#"{"destination":"/b","type":"none","source":"sub/file","options":["bind","ro"]}"#,
            ),
            mount(r#"{"destination":"/c","type":"bind","source":"/abs","options":["bind"]}"#),
            mount(r#"{"destination":"/d","type":"tmpfs","source":"tmpfs"}"#),
        ];
        absolutize_bind_sources(&mut mounts, Path::new("/bundles/x"));
        let sources: Vec<_> = mounts.iter().map(|m| m.source.clone().unwrap()).collect();
        assert_eq!(
            sources,
            ["/bundles/x/data", "/bundles/x/sub/file", "/abs", "tmpfs"].map(PathBuf::from)
        );
    }

    fn plan(propagation: Option<&str>, no_pivot: bool) -> RootfsPlan {
        RootfsPlan {
            rootfs: PathBuf::from("/r"),
            readonly: false,
            mounts: Vec::new(),
            rootfs_propagation: propagation.unwrap_or_default().to_string(),
            devices: Vec::new(),
            masked_paths: Vec::new(),
            readonly_paths: Vec::new(),
            no_pivot,
            cgroup: CgroupMountSource::V2 {
                dir: Some(PathBuf::from("/sys/fs/cgroup/x")),
                own_cgroupns: false,
            },
        }
    }

    #[test]
    fn rootfs_propagation_values() {
        assert_eq!(plan(None, false).root_propagation().unwrap(), None);
        assert_eq!(plan(Some(""), false).root_propagation().unwrap(), None);
        assert_eq!(
            plan(Some("rshared"), true).root_propagation().unwrap(),
            Some(MsFlags::MS_SHARED | MsFlags::MS_REC)
        );
        let bad = plan(Some("sideways"), false)
            .root_propagation()
            .unwrap_err();
        assert!(bad.to_string().contains("linux.rootfsPropagation"), "{bad}");
        let unsafe_private = plan(Some("rprivate"), true).root_propagation().unwrap_err();
        assert!(unsafe_private
            .to_string()
            .contains("not safe without pivot_root"));
    }
}
