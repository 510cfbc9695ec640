//! The `cgroup` mount type: what the container sees at /sys/fs/cgroup.

use std::os::fd::AsFd;
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;
use nix::unistd::symlinkat;

use crate::error::RootfsError;
use crate::mountops::{self, MountCall};
use crate::mounts::{after_mount, mountpoint_dir, SpecMount};
use crate::root::RootDir;
use crate::CgroupMountSource;

/// runc's flags for the tmpfs that holds the v1 hierarchies.
const V1_TMPFS_FLAGS: MsFlags = MsFlags::MS_NOEXEC
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV);

/// Mounts a spec mount of type cgroup as `source` says.
pub fn mount_cgroup(
    root: &RootDir,
    m: &SpecMount<'_>,
    source: &CgroupMountSource,
) -> Result<(), RootfsError> {
    match source {
        CgroupMountSource::V1 { hierarchies } => mount_v1(root, m, hierarchies),
        CgroupMountSource::V2 {
            own_cgroupns: true, ..
        } => mount_v2_fresh(root, m),
        CgroupMountSource::V2 {
            dir,
            own_cgroupns: false,
        } => mount_v2_bind(root, m, dir),
    }
}

/// v1: a tmpfs, one bind per hierarchy of the container's cgroup, and
/// symlinks for the controllers of co-mounted hierarchies ("cpu" ->
/// "cpu,cpuacct").
fn mount_v1(
    root: &RootDir,
    m: &SpecMount<'_>,
    hierarchies: &[(String, std::path::PathBuf)],
) -> Result<(), RootfsError> {
    let (target, real) = mountpoint_dir(root, m)?;
    MountCall {
        source: Some("tmpfs"),
        fstype: Some("tmpfs"),
        flags: V1_TMPFS_FLAGS,
        data: "mode=755",
    }
    .on(target.as_fd(), &real)?;
    let tmpfs = root
        .open_path(&real)
        .map_err(RootfsError::at_dest("reopen mountpoint after mount", &real))?;
    mountops::set_propagation(tmpfs.as_fd(), &real, &m.options.propagation)?;
    for (name, host_dir) in hierarchies {
        bind_hierarchy(root, m, &real.join(checked_name(name)?), host_dir)?;
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
        mountops::set_recursive_attr(tmpfs.as_fd(), &real, rec)?;
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

/// Binds one host cgroup directory (recursively) at `dest`, with the spec
/// mount's flags (usually ro,nosuid,nodev,noexec).
fn bind_hierarchy(
    root: &RootDir,
    m: &SpecMount<'_>,
    dest: &Path,
    host_dir: &Path,
) -> Result<(), RootfsError> {
    let target = root.mkdir_all(dest)?;
    bind_dir(root, m, target.as_fd(), dest, host_dir)?;
    let mounted = root
        .open_path(dest)
        .map_err(RootfsError::at_dest("reopen mountpoint after mount", dest))?;
    mountops::set_propagation(mounted.as_fd(), dest, &m.options.propagation)
}

fn bind_dir(
    root: &RootDir,
    m: &SpecMount<'_>,
    target: std::os::fd::BorrowedFd<'_>,
    dest: &Path,
    host_dir: &Path,
) -> Result<(), RootfsError> {
    let src = nix::fcntl::open(
        host_dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(RootfsError::at_both(
        "open cgroup directory",
        host_dir,
        dest,
    ))?;
    mountops::bind(src.as_fd(), &host_dir.to_string_lossy(), target, dest, true)?;
    let flags = m.options.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !flags.is_empty() {
        let mounted = root
            .open_path(dest)
            .map_err(RootfsError::at_dest("reopen mountpoint after mount", dest))?;
        mountops::remount_bind(mounted.as_fd(), dest, flags)?;
    }
    Ok(())
}

/// v2 with its own cgroup namespace: a fresh cgroup2 mount shows the
/// container's cgroup as its root.
fn mount_v2_fresh(root: &RootDir, m: &SpecMount<'_>) -> Result<(), RootfsError> {
    let (target, real) = mountpoint_dir(root, m)?;
    let data = m.options.data_string();
    let source = m.source_string();
    MountCall {
        source: Some(&source),
        fstype: Some("cgroup2"),
        flags: m.initial_flags(),
        data: &data,
    }
    .on(target.as_fd(), &real)?;
    after_mount(root, &real, m).map(drop)
}

/// v2 sharing the host's cgroup namespace: bind the container's own cgroup
/// directory so that it does not see the whole host hierarchy.
fn mount_v2_bind(root: &RootDir, m: &SpecMount<'_>, dir: &Path) -> Result<(), RootfsError> {
    let (target, real) = mountpoint_dir(root, m)?;
    bind_dir(root, m, target.as_fd(), &real, dir)?;
    after_mount(root, &real, m).map(drop)
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
