//! Mount operations on fds resolved inside the rootfs: mount(2) through
//! `/proc/self/fd/N` (never through a path the container could swap),
//! propagation changes, bind remounts and recursive attributes.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use berth_sys::mount::AT_RECURSIVE;
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::statvfs::{fstatvfs, FsFlags};

use crate::error::RootfsError;
use crate::options::RecursiveAttr;
use crate::root::fd_path;
use crate::sys::MountSys;

/// What one mount(2) call should do.
#[derive(Debug, Clone, Copy)]
pub struct MountCall<'a> {
    /// The source argument (a device, a filesystem name, a host path).
    pub source: Option<&'a str>,
    /// The filesystem type (None for binds, remounts, propagation).
    pub fstype: Option<&'a str>,
    /// The flags.
    pub flags: MsFlags,
    /// The data ("" for none).
    pub data: &'a str,
}

impl MountCall<'_> {
    /// mount(2) on the object `target` refers to; `dest` names it in errors.
    pub fn on(
        &self,
        sys: &dyn MountSys,
        target: BorrowedFd<'_>,
        dest: &Path,
    ) -> Result<(), RootfsError> {
        let data = (!self.data.is_empty()).then_some(self.data);
        sys.mount(
            self.source.map(Path::new),
            fd_path(target).as_path(),
            self.fstype,
            self.flags,
            data,
        )
        .map_err(|errno| self.error(dest, errno))
    }

    fn error(&self, dest: &Path, errno: Errno) -> RootfsError {
        RootfsError::Mount {
            source_spec: self.source.unwrap_or_default().to_string(),
            dest: dest.to_path_buf(),
            fstype: self.fstype.unwrap_or_default().to_string(),
            flags: self.flags.bits(),
            data: self.data.to_string(),
            errno,
        }
    }
}

/// Bind-mounts `source` (an fd of the host source) onto `target`.
pub fn bind(
    sys: &dyn MountSys,
    source: BorrowedFd<'_>,
    source_name: &str,
    target: BorrowedFd<'_>,
    dest: &Path,
    recursive: bool,
) -> Result<(), RootfsError> {
    let mut flags = MsFlags::MS_BIND;
    flags.set(MsFlags::MS_REC, recursive);
    let source_path = fd_path(source);
    let result = sys.mount(
        Some(source_path.as_path()),
        fd_path(target).as_path(),
        None,
        flags,
        None,
    );
    result.map_err(|errno| {
        MountCall {
            source: Some(source_name),
            fstype: None,
            flags,
            data: "",
        }
        .error(dest, errno)
    })
}

/// Applies propagation changes, in order, to the mount `target` is the root of.
pub fn set_propagation(
    sys: &dyn MountSys,
    target: BorrowedFd<'_>,
    dest: &Path,
    changes: &[MsFlags],
) -> Result<(), RootfsError> {
    for flags in changes {
        MountCall {
            source: None,
            fstype: None,
            flags: *flags,
            data: "",
        }
        .on(sys, target, dest)?;
    }
    Ok(())
}

/// Flags that a bind remount must keep when the kernel locked them (mounts
/// inherited from a more privileged mount namespace).
fn lockable_flags(fd: BorrowedFd<'_>) -> Result<MsFlags, Errno> {
    let st = fstatvfs(fd)?;
    let pairs = [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    Ok(pairs
        .iter()
        .filter(|(st_flag, _)| st.flags().contains(*st_flag))
        .fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms))
}

/// Remounts the bind mount `target` is the root of with `flags`
/// (`MS_BIND|MS_REMOUNT` added). When the kernel refuses (locked flags),
/// retries with the flags the mount has now added, as runc does.
pub fn remount_bind(
    sys: &dyn MountSys,
    target: BorrowedFd<'_>,
    dest: &Path,
    flags: MsFlags,
) -> Result<(), RootfsError> {
    let flags = (flags - MsFlags::MS_REC) | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    let call = MountCall {
        source: None,
        fstype: None,
        flags,
        data: "",
    };
    match call.on(sys, target, dest) {
        Err(RootfsError::Mount {
            errno: Errno::EPERM,
            ..
        }) => {
            let locked =
                lockable_flags(target.as_fd()).map_err(RootfsError::at_dest("statvfs", dest))?;
            MountCall {
                flags: flags | locked,
                ..call
            }
            .on(sys, target, dest)
        }
        other => other,
    }
}

/// Applies recursive attributes with mount_setattr(AT_RECURSIVE); a kernel
/// without it gives a clear error.
pub fn set_recursive_attr(
    sys: &dyn MountSys,
    target: BorrowedFd<'_>,
    dest: &Path,
    rec: &RecursiveAttr,
) -> Result<(), RootfsError> {
    let flags = AT_RECURSIVE as libc::c_uint;
    sys.mount_setattr(target, flags, &rec.attr)
        .map_err(|errno| match errno {
            Errno::ENOSYS => RootfsError::RecursiveAttrUnsupported {
                option: rec.first_option.clone(),
                dest: dest.to_path_buf(),
                errno,
            },
            _ => RootfsError::at_dest("mount_setattr", dest)(errno),
        })
}
