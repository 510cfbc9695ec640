//! The `cgroup` mount type: what the container sees at /sys/fs/cgroup.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::openat;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::mkdirat;
use nix::sys::stat::Mode;
use nix::unistd::symlinkat;

use crate::error::RootfsError;
use crate::mountops::{self, MountCall};
use crate::mountplan::PlannedMount;
use crate::mounts::{after_mount, mountpoint_dir, reopen_mounted};
use crate::root::RootDir;
use crate::sys::MountSys;
use crate::CgroupMountSource;

/// runc's flags for the tmpfs that holds the v1 hierarchies.
const V1_TMPFS_FLAGS: MsFlags = MsFlags::MS_NOEXEC
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV);

/// Mounts a spec mount of type cgroup as `source` says.
pub fn mount_cgroup(
    root: &RootDir,
    m: &PlannedMount,
    source: &CgroupMountSource,
) -> Result<(), RootfsError> {
    match source {
        CgroupMountSource::V1 { hierarchies } => mount_v1(root, m, hierarchies),
        CgroupMountSource::V2 {
            dir,
            own_cgroupns: true,
        } => match mount_v2_fresh(root, m) {
            // As runc: in a user namespace the kernel may refuse a cgroup2
            // mount (EBUSY when the cgroup namespace's root is the
            // hierarchy's, as for a rootless init left in the root
            // cgroup); bind the container's cgroup instead.
            Err(e) if matches!(e.errno(), Some(Errno::EPERM | Errno::EBUSY)) => {
                mount_v2_container_dir(root, m, dir.as_deref())
            }
            other => other,
        },
        CgroupMountSource::V2 {
            dir,
            own_cgroupns: false,
        } => mount_v2_container_dir(root, m, dir.as_deref()),
    }
}

/// v2 without a fresh cgroup2 mount: bind the container's cgroup
/// directory, or, for a rootless container without one, mask the mount
/// point with an empty read-only tmpfs (runc masks it likewise).
fn mount_v2_container_dir(
    root: &RootDir,
    m: &PlannedMount,
    dir: Option<&Path>,
) -> Result<(), RootfsError> {
    match dir {
        Some(dir) => mount_v2_bind(root, m, dir),
        None => {
            let (target, real) = mountpoint_dir(root, m)?;
            let mask = crate::finish::empty_readonly_tmpfs(root.sys(), &real)?;
            crate::finish::attach(root.sys(), mask.as_fd(), target.as_fd(), &real)
        }
    }
}

/// v1: a tmpfs, one bind per hierarchy of the container's cgroup, and
/// symlinks for the controllers of co-mounted hierarchies ("cpu" ->
/// "cpu,cpuacct").
fn mount_v1(
    root: &RootDir,
    m: &PlannedMount,
    hierarchies: &[(String, std::path::PathBuf)],
) -> Result<(), RootfsError> {
    let (target, real) = mountpoint_dir(root, m)?;
    MountCall {
        source: Some("tmpfs"),
        fstype: Some("tmpfs"),
        flags: V1_TMPFS_FLAGS,
        data: "mode=755",
    }
    .on(root.sys(), target.as_fd(), &real)?;
    let tmpfs = reopen_mounted(root, &real)?;
    mountops::set_propagation(root.sys(), tmpfs.as_fd(), &real, &m.options.propagation)?;
    for (name, host_dir) in hierarchies {
        let name = checked_name(name)?;
        bind_hierarchy(root.sys(), tmpfs.as_fd(), m, &real, name, host_dir)?;
    }
    for (name, _) in hierarchies.iter().filter(|(n, _)| n.contains(',')) {
        for controller in name.split(',') {
            match symlinkat(name.as_str(), tmpfs.as_fd(), controller) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(errno) => {
                    return Err(RootfsError::at_dest("symlink", real.join(controller))(
                        errno,
                    ))
                }
            }
        }
    }
    if let Some(rec) = &m.options.recursive {
        mountops::set_recursive_attr(root.sys(), tmpfs.as_fd(), &real, rec)?;
    }
    Ok(())
}

/// A hierarchy name must be one path component.
fn checked_name(name: &str) -> Result<&str, RootfsError> {
    let mut components = Path::new(name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) => Ok(name),
        _ => Err(RootfsError::InvalidValue {
            field: "cgroup v1 hierarchy name",
            value: name.to_string(),
            reason: "must be a single path component",
        }),
    }
}

/// Binds one host cgroup directory (recursively) at `name` in the fresh
/// tmpfs (`tmpfs`, at container path `parent`), with the spec mount's flags
/// (usually ro,nosuid,nodev,noexec). The tmpfs was mounted a moment ago and
/// nothing runs in the container yet, so its entries are opened directly
/// (`O_NOFOLLOW`), not resolved from the rootfs.
fn bind_hierarchy(
    sys: &dyn MountSys,
    tmpfs: BorrowedFd<'_>,
    m: &PlannedMount,
    parent: &Path,
    name: &str,
    host_dir: &Path,
) -> Result<(), RootfsError> {
    let dest = parent.join(name);
    match mkdirat(tmpfs, name, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(errno) => return Err(RootfsError::at_dest("mkdir", &dest)(errno)),
    }
    let open_entry = || {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        openat(tmpfs, name, flags, Mode::empty()).map_err(RootfsError::at_dest("open", &dest))
    };
    let target = open_entry()?;
    let remounted = bind_dir(sys, m, target.as_fd(), &dest, host_dir, open_entry)?;
    if m.options.propagation.is_empty() {
        return Ok(());
    }
    let mounted = match remounted {
        Some(fd) => fd,
        None => open_entry()?,
    };
    mountops::set_propagation(sys, mounted.as_fd(), &dest, &m.options.propagation)
}

/// The spec mount's flags that a bind needs a remount for.
fn remount_flags(m: &PlannedMount) -> MsFlags {
    m.options.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
}

fn open_host_cgroup_dir(host_dir: &Path, dest: &Path) -> Result<OwnedFd, RootfsError> {
    nix::fcntl::open(
        host_dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(RootfsError::at_both(
        "open cgroup directory",
        host_dir,
        dest,
    ))
}

/// Binds the host cgroup directory `host_dir` on `target` (container path
/// `dest`), remounting it with the spec mount's flags through the fd
/// `reopen` gives of the new mount; returns that fd when it was needed.
fn bind_dir(
    sys: &dyn MountSys,
    m: &PlannedMount,
    target: BorrowedFd<'_>,
    dest: &Path,
    host_dir: &Path,
    reopen: impl Fn() -> Result<OwnedFd, RootfsError>,
) -> Result<Option<OwnedFd>, RootfsError> {
    let src = open_host_cgroup_dir(host_dir, dest)?;
    mountops::bind(
        sys,
        src.as_fd(),
        &host_dir.to_string_lossy(),
        target,
        dest,
        true,
    )?;
    let flags = remount_flags(m);
    if flags.is_empty() {
        return Ok(None);
    }
    let mounted = reopen()?;
    mountops::remount_bind(sys, mounted.as_fd(), dest, flags)?;
    Ok(Some(mounted))
}

/// v2 with its own cgroup namespace: a fresh cgroup2 mount shows the
/// container's cgroup as its root.
fn mount_v2_fresh(root: &RootDir, m: &PlannedMount) -> Result<(), RootfsError> {
    let (target, real) = mountpoint_dir(root, m)?;
    let data = m.options.data_string();
    let source = m.source_string();
    MountCall {
        source: Some(&source),
        fstype: Some("cgroup2"),
        flags: m.initial_flags(),
        data: &data,
    }
    .on(root.sys(), target.as_fd(), &real)?;
    after_mount(root, &real, m)
}

/// v2 sharing the host's cgroup namespace: bind the container's own cgroup
/// directory so that it does not see the whole host hierarchy.
fn mount_v2_bind(root: &RootDir, m: &PlannedMount, dir: &Path) -> Result<(), RootfsError> {
    let (target, real) = mountpoint_dir(root, m)?;
    bind_dir(root.sys(), m, target.as_fd(), &real, dir, || {
        reopen_mounted(root, &real)
    })?;
    after_mount(root, &real, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy_names_are_single_components() {
        assert!(checked_name("cpu,cpuacct").is_ok());
        assert!(checked_name("systemd").is_ok());
        assert!(checked_name("../x").is_err());
        assert!(checked_name("a/b").is_err());
        assert!(checked_name("").is_err());
        assert!(checked_name("..").is_err());
    }
}
