//! One planned mount, mounted inside the rootfs.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::openat;
use nix::fcntl::OFlag;
use nix::sys::stat::{fchmod, fstat, mkdirat, Mode, SFlag};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

use crate::copyup;
use crate::error::RootfsError;
use crate::mountops::{self, MountCall};
use crate::mountplan::PlannedMount;
use crate::path::{self, ProcPlacement};
use crate::root::{RootDir, DIR_MODE};
use crate::sys::MountSys;

/// The resolved container path of a mount point, after checking it is not
/// the rootfs itself and is allowed with respect to /proc.
fn checked_mountpoint(
    root: &RootDir,
    target: BorrowedFd<'_>,
    m: &PlannedMount,
    source_is_proc: bool,
) -> Result<PathBuf, RootfsError> {
    let real = root.container_path_of(target, &m.dest)?;
    if real == Path::new("/") {
        return Err(RootfsError::OnTopOfRootfs {
            dest: m.dest.clone(),
            rootfs: root.host().to_path_buf(),
        });
    }
    match path::proc_placement(&real) {
        ProcPlacement::ProcItself if !source_is_proc => Err(RootfsError::NotProc { dest: real }),
        ProcPlacement::ForbiddenInside => Err(RootfsError::InsideProc { dest: real }),
        _ => Ok(real),
    }
}

/// After the mount: propagation changes and recursive attributes on the new
/// mount (re-resolved, so the fd is the mount's root). Most mounts ask for
/// neither, and are not re-resolved.
pub(crate) fn after_mount(
    root: &RootDir,
    real: &Path,
    m: &PlannedMount,
) -> Result<(), RootfsError> {
    if m.options.propagation.is_empty() && m.options.recursive.is_none() {
        return Ok(());
    }
    let mounted = reopen_mounted(root, real)?;
    after_mount_on(root.sys(), mounted.as_fd(), real, m)
}

/// [`after_mount`] on an fd of the new mount's root already at hand.
pub(crate) fn after_mount_on(
    sys: &dyn MountSys,
    mounted: BorrowedFd<'_>,
    real: &Path,
    m: &PlannedMount,
) -> Result<(), RootfsError> {
    mountops::set_propagation(sys, mounted, real, &m.options.propagation)?;
    if let Some(rec) = &m.options.recursive {
        mountops::set_recursive_attr(sys, mounted, real, rec)?;
    }
    Ok(())
}

/// An `O_PATH` fd of the mount just made at container path `real`.
pub(crate) fn reopen_mounted(root: &RootDir, real: &Path) -> Result<OwnedFd, RootfsError> {
    root.open_path(real)
        .map_err(RootfsError::at_dest("reopen mountpoint after mount", real))
}

/// Mounts a new filesystem of the spec's type on `target`.
fn mount_new_fs(
    sys: &dyn MountSys,
    target: BorrowedFd<'_>,
    real: &Path,
    m: &PlannedMount,
) -> Result<(), RootfsError> {
    let source = m.source_string();
    let data = m.options.data_string();
    MountCall {
        source: Some(&source),
        fstype: Some(&m.fstype),
        flags: m.initial_flags(),
        data: &data,
    }
    .on(sys, target, real)
}

pub(crate) fn is_dir(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    Ok(SFlag::from_bits_truncate(fstat(fd)?.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
}

/// A bind mount: of the host source, or of the detached tree the runtime
/// made for it (`prepared`: an idmapped copy, or the source opened before
/// init entered a user namespace), moved into place.
pub(crate) fn mount_bind(
    root: &RootDir,
    m: &PlannedMount,
    prepared: Option<BorrowedFd<'_>>,
) -> Result<(), RootfsError> {
    let source = m
        .source
        .clone()
        .ok_or_else(|| m.refuse("source", "a bind mount needs a source".into()))?;
    let own;
    let src = match prepared {
        Some(fd) => fd,
        None => {
            own = nix::fcntl::open(&source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(RootfsError::at_both("open bind source", &source, &m.dest))?;
            own.as_fd()
        }
    };
    let src_is_dir = is_dir(src).map_err(RootfsError::at_host("stat", &source))?;
    let target = if src_is_dir {
        root.mkdir_all(&m.dest)?
    } else {
        root.create_file(&m.dest)?
    };
    let src_is_proc = fstatfs(src)
        .map_err(RootfsError::at_host("statfs", &source))?
        .filesystem_type()
        == PROC_SUPER_MAGIC;
    let real = checked_mountpoint(root, target.as_fd(), m, src_is_proc)?;
    match prepared {
        Some(tree) => root
            .sys()
            .move_mount(tree, target.as_fd())
            .map_err(RootfsError::at_both(
                "move_mount prepared source",
                &source,
                &real,
            ))?,
        None => mountops::bind(
            root.sys(),
            src,
            &source.to_string_lossy(),
            target.as_fd(),
            &real,
            m.options.is_recursive_bind(),
        )?,
    }
    if !m.options.bind_needs_remount() {
        return after_mount(root, &real, m);
    }
    let mounted = reopen_mounted(root, &real)?;
    mountops::remount_bind(root.sys(), mounted.as_fd(), &real, m.options.flags)?;
    after_mount_on(root.sys(), mounted.as_fd(), &real, m)
}

pub(crate) fn mount_proc_or_sys(root: &RootDir, m: &PlannedMount) -> Result<(), RootfsError> {
    let target = ordinary_directory(root, m)?;
    let real = root.container_path_of(target.as_fd(), &m.dest)?;
    mount_new_fs(root.sys(), target.as_fd(), &real, m)?;
    after_mount(root, &real, m)
}

/// The mount point of procfs/sysfs: its parents are resolved inside the
/// rootfs (symlinks allowed there), but the last component must be a real
/// directory, created if missing, never a symlink or a file.
fn ordinary_directory(root: &RootDir, m: &PlannedMount) -> Result<OwnedFd, RootfsError> {
    let not_ordinary = || RootfsError::NotOrdinaryDirectory {
        fstype: m.fstype.clone(),
        dest: m.dest.clone(),
    };
    let Some((parent, name)) = path::split_last(&m.dest) else {
        return Err(RootfsError::OnTopOfRootfs {
            dest: m.dest.clone(),
            rootfs: root.host().to_path_buf(),
        });
    };
    let parent_fd = root.mkdir_all(&parent)?;
    match mkdirat(parent_fd.as_fd(), &name, Mode::from_bits_truncate(DIR_MODE)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(errno) => return Err(RootfsError::at_dest("mkdir", &m.dest)(errno)),
    }
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    match openat(parent_fd.as_fd(), &name, flags, Mode::empty()) {
        Ok(fd) => Ok(fd),
        // A symlink (O_NOFOLLOW|O_PATH gives ENOTDIR with O_DIRECTORY) or a file.
        Err(Errno::ENOTDIR) | Err(Errno::ELOOP) => Err(not_ordinary()),
        Err(errno) => Err(RootfsError::at_dest("open", &m.dest)(errno)),
    }
}

pub(crate) fn mount_tmpfs(root: &RootDir, m: &PlannedMount) -> Result<(), RootfsError> {
    let old_mode = match root.open_path(&m.dest) {
        Ok(fd) => Some(
            fstat(fd.as_fd())
                .map_err(RootfsError::at_dest("stat", &m.dest))?
                .st_mode,
        ),
        Err(_) => None,
    };
    let target = root.mkdir_all(&m.dest)?;
    let real = checked_mountpoint(root, target.as_fd(), m, false)?;
    let old_content = if m.options.tmpcopyup {
        Some(open_dir(root, &real)?)
    } else {
        None
    };
    mount_new_fs(root.sys(), target.as_fd(), &real, m)?;
    let keep_mode = old_mode.filter(|_| !m.options.has_mode());
    if old_content.is_some() || keep_mode.is_some() {
        let mounted = open_dir(root, &real)?;
        if let Some(old) = old_content {
            copyup::copy_tree(old.as_fd(), mounted.as_fd(), &real)?;
        }
        if let Some(mode) = keep_mode {
            let perm = std::fs::Permissions::from_mode(mode).mode() & 0o7777;
            fchmod(mounted.as_fd(), Mode::from_bits_truncate(perm))
                .map_err(RootfsError::at_dest("chmod", &real))?;
        }
    }
    after_mount(root, &real, m)
}

/// A readable directory fd of a container path.
fn open_dir(root: &RootDir, dest: &Path) -> Result<OwnedFd, RootfsError> {
    root.resolve(dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
        .map_err(RootfsError::at_dest("open directory", dest))
}

pub(crate) fn mount_other(root: &RootDir, m: &PlannedMount) -> Result<(), RootfsError> {
    let target = root.mkdir_all(&m.dest)?;
    let real = checked_mountpoint(root, target.as_fd(), m, false)?;
    mount_new_fs(root.sys(), target.as_fd(), &real, m)?;
    after_mount(root, &real, m)
}

/// Used by the cgroup module for its tmpfs and binds.
pub(crate) fn mountpoint_dir(
    root: &RootDir,
    m: &PlannedMount,
) -> Result<(OwnedFd, PathBuf), RootfsError> {
    let target = root.mkdir_all(&m.dest)?;
    let real = checked_mountpoint(root, target.as_fd(), m, false)?;
    Ok((target, real))
}
