//! Shared helpers of the conformance suite.
//!
//! The suite is runtime-agnostic: it drives only the command line of the binary named
//! by `BERTH_TEST_RUNTIME` (default `<workspace>/target/debug/berth`), so every test
//! can be checked against Debian's runc (`BERTH_TEST_RUNTIME=/usr/sbin/runc`).
//!
//! The pieces:
//! - [`Ctx`]: one test's world: its own `--root`, a work directory for bundles and
//!   captured output, and cleanup on drop (`delete --force` of every container it
//!   knows, unmount of anything left under its directories, removal), panics included.
//! - [`Bundle`]: a fresh copy of the busybox rootfs plus a `config.json` based on
//!   `runc spec` (terminal false), rewritten on every mutation.
//! - [`Output`]: what one runtime command did (exit status, stdout, stderr).
//! - [`ConsoleSocket`]: receives the pty master of a `terminal: true` container.

use std::fs::{self, File};
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::mount::{umount2, MntFlags};
use nix::spawn::{posix_spawnp, PosixSpawnAttr, PosixSpawnFileActions};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::wait::waitpid;
use nix::unistd::{pipe2, Pid};
use serde_json::{json, Value};

pub mod daemon;
pub mod image;

/// How long one runtime command may take before the suite kills it and fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one cleanup command (`delete --force`, `list`, `state`) may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A process that runs until it is killed (for lifecycle tests).
pub const LONG_RUNNING: &[&str] = &["sleep", "3600"];

/// What a shell, the runtimes' init (runc's is Go) and busybox need: a
/// default-deny profile allows these (mkdir and mkdirat are not here).
pub const SHELL_SYSCALLS: &[&str] = &[
    "access",
    "arch_prctl",
    "brk",
    "capget",
    "capset",
    "chdir",
    "clock_gettime",
    "clock_nanosleep",
    "clone",
    "clone3",
    "close",
    "close_range",
    "connect",
    "dup",
    "dup2",
    "dup3",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_wait",
    "eventfd2",
    "execve",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fchdir",
    "fcntl",
    "fstat",
    "fstatfs",
    "futex",
    "getcwd",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getpgrp",
    "getpid",
    "getppid",
    "getrandom",
    "getrlimit",
    "gettid",
    "getuid",
    "ioctl",
    "kill",
    "lseek",
    "lstat",
    "madvise",
    "mmap",
    "mprotect",
    "munmap",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "pipe",
    "pipe2",
    "poll",
    "ppoll",
    "prctl",
    "pread64",
    "prlimit64",
    "read",
    "readlink",
    "readlinkat",
    "recvfrom",
    "recvmsg",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_getaffinity",
    "sched_yield",
    "sendmsg",
    "sendto",
    "set_robust_list",
    "set_tid_address",
    "setgid",
    "setgroups",
    "setpgid",
    "setresgid",
    "setresuid",
    "setsid",
    "setuid",
    "sigaltstack",
    "stat",
    "statfs",
    "statx",
    "sysinfo",
    "tgkill",
    "umask",
    "uname",
    "wait4",
    "waitid",
    "write",
    "writev",
];

/// The workspace root (parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration_tests has a parent directory")
        .to_path_buf()
}

/// The runtime under test: `$BERTH_TEST_RUNTIME`, or `<workspace>/target/debug/berth`.
pub fn runtime() -> PathBuf {
    match std::env::var_os("BERTH_TEST_RUNTIME") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => workspace_root().join("target/debug/berth"),
    }
}

/// True when the runtime under test is runc (its binary is named `runc`).
pub fn runtime_is_runc() -> bool {
    runtime().file_name().is_some_and(|name| name == "runc")
}

/// A container id unique across processes and calls: `<prefix>-<pid>-<n>-<nanos>`.
pub fn unique_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// `runc spec` output (runc 1.1.5) with `terminal: false`: the base of every bundle.
pub fn default_spec() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// The shared busybox rootfs template, built once by `bundles/build-rootfs.sh`.
///
/// `$BERTH_TEST_ROOTFS` names a ready rootfs to use instead. Otherwise it is built
/// into `<workspace>/target/integration_tests/rootfs`, under a file lock so parallel
/// test binaries build it once.
pub fn rootfs_template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| match std::env::var_os("BERTH_TEST_ROOTFS") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => build_rootfs_template(&workspace_root().join("target/integration_tests")),
    })
}

fn build_rootfs_template(cache: &Path) -> PathBuf {
    fs::create_dir_all(cache).expect("create the rootfs cache directory");
    let lock_file = File::create(cache.join("rootfs.lock")).expect("create rootfs.lock");
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| errno)
        .expect("lock rootfs.lock");
    let ready = cache.join("rootfs");
    if ready.join("bin/busybox").exists() {
        return ready;
    }
    let staging = cache.join("rootfs.tmp");
    let _ = fs::remove_dir_all(&staging);
    let script = workspace_root().join("bundles/build-rootfs.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&staging)
        .output()
        .expect("run bundles/build-rootfs.sh");
    assert!(
        out.status.success(),
        "bundles/build-rootfs.sh failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = fs::remove_dir_all(&ready);
    fs::rename(&staging, &ready).expect("move the built rootfs into place");
    ready
}

/// A directory removed on drop (after unmounting whatever is still mounted in it).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/berth-it-<unique>-<prefix>`.
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique_id(&format!("berth-it-{prefix}")));
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        unmount_everything_under(&self.path);
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Mount points listed in `/proc/self/mountinfo` that lie under `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mountinfo(field)))
        .filter(|point| point.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

/// Decodes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|digits| {
            std::str::from_utf8(digits)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unmount_everything_under(dir: &Path) {
    for point in mounts_under(dir) {
        let _ = umount2(&point, MntFlags::MNT_DETACH);
    }
}

/// What one command did. `stdout`/`stderr` are read when the command exited; the
/// files stay (until the [`Ctx`] drops) so a container's later output can be re-read.
#[derive(Debug)]
pub struct Output {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
}

impl Output {
    /// Exit code, or `None` when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics, showing everything, unless the command succeeded.
    #[track_caller]
    pub fn assert_ok(&self) -> &Output {
        assert!(self.success(), "command failed: {self}");
        self
    }

    /// Panics, showing everything, unless the command failed (exit code != 0).
    #[track_caller]
    pub fn assert_fail(&self) -> &Output {
        assert!(
            !self.success() && self.code().is_some(),
            "command should have failed with an exit code: {self}"
        );
        self
    }

    /// Panics unless stderr contains `needle`.
    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Output {
        assert!(
            self.stderr.contains(needle),
            "stderr should contain {needle:?}: {self}"
        );
        self
    }

    /// The stdout file as it is now (a container may have written more since exit).
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// stdout parsed as JSON (panics with context when it is not JSON).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited with {:?} (signal {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.status.code(),
            self.status.signal(),
            self.stdout,
            self.stderr
        )
    }
}

/// One test's world: its own runtime `--root`, a work directory, and cleanup on drop.
pub struct Ctx {
    root: TempDir,
    work: TempDir,
    ids: Mutex<Vec<String>>,
    counter: AtomicU64,
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx::new()
    }
}

impl Ctx {
    pub fn new() -> Ctx {
        Ctx {
            root: TempDir::new("root"),
            work: TempDir::new("work"),
            ids: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
        }
    }

    /// The `--root` directory passed to every command.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A scratch directory removed on drop.
    pub fn work(&self) -> &Path {
        self.work.path()
    }

    /// A fresh unique container id, remembered for cleanup.
    pub fn id(&self, prefix: &str) -> String {
        let id = unique_id(prefix);
        self.track(&id);
        id
    }

    /// Remembers `id` so that drop runs `delete --force id`.
    pub fn track(&self, id: &str) {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id.to_string());
    }

    /// A new bundle (fresh rootfs copy + default config) in the work directory.
    pub fn bundle(&self) -> Bundle {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        Bundle::new(&self.work().join(format!("bundle-{n}")))
    }

    /// `RUNTIME --root ROOT <args>` as a Command, for callers that customise it.
    pub fn cmd<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(runtime());
        cmd.arg("--root").arg(self.root()).args(args);
        cmd
    }

    /// Runs `RUNTIME --root ROOT <args>` (stdin null) and waits for it.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        self.output(self.cmd(args))
    }

    /// Runs `sh -c script` with `$RUNTIME` and `$ROOT` set, e.g. to pass extra fds:
    /// `exec 3<file; exec "$RUNTIME" --root "$ROOT" run --preserve-fds 1 ...`.
    pub fn sh(&self, script: &str) -> Output {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .env("RUNTIME", runtime())
            .env("ROOT", self.root());
        self.output(cmd)
    }

    /// Runs `cmd` with stdout/stderr going to files (so detached containers that
    /// inherit them do not keep the caller waiting), with [`COMMAND_TIMEOUT`].
    pub fn output(&self, mut cmd: Command) -> Output {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let stdout_path = self.work().join(format!("cmd-{n}.out"));
        let stderr_path = self.work().join(format!("cmd-{n}.err"));
        let args = describe(&cmd);
        cmd.stdin(Stdio::null())
            .stdout(File::create(&stdout_path).expect("create stdout file"))
            .stderr(File::create(&stderr_path).expect("create stderr file"));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn `{}`: {e}", args.join(" ")));
        let status = wait_with_timeout(&mut child, COMMAND_TIMEOUT)
            .unwrap_or_else(|| panic!("`{}` did not finish in time", args.join(" ")));
        Output {
            args,
            status,
            stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
            stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
            stdout_path,
            stderr_path,
        }
    }

    /// Starts `RUNTIME --root ROOT <args>` without waiting (e.g. a foreground `run`
    /// to be killed from outside); finish it with [`Spawned::wait`].
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Spawned {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let stdout_path = self.work().join(format!("spawn-{n}.out"));
        let stderr_path = self.work().join(format!("spawn-{n}.err"));
        let mut cmd = self.cmd(args);
        let args = describe(&cmd);
        cmd.stdin(Stdio::null())
            .stdout(File::create(&stdout_path).expect("create stdout file"))
            .stderr(File::create(&stderr_path).expect("create stderr file"));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn `{}`: {e}", args.join(" ")));
        Spawned {
            child,
            args,
            stdout_path,
            stderr_path,
        }
    }

    /// `create --bundle B id` (id tracked for cleanup).
    pub fn create(&self, bundle: &Bundle, id: &str) -> Output {
        self.track(id);
        self.run(&[
            "create".as_ref(),
            "--bundle".as_ref(),
            bundle.path().as_os_str(),
            id.as_ref(),
        ])
    }

    /// `create --bundle B --console-socket SOCKET id` (the id is tracked).
    pub fn create_with_console(&self, bundle: &Bundle, id: &str, socket: &Path) -> Output {
        self.track(id);
        self.run(&[
            "create".as_ref(),
            "--bundle".as_ref(),
            bundle.path().as_os_str(),
            "--console-socket".as_ref(),
            socket.as_os_str(),
            id.as_ref(),
        ])
    }

    /// `run --bundle B id` in the foreground: returns when the container exits.
    pub fn run_container(&self, bundle: &Bundle, id: &str) -> Output {
        self.track(id);
        self.run(&[
            "run".as_ref(),
            "--bundle".as_ref(),
            bundle.path().as_os_str(),
            id.as_ref(),
        ])
    }

    /// `exec --process FILE id`, FILE holding `process` (an OCI process
    /// object), as containerd's shim and conmon call it.
    pub fn exec_process(&self, id: &str, process: &Value) -> Output {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let file = self.work().join(format!("process-{n}.json"));
        fs::write(&file, process.to_string()).expect("write process.json");
        self.run(&[
            "exec".as_ref(),
            "--process".as_ref(),
            file.as_os_str(),
            id.as_ref(),
        ])
    }

    /// Runs `args` in a fresh container from `bundle` in the foreground, asserts
    /// success and returns its stdout.
    #[track_caller]
    pub fn run_in(&self, bundle: &Bundle, args: &[&str]) -> String {
        bundle.set_args(args);
        let id = self.id("run");
        self.run_container(bundle, &id).assert_ok().stdout.clone()
    }

    pub fn start(&self, id: &str) -> Output {
        self.run(&["start", id])
    }

    pub fn kill(&self, id: &str, signal: &str) -> Output {
        self.run(&["kill", id, signal])
    }

    pub fn delete(&self, id: &str) -> Output {
        self.run(&["delete", id])
    }

    pub fn delete_force(&self, id: &str) -> Output {
        self.run(&["delete", "--force", id])
    }

    /// `state id` parsed (panics when it fails).
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        self.run(&["state", id]).assert_ok().json()
    }

    /// The `status` field of `state id`, or `None` when `state` fails.
    pub fn status(&self, id: &str) -> Option<String> {
        let out = self.run(&["state", id]);
        if !out.success() {
            return None;
        }
        serde_json::from_str::<Value>(&out.stdout)
            .ok()?
            .get("status")?
            .as_str()
            .map(str::to_string)
    }

    /// Polls `state` until the status is `want`; panics after `timeout`.
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.status(id);
            if now.as_deref() == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "container {id} did not reach status {want:?} (last: {now:?})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Creates a container running [`LONG_RUNNING`] (asserts success); returns its id.
    #[track_caller]
    pub fn create_sleeper(&self, prefix: &str) -> String {
        let bundle = self.bundle();
        bundle.set_args(LONG_RUNNING);
        let id = self.id(prefix);
        self.create(&bundle, &id).assert_ok();
        id
    }

    /// Creates and starts a [`LONG_RUNNING`] container; returns its id.
    #[track_caller]
    pub fn start_sleeper(&self, prefix: &str) -> String {
        let id = self.create_sleeper(prefix);
        self.start(&id).assert_ok();
        id
    }

    /// Ids that `list -q` shows under this root.
    pub fn listed_ids(&self) -> Vec<String> {
        let out = self.run(&["list", "-q"]);
        out.stdout.lines().map(str::to_string).collect()
    }

    /// True when the root holds an entry named `id` (a state directory). Ids that
    /// are not a single plain path component (`""`, `"."`, `"a/b"`) cannot name one;
    /// for those, look at [`Ctx::root_entries`].
    pub fn has_state_dir(&self, id: &str) -> bool {
        let plain = Path::new(id).file_name() == Some(std::ffi::OsStr::new(id));
        plain && self.root().join(id).exists()
    }

    /// Entries left in the root directory.
    pub fn root_entries(&self) -> Vec<String> {
        fs::read_dir(self.root())
            .map(|dir| {
                dir.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Deletes (with `--force`) every container this context knows or `list`
    /// shows. A runtime whose delete fails must not leave processes behind: the
    /// init pid seen by `state` beforehand is killed if it still lives in another
    /// pid namespace.
    fn cleanup_containers(&self) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(out) = self.run_quietly(&["list", "-q"]) {
            ids.extend(out.lines().map(str::to_string));
        }
        ids.sort();
        ids.dedup();
        for id in ids.iter().filter(|id| !id.is_empty()) {
            let pid = self
                .run_quietly(&["state", id])
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
                .and_then(|state| state["pid"].as_u64())
                .and_then(|pid| u32::try_from(pid).ok());
            let _ = self.run_quietly(&["delete", "--force", id]);
            if let Some(pid) = pid {
                kill_if_in_foreign_pid_namespace(pid);
            }
        }
    }

    /// Runs a runtime command for cleanup: never panics, bounded in time; its
    /// stdout (from a file, so no inherited pipe can block) when it succeeded.
    fn run_quietly(&self, args: &[&str]) -> Option<String> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let stdout_path = self.work().join(format!("cleanup-{n}.out"));
        let mut child = self
            .cmd(args)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path).ok()?)
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        match wait_with_timeout(&mut child, CLEANUP_TIMEOUT) {
            Some(status) if status.success() => fs::read_to_string(&stdout_path).ok(),
            _ => None,
        }
    }
}

/// SIGKILLs `pid` if it exists and is in another pid namespace than this process
/// (so it is a container's process, not a host process that reused the pid).
fn kill_if_in_foreign_pid_namespace(pid: u32) {
    let Ok(raw) = i32::try_from(pid) else { return };
    let theirs = fs::read_link(format!("/proc/{pid}/ns/pid"));
    let ours = fs::read_link("/proc/self/ns/pid");
    if let (Ok(theirs), Ok(ours)) = (theirs, ours) {
        if raw > 1 && theirs != ours {
            let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        self.cleanup_containers();
        // TempDir drops (unmount + remove) follow, root and work alike.
    }
}

/// A runtime command started by [`Ctx::spawn`].
pub struct Spawned {
    child: std::process::Child,
    args: Vec<String>,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
}

impl Spawned {
    /// The runtime process's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the command has written to stdout so far.
    pub fn stdout_so_far(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Waits for the command to exit (panics after `timeout`).
    pub fn wait(mut self, timeout: Duration) -> Output {
        let status = wait_with_timeout(&mut self.child, timeout)
            .unwrap_or_else(|| panic!("`{}` did not finish in time", self.args.join(" ")));
        Output {
            args: std::mem::take(&mut self.args),
            status,
            stdout: fs::read_to_string(&self.stdout_path).unwrap_or_default(),
            stderr: fs::read_to_string(&self.stderr_path).unwrap_or_default(),
            stdout_path: self.stdout_path.clone(),
            stderr_path: self.stderr_path.clone(),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The namespace a host process is in: the target of `/proc/<pid>/ns/<kind>`,
/// e.g. `net:[4026531840]`.
pub fn namespace_of(pid: u32, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{kind}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The `pid` field of a state document as a u32 (panics when absent).
#[track_caller]
pub fn state_pid(state: &Value) -> u32 {
    let pid = state["pid"].as_u64().expect("state has a numeric pid");
    u32::try_from(pid).expect("pid fits u32")
}

fn describe(cmd: &Command) -> Vec<String> {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Waits for `child` up to `timeout`; kills it and returns `None` past that.
fn wait_with_timeout(child: &mut std::process::Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// An OCI bundle: `<dir>/rootfs` (a copy of the busybox template) and
/// `<dir>/config.json`, rewritten after every mutation made through this type.
pub struct Bundle {
    dir: PathBuf,
    config: Mutex<Value>,
}

impl Bundle {
    /// Creates the bundle directory at `dir` with a rootfs copy and the default spec.
    pub fn new(dir: &Path) -> Bundle {
        fs::create_dir_all(dir).expect("create bundle dir");
        copy_tree(rootfs_template(), &dir.join("rootfs"));
        let bundle = Bundle {
            dir: dir.to_path_buf(),
            config: Mutex::new(default_spec()),
        };
        bundle.save();
        bundle
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// A copy of the current config.
    pub fn config(&self) -> Value {
        self.lock().clone()
    }

    /// Mutates the config with `f`, then rewrites config.json.
    pub fn update(&self, f: impl FnOnce(&mut Value)) -> &Bundle {
        f(&mut self.lock());
        self.save();
        self
    }

    /// Sets the value at a JSON pointer (e.g. `/process/cwd`), creating missing
    /// objects on the way; rewrites config.json.
    pub fn set(&self, pointer: &str, value: Value) -> &Bundle {
        self.update(|config| set_pointer(config, pointer, value))
    }

    /// Removes the value at a JSON pointer, if present; rewrites config.json.
    pub fn remove(&self, pointer: &str) -> &Bundle {
        self.update(|config| remove_pointer(config, pointer))
    }

    /// Sets `process.args`.
    pub fn set_args(&self, args: &[&str]) -> &Bundle {
        self.set("/process/args", json!(args))
    }

    /// Adds a new user namespace mapping container ids 0-65535 to host
    /// 100000-165535 (as a kubelet asks for a pod with `hostUsers: false`).
    pub fn with_user_namespace(&self) -> &Bundle {
        self.update(|config| {
            config["linux"]["namespaces"]
                .as_array_mut()
                .expect("namespaces")
                .push(json!({"type": "user"}));
            let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            config["linux"]["uidMappings"] = map.clone();
            config["linux"]["gidMappings"] = map;
        })
    }

    /// Makes the rootfs writable (`root.readonly = false`).
    pub fn writable(&self) -> &Bundle {
        self.set("/root/readonly", json!(false))
    }

    /// Writes `text` as config.json verbatim (for malformed-input tests).
    pub fn write_raw_config(&self, text: &str) {
        fs::write(self.config_path(), text).expect("write config.json");
    }

    /// Deletes config.json.
    pub fn remove_config(&self) {
        fs::remove_file(self.config_path()).expect("remove config.json");
    }

    fn save(&self) {
        let text = serde_json::to_string_pretty(&*self.lock()).expect("serialise config");
        fs::write(self.config_path(), text).expect("write config.json");
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Value> {
        self.config.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sets `value` at JSON `pointer` in `root`, creating objects for missing keys.
/// Array elements are addressed by index and must exist.
pub fn set_pointer(root: &mut Value, pointer: &str, value: Value) {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = tokens.split_last() else {
        *root = value;
        return;
    };
    let mut node = root;
    for token in parents {
        node = child_mut(node, token, pointer);
    }
    match node {
        Value::Array(items) => {
            let index: usize = last.parse().expect("array index in pointer");
            items[index] = value;
        }
        other => {
            if !other.is_object() {
                *other = json!({});
            }
            other
                .as_object_mut()
                .expect("object")
                .insert(last.clone(), value);
        }
    }
}

fn child_mut<'a>(node: &'a mut Value, token: &str, pointer: &str) -> &'a mut Value {
    if let Value::Array(items) = node {
        let index: usize = token
            .parse()
            .unwrap_or_else(|_| panic!("{pointer}: {token} is not an array index"));
        return &mut items[index];
    }
    if !node.is_object() {
        *node = json!({});
    }
    node.as_object_mut()
        .expect("object")
        .entry(token.to_string())
        .or_insert_with(|| json!({}))
}

/// Removes the value at JSON `pointer`, if present.
pub fn remove_pointer(root: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match root.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(index) = last.parse::<usize>() {
                if index < items.len() {
                    items.remove(index);
                }
            }
        }
        _ => {}
    }
}

/// `cp -a src dst` (keeps symlinks, modes and owners).
pub fn copy_tree(src: &Path, dst: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(dst)
        .status()
        .expect("run cp -a");
    assert!(status.success(), "cp -a {src:?} {dst:?} failed");
}

/// A listening unix socket for `--console-socket`: the runtime connects and sends
/// the pty master with `SCM_RIGHTS`.
pub struct ConsoleSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    /// Binds a socket at `path`.
    pub fn bind(path: &Path) -> ConsoleSocket {
        let listener = UnixListener::bind(path).expect("bind console socket");
        ConsoleSocket {
            path: path.to_path_buf(),
            listener,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts one connection (waiting up to `timeout`) and receives the fd it carries.
    pub fn receive(&self, timeout: Duration) -> Console {
        self.listener
            .set_nonblocking(true)
            .expect("set_nonblocking");
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "no console connection in time");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept on console socket: {e}"),
            }
        };
        stream.set_nonblocking(false).expect("blocking stream");
        Console::new(receive_with_fd(stream.as_raw_fd()).1)
    }
}

/// Receives one message carrying exactly one fd over `SCM_RIGHTS`
/// (close-on-exec): its bytes and the fd. The fd stays open for the rest of
/// the test process (the suite has no `unsafe` to own it).
pub fn receive_with_fd(socket: RawFd) -> (Vec<u8>, RawFd) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .expect("recvmsg on a unix socket");
    let fds: Vec<RawFd> = msg
        .cmsgs()
        .expect("control messages")
        .filter_map(|cmsg| match cmsg {
            ControlMessageOwned::ScmRights(fds) => Some(fds),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(fds.len(), 1, "expected exactly one fd, got {fds:?}");
    let len = msg.bytes;
    buf.truncate(len);
    (buf, fds[0])
}

/// The pty master received from the runtime.
///
/// The suite has no `unsafe`, so the raw fd is never turned into an owned Rust
/// handle: it stays open (close-on-exec) for the rest of the test process, and is
/// read by a `cat` child spawned with the master as its stdin (posix_spawn dup2).
pub struct Console {
    master: RawFd,
    cat: Pid,
    chunks: Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Console {
    fn new(master: RawFd) -> Console {
        let (read_end, write_end) = pipe2(OFlag::O_CLOEXEC).expect("pipe2");
        let cat = spawn_cat(master, write_end.as_raw_fd());
        drop(write_end);
        Console {
            master,
            cat,
            chunks: forward_chunks(File::from(read_end)),
            seen: Vec::new(),
        }
    }

    /// The fd number of the master in this process.
    pub fn master_fd(&self) -> RawFd {
        self.master
    }

    /// Where `/proc/self/fd/<master>` points (a pty master is `/dev/pts/ptmx` or
    /// `/dev/ptmx`).
    pub fn master_target(&self) -> PathBuf {
        fs::read_link(format!("/proc/self/fd/{}", self.master)).expect("readlink master fd")
    }

    /// Reads the terminal until `needle` shows up or `timeout` passes; returns
    /// everything read so far.
    pub fn read_until(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while !String::from_utf8_lossy(&self.seen).contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => break,
            }
        }
        String::from_utf8_lossy(&self.seen).into_owned()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = kill(self.cat, Signal::SIGKILL);
        let _ = waitpid(self.cat, None);
    }
}

/// Spawns `cat` with `stdin` = `input` and stdout = `output`.
fn spawn_cat(input: RawFd, output: RawFd) -> Pid {
    let mut actions = PosixSpawnFileActions::init().expect("posix_spawn actions");
    actions.add_dup2(input, 0).expect("add_dup2 stdin");
    actions.add_dup2(output, 1).expect("add_dup2 stdout");
    let attr = PosixSpawnAttr::init().expect("posix_spawn attr");
    let args = [c"cat"];
    let env: [&std::ffi::CStr; 0] = [];
    posix_spawnp(c"cat", &actions, &attr, &args, &env).expect("spawn cat")
}

/// Forwards what `file` yields, chunk by chunk, from a reader thread.
fn forward_chunks(mut file: File) -> Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_pointer_creates_missing_objects() {
        let mut v = json!({"a": {}});
        set_pointer(&mut v, "/a/b/c", json!(1));
        assert_eq!(v, json!({"a": {"b": {"c": 1}}}));
    }

    #[test]
    fn set_pointer_indexes_arrays() {
        let mut v = json!({"a": [1, 2]});
        set_pointer(&mut v, "/a/1", json!(5));
        assert_eq!(v, json!({"a": [1, 5]}));
    }

    #[test]
    fn remove_pointer_removes_keys_and_elements() {
        let mut v = json!({"a": {"b": 1, "c": [1, 2, 3]}});
        remove_pointer(&mut v, "/a/b");
        remove_pointer(&mut v, "/a/c/0");
        remove_pointer(&mut v, "/a/missing");
        assert_eq!(v, json!({"a": {"c": [2, 3]}}));
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/a\040b\134c"), r"/a b\c");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn unique_ids_differ() {
        assert_ne!(unique_id("x"), unique_id("x"));
    }
}
