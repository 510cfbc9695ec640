//! Opening files under /proc for writing, verified to be procfs.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use berth_sys::mount::{openat2, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

use crate::error::RootfsError;

fn ensure_procfs(fd: &OwnedFd, path: &Path) -> Result<(), RootfsError> {
    let fs = fstatfs(fd.as_fd()).map_err(RootfsError::at_dest("statfs", path))?;
    if fs.filesystem_type() == PROC_SUPER_MAGIC {
        Ok(())
    } else {
        Err(RootfsError::NotProcfs {
            path: path.to_path_buf(),
        })
    }
}

/// The part of `path` below /proc, when it is an absolute, `..`-free path
/// under /proc.
fn below_proc(path: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix("/proc").ok()?;
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && !rel.as_os_str().is_empty()).then(|| rel.to_path_buf())
}

/// Opens `path` (e.g. "/proc/sys/net/ipv4/ip_forward") write-only: /proc
/// and the file itself must be procfs, and no symlink is followed on the
/// way, so a rootfs cannot redirect the write.
pub fn open_proc_file_for_write(path: &Path) -> Result<File, RootfsError> {
    let rel = below_proc(path).ok_or_else(|| RootfsError::InvalidValue {
        field: "procfs path",
        value: path.to_string_lossy().into_owned(),
        reason: "must be a plain path under /proc",
    })?;
    let proc_dir = nix::fcntl::open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(RootfsError::at_dest("open", "/proc"))?;
    ensure_procfs(&proc_dir, Path::new("/proc"))?;
    let resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    let fd = openat2(
        proc_dir.as_fd(),
        &rel,
        libc::O_WRONLY | libc::O_NOCTTY,
        0,
        resolve,
    )
    .map_err(|errno: Errno| RootfsError::at_dest("open", path)(errno))?;
    ensure_procfs(&fd, path)?;
    Ok(File::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_under_proc() {
        assert_eq!(
            below_proc(Path::new("/proc/sys/kernel/x")),
            Some(PathBuf::from("sys/kernel/x"))
        );
        assert_eq!(below_proc(Path::new("/proc")), None);
        assert_eq!(below_proc(Path::new("/proc/../etc/passwd")), None);
        assert_eq!(below_proc(Path::new("/etc/passwd")), None);
        assert_eq!(below_proc(Path::new("proc/sys")), None);
    }

    #[test]
    fn refuses_symlinks_under_proc() {
        // /proc/self is a symlink: refused even though it leads inside /proc.
        let err = open_proc_file_for_write(Path::new("/proc/self/comm")).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ELOOP), "{err:?}");
    }

    #[test]
    fn opens_a_procfs_file() {
        let pid = std::process::id();
        let path = PathBuf::from(format!("/proc/{pid}/comm"));
        open_proc_file_for_write(&path).unwrap();
    }
}
