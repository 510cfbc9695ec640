//! Safe resolution of container paths inside the rootfs.
//!
//! Every lookup is an openat2(2) relative to an fd of the rootfs with
//! `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: symlinks and `..` are clamped at
//! the rootfs and never lead to the host. Files and directories are created
//! with `*at` calls relative to fds resolved that way.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_sys::mount::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{mkdirat, Mode};

use crate::error::RootfsError;
use crate::path;
use crate::sys::{MountSys, RealSys};

/// Resolution flags for every lookup inside the rootfs.
const IN_ROOT: u64 = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

/// How many dangling symlinks mkdir_all follows before giving up (ELOOP).
const MAX_SYMLINK_DEPTH: usize = 40;

/// Mode of directories created for mount points.
pub const DIR_MODE: u32 = 0o755;

/// The `/proc/self/fd/N` path of an fd, for syscalls that only take paths.
/// Only meaningful while /proc is a procfs we trust (the host's, before
/// pivot_root).
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// An open rootfs: an `O_PATH` directory fd, the host path it was opened
/// at, and the syscalls that mount in it.
#[derive(Debug)]
pub struct RootDir<'s> {
    fd: OwnedFd,
    host: PathBuf,
    sys: &'s dyn MountSys,
}

impl RootDir<'static> {
    /// Opens the directory at host path `host` (following symlinks: the
    /// path comes from the runtime, not from the container), mounting
    /// with the real syscalls.
    pub fn open(host: &Path) -> Result<RootDir<'static>, RootfsError> {
        RootDir::open_with(host, &RealSys)
    }
}

impl<'s> RootDir<'s> {
    /// [`RootDir::open`] with the mount syscalls of `sys`.
    pub fn open_with(host: &Path, sys: &'s dyn MountSys) -> Result<RootDir<'s>, RootfsError> {
        let fd = nix::fcntl::open(
            host,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(RootfsError::at_host("open rootfs", host))?;
        Ok(RootDir {
            fd,
            host: host.to_path_buf(),
            sys,
        })
    }

    /// The syscalls that mount in this rootfs.
    pub fn sys(&self) -> &'s dyn MountSys {
        self.sys
    }

    /// The host path of the rootfs.
    pub fn host(&self) -> &Path {
        &self.host
    }

    /// The rootfs directory fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens container path `dest` with `flags`, following symlinks inside
    /// the rootfs only.
    pub fn resolve(&self, dest: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
        openat2(self.fd(), &path::relative(dest), flags.bits(), 0, IN_ROOT)
    }

    /// An `O_PATH` fd of container path `dest`, following symlinks inside
    /// the rootfs.
    pub fn open_path(&self, dest: &Path) -> Result<OwnedFd, Errno> {
        self.resolve(dest, OFlag::O_PATH)
    }

    /// Makes sure directory `dest` and its parents exist inside the rootfs
    /// and returns an `O_PATH` fd of it. A dangling symlink on the way is
    /// followed inside the rootfs and its target created.
    pub fn mkdir_all(&self, dest: &Path) -> Result<OwnedFd, RootfsError> {
        self.mkdir_all_depth(dest, 0)
    }

    fn mkdir_all_depth(&self, dest: &Path, depth: usize) -> Result<OwnedFd, RootfsError> {
        if depth > MAX_SYMLINK_DEPTH {
            return Err(RootfsError::at_dest("mkdir", dest)(Errno::ELOOP));
        }
        let dest = path::clean(dest);
        let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
        // Most mount points exist: one resolution instead of one per
        // component; most missing ones have an existing parent. Any other
        // failure takes the walk from "/", which creates what is missing and
        // reports errors at the component that caused them.
        if let Ok(fd) = self.resolve(&dest, dir_flags) {
            return Ok(fd);
        }
        let parent = dest
            .parent()
            .filter(|p| *p != Path::new("/"))
            .and_then(|p| Some((self.resolve(p, dir_flags).ok()?, p.to_path_buf())));
        let (mut current, mut prefix, skip) = match parent {
            Some((fd, p)) => (fd, p, dest.components().count() - 1),
            None => (
                self.resolve(Path::new("/"), dir_flags)
                    .map_err(RootfsError::at_dest("open", "/"))?,
                PathBuf::from("/"),
                1,
            ),
        };
        for name in dest.components().skip(skip) {
            prefix.push(name);
            current = match self.resolve(&prefix, dir_flags) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    self.mkdir_in(current.as_fd(), name.as_os_str(), &prefix, depth)?;
                    self.resolve(&prefix, dir_flags)
                        .map_err(RootfsError::at_dest("open created directory", &prefix))?
                }
                Err(errno) => return Err(RootfsError::at_dest("open directory", &prefix)(errno)),
            };
        }
        Ok(current)
    }

    /// Creates `name` in `parent`; when it is a dangling symlink, creates
    /// the symlink's target instead (resolved inside the rootfs).
    fn mkdir_in(
        &self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        prefix: &Path,
        depth: usize,
    ) -> Result<(), RootfsError> {
        match mkdirat(parent, name, Mode::from_bits_truncate(DIR_MODE)) {
            Ok(()) => Ok(()),
            Err(Errno::EEXIST) => match readlinkat(parent, name) {
                Ok(target) => {
                    let base = self.container_path_of(parent, prefix)?;
                    self.mkdir_all_depth(&base.join(target), depth + 1)
                        .map(drop)
                }
                // Not a symlink: created concurrently; re-resolving decides.
                Err(_) => Ok(()),
            },
            Err(errno) => Err(RootfsError::at_dest("mkdir", prefix)(errno)),
        }
    }

    /// Makes sure `dest` exists, creating an empty file (and its parent
    /// directories) if it does not; returns an `O_PATH` fd of it. A dangling
    /// symlink is followed inside the rootfs and its target created.
    pub fn create_file(&self, dest: &Path) -> Result<OwnedFd, RootfsError> {
        self.create_file_depth(dest, 0)
    }

    fn create_file_depth(&self, dest: &Path, depth: usize) -> Result<OwnedFd, RootfsError> {
        if depth > MAX_SYMLINK_DEPTH {
            return Err(RootfsError::at_dest("create file", dest)(Errno::ELOOP));
        }
        match self.open_path(dest) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) => {}
            Err(errno) => return Err(RootfsError::at_dest("open", dest)(errno)),
        }
        let Some((parent, name)) = path::split_last(dest) else {
            return Err(RootfsError::at_dest("create file", dest)(Errno::EISDIR));
        };
        let parent_fd = self.mkdir_all(&parent)?;
        if let Ok(target) = readlinkat(parent_fd.as_fd(), &name) {
            // A dangling symlink: create what it points to, inside the rootfs.
            let base = self.container_path_of(parent_fd.as_fd(), &parent)?;
            return self.create_file_depth(&base.join(target), depth + 1);
        }
        let flags =
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
        match openat(
            parent_fd.as_fd(),
            &name,
            flags,
            Mode::from_bits_truncate(0o755),
        ) {
            Ok(_) | Err(Errno::EEXIST) => {}
            Err(errno) => return Err(RootfsError::at_dest("create file", dest)(errno)),
        }
        self.open_path(dest)
            .map_err(RootfsError::at_dest("open created file", dest))
    }

    /// The container path an fd resolved in this rootfs is at, read back
    /// from `/proc/self/fd`; an error if it is not inside the rootfs.
    pub fn container_path_of(
        &self,
        fd: BorrowedFd<'_>,
        dest: &Path,
    ) -> Result<PathBuf, RootfsError> {
        let resolved = nix::fcntl::readlink(fd_path(fd).as_path())
            .map_err(RootfsError::at_dest("readlink resolved path of", dest))?;
        let resolved = PathBuf::from(resolved);
        path::container_path(&self.host, &resolved).ok_or_else(|| RootfsError::OutsideRootfs {
            dest: dest.to_path_buf(),
            rootfs: self.host.clone(),
            resolved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p =
                std::env::temp_dir().join(format!("berth-rootfs-{}-{}", tag, std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn absolute_symlink_is_clamped_in_root() {
        let t = TempDir::new("clamp");
        let rootfs = t.0.join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        symlink("/etc", rootfs.join("link")).unwrap();
        let root = RootDir::open(&rootfs).unwrap();
        let fd = root.open_path(Path::new("/link")).unwrap();
        assert_eq!(
            root.container_path_of(fd.as_fd(), Path::new("/link"))
                .unwrap(),
            Path::new("/etc")
        );
        let fd = root.open_path(Path::new("/../../../etc")).unwrap();
        assert_eq!(
            root.container_path_of(fd.as_fd(), Path::new("x")).unwrap(),
            Path::new("/etc")
        );
    }

    #[test]
    fn mkdir_all_through_symlink_stays_inside() {
        let t = TempDir::new("mkdir");
        let rootfs = t.0.join("rootfs");
        let outside = t.0.join("outside");
        std::fs::create_dir_all(&rootfs).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        symlink(&outside, rootfs.join("dev")).unwrap();
        let root = RootDir::open(&rootfs).unwrap();
        root.mkdir_all(Path::new("/dev/pts")).unwrap();
        // The symlink's absolute target was taken inside the rootfs.
        assert!(rootfs
            .join(outside.strip_prefix("/").unwrap())
            .join("pts")
            .is_dir());
        assert!(!outside.join("pts").exists());
    }

    #[test]
    fn create_file_follows_dangling_symlink_inside() {
        let t = TempDir::new("create");
        let rootfs = t.0.join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        symlink("/etc/berth-no-such-file", rootfs.join("etc/hostname")).unwrap();
        let root = RootDir::open(&rootfs).unwrap();
        let fd = root.create_file(Path::new("/etc/hostname")).unwrap();
        let at = root
            .container_path_of(fd.as_fd(), Path::new("/etc/hostname"))
            .unwrap();
        assert_eq!(at, Path::new("/etc/berth-no-such-file"));
        assert!(rootfs.join("etc/berth-no-such-file").is_file());
        assert!(!Path::new("/etc/berth-no-such-file").exists());
    }

    #[test]
    fn create_file_through_dangling_symlink_creates_missing_parents_inside() {
        let t = TempDir::new("create-deep");
        let rootfs = t.0.join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        let host_target = t.0.join("no/such/dir/passwd");
        symlink(&host_target, rootfs.join("etc/hostname")).unwrap();
        let root = RootDir::open(&rootfs).unwrap();
        root.create_file(Path::new("/etc/hostname")).unwrap();
        assert!(rootfs
            .join(host_target.strip_prefix("/").unwrap())
            .is_file());
        assert!(!host_target.exists() && !t.0.join("no").exists());
    }

    #[test]
    fn create_file_symlink_loop_is_eloop() {
        let t = TempDir::new("create-loop");
        let rootfs = t.0.join("rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        symlink("/b", rootfs.join("a")).unwrap();
        symlink("/a", rootfs.join("b")).unwrap();
        let root = RootDir::open(&rootfs).unwrap();
        let err = root.create_file(Path::new("/a")).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ELOOP), "{err:?}");
    }

    #[test]
    fn mkdir_all_on_file_is_enotdir() {
        let t = TempDir::new("enotdir");
        let rootfs = t.0.join("rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        std::fs::write(rootfs.join("file"), b"").unwrap();
        let root = RootDir::open(&rootfs).unwrap();
        let err = root.mkdir_all(Path::new("/file/sub")).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOTDIR));
        assert!(err.to_string().contains("/file"), "{err}");
    }
}
