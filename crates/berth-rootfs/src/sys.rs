//! The syscalls of rootfs setup that change the mount table or make
//! device nodes, behind one small trait: [`RealSys`] calls them (nix and
//! berth-sys); the unit tests put a recorder in its place and check the
//! sequence of mounts a config makes, without root. Paths are still
//! resolved and directories, files and symlinks still created for real
//! (in the test's own directory), so the recorded targets are the paths
//! the real run would mount on.
//!
//! The trait is used as `&dyn MountSys`: one implementation in the binary,
//! called a few dozen times per container.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use berth_sys::mount::{
    fsconfig_create, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, mount_setattr_fd,
    move_mount_fd, open_tree, MountAttr, MOUNT_ATTR_RDONLY,
};
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::mount::MsFlags;
use nix::sys::stat::{mknodat, Mode, SFlag};
use nix::unistd::{fchownat, Gid, Uid};

/// The mount-table and device-node syscalls of rootfs setup.
pub trait MountSys: std::fmt::Debug {
    /// mount(2).
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno>;

    /// mount_setattr(2) on what `fd` refers to.
    fn mount_setattr(&self, fd: BorrowedFd<'_>, flags: u32, attr: &MountAttr) -> Result<(), Errno>;

    /// open_tree(2) of `path` under `dirfd` ("" with `AT_EMPTY_PATH`: `dirfd` itself).
    fn open_tree(&self, dirfd: BorrowedFd<'_>, path: &Path, flags: u32) -> Result<OwnedFd, Errno>;

    /// move_mount(2) of the detached tree `from` onto `to`.
    fn move_mount(&self, from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Errno>;

    /// A detached, empty tmpfs, read-only as superblock and as mount
    /// (fsopen, fsconfig, fsmount); the error names the call that failed.
    fn readonly_tmpfs(&self) -> Result<OwnedFd, (&'static str, Errno)>;

    /// mknodat(2).
    fn mknodat(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        kind: SFlag,
        perm: Mode,
        dev: libc::dev_t,
    ) -> Result<(), Errno>;

    /// fchownat(2) without following a symlink.
    fn chownat(&self, dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> Result<(), Errno>;
}

/// The kernel.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealSys;

impl MountSys for RealSys {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn mount_setattr(&self, fd: BorrowedFd<'_>, flags: u32, attr: &MountAttr) -> Result<(), Errno> {
        mount_setattr_fd(fd, flags, attr)
    }

    fn open_tree(&self, dirfd: BorrowedFd<'_>, path: &Path, flags: u32) -> Result<OwnedFd, Errno> {
        open_tree(dirfd, path, flags)
    }

    fn move_mount(&self, from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Errno> {
        move_mount_fd(from, to)
    }

    fn readonly_tmpfs(&self) -> Result<OwnedFd, (&'static str, Errno)> {
        let fs = fsopen("tmpfs").map_err(|e| ("fsopen tmpfs for mask of", e))?;
        fsconfig_set_string(fs.as_fd(), "source", "tmpfs")
            .map_err(|e| ("fsconfig source for mask of", e))?;
        fsconfig_set_flag(fs.as_fd(), "ro").map_err(|e| ("fsconfig ro for mask of", e))?;
        fsconfig_create(fs.as_fd()).map_err(|e| ("create tmpfs for mask of", e))?;
        fsmount(fs.as_fd(), MOUNT_ATTR_RDONLY).map_err(|e| ("fsmount tmpfs for mask of", e))
    }

    fn mknodat(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        kind: SFlag,
        perm: Mode,
        dev: libc::dev_t,
    ) -> Result<(), Errno> {
        mknodat(dir, name, kind, perm, dev)
    }

    fn chownat(&self, dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> Result<(), Errno> {
        let owner = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
        fchownat(dir, name, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW)
    }
}
