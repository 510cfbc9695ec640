//! `linux.sysctl`: written under the container's /proc/sys, through a file
//! verified to live on procfs.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use crate::ProcessError;

/// Does `key` name a file under /proc/sys: parts separated by `.` or `/`,
/// none empty or `..`?
pub fn valid_sysctl_key(key: &str) -> bool {
    !key.is_empty() && !key.split(['.', '/']).any(|p| p.is_empty() || p == "..")
}

/// The /proc/sys file of a sysctl key (`net.ipv4.ip_forward`).
fn path_of(key: &str) -> Result<PathBuf, ProcessError> {
    if !valid_sysctl_key(key) {
        return Err(ProcessError::Config(format!(
            "linux.sysctl: invalid key {key:?}"
        )));
    }
    Ok(PathBuf::from("/proc/sys").join(key.replace('.', "/")))
}

/// Write every sysctl through a file opened without following symlinks and
/// verified to be on procfs (a container cannot redirect the write by
/// mounting or linking something over /proc/sys).
pub fn write_all(sysctl: &HashMap<String, String>) -> Result<(), ProcessError> {
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        let path = path_of(key)?;
        let io = |source: std::io::Error| ProcessError::Io {
            what: format!("write sysctl {key} ({})", path.display()),
            source,
        };
        let mut file = berth_rootfs::procfs::open_proc_file_for_write(&path)?;
        file.write_all(sysctl[key].as_bytes()).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_proc_sys_paths() {
        assert_eq!(
            path_of("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
    }

    #[test]
    fn traversal_keys_are_refused() {
        assert!(path_of("net..x").is_err());
        assert!(path_of("net/../../etc").is_err());
        assert!(path_of("").is_err());
    }
}
