//! Small file helpers that turn I/O errors into [`CgroupError`]s naming the path.

use std::fs;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use crate::CgroupError;

/// Reads a whole (small) cgroup or proc file.
pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads `dir/file`; `None` when it does not exist (a controller or kernel
/// feature the host lacks, for counters that are then left at zero).
pub(crate) fn read_if_exists(dir: &Path, file: &str) -> Result<Option<String>, CgroupError> {
    match read(&dir.join(file)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads `dir/file` and trims surrounding whitespace.
pub(crate) fn read_trimmed(dir: &Path, file: &str) -> Result<String, CgroupError> {
    Ok(read(&dir.join(file))?.trim().to_string())
}

/// Writes `value` to an existing cgroup file in ONE `write(2)` (the kernel parses
/// each write on its own), without creating or truncating anything.
pub(crate) fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    let mut file = fs::OpenOptions::new().write(true).open(path)?;
    file.write_all(value.as_bytes())
}

/// Opens an existing cgroup file for writing (close-on-exec), naming the path
/// in the error.
pub(crate) fn open_for_write(path: &Path) -> Result<(PathBuf, fs::File), CgroupError> {
    match fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => Ok((path.to_path_buf(), file)),
        Err(source) => Err(CgroupError::Open {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `value` to `dir/file`, naming the path and value in the error.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    write_raw(&path, value).map_err(write_error(&path, value))
}

/// The error of writing `value` to the cgroup file at `path`.
pub(crate) fn write_error(path: &Path, value: &str) -> impl FnOnce(io::Error) -> CgroupError {
    let (path, value) = (path.to_path_buf(), value.to_string());
    move |source| CgroupError::Write {
        path,
        value,
        source,
    }
}

/// Creates one directory (mode 0755, as runc); an existing one is fine.
/// Returns whether it was created.
pub(crate) fn mkdir(path: &Path) -> Result<bool, CgroupError> {
    match fs::DirBuilder::new().mode(0o755).create(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(CgroupError::Mkdir {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The sub-directories (child cgroups) of a cgroup directory; none if it is gone.
pub(crate) fn child_dirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let read_dir_err = |source| CgroupError::ReadDir {
        path: dir.to_path_buf(),
        source,
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_dir_err(e)),
    };
    let mut children = Vec::new();
    for entry in entries {
        let entry = entry.map_err(read_dir_err)?;
        if entry.file_type().map_err(read_dir_err)?.is_dir() {
            children.push(entry.path());
        }
    }
    Ok(children)
}

/// Attempts and pauses for removing a cgroup whose last processes are still exiting.
const RMDIR_ATTEMPTS: u32 = 6;
const RMDIR_FIRST_PAUSE: Duration = Duration::from_millis(10);

/// Removes one empty cgroup directory; a missing one is fine. `EBUSY` (processes
/// still exiting) is retried briefly with a doubling pause (~300 ms in all).
pub(crate) fn rmdir_retrying(path: &Path) -> Result<(), CgroupError> {
    let mut pause = RMDIR_FIRST_PAUSE;
    for attempt in 1..=RMDIR_ATTEMPTS {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < RMDIR_ATTEMPTS => {
                sleep(pause);
                pause *= 2;
            }
            Err(source) => {
                return Err(CgroupError::Rmdir {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    unreachable!("the last attempt always returns")
}

/// Removes a cgroup directory and every child cgroup below it, deepest first.
pub(crate) fn remove_cgroup_tree(dir: &Path) -> Result<(), CgroupError> {
    for child in child_dirs(dir)? {
        remove_cgroup_tree(&child)?;
    }
    rmdir_retrying(dir)
}

/// Opens a cgroup directory as an fd (for `CLONE_INTO_CGROUP`, `bpf(2)`).
pub(crate) fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    Ok(open(dir, flags, Mode::empty())?)
}

/// Whether an error from a cgroup file means "the file is not there".
pub(crate) fn is_not_found(err: &CgroupError) -> bool {
    err.errno() == Some(nix::errno::Errno::ENOENT)
}
