//! `linux.sysctl`: written under the container's /proc/sys, through a file
//! verified to live on procfs.

use std::io::Write;
use std::path::PathBuf;

use crate::ProcessError;

/// Does `key` name a file under /proc/sys: parts separated by `.` or `/`,
/// none empty or `..`?
fn valid_sysctl_key(key: &str) -> bool {
    !key.is_empty() && !key.split(['.', '/']).any(|p| p.is_empty() || p == "..")
}

/// One `linux.sysctl` entry, planned by the runtime: the /proc/sys file
/// its key names and the value init writes there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    key: String,
    path: PathBuf,
    value: String,
}

impl Sysctl {
    /// `key` (`net.ipv4.ip_forward` or `net/ipv4/ip_forward`) set to
    /// `value`; None when the key names no file under /proc/sys.
    pub fn new(key: &str, value: &str) -> Option<Sysctl> {
        valid_sysctl_key(key).then(|| Sysctl {
            key: key.to_string(),
            path: PathBuf::from("/proc/sys").join(key.replace('.', "/")),
            value: value.to_string(),
        })
    }
}

/// Write every sysctl through a file opened without following symlinks and
/// verified to be on procfs (a container cannot redirect the write by
/// mounting or linking something over /proc/sys).
pub fn write_all(sysctls: &[Sysctl]) -> Result<(), ProcessError> {
    for Sysctl { key, path, value } in sysctls {
        let io = |source: std::io::Error| ProcessError::Io {
            what: format!("write sysctl {key} ({})", path.display()),
            source,
        };
        let mut file = berth_rootfs::procfs::open_proc_file_for_write(path)?;
        file.write_all(value.as_bytes()).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_proc_sys_paths() {
        assert_eq!(
            Sysctl::new("net.ipv4.ip_forward", "1").unwrap().path,
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
    }

    #[test]
    fn traversal_keys_are_refused() {
        assert!(Sysctl::new("net..x", "1").is_none());
        assert!(Sysctl::new("net/../../etc", "1").is_none());
        assert!(Sysctl::new("", "1").is_none());
    }
}
