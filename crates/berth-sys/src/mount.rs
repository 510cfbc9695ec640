//! Mount-related syscalls that `nix` lacks: `openat2`, `open_tree`,
//! `move_mount`, `mount_setattr` and the `fsopen` family.
//!
//! Every function is a thin, safe wrapper: it takes borrowed fds and paths,
//! returns owned fds, and reports the raw errno.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::NixPath;

pub use libc::{
    AT_EMPTY_PATH, AT_RECURSIVE, AT_SYMLINK_NOFOLLOW, MOUNT_ATTR_IDMAP, MOUNT_ATTR_NOATIME,
    MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID,
    MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME, MOUNT_ATTR_STRICTATIME,
    MOUNT_ATTR__ATIME, MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH, OPEN_TREE_CLOEXEC,
    OPEN_TREE_CLONE, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
    RESOLVE_NO_XDEV,
};

/// The attribute change that `mount_setattr(2)` applies (`struct mount_attr`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAttr {
    /// `MOUNT_ATTR_*` bits to set.
    pub attr_set: u64,
    /// `MOUNT_ATTR_*` bits to clear.
    pub attr_clr: u64,
    /// `MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE` or `MS_UNBINDABLE`, or 0 to leave it.
    pub propagation: u64,
}

/// An empty C string, the path argument of the `*_EMPTY_PATH` forms.
const EMPTY: &CStr = c"";

fn fd_result(ret: libc::c_long) -> Result<OwnedFd, Errno> {
    let raw = Errno::result(ret)? as RawFd;
    // SAFETY: the kernel just returned `raw` as a new file descriptor that
    // nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn cstring(path: &Path) -> Result<CString, Errno> {
    path.with_nix_path(|c| c.to_owned())
}

/// `openat2(2)`: open `path` relative to `dirfd` with the given `O_*` flags,
/// creation `mode` and `RESOLVE_*` flags. `O_CLOEXEC` is always added.
pub fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &Path,
    flags: libc::c_int,
    mode: libc::mode_t,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    let path = cstring(path)?;
    // open_how is a plain C struct; all-zero is its valid default.
    let mut how: libc::open_how = open_how_zeroed();
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
        u64::from(mode)
    } else {
        0
    };
    how.resolve = resolve;
    loop {
        // SAFETY: `path` is a valid NUL-terminated string and `how` a fully
        // initialised open_how whose size we pass; both outlive the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        match fd_result(ret) {
            // openat2 returns EAGAIN with RESOLVE_IN_ROOT when a concurrent
            // rename raced with the lookup; the kernel asks us to retry.
            Err(Errno::EAGAIN) => continue,
            other => return other,
        }
    }
}

fn open_how_zeroed() -> libc::open_how {
    // SAFETY: open_how is a C struct of three u64 fields; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// `open_tree(2)`: with `OPEN_TREE_CLONE` returns a detached copy of the mount
/// at `path` (`AT_RECURSIVE` for the whole subtree). `OPEN_TREE_CLOEXEC` is
/// always added.
pub fn open_tree(dirfd: BorrowedFd<'_>, path: &Path, flags: u32) -> Result<OwnedFd, Errno> {
    let path = cstring(path)?;
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            flags | OPEN_TREE_CLOEXEC,
        )
    };
    fd_result(ret)
}

/// `move_mount(2)` from one fd to another, both as `*_EMPTY_PATH`: attaches
/// the (detached or attached) mount `from` on top of the object `to` refers to.
pub fn move_mount_fd(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: both paths are the static empty C string; the fds are borrowed
    // and valid for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            EMPTY.as_ptr(),
            to.as_raw_fd(),
            EMPTY.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    Errno::result(ret).map(drop)
}

/// `mount_setattr(2)` on the mount `fd` refers to (`AT_EMPTY_PATH` is
/// added); pass `AT_RECURSIVE` in `flags` for the whole subtree.
pub fn mount_setattr_fd(
    fd: BorrowedFd<'_>,
    flags: libc::c_uint,
    attr: &MountAttr,
) -> Result<(), Errno> {
    let mut raw: libc::mount_attr = mount_attr_zeroed();
    raw.attr_set = attr.attr_set;
    raw.attr_clr = attr.attr_clr;
    raw.propagation = attr.propagation;
    // SAFETY: `raw` is a fully initialised mount_attr whose size we pass; the
    // path is the static empty C string.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            EMPTY.as_ptr(),
            flags | AT_EMPTY_PATH as libc::c_uint,
            &raw as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// `mount_setattr(2)` with `MOUNT_ATTR_IDMAP`: gives the detached mount `fd`
/// (from `open_tree(OPEN_TREE_CLONE)`) the id mapping of the user namespace
/// `userns`; `recursive` applies it to every mount of the tree.
pub fn mount_setattr_idmap(
    fd: BorrowedFd<'_>,
    userns: BorrowedFd<'_>,
    recursive: bool,
) -> Result<(), Errno> {
    let mut raw: libc::mount_attr = mount_attr_zeroed();
    raw.attr_set = MOUNT_ATTR_IDMAP;
    raw.userns_fd = userns.as_raw_fd() as u64;
    let mut flags = AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: `raw` is a fully initialised mount_attr whose size we pass; the
    // path is the static empty C string; both fds are borrowed and valid.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            EMPTY.as_ptr(),
            flags,
            &raw as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(ret).map(drop)
}

fn mount_attr_zeroed() -> libc::mount_attr {
    // SAFETY: mount_attr is a C struct of four u64 fields; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// `fsopen(2)`: a new filesystem context for `fstype` (close-on-exec).
pub fn fsopen(fstype: &str) -> Result<OwnedFd, Errno> {
    let fstype = CString::new(fstype).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `fstype` is a valid NUL-terminated string outliving the call.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) };
    fd_result(ret)
}

fn fsconfig(
    fs: BorrowedFd<'_>,
    cmd: libc::c_uint,
    key: Option<&CStr>,
    value: Option<&CStr>,
) -> Result<(), Errno> {
    let key = key.map_or(std::ptr::null(), CStr::as_ptr);
    let value = value.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: key and value are null or valid NUL-terminated strings that
    // outlive the call; aux is 0 for every command used here.
    let ret = unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, key, value, 0) };
    Errno::result(ret).map(drop)
}

fn c_arg(s: &str) -> Result<CString, Errno> {
    CString::new(s).map_err(|_| Errno::EINVAL)
}

/// `fsconfig(FSCONFIG_SET_FLAG, key)`.
pub fn fsconfig_set_flag(fs: BorrowedFd<'_>, key: &str) -> Result<(), Errno> {
    let key = c_arg(key)?;
    fsconfig(fs, libc::FSCONFIG_SET_FLAG, Some(&key), None)
}

/// `fsconfig(FSCONFIG_SET_STRING, key, value)`.
pub fn fsconfig_set_string(fs: BorrowedFd<'_>, key: &str, value: &str) -> Result<(), Errno> {
    let (key, value) = (c_arg(key)?, c_arg(value)?);
    fsconfig(fs, libc::FSCONFIG_SET_STRING, Some(&key), Some(&value))
}

/// `fsconfig(FSCONFIG_CMD_CREATE)`: create the superblock.
pub fn fsconfig_create(fs: BorrowedFd<'_>) -> Result<(), Errno> {
    fsconfig(fs, libc::FSCONFIG_CMD_CREATE, None, None)
}

/// `fsmount(2)`: a detached mount of the created superblock, with
/// `MOUNT_ATTR_*` bits `attr` (close-on-exec).
pub fn fsmount(fs: BorrowedFd<'_>, attr: u64) -> Result<OwnedFd, Errno> {
    let attr = libc::c_uint::try_from(attr).map_err(|_| Errno::EINVAL)?;
    // SAFETY: plain integer arguments and a borrowed, valid fd.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attr,
        )
    };
    fd_result(ret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn root() -> OwnedFd {
        nix::fcntl::open(
            "/",
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn openat2_in_root_clamps_dotdot() {
        let root = root();
        let fd = openat2(
            root.as_fd(),
            Path::new("../../etc"),
            libc::O_PATH,
            0,
            RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        )
        .unwrap();
        let target =
            nix::fcntl::readlink(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str()).unwrap();
        assert_eq!(target, "/etc");
    }

    #[test]
    fn openat2_beneath_rejects_escape() {
        let root = root();
        let err = openat2(
            root.as_fd(),
            Path::new("/etc"),
            libc::O_PATH,
            0,
            RESOLVE_BENEATH,
        )
        .unwrap_err();
        assert_eq!(err, Errno::EXDEV);
    }

    #[test]
    fn openat2_rejects_nul_in_path() {
        let root = root();
        let err = openat2(
            root.as_fd(),
            Path::new("a\0b"),
            libc::O_PATH,
            0,
            RESOLVE_IN_ROOT,
        )
        .unwrap_err();
        assert_eq!(err, Errno::EINVAL);
    }
}
