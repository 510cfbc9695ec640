//! `tmpcopyup`: copy what was under a tmpfs mount point into the new tmpfs.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::Dir;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstatat, mkdirat, mknodat, FchmodatFlags, FileStat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};

use crate::error::RootfsError;

/// Copies the content of directory `src` into directory `dst` (both
/// readable directory fds), keeping modes and ownership; symlinks are
/// copied as symlinks, never followed. `dest` names the mount in errors.
pub fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, dest: &Path) -> Result<(), RootfsError> {
    let fail = |step: &'static str, name: &Path| RootfsError::at_dest(step, dest.join(name));
    let mut dir = Dir::openat(
        src,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(fail("tmpcopyup: read directory", Path::new("")))?;
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        let rel = Path::new(std::ffi::OsStr::from_bytes(name.as_bytes()));
        copy_entry(src, dst, &name, dest, rel)?;
    }
    Ok(())
}

fn copy_entry(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &std::ffi::CStr,
    dest: &Path,
    rel: &Path,
) -> Result<(), RootfsError> {
    let at = dest.join(rel);
    let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(RootfsError::at_dest("tmpcopyup: stat", &at))?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
    match kind {
        SFlag::S_IFDIR => copy_dir(src, dst, name, &at, perm)?,
        SFlag::S_IFREG => copy_file(src, dst, name, &at, perm)?,
        SFlag::S_IFLNK => {
            let target =
                readlinkat(src, name).map_err(RootfsError::at_dest("tmpcopyup: readlink", &at))?;
            symlinkat(target.as_os_str(), dst, name)
                .map_err(RootfsError::at_dest("tmpcopyup: symlink", &at))?;
        }
        _ => mknodat(dst, name, kind, perm, st.st_rdev)
            .map_err(RootfsError::at_dest("tmpcopyup: mknod", &at))?,
    }
    copy_owner_and_mode(dst, name, &st, kind, perm, &at)
}

fn copy_dir(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &std::ffi::CStr,
    at: &Path,
    perm: Mode,
) -> Result<(), RootfsError> {
    mkdirat(dst, name, perm).map_err(RootfsError::at_dest("tmpcopyup: mkdir", at))?;
    let open_dir = |fd: BorrowedFd<'_>| -> Result<OwnedFd, RootfsError> {
        openat(
            fd,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(RootfsError::at_dest("tmpcopyup: open directory", at))
    };
    let (sub_src, sub_dst) = (open_dir(src)?, open_dir(dst)?);
    copy_tree(sub_src.as_fd(), sub_dst.as_fd(), at)
}

fn copy_file(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &std::ffi::CStr,
    at: &Path,
    perm: Mode,
) -> Result<(), RootfsError> {
    let input = openat(
        src,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(RootfsError::at_dest("tmpcopyup: open", at))?;
    let create =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let output =
        openat(dst, name, create, perm).map_err(RootfsError::at_dest("tmpcopyup: create", at))?;
    std::io::copy(&mut File::from(input), &mut File::from(output)).map_err(|source| {
        RootfsError::Io {
            step: "tmpcopyup: copy",
            at: crate::error::Location::dest(at),
            source,
        }
    })?;
    Ok(())
}

fn copy_owner_and_mode(
    dst: BorrowedFd<'_>,
    name: &std::ffi::CStr,
    st: &FileStat,
    kind: SFlag,
    perm: Mode,
    at: &Path,
) -> Result<(), RootfsError> {
    let owner = (
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    );
    fchownat(dst, name, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(RootfsError::at_dest("tmpcopyup: chown", at))?;
    if kind == SFlag::S_IFLNK {
        return Ok(());
    }
    // chown cleared set-id bits and the umask trimmed the mode: set it again.
    fchmodat(dst, name, perm, FchmodatFlags::FollowSymlink)
        .map_err(RootfsError::at_dest("tmpcopyup: chmod", at))
}
