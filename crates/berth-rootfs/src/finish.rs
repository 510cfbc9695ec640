//! After pivot_root: read-only remounts, readonlyPaths, maskedPaths and the
//! read-only root. Everything is done on fds (open_tree, move_mount,
//! mount_setattr, fsmount): nothing depends on the container's /proc.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use berth_sys::mount::{
    MountAttr, AT_EMPTY_PATH, AT_RECURSIVE, MOUNT_ATTR_RDONLY, OPEN_TREE_CLONE,
};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, makedev, SFlag};

use crate::error::RootfsError;
use crate::root::RootDir;
use crate::sys::MountSys;

const READ_ONLY: MountAttr = MountAttr {
    attr_set: MOUNT_ATTR_RDONLY,
    attr_clr: 0,
    propagation: 0,
};

/// Makes the mount whose root `fd` is read-only, keeping its other flags.
pub fn make_mount_readonly(
    sys: &dyn MountSys,
    fd: BorrowedFd<'_>,
    dest: &Path,
) -> Result<(), RootfsError> {
    sys.mount_setattr(fd, 0, &READ_ONLY)
        .map_err(RootfsError::at_dest("remount read-only", dest))
}

/// Remounts the mount at container path `dest` read-only.
pub fn remount_readonly(root: &RootDir, dest: &Path) -> Result<(), RootfsError> {
    let fd = root
        .open_path(dest)
        .map_err(RootfsError::at_dest("open", dest))?;
    make_mount_readonly(root.sys(), fd.as_fd(), dest)
}

/// A detached clone of what `fd` refers to (a bind, not yet attached).
pub(crate) fn clone_tree(
    sys: &dyn MountSys,
    fd: BorrowedFd<'_>,
    recursive: bool,
    at: &Path,
) -> Result<OwnedFd, RootfsError> {
    let mut flags = OPEN_TREE_CLONE | AT_EMPTY_PATH as u32;
    if recursive {
        flags |= AT_RECURSIVE as u32;
    }
    sys.open_tree(fd, Path::new(""), flags)
        .map_err(RootfsError::at_dest("open_tree", at))
}

pub(crate) fn attach(
    sys: &dyn MountSys,
    mount: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    at: &Path,
) -> Result<(), RootfsError> {
    sys.move_mount(mount, target)
        .map_err(RootfsError::at_dest("move_mount", at))
}

/// Opens a path that may legitimately be absent (None then).
fn open_optional(root: &RootDir, dest: &Path) -> Result<Option<OwnedFd>, RootfsError> {
    match root.open_path(dest) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(errno) => Err(RootfsError::at_dest("open", dest)(errno)),
    }
}

/// readonlyPaths entry: a recursive bind of the path onto itself, its top
/// mount read-only (other flags kept). Absent paths are skipped.
pub fn readonly_path(root: &RootDir, dest: &Path) -> Result<(), RootfsError> {
    let Some(target) = open_optional(root, dest)? else {
        return Ok(());
    };
    let tree = clone_tree(root.sys(), target.as_fd(), true, dest)?;
    make_mount_readonly(root.sys(), tree.as_fd(), dest)?;
    attach(root.sys(), tree.as_fd(), target.as_fd(), dest)
}

/// maskedPaths entry: /dev/null over a file, an empty read-only tmpfs over
/// a directory. Absent paths are skipped.
pub fn mask_path(root: &RootDir, dest: &Path, dev_null: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let Some(target) = open_optional(root, dest)? else {
        return Ok(());
    };
    let is_dir =
        crate::mounts::is_dir(target.as_fd()).map_err(RootfsError::at_dest("stat", dest))?;
    let mask = if is_dir {
        empty_readonly_tmpfs(root.sys(), dest)?
    } else {
        clone_tree(root.sys(), dev_null, false, dest)?
    };
    attach(root.sys(), mask.as_fd(), target.as_fd(), dest)
}

/// A detached, empty tmpfs, read-only both as superblock and as mount.
pub(crate) fn empty_readonly_tmpfs(
    sys: &dyn MountSys,
    dest: &Path,
) -> Result<OwnedFd, RootfsError> {
    sys.readonly_tmpfs()
        .map_err(|(step, errno)| RootfsError::at_dest(step, dest)(errno))
}

/// The container's /dev/null, verified to be the null device (char 1:3) so
/// that a hostile rootfs cannot make masks show something else.
pub fn open_dev_null(root: &RootDir) -> Result<OwnedFd, RootfsError> {
    let at = Path::new("/dev/null");
    let fd = root
        .resolve(at, OFlag::O_PATH | OFlag::O_NOFOLLOW)
        .map_err(RootfsError::at_dest("open", at))?;
    let st = fstat(fd.as_fd()).map_err(RootfsError::at_dest("stat", at))?;
    let is_char = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    if is_char && st.st_rdev == makedev(1, 3) {
        Ok(fd)
    } else {
        Err(RootfsError::WrongDevice {
            path: at.to_path_buf(),
            expected: "c 1:3".to_string(),
        })
    }
}
