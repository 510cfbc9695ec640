//! Engine daemons the suite starts itself (containerd, dockerd): children
//! with a private config, root, state and socket, stopped on drop, and the
//! small waits and log reads their tests share.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{Ctx, Output};

/// `name` found in `$PATH` or the sbin directories (root's PATH may lack them).
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| candidate.is_file());
    found
}

/// Polls `check` every 100 ms until it is true or `timeout` passes.
pub fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, up to `grace` to exit, then SIGKILL; always reaped. The exit
/// status when it ended by itself within `grace`.
pub fn stop_child(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let mut status = None;
    wait_for(grace, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

/// The last 20 lines of a daemon's log file, for assertion messages.
pub fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

pub fn is_socket(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.file_type().is_socket())
}

/// A containerd started here with its own config, root, state and sockets
/// under a directory (its shims' sockets still go to /run/containerd/s/);
/// stopped (SIGTERM, then SIGKILL) on drop.
pub struct Containerd {
    child: Option<Child>,
    dir: PathBuf,
}

impl Containerd {
    /// Starts containerd with everything under `dir`, no CRI plugin (`ctr`
    /// needs none) and no snapshotters that only warn here; waits up to
    /// `timeout` until `ctr version` answers on its socket.
    pub fn start(ctx: &Ctx, dir: &Path, timeout: Duration) -> Containerd {
        Containerd::start_with(ctx, dir, timeout, None)
    }

    /// [`Containerd::start`] with the CRI plugin, configured by `cri`: the
    /// TOML of its `[plugins."io.containerd.grpc.v1.cri"...]` tables.
    pub fn start_with_cri(ctx: &Ctx, dir: &Path, timeout: Duration, cri: &str) -> Containerd {
        Containerd::start_with(ctx, dir, timeout, Some(cri))
    }

    fn start_with(ctx: &Ctx, dir: &Path, timeout: Duration, cri: Option<&str>) -> Containerd {
        fs::create_dir_all(dir).expect("create the containerd directory");
        let config = dir.join("config.toml");
        fs::write(&config, containerd_config(dir, cri)).expect("write containerd's config");
        let log = dir.join("containerd.log");
        let child = Command::new(find_binary("containerd").expect("containerd is installed"))
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).expect("create containerd's log"))
            .stderr(fs::File::create(&log).expect("create containerd's log"))
            .spawn()
            .expect("spawn containerd");
        let mut daemon = Containerd {
            child: Some(child),
            dir: dir.to_path_buf(),
        };
        let up = wait_for(timeout, || {
            daemon.exited() || (is_socket(&daemon.address()) && daemon.answers(ctx))
        });
        assert!(
            up && !daemon.exited(),
            "containerd does not serve {}:\n{}",
            daemon.address().display(),
            log_tail(&log)
        );
        daemon
    }

    /// Its gRPC socket.
    pub fn address(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// Its log (stdout and stderr).
    pub fn log(&self) -> PathBuf {
        self.dir.join("containerd.log")
    }

    /// `ctr --address A --namespace NS <args>`, run by `ctx`.
    pub fn ctr<S: AsRef<std::ffi::OsStr>>(&self, ctx: &Ctx, namespace: &str, args: &[S]) -> Output {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(self.address())
            .args(["--connect-timeout", "5s", "--namespace", namespace])
            .args(args);
        ctx.output(cmd)
    }

    /// The task's status column in `ctr tasks list` (RUNNING, PAUSED,
    /// STOPPED), if it is listed.
    pub fn task_status(&self, ctx: &Ctx, namespace: &str, id: &str) -> Option<String> {
        let listed = self.ctr(ctx, namespace, &["tasks", "list"]);
        listed.stdout.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.first() == Some(&id)).then(|| fields.last().unwrap_or(&"").to_string())
        })
    }

    /// Waits up to `timeout` for the task to reach `want`.
    pub fn wait_task_status(
        &self,
        ctx: &Ctx,
        namespace: &str,
        id: &str,
        want: &str,
        timeout: Duration,
    ) {
        let reached = wait_for(timeout, || {
            self.task_status(ctx, namespace, id).as_deref() == Some(want)
        });
        assert!(
            reached,
            "task {id} did not become {want}: {:?}",
            self.task_status(ctx, namespace, id)
        );
    }

    /// SIGTERM (then SIGKILL after `grace`): its exit status when it ended
    /// by itself.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.child
            .take()
            .and_then(|mut child| stop_child(&mut child, grace))
    }

    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|child| !matches!(child.try_wait(), Ok(None)))
    }

    fn answers(&self, ctx: &Ctx) -> bool {
        self.ctr(ctx, "default", &["version"]).success()
    }
}

impl Drop for Containerd {
    /// Stops it, then SIGKILLs the shims it started that outlived it (after
    /// a failed test whose containers were not deleted).
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
        for pid in shims_of(&self.address()) {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
}

/// The containerd shims serving the daemon at `address` (`-address A` in
/// their command line).
fn shims_of(address: &Path) -> Vec<Pid> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let address = address.as_os_str().as_bytes();
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|byte| *byte == 0).collect();
            let is_shim = args
                .first()
                .is_some_and(|arg0| arg0.windows(15).any(|w| w == b"containerd-shim"));
            is_shim
                && args
                    .windows(2)
                    .any(|pair| pair[0] == b"-address" && pair[1] == address)
        })
        .map(Pid::from_raw)
        .collect()
}

/// The config of a private containerd under `dir`; the CRI plugin is disabled
/// unless `cri` configures it.
fn containerd_config(dir: &Path, cri: Option<&str>) -> String {
    let dir = dir.display();
    let cri_plugin = if cri.is_some() {
        ""
    } else {
        "\"io.containerd.grpc.v1.cri\", "
    };
    let cri = cri.unwrap_or_default();
    format!(
        r#"version = 2
root = "{dir}/root"
state = "{dir}/state"
disabled_plugins = [{cri_plugin}"io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "{dir}/containerd.sock"
[ttrpc]
  address = "{dir}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{dir}/opt"
{cri}"#
    )
}
