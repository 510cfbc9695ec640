//! What the host looks like: the cgroup layout, the cgroup mounts
//! (`/proc/self/mountinfo`) and the runtime's own cgroups (`/proc/self/cgroup`).

use std::path::{Path, PathBuf};

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, TMPFS_MAGIC};
use serde::{Deserialize, Serialize};

use crate::{fsutil, CgroupError};

/// Where every cgroup layout is mounted on a normal host.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// Where the hybrid layout mounts its cgroup2 tree.
const HYBRID_UNIFIED: &str = "/sys/fs/cgroup/unified";

/// How the host's cgroups are organised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// One cgroup v1 hierarchy per controller (or group of controllers), no cgroup2.
    V1,
    /// cgroup v1 hierarchies plus a cgroup2 tree at `/sys/fs/cgroup/unified`.
    Hybrid,
    /// One cgroup2 tree at `/sys/fs/cgroup`.
    V2,
}

/// Detects the layout the way runc does: `/sys/fs/cgroup` is cgroup2 (pure v2),
/// or a tmpfs holding v1 hierarchies, with (hybrid) or without (v1) a cgroup2
/// mount at `/sys/fs/cgroup/unified`.
pub fn detect_layout() -> Result<Layout, CgroupError> {
    let root = fs_type(Path::new(CGROUP_ROOT))?;
    if root == CGROUP2_SUPER_MAGIC {
        return Ok(Layout::V2);
    }
    if root != TMPFS_MAGIC {
        return Err(CgroupError::Layout(format!(
            "{CGROUP_ROOT} is neither a cgroup2 mount nor a tmpfs holding cgroup v1 hierarchies"
        )));
    }
    match fs_type(Path::new(HYBRID_UNIFIED)) {
        Ok(t) if t == CGROUP2_SUPER_MAGIC => Ok(Layout::Hybrid),
        _ => Ok(Layout::V1),
    }
}

fn fs_type(path: &Path) -> Result<nix::sys::statfs::FsType, CgroupError> {
    statfs(path)
        .map(|s| s.filesystem_type())
        .map_err(|source| CgroupError::Statfs {
            path: path.to_path_buf(),
            source,
        })
}

/// One cgroup or cgroup2 mount from mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    /// The path inside the hierarchy that is mounted (field 4, usually `/`).
    pub root: PathBuf,
    pub mountpoint: PathBuf,
    /// `cgroup2` rather than `cgroup`.
    pub v2: bool,
    /// The super options: for v1 they name the controllers (`cpu`, `name=systemd`).
    pub super_options: Vec<String>,
}

/// One line of `/proc/<pid>/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnCgroup {
    /// `["cpu", "cpuacct"]`, `["name=systemd"]`; empty for the cgroup2 line `0::/`.
    pub controllers: Vec<String>,
    /// The path inside that hierarchy.
    pub path: PathBuf,
}

/// Everything about the host that planning a cgroup needs.
#[derive(Debug, Clone)]
pub(crate) struct HostCgroups {
    pub layout: Layout,
    pub mounts: Vec<CgroupMount>,
    pub own: Vec<OwnCgroup>,
}

impl HostCgroups {
    /// Reads the live host: layout, `/proc/self/mountinfo`, `/proc/self/cgroup`.
    pub fn read() -> Result<Self, CgroupError> {
        let layout = detect_layout()?;
        let mountinfo_path = Path::new("/proc/self/mountinfo");
        let mounts = parse_mountinfo(&fsutil::read(mountinfo_path)?, mountinfo_path)?;
        let cgroup_path = Path::new("/proc/self/cgroup");
        let own = parse_proc_cgroup(&fsutil::read(cgroup_path)?, cgroup_path)?;
        Ok(Self {
            layout,
            mounts,
            own,
        })
    }
}

/// Keeps the `cgroup` and `cgroup2` mounts of a mountinfo text.
pub(crate) fn parse_mountinfo(text: &str, source: &Path) -> Result<Vec<CgroupMount>, CgroupError> {
    let mut mounts = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let malformed = || CgroupError::Parse {
            path: source.to_path_buf(),
            detail: format!("malformed mountinfo line {line:?}"),
        };
        let (left, right) = line.split_once(" - ").ok_or_else(malformed)?;
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 6 || right.len() < 3 {
            return Err(malformed());
        }
        let v2 = match right[0] {
            "cgroup" => false,
            "cgroup2" => true,
            _ => continue,
        };
        mounts.push(CgroupMount {
            root: PathBuf::from(unescape_mountinfo(left[3])),
            mountpoint: PathBuf::from(unescape_mountinfo(left[4])),
            v2,
            super_options: right[2].split(',').map(str::to_string).collect(),
        });
    }
    Ok(mounts)
}

/// Decodes the `\NNN` octal escapes mountinfo uses for space, tab, newline and `\`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/<pid>/cgroup`: `ID:CONTROLLERS:PATH` per line.
pub(crate) fn parse_proc_cgroup(text: &str, source: &Path) -> Result<Vec<OwnCgroup>, CgroupError> {
    let mut own = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CgroupError::Parse {
                path: source.to_path_buf(),
                detail: format!("malformed line {line:?}"),
            });
        };
        own.push(OwnCgroup {
            controllers: controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            path: PathBuf::from(path),
        });
    }
    Ok(own)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// This project's build host: hybrid, cpu and cpuacct separate, no net_cls.
    pub const HYBRID_MOUNTINFO: &str = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    pub const HYBRID_PROC_CGROUP: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/d376
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

    #[test]
    fn mountinfo_keeps_only_cgroup_mounts() {
        let mounts = parse_mountinfo(HYBRID_MOUNTINFO, Path::new("mi")).unwrap();
        assert_eq!(mounts.len(), 10);
        assert_eq!(mounts[0].mountpoint, Path::new("/sys/fs/cgroup/cpu"));
        assert_eq!(mounts[0].super_options, ["rw", "cpu"]);
        assert!(!mounts[0].v2);
        assert!(mounts[9].v2);
        assert_eq!(mounts[9].root, Path::new("/"));
    }

    #[test]
    fn mountinfo_unescapes_paths_and_rejects_garbage() {
        let line = "1 2 0:3 /a\\040b /sys/fs/cgroup/x\\134y rw - cgroup cgroup rw,pids\n";
        let mounts = parse_mountinfo(line, Path::new("mi")).unwrap();
        assert_eq!(mounts[0].root, Path::new("/a b"));
        assert_eq!(mounts[0].mountpoint, Path::new("/sys/fs/cgroup/x\\y"));
        assert!(parse_mountinfo("garbage line\n", Path::new("mi")).is_err());
    }

    #[test]
    fn proc_cgroup_lines() {
        let own = parse_proc_cgroup(HYBRID_PROC_CGROUP, Path::new("pc")).unwrap();
        assert_eq!(own[0].controllers, ["name=systemd"]);
        assert_eq!(own[5].path, Path::new("/process_api/d376"));
        assert!(own[9].controllers.is_empty());
        assert!(parse_proc_cgroup("nonsense\n", Path::new("pc")).is_err());
    }

    #[test]
    fn proc_cgroup_joint_controllers_and_colons_in_path() {
        let own = parse_proc_cgroup("4:cpu,cpuacct:/a:b\n", Path::new("pc")).unwrap();
        assert_eq!(own[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(own[0].path, Path::new("/a:b"));
    }
}
