//! Manual/test driver: runs a bundle's process with only berth-rootfs doing
//! the filesystem work. `rootfs_probe BUNDLE [--no-pivot] [--console] [-- CMD...]`.
//! Unshares mount/pid/uts/ipc namespaces, re-runs itself, and in the child runs
//! prepare_rootfs, enter_rootfs, finish_rootfs, then execs the command
//! (default: the spec's process.args). The cgroup mount shows the probe's
//! own v1 cgroups.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_rootfs::mountplan::ContainerUserns;
use berth_rootfs::{
    enter_rootfs, finish_rootfs, prepare_rootfs, CgroupMountSource, MountPlan, RootfsPlan,
};
use berth_spec::Spec;
use nix::sched::{unshare, CloneFlags};

fn v1_hierarchies() -> Vec<(String, PathBuf)> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    cgroups
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctrl, path) = (parts.next()?, parts.next()?, parts.next()?);
            let name = ctrl.strip_prefix("name=").unwrap_or(ctrl);
            if name.is_empty() {
                return None;
            }
            let dir = Path::new("/sys/fs/cgroup")
                .join(name)
                .join(path.trim_start_matches('/'));
            dir.is_dir().then(|| (name.to_string(), dir))
        })
        .collect()
}

/// Opens a pty on the container's /dev/ptmx and binds its slave on
/// /dev/console, as the init does for terminal:true.
fn console_on_pty() -> Result<nix::pty::PtyMaster, berth_rootfs::RootfsError> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY).expect("openpt");
    nix::pty::grantpt(&master).expect("grantpt");
    nix::pty::unlockpt(&master).expect("unlockpt");
    let slave = nix::pty::ptsname_r(&master).expect("ptsname");
    berth_rootfs::mount_console(Path::new(&slave))?;
    Ok(master)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bundle = PathBuf::from(&args[1]);
    let no_pivot = args.iter().any(|a| a == "--no-pivot");
    let cmd: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--")
        .map(|i| args[i + 1..].to_vec());
    let text = std::fs::read(bundle.join("config.json")).expect("config.json");
    let spec: Spec = serde_json::from_slice(&text).expect("config.json");
    let root = spec.root.as_ref().expect("root");
    let rootfs = std::fs::canonicalize(bundle.join(&root.path)).expect("rootfs");
    let linux = spec.linux.clone().unwrap_or_default();
    let plan = RootfsPlan {
        rootfs,
        readonly: root.readonly,
        mounts: MountPlan::parse(&spec.mounts, &bundle, ContainerUserns::None).expect("mounts"),
        rootfs_propagation: berth_rootfs::root_propagation(&linux.rootfs_propagation, no_pivot)
            .expect("linux.rootfsPropagation"),
        devices: berth_rootfs::devices::devices_to_create(&linux.devices).expect("linux.devices"),
        masked_paths: linux.masked_paths,
        readonly_paths: linux.readonly_paths,
        no_pivot,
        cgroup: CgroupMountSource::V1 {
            hierarchies: v1_hierarchies(),
        },
        bind_sources: Default::default(),
        host_mount_ns: false,
    };
    let argv = cmd.unwrap_or_else(|| spec.process.as_ref().unwrap().args.clone());
    std::env::set_current_dir(&bundle).unwrap();
    if std::env::var_os("ROOTFS_PROBE_CHILD").is_none() {
        // The next child is pid 1 of a new pid namespace and shares the new
        // mount namespace; it does the work.
        unshare(
            CloneFlags::CLONE_NEWNS
                | CloneFlags::CLONE_NEWPID
                | CloneFlags::CLONE_NEWUTS
                | CloneFlags::CLONE_NEWIPC,
        )
        .expect("unshare");
        let status = Command::new(std::env::current_exe().unwrap())
            .args(&args[1..])
            .env("ROOTFS_PROBE_CHILD", "1")
            .status()
            .expect("spawn child");
        std::process::exit(status.code().unwrap_or(128));
    }
    let console = args.iter().any(|a| a == "--console");
    let run = || -> Result<(), berth_rootfs::RootfsError> {
        prepare_rootfs(&plan, &[])?;
        enter_rootfs(&plan)?;
        // Keep the pty master open until exec (the process inherits it).
        let _master = if console {
            Some(console_on_pty()?)
        } else {
            None
        };
        finish_rootfs(&plan)?;
        std::mem::forget(_master);
        Ok(())
    };
    if let Err(e) = run() {
        let mut msg = e.to_string();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        eprintln!("rootfs error: {msg}");
        std::process::exit(99);
    }
    let err = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .env("PATH", "/bin:/usr/bin:/sbin:/usr/sbin")
        .exec();
    eprintln!("exec failed: {err}");
    std::process::exit(127);
}
