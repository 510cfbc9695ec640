//! Lexical path handling for container paths (no filesystem access).

use std::path::{Component, Path, PathBuf};

/// Cleans a container path lexically, as if it were absolute: removes `.`,
/// duplicate slashes and `..` (clamped at `/`). `"a/../../b"` gives `"/b"`.
pub fn clean(path: &Path) -> PathBuf {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => parts.push(name),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    let mut cleaned = PathBuf::from("/");
    cleaned.extend(parts);
    cleaned
}

/// The cleaned path relative to `/` (`"."` for the root itself), as passed
/// to openat2 with the rootfs fd as dirfd.
pub fn relative(path: &Path) -> PathBuf {
    let cleaned = clean(path);
    match cleaned.strip_prefix("/") {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Splits a cleaned path into its parent and final name; None for `/`.
pub fn split_last(path: &Path) -> Option<(PathBuf, PathBuf)> {
    let cleaned = clean(path);
    let name = cleaned.file_name()?.to_owned();
    let parent = cleaned.parent().unwrap_or(Path::new("/")).to_path_buf();
    Some((parent, PathBuf::from(name)))
}

/// The host path `rootfs` joined with container path `path`, lexically.
pub fn host_path(rootfs: &Path, path: &Path) -> PathBuf {
    rootfs.join(relative(path))
}

/// Turns a resolved host path back into the container path it is at, when
/// it lies inside `rootfs`.
pub fn container_path(rootfs: &Path, resolved: &Path) -> Option<PathBuf> {
    resolved
        .strip_prefix(rootfs)
        .ok()
        .map(|rel| Path::new("/").join(rel))
}

/// Files under /proc that may be covered by a mount (what lxcfs emulates).
const ALLOWED_UNDER_PROC: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Where a (resolved, cleaned) container path lies with respect to /proc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcPlacement {
    /// Not /proc and not under it.
    Outside,
    /// Exactly /proc.
    ProcItself,
    /// Under /proc, one of the files that may be covered.
    AllowedInside,
    /// Under /proc, anything else.
    ForbiddenInside,
}

/// Classifies a resolved container path against /proc.
pub fn proc_placement(path: &Path) -> ProcPlacement {
    let cleaned = clean(path);
    if cleaned == Path::new("/proc") {
        ProcPlacement::ProcItself
    } else if !cleaned.starts_with("/proc") {
        ProcPlacement::Outside
    } else if ALLOWED_UNDER_PROC.iter().any(|a| cleaned == Path::new(a)) {
        ProcPlacement::AllowedInside
    } else {
        ProcPlacement::ForbiddenInside
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(p: &str) -> String {
        clean(Path::new(p)).to_string_lossy().into_owned()
    }

    #[test]
    fn clean_removes_dots_and_clamps_dotdot() {
        assert_eq!(c("/dev//pts/"), "/dev/pts");
        assert_eq!(c("dev/./shm"), "/dev/shm");
        assert_eq!(c("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(c("/a/b/../../../c"), "/c");
        assert_eq!(c(""), "/");
        assert_eq!(c("/"), "/");
        assert_eq!(c(".."), "/");
    }

    #[test]
    fn relative_is_dot_for_root() {
        assert_eq!(relative(Path::new("/")), Path::new("."));
        assert_eq!(relative(Path::new("/../")), Path::new("."));
        assert_eq!(
            relative(Path::new("/sys/fs/cgroup")),
            Path::new("sys/fs/cgroup")
        );
    }

    #[test]
    fn split_last_gives_parent_and_name() {
        let (p, n) = split_last(Path::new("/dev/net/tun")).unwrap();
        assert_eq!(
            (p.as_path(), n.as_path()),
            (Path::new("/dev/net"), Path::new("tun"))
        );
        let (p, n) = split_last(Path::new("/etc/../hostname")).unwrap();
        assert_eq!(
            (p.as_path(), n.as_path()),
            (Path::new("/"), Path::new("hostname"))
        );
        assert!(split_last(Path::new("/..")).is_none());
    }

    #[test]
    fn host_and_container_paths() {
        let rootfs = Path::new("/b/rootfs");
        assert_eq!(
            host_path(rootfs, Path::new("/../etc")),
            Path::new("/b/rootfs/etc")
        );
        assert_eq!(
            container_path(rootfs, Path::new("/b/rootfs/dev/pts")),
            Some(PathBuf::from("/dev/pts"))
        );
        assert_eq!(container_path(rootfs, rootfs), Some(PathBuf::from("/")));
        assert_eq!(container_path(rootfs, Path::new("/b/rootfsx")), None);
        assert_eq!(container_path(rootfs, Path::new("/etc")), None);
    }

    #[test]
    fn proc_placement_classifies() {
        use ProcPlacement::*;
        assert_eq!(proc_placement(Path::new("/proc")), ProcItself);
        assert_eq!(proc_placement(Path::new("/proc/")), ProcItself);
        assert_eq!(proc_placement(Path::new("/proc/cpuinfo")), AllowedInside);
        assert_eq!(
            proc_placement(Path::new("/proc/sys/kernel/ns_last_pid")),
            AllowedInside
        );
        assert_eq!(proc_placement(Path::new("/proc/self")), ForbiddenInside);
        assert_eq!(proc_placement(Path::new("/proc/sys")), ForbiddenInside);
        assert_eq!(proc_placement(Path::new("/procfoo")), Outside);
        assert_eq!(proc_placement(Path::new("/etc")), Outside);
    }
}
