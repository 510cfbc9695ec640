//! The error type of this crate: every variant names the step and the path.

use std::fmt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

/// Where an operation happened: the container path, the host path, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// Path as the container sees it (a mount destination, a masked path...).
    pub dest: Option<PathBuf>,
    /// Path on the host (a bind source, the rootfs...).
    pub host: Option<PathBuf>,
}

impl Location {
    /// A container path.
    pub fn dest(dest: impl AsRef<Path>) -> Self {
        Location {
            dest: Some(dest.as_ref().to_path_buf()),
            host: None,
        }
    }

    /// A host path.
    pub fn host(host: impl AsRef<Path>) -> Self {
        Location {
            dest: None,
            host: Some(host.as_ref().to_path_buf()),
        }
    }

    /// A host source and its container destination.
    pub fn both(host: impl AsRef<Path>, dest: impl AsRef<Path>) -> Self {
        Location {
            dest: Some(dest.as_ref().to_path_buf()),
            host: Some(host.as_ref().to_path_buf()),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, &self.dest) {
            (Some(h), Some(d)) => write!(f, "{:?} on {:?}", h, d),
            (Some(h), None) => write!(f, "{:?}", h),
            (None, Some(d)) => write!(f, "{:?}", d),
            (None, None) => Ok(()),
        }
    }
}

/// Errors of root filesystem setup. The errno, where there is one, is the
/// error's `source()`.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A syscall failed.
    #[error("{step} {at}")]
    Sys {
        /// What was being done ("mount", "mkdir", "pivot_root"...).
        step: &'static str,
        /// The paths involved.
        at: Location,
        /// The errno.
        #[source]
        errno: Errno,
    },
    /// mount(2) failed (runc's wording).
    #[error("mount {source_spec:?} on {dest:?}{}, flags: {flags:#x}{}", type_suffix(.fstype), data_suffix(.data))]
    Mount {
        /// The source argument.
        source_spec: String,
        /// Container destination.
        dest: PathBuf,
        /// The filesystem type ("" for binds and remounts).
        fstype: String,
        /// The mount(2) flags.
        flags: u64,
        /// The data argument.
        data: String,
        /// The errno.
        #[source]
        errno: Errno,
    },
    /// One spec mount failed (runc's wording); the cause is the source.
    #[error("error mounting {source_spec:?} to rootfs at {dest:?}")]
    SpecMount {
        /// The spec mount's source.
        source_spec: String,
        /// The spec mount's destination.
        dest: PathBuf,
        /// What failed.
        #[source]
        cause: Box<RootfsError>,
    },
    /// A step failed; the cause is the source.
    #[error("{step}")]
    Step {
        /// What was being done ("can't mask path \"/proc/kcore\"").
        step: String,
        /// What failed.
        #[source]
        cause: Box<RootfsError>,
    },
    /// An I/O operation of the standard library failed.
    #[error("{step} {at}")]
    Io {
        /// What was being done.
        step: &'static str,
        /// The paths involved.
        at: Location,
        /// The I/O error (with its raw OS error).
        #[source]
        source: std::io::Error,
    },
    /// procfs or sysfs asked on something other than a real directory.
    #[error("filesystem {fstype:?} must be mounted on ordinary directory (destination {dest:?})")]
    NotOrdinaryDirectory {
        /// "proc" or "sysfs".
        fstype: String,
        /// Container destination.
        dest: PathBuf,
    },
    /// Something other than procfs asked on /proc.
    #[error("{dest:?} cannot be mounted because it is not of type proc")]
    NotProc {
        /// Container destination.
        dest: PathBuf,
    },
    /// A mount under /proc that is not one of the lxcfs-style files.
    #[error("{dest:?} cannot be mounted because it is inside /proc")]
    InsideProc {
        /// Container destination.
        dest: PathBuf,
    },
    /// A mount destination that resolves to the root of the rootfs.
    #[error("mountpoint {dest:?} is on the top of rootfs {rootfs:?}")]
    OnTopOfRootfs {
        /// Container destination.
        dest: PathBuf,
        /// Host rootfs.
        rootfs: PathBuf,
    },
    /// A resolved path left the rootfs (should be impossible with openat2).
    #[error("mountpoint {dest:?} is outside of rootfs {rootfs:?} (resolved to {resolved:?})")]
    OutsideRootfs {
        /// Container destination.
        dest: PathBuf,
        /// Host rootfs.
        rootfs: PathBuf,
        /// Where it resolved.
        resolved: PathBuf,
    },
    /// A config mount berth refuses (found by the planner, before
    /// anything is made): an idmapped mount runc 1.2 refuses, a bind
    /// mount without source, an unmapped `uid=` of a rootless container,
    /// a device node that cannot be made.
    #[error("{field}: {reason}")]
    Config {
        /// The JSON path: `mounts[3]`, `mounts[3].options`.
        field: String,
        /// Why (runc's words where runc has them).
        reason: String,
    },
    /// Making the idmapped copy of a bind source failed.
    #[error("{step} {source_path:?}{}", idmap_hint(*.errno))]
    Idmap {
        /// "open_tree(OPEN_TREE_CLONE)", "set MOUNT_ATTR_IDMAP on", ...
        step: &'static str,
        /// The host source.
        source_path: PathBuf,
        /// The errno.
        #[source]
        errno: Errno,
    },
    /// A field has a value berth cannot act on.
    #[error("{field}={value:?} is not supported: {reason}")]
    InvalidValue {
        /// The spec field.
        field: &'static str,
        /// Its value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// A node exists where a device is wanted, but is not that device.
    #[error("{path:?} exists but is not the expected device {expected}")]
    WrongDevice {
        /// Container path.
        path: PathBuf,
        /// "c 1:3" style description.
        expected: String,
    },
    /// /proc is not procfs where we need to write to or read from it.
    #[error("{path:?} is not on procfs")]
    NotProcfs {
        /// The path that was checked.
        path: PathBuf,
    },
    /// The recursive mount attribute options need mount_setattr(2).
    #[error("recursive mount option {option} on {dest:?} needs mount_setattr(2), which this kernel lacks (Linux 5.12+)")]
    RecursiveAttrUnsupported {
        /// The first recursive option of the mount.
        option: String,
        /// Container destination.
        dest: PathBuf,
        /// ENOSYS.
        #[source]
        errno: Errno,
    },
}

/// runc's hint when the kernel refuses MOUNT_ATTR_IDMAP with EINVAL.
fn idmap_hint(errno: Errno) -> &'static str {
    if errno == Errno::EINVAL {
        " (maybe the filesystem used doesn't support idmap mounts on this kernel?)"
    } else {
        ""
    }
}

fn type_suffix(fstype: &str) -> String {
    if fstype.is_empty() {
        String::new()
    } else {
        format!(", type {fstype}")
    }
}

fn data_suffix(data: &str) -> String {
    if data.is_empty() {
        String::new()
    } else {
        format!(", data: {data}")
    }
}

impl RootfsError {
    /// Wraps this error under a step description.
    pub fn context(self, step: impl Into<String>) -> RootfsError {
        RootfsError::Step {
            step: step.into(),
            cause: Box::new(self),
        }
    }

    /// A failed syscall at a container path.
    pub fn at_dest(step: &'static str, dest: impl AsRef<Path>) -> impl FnOnce(Errno) -> Self {
        let at = Location::dest(dest);
        move |errno| RootfsError::Sys { step, at, errno }
    }

    /// A failed syscall at a host path.
    pub fn at_host(step: &'static str, host: impl AsRef<Path>) -> impl FnOnce(Errno) -> Self {
        let at = Location::host(host);
        move |errno| RootfsError::Sys { step, at, errno }
    }

    /// A failed syscall involving a host source and a container destination.
    pub fn at_both(
        step: &'static str,
        host: impl AsRef<Path>,
        dest: impl AsRef<Path>,
    ) -> impl FnOnce(Errno) -> Self {
        let at = Location::both(host, dest);
        move |errno| RootfsError::Sys { step, at, errno }
    }

    /// The errno of this error, if it carries one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            RootfsError::Sys { errno, .. }
            | RootfsError::Mount { errno, .. }
            | RootfsError::Idmap { errno, .. }
            | RootfsError::RecursiveAttrUnsupported { errno, .. } => Some(*errno),
            RootfsError::SpecMount { cause, .. } | RootfsError::Step { cause, .. } => cause.errno(),
            RootfsError::Io { source, .. } => source.raw_os_error().map(Errno::from_raw),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn sys_error_names_step_and_paths_and_keeps_errno() {
        let e = RootfsError::at_both("mount", "/src", "/etc/hostname")(Errno::EPERM);
        assert_eq!(e.to_string(), r#"mount "/src" on "/etc/hostname""#);
        let src = e.source().unwrap().downcast_ref::<Errno>().unwrap();
        assert_eq!(*src, Errno::EPERM);
        assert_eq!(e.errno(), Some(Errno::EPERM));
    }

    #[test]
    fn mount_error_names_everything() {
        let e = RootfsError::Mount {
            source_spec: "tmpfs".into(),
            dest: "/dev".into(),
            fstype: "tmpfs".into(),
            flags: 0x2,
            data: "mode=755".into(),
            errno: Errno::EINVAL,
        };
        assert_eq!(
            e.to_string(),
            r#"mount "tmpfs" on "/dev", type tmpfs, flags: 0x2, data: mode=755"#
        );
        let wrapped = RootfsError::SpecMount {
            source_spec: "tmpfs".into(),
            dest: "/dev".into(),
            cause: Box::new(e),
        };
        assert_eq!(
            wrapped.to_string(),
            r#"error mounting "tmpfs" to rootfs at "/dev""#
        );
        assert_eq!(wrapped.errno(), Some(Errno::EINVAL));
    }

    #[test]
    fn proc_message_matches_runc() {
        let e = RootfsError::NotOrdinaryDirectory {
            fstype: "proc".into(),
            dest: "/proc".into(),
        };
        assert!(e
            .to_string()
            .starts_with(r#"filesystem "proc" must be mounted on ordinary directory"#));
    }
}
