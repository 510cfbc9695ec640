//! The mount sequences of a few configs, recorded by a [`MountSys`] that
//! does not mount (no root needed): the rootfs is a directory of the test,
//! where paths are resolved and directories, files and symlinks made for
//! real, as in a container's init.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use berth_spec::Mount;
use berth_sys::mount::MountAttr;
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};

use crate::mountplan::ContainerUserns;
use crate::root::fd_path;
use crate::sys::MountSys;
use crate::{
    finish_rootfs_with, prepare_rootfs_with, BindSources, CgroupMountSource, MountPlan, RootfsPlan,
};

/// Records every call as one line; paths under the test directory are
/// shown relative to it (`rootfs/data`, `src`).
#[derive(Debug)]
struct Recorder {
    dir: PathBuf,
    calls: RefCell<Vec<String>>,
}

impl Recorder {
    fn new(dir: &Path) -> Recorder {
        Recorder {
            dir: dir.to_path_buf(),
            calls: RefCell::new(Vec::new()),
        }
    }

    fn record(&self, call: String) {
        self.calls.borrow_mut().push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    /// The calls that name `path` (as shown).
    fn calls_on(&self, path: &str) -> Vec<String> {
        let shown = |c: &&String| c.split(' ').any(|word| word == path);
        self.calls.borrow().iter().filter(shown).cloned().collect()
    }

    /// A path as shown: a `/proc/self/fd/N` read back, the test directory
    /// left out.
    fn show(&self, path: &Path) -> String {
        let real = match path.strip_prefix("/proc/self/fd") {
            Ok(_) => nix::fcntl::readlink(path).map_or(path.into(), PathBuf::from),
            Err(_) => path.to_path_buf(),
        };
        match real.strip_prefix(&self.dir) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => real.display().to_string(),
        }
    }

    fn show_fd(&self, fd: BorrowedFd<'_>) -> String {
        self.show(&fd_path(fd))
    }
}

/// Flag names joined with `|` ("-" for none).
fn names(flags: MsFlags) -> String {
    let names: Vec<&str> = flags.iter_names().map(|(name, _)| name).collect();
    match names.is_empty() {
        true => "-".into(),
        false => names.join("|"),
    }
}

impl MountSys for Recorder {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        let mut call = format!("mount {}", source.map_or("-".into(), |s| self.show(s)));
        call += &format!(" {} {}", self.show(target), fstype.unwrap_or("-"));
        call += &format!(" {} {}", names(flags), data.unwrap_or("-"));
        self.record(call);
        Ok(())
    }

    fn mount_setattr(&self, fd: BorrowedFd<'_>, flags: u32, attr: &MountAttr) -> Result<(), Errno> {
        let (set, clr) = (attr.attr_set, attr.attr_clr);
        let recursive = flags & berth_sys::mount::AT_RECURSIVE as u32 != 0;
        let fd = self.show_fd(fd);
        self.record(format!(
            "mount_setattr {fd} set={set:#x} clr={clr:#x} recursive={recursive}"
        ));
        Ok(())
    }

    /// The "tree" is a new fd of what `dirfd` is.
    fn open_tree(&self, dirfd: BorrowedFd<'_>, path: &Path, flags: u32) -> Result<OwnedFd, Errno> {
        assert_eq!(path, Path::new(""), "rootfs clones fds only");
        let recursive = flags & berth_sys::mount::AT_RECURSIVE as u32 != 0;
        let fd = self.show_fd(dirfd);
        self.record(format!("open_tree {fd} recursive={recursive}"));
        dirfd.try_clone_to_owned().map_err(|_| Errno::EBADF)
    }

    fn move_mount(&self, from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Errno> {
        let (from, to) = (self.show_fd(from), self.show_fd(to));
        self.record(format!("move_mount {from} {to}"));
        Ok(())
    }

    /// The "tmpfs" is a directory of the test called `ro-tmpfs`.
    fn readonly_tmpfs(&self) -> Result<OwnedFd, (&'static str, Errno)> {
        self.record("fsmount tmpfs ro".into());
        let dir = self.dir.join("ro-tmpfs");
        std::fs::create_dir_all(&dir).unwrap();
        let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC;
        nix::fcntl::open(&dir, flags, Mode::empty()).map_err(|e| ("open", e))
    }

    fn mknodat(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        kind: SFlag,
        perm: Mode,
        dev: libc::dev_t,
    ) -> Result<(), Errno> {
        let at = Path::new(&self.show_fd(dir)).join(name);
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        let kind = if kind == SFlag::S_IFCHR { "c" } else { "?" };
        let perm = perm.bits();
        let at = at.display();
        self.record(format!("mknod {at} {kind} {major}:{minor} {perm:o}"));
        Ok(())
    }

    fn chownat(&self, dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> Result<(), Errno> {
        let at = Path::new(&self.show_fd(dir)).join(name);
        self.record(format!("chown {} {uid}:{gid}", at.display()));
        Ok(())
    }
}

/// An error and its causes, as the CLI prints them.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text += &format!(": {c}");
        cause = c.source();
    }
    text
}

/// A test directory (`rootfs/` in it), removed at the end.
struct TestDir(PathBuf);

impl TestDir {
    fn new(tag: &str) -> TestDir {
        let name = format!("berth-sys-{tag}-{}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        TestDir(dir.canonicalize().unwrap())
    }

    fn rootfs(&self) -> PathBuf {
        self.0.join("rootfs")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rootfs_plan(rootfs: &Path, mounts: serde_json::Value) -> RootfsPlan {
    let mounts: Vec<Mount> = serde_json::from_value(mounts).unwrap();
    let bundle = rootfs.parent().unwrap_or(rootfs);
    RootfsPlan {
        rootfs: rootfs.to_path_buf(),
        readonly: false,
        mounts: MountPlan::parse(&mounts, bundle, ContainerUserns::None).unwrap(),
        rootfs_propagation: None,
        devices: crate::devices::devices_to_create(&[]).unwrap(),
        masked_paths: Vec::new(),
        readonly_paths: Vec::new(),
        no_pivot: false,
        cgroup: CgroupMountSource::V2 {
            dir: None,
            own_cgroupns: false,
        },
        bind_sources: BindSources::default(),
        host_mount_ns: false,
    }
}

/// A /dev bind mount: the runtime then leaves /dev alone, and the
/// sequences below show only the mounts under test.
fn dev_bind(dir: &TestDir) -> serde_json::Value {
    std::fs::create_dir_all(dir.0.join("dev")).unwrap();
    serde_json::json!({"destination": "/dev", "type": "bind", "source": "dev", "options": ["rbind"]})
}

#[test]
fn a_bind_mount_is_bound_then_remounted_read_only_then_made_private() {
    let dir = TestDir::new("bind");
    std::fs::create_dir_all(dir.0.join("src")).unwrap();
    let plan = rootfs_plan(
        &dir.rootfs(),
        serde_json::json!([dev_bind(&dir),
            {"destination": "/data", "type": "bind", "source": "src",
             "options": ["rbind", "ro", "rprivate"]}]),
    );
    let rec = Recorder::new(&dir.0);
    prepare_rootfs_with(&rec, &plan, &[]).unwrap();
    assert_eq!(
        rec.calls()[..3],
        [
            "mount - / - MS_REC|MS_SLAVE -",
            "mount - rootfs - MS_SLAVE -",
            "mount rootfs rootfs - MS_BIND|MS_REC -",
        ],
        "host / rslave, the rootfs's mount slave, the rootfs bound on itself"
    );
    assert_eq!(
        rec.calls_on("rootfs/data"),
        [
            "mount src rootfs/data - MS_BIND|MS_REC -",
            "mount - rootfs/data - MS_RDONLY|MS_REMOUNT|MS_BIND -",
            "mount - rootfs/data - MS_REC|MS_PRIVATE -",
        ]
    );
    assert!(dir.rootfs().join("data").is_dir(), "mount point made");
    assert_eq!(rec.calls().len(), 7, "{:#?}", rec.calls());
}

#[test]
fn a_tmpfs_gets_its_data_and_is_made_read_only_after_pivot() {
    let dir = TestDir::new("tmpfs");
    let mounts = serde_json::json!([dev_bind(&dir),
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "ro", "size=64k", "mode=755", "rnodev"]}]);
    let mut plan = rootfs_plan(&dir.rootfs(), mounts);
    let rec = Recorder::new(&dir.0);
    prepare_rootfs_with(&rec, &plan, &[]).unwrap();
    assert_eq!(
        rec.calls_on("rootfs/run"),
        [
            "mount tmpfs rootfs/run tmpfs MS_NOSUID size=64k,mode=755",
            "mount_setattr rootfs/run set=0x4 clr=0x0 recursive=true",
        ],
        "read-only deferred: /dev and tmpfs contents are made first"
    );
    // After pivot_root the container's / is the root: the test runs
    // finish in the host's / with nothing mounted (the recorder).
    plan.rootfs = PathBuf::from("/");
    let rec = Recorder::new(&dir.0);
    finish_rootfs_with(&rec, &plan).unwrap();
    assert_eq!(
        rec.calls(),
        ["mount_setattr /run set=0x1 clr=0x0 recursive=false"]
    );
}

#[test]
fn dev_on_tmpfs_gets_device_nodes_ptmx_and_symlinks() {
    let dir = TestDir::new("dev");
    let plan = rootfs_plan(
        &dir.rootfs(),
        serde_json::json!([{"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}]),
    );
    let rec = Recorder::new(&dir.0);
    prepare_rootfs_with(&rec, &plan, &[]).unwrap();
    let calls = rec.calls();
    assert_eq!(
        calls[3..],
        [
            "mount tmpfs rootfs/dev tmpfs MS_NOSUID|MS_STRICTATIME mode=755,size=65536k",
            "mknod rootfs/dev/null c 1:3 666",
            "chown rootfs/dev/null 0:0",
            "mknod rootfs/dev/zero c 1:5 666",
            "chown rootfs/dev/zero 0:0",
            "mknod rootfs/dev/full c 1:7 666",
            "chown rootfs/dev/full 0:0",
            "mknod rootfs/dev/random c 1:8 666",
            "chown rootfs/dev/random 0:0",
            "mknod rootfs/dev/urandom c 1:9 666",
            "chown rootfs/dev/urandom 0:0",
            "mknod rootfs/dev/tty c 5:0 666",
            "chown rootfs/dev/tty 0:0",
        ]
    );
    let dev = dir.rootfs().join("dev");
    let link = |name: &str| std::fs::read_link(dev.join(name)).unwrap();
    assert_eq!(link("ptmx"), Path::new("pts/ptmx"));
    assert_eq!(link("fd"), Path::new("/proc/self/fd"));
    assert_eq!(link("stderr"), Path::new("/proc/self/fd/2"));
}

#[test]
fn dev_in_the_rootfs_gets_the_hosts_nodes_bound_and_a_dev_bind_nothing() {
    let dir = TestDir::new("devbind");
    let rec = Recorder::new(&dir.0);
    prepare_rootfs_with(
        &rec,
        &rootfs_plan(&dir.rootfs(), serde_json::json!([])),
        &[],
    )
    .unwrap();
    assert_eq!(
        rec.calls_on("rootfs/dev/null"),
        ["mount /dev/null rootfs/dev/null - MS_BIND -"]
    );
    assert!(
        dir.rootfs().join("dev/null").is_file(),
        "an empty file to bind on"
    );
    assert_eq!(rec.calls().len(), 3 + 6);

    let rec = Recorder::new(&dir.0);
    let plan = rootfs_plan(&dir.rootfs(), serde_json::json!([dev_bind(&dir)]));
    std::fs::remove_dir_all(dir.rootfs().join("dev")).unwrap();
    prepare_rootfs_with(&rec, &plan, &[]).unwrap();
    assert_eq!(
        rec.calls()[3..],
        ["mount dev rootfs/dev - MS_BIND|MS_REC -"]
    );
    assert!(!dir.rootfs().join("dev/ptmx").exists());
}

#[test]
fn readonly_and_masked_paths_and_the_read_only_root() {
    let dir = TestDir::new("finish");
    let mut plan = rootfs_plan(Path::new("/"), serde_json::json!([]));
    plan.readonly_paths = vec!["/proc/sys".into(), "/no/such/path".into()];
    plan.masked_paths = vec!["/proc/cmdline".into(), "/proc/sys/kernel".into()];
    plan.readonly = true;
    let rec = Recorder::new(&dir.0);
    finish_rootfs_with(&rec, &plan).unwrap();
    assert_eq!(
        rec.calls(),
        [
            "open_tree /proc/sys recursive=true",
            "mount_setattr /proc/sys set=0x1 clr=0x0 recursive=false",
            "move_mount /proc/sys /proc/sys",
            "open_tree /dev/null recursive=false",
            "move_mount /dev/null /proc/cmdline",
            "fsmount tmpfs ro",
            "move_mount ro-tmpfs /proc/sys/kernel",
            "mount_setattr / set=0x1 clr=0x0 recursive=false",
        ]
    );
}

#[test]
fn a_mount_on_a_symlink_is_refused_before_any_mount_call() {
    let dir = TestDir::new("symlink");
    std::fs::create_dir_all(dir.0.join("src")).unwrap();
    std::fs::create_dir_all(dir.rootfs().join("etc")).unwrap();
    symlink("/tmp", dir.rootfs().join("proc")).unwrap();
    symlink("../../..", dir.rootfs().join("etc/up")).unwrap();
    let refused = |mount: serde_json::Value| {
        let rec = Recorder::new(&dir.0);
        let plan = rootfs_plan(&dir.rootfs(), serde_json::json!([dev_bind(&dir), mount]));
        let err = prepare_rootfs_with(&rec, &plan, &[]).unwrap_err();
        assert_eq!(rec.calls().len(), 4, "no mount made: {:#?}", rec.calls());
        chain(&err)
    };
    assert_eq!(
        refused(serde_json::json!({"destination": "/proc", "type": "proc", "source": "proc"})),
        "error mounting \"proc\" to rootfs at \"/proc\": filesystem \"proc\" must be mounted on ordinary directory (destination \"/proc\")"
    );
    let on_root = refused(serde_json::json!(
        {"destination": "/etc/up", "type": "bind", "source": "src", "options": ["bind"]}));
    assert!(
        on_root.contains("mountpoint \"/etc/up\" is on the top of rootfs"),
        "{on_root}"
    );
}
