//! /dev population: default and spec device nodes, /dev/ptmx and the
//! standard symlinks.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_spec::{LinuxDevice, LinuxDeviceType};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, makedev, umask, Mode, SFlag};
use nix::unistd::{symlinkat, unlinkat, UnlinkatFlags};

use crate::error::RootfsError;
use crate::mountops;
use crate::path;
use crate::root::RootDir;
use crate::sys::MountSys;

/// A device node to create in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Container path, cleaned.
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: SFlag,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl DeviceNode {
    fn char_device(name: &str, major: u64, minor: u64) -> DeviceNode {
        DeviceNode {
            path: Path::new("/dev").join(name),
            kind: SFlag::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        }
    }

    /// Converts `linux.devices[index]`; a refusal names the field.
    pub fn from_spec(index: usize, d: &LinuxDevice) -> Result<DeviceNode, RootfsError> {
        let refuse = |field: &str, reason: String| RootfsError::Config {
            field: format!("linux.devices[{index}].{field}"),
            reason,
        };
        let kind = match d.typ {
            LinuxDeviceType::Char | LinuxDeviceType::Unbuffered => SFlag::S_IFCHR,
            LinuxDeviceType::Block => SFlag::S_IFBLK,
            LinuxDeviceType::Fifo => SFlag::S_IFIFO,
            LinuxDeviceType::All => {
                let kind = d.typ.as_str();
                let reason = format!("{kind} is not a valid device type for device {:?}", d.path);
                return Err(refuse("type", reason));
            }
        };
        let number = |n: i64, field: &str| {
            u64::try_from(n)
                .map_err(|_| refuse(field, format!("{n}: device numbers cannot be negative")))
        };
        let path = path::clean(&d.path);
        if path::split_last(&path).is_none() {
            let reason = format!("{:?}: a device needs a file name", d.path);
            return Err(refuse("path", reason));
        }
        Ok(DeviceNode {
            path,
            kind,
            major: number(d.major, "major")?,
            minor: number(d.minor, "minor")?,
            mode: d.file_mode.unwrap_or(0o666) & 0o7777,
            uid: d.uid.unwrap_or(0),
            gid: d.gid.unwrap_or(0),
        })
    }

    /// "c 1:3" style description.
    pub fn describe(&self) -> String {
        let letter = match self.kind {
            SFlag::S_IFBLK => 'b',
            SFlag::S_IFIFO => 'p',
            _ => 'c',
        };
        format!("{} {}:{}", letter, self.major, self.minor)
    }

    fn rdev(&self) -> libc::dev_t {
        makedev(self.major, self.minor)
    }
}

/// The devices every container gets (runc's defaults), all `crw-rw-rw-`.
pub fn default_devices() -> Vec<DeviceNode> {
    vec![
        DeviceNode::char_device("null", 1, 3),
        DeviceNode::char_device("zero", 1, 5),
        DeviceNode::char_device("full", 1, 7),
        DeviceNode::char_device("random", 1, 8),
        DeviceNode::char_device("urandom", 1, 9),
        DeviceNode::char_device("tty", 5, 0),
    ]
}

/// Default devices, then `linux.devices` (a spec entry replaces a default
/// of the same path). /dev/ptmx is left out: it is a symlink to pts/ptmx.
/// The planner's one parse of `linux.devices`; init creates these nodes.
pub fn devices_to_create(spec: &[LinuxDevice]) -> Result<Vec<DeviceNode>, RootfsError> {
    let mut nodes = default_devices();
    for (index, d) in spec.iter().enumerate() {
        let node = DeviceNode::from_spec(index, d)?;
        nodes.retain(|n| n.path != node.path);
        nodes.push(node);
    }
    nodes.retain(|n| n.path != Path::new("/dev/ptmx"));
    Ok(nodes)
}

/// How device nodes get into /dev.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceMethod {
    /// mknod (in a tmpfs /dev), falling back to a bind on EPERM.
    Mknod,
    /// Bind-mount the host's node over an empty file (a /dev that is part
    /// of the rootfs: do not leave device nodes in it).
    Bind,
}

/// Creates every node, with umask 0 so that modes are exact.
pub fn create_devices(
    root: &RootDir,
    nodes: &[DeviceNode],
    method: DeviceMethod,
) -> Result<(), RootfsError> {
    let old_umask = umask(Mode::empty());
    let mut parents = ParentDir::default();
    let result = nodes
        .iter()
        .try_for_each(|node| create_device(root, &mut parents, node, method));
    umask(old_umask);
    result
}

/// The directory the last device went into (`/dev` for all the defaults):
/// resolved once, not once per device. Nothing runs in the container yet,
/// so it cannot change in between.
#[derive(Default)]
struct ParentDir {
    last: Option<(PathBuf, OwnedFd, PathBuf)>,
}

impl ParentDir {
    /// An fd of container directory `parent` (created if missing) and the
    /// path it really is at.
    fn open(
        &mut self,
        root: &RootDir,
        parent: &Path,
    ) -> Result<(BorrowedFd<'_>, &Path), RootfsError> {
        if !matches!(&self.last, Some((p, _, _)) if p == parent) {
            let dir = root.mkdir_all(parent)?;
            let real = root.container_path_of(dir.as_fd(), parent)?;
            self.last = Some((parent.to_path_buf(), dir, real));
        }
        let (_, dir, real) = self.last.as_ref().expect("just set");
        Ok((dir.as_fd(), real))
    }
}

fn create_device(
    root: &RootDir,
    parents: &mut ParentDir,
    node: &DeviceNode,
    method: DeviceMethod,
) -> Result<(), RootfsError> {
    let (parent, name) = path::split_last(&node.path).ok_or_else(|| RootfsError::InvalidValue {
        field: "linux.devices[].path",
        value: node.path.to_string_lossy().into_owned(),
        reason: "a device needs a file name",
    })?;
    let (dir, real_parent) = parents.open(root, &parent)?;
    let at = real_parent.join(&name);
    if method == DeviceMethod::Mknod {
        match mknod_device(root.sys(), dir, name.as_os_str(), node, &at) {
            Err(e) if e.errno() == Some(Errno::EPERM) => {}
            other => return other,
        }
    }
    bind_device(root.sys(), dir, name.as_os_str(), node, &at)
}

fn mknod_device(
    sys: &dyn MountSys,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    node: &DeviceNode,
    at: &Path,
) -> Result<(), RootfsError> {
    let perm = Mode::from_bits_truncate(node.mode);
    match sys.mknodat(dir, name, node.kind, perm, node.rdev()) {
        Ok(()) => {}
        Err(Errno::EEXIST) => return check_existing_node(dir, name, node, at),
        Err(errno) => return Err(RootfsError::at_dest("mknod", at)(errno)),
    }
    sys.chownat(dir, name, node.uid, node.gid)
        .map_err(RootfsError::at_dest("chown", at))
}

/// An existing entry is accepted only if it is that very device.
fn check_existing_node(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    node: &DeviceNode,
    at: &Path,
) -> Result<(), RootfsError> {
    let st = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(RootfsError::at_dest("stat", at))?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind == node.kind && (kind == SFlag::S_IFIFO || st.st_rdev == node.rdev()) {
        Ok(())
    } else {
        Err(RootfsError::WrongDevice {
            path: at.to_path_buf(),
            expected: node.describe(),
        })
    }
}

/// Binds the host's node over an empty file; a symlink in the way (a
/// hostile rootfs) is removed first, never followed.
fn bind_device(
    sys: &dyn MountSys,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    node: &DeviceNode,
    at: &Path,
) -> Result<(), RootfsError> {
    let target = empty_file_target(dir, name, at)?;
    let host = &node.path;
    let src = nix::fcntl::open(
        host,
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(RootfsError::at_both("open host device", host, at))?;
    mountops::bind(
        sys,
        src.as_fd(),
        &host.to_string_lossy(),
        target.as_fd(),
        at,
        false,
    )
}

pub(crate) fn empty_file_target(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    at: &Path,
) -> Result<OwnedFd, RootfsError> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK => {
            unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
                .map_err(RootfsError::at_dest("remove symlink", at))?;
            create_empty_file(dir, name, at)?;
        }
        Ok(_) => {}
        Err(Errno::ENOENT) => create_empty_file(dir, name, at)?,
        Err(errno) => return Err(RootfsError::at_dest("stat", at)(errno)),
    }
    openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(RootfsError::at_dest("open", at))
}

fn create_empty_file(dir: BorrowedFd<'_>, name: &OsStr, at: &Path) -> Result<(), RootfsError> {
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    openat(dir, name, flags, Mode::from_bits_truncate(0o644))
        .map(drop)
        .map_err(RootfsError::at_dest("create file", at))
}

/// /dev/ptmx becomes a symlink to pts/ptmx (the container's devpts).
pub fn setup_ptmx(root: &RootDir) -> Result<(), RootfsError> {
    let dev = root.mkdir_all(Path::new("/dev"))?;
    match unlinkat(dev.as_fd(), "ptmx", UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(errno) => return Err(RootfsError::at_dest("remove", "/dev/ptmx")(errno)),
    }
    symlinkat("pts/ptmx", dev.as_fd(), "ptmx").map_err(RootfsError::at_dest("symlink", "/dev/ptmx"))
}

/// The standard /dev symlinks; /dev/core only where the kernel has
/// /proc/kcore. Existing entries are left alone.
pub fn setup_dev_symlinks(root: &RootDir) -> Result<(), RootfsError> {
    let dev = root.mkdir_all(Path::new("/dev"))?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(errno) => {
                return Err(RootfsError::at_dest(
                    "symlink",
                    Path::new("/dev").join(name),
                )(errno))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_device(json: &str) -> LinuxDevice {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_are_runc_defaults() {
        let d = default_devices();
        let names: Vec<String> = d
            .iter()
            .map(|n| format!("{} {}", n.path.display(), n.describe()))
            .collect();
        assert_eq!(
            names,
            [
                "/dev/null c 1:3",
                "/dev/zero c 1:5",
                "/dev/full c 1:7",
                "/dev/random c 1:8",
                "/dev/urandom c 1:9",
                "/dev/tty c 5:0"
            ]
        );
        assert!(d
            .iter()
            .all(|n| n.mode == 0o666 && n.uid == 0 && n.gid == 0));
    }

    #[test]
    fn spec_device_overrides_default_and_ptmx_is_skipped() {
        let spec = [
            spec_device(
                r#"{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":384,"uid":1,"gid":2}"#,
            ),
            spec_device(r#"{"path":"/dev/ptmx","type":"c","major":5,"minor":2}"#),
            spec_device(r#"{"path":"/dev/net/tun","type":"c","major":10,"minor":200}"#),
            spec_device(r#"{"path":"/dev/sda","type":"b","major":8,"minor":0}"#),
            spec_device(r#"{"path":"/dev/fifo","type":"p"}"#),
        ];
        let nodes = devices_to_create(&spec).unwrap();
        let null: Vec<_> = nodes
            .iter()
            .filter(|n| n.path == Path::new("/dev/null"))
            .collect();
        assert_eq!(null.len(), 1);
        assert_eq!((null[0].mode, null[0].uid, null[0].gid), (0o600, 1, 2));
        assert!(!nodes.iter().any(|n| n.path == Path::new("/dev/ptmx")));
        let tun = nodes
            .iter()
            .find(|n| n.path == Path::new("/dev/net/tun"))
            .unwrap();
        assert_eq!((tun.kind, tun.mode), (SFlag::S_IFCHR, 0o666));
        assert_eq!(
            nodes
                .iter()
                .find(|n| n.path == Path::new("/dev/sda"))
                .unwrap()
                .kind,
            SFlag::S_IFBLK
        );
        assert_eq!(
            nodes
                .iter()
                .find(|n| n.path == Path::new("/dev/fifo"))
                .unwrap()
                .kind,
            SFlag::S_IFIFO
        );
    }

    #[test]
    fn type_a_and_negative_numbers_are_errors() {
        let a = spec_device(r#"{"path":"/dev/x","type":"a"}"#);
        let e = DeviceNode::from_spec(2, &a).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"linux.devices[2].type: a is not a valid device type for device "/dev/x""#
        );
        let neg = spec_device(r#"{"path":"/dev/x","type":"c","major":-1,"minor":0}"#);
        let e = DeviceNode::from_spec(0, &neg).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.devices[0].major: -1: device numbers cannot be negative"
        );
        let root = spec_device(r#"{"path":"/","type":"c","major":1,"minor":3}"#);
        let e = DeviceNode::from_spec(1, &root).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"linux.devices[1].path: "/": a device needs a file name"#
        );
    }
}
