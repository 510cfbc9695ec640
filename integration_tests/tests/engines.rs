//! The runtime under real engines, driven the way they drive runc (see
//! shared notes in docs/compat.md, "Engines"): podman 4.3 through conmon,
//! containerd 1.6's runc v2 shim (`ctr run --runc-binary`) and docker 20.10
//! (`dockerd --add-runtime`, over its own containerd).
//!
//! Each test owns its engine world: podman gets its own `--root`, `--runroot`,
//! `--tmpdir` and containers.conf/storage.conf (vfs, cgroupfs, no network);
//! containerd and dockerd are started here as children with a private root,
//! state, sockets and a unique namespace / cgroup parent, and stopped on drop
//! after their containers, images, mounts and cgroups are removed (panics
//! included). A test whose engine binary is missing prints a note and returns.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use integration_tests::daemon::{
    find_binary, is_socket, log_tail, stop_child, wait_for, Containerd,
};
use integration_tests::image::{oci_image_tar, rootfs_tar};
use integration_tests::{runtime, unique_id, Ctx, Output};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How long a daemon may take to answer on its socket.
const DAEMON_START_TIMEOUT: Duration = Duration::from_secs(20);

/// The image every engine runs: the suite's busybox rootfs.
const IMAGE: &str = "localhost/berth-engines-busybox:latest";

/// A container that exits 7 on SIGTERM (so a stop shows the signal arrived).
const TERM_AWARE: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 7' TERM; while :; do sleep 0.1; done",
];

/// Returns true (and says why) when one of `binaries` is missing.
fn skip_without(test: &str, binaries: &[&str]) -> bool {
    let missing: Vec<&str> = binaries
        .iter()
        .copied()
        .filter(|name| find_binary(name).is_none())
        .collect();
    if missing.is_empty() {
        return false;
    }
    eprintln!("{test}: skipped, not installed: {}", missing.join(", "));
    true
}

fn runtime_path() -> String {
    runtime().to_string_lossy().into_owned()
}

/// The runtime's file name (podman's name for a `--runtime PATH`).
fn runtime_name() -> String {
    runtime()
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Removes the cgroup `parent` (and everything below it) in every hierarchy:
/// pure v2, or each v1 controller and cgroup2 at `unified` on hybrid.
fn remove_cgroup_tree(parent: &str) {
    let relative = parent.trim_start_matches('/');
    let mut roots = vec![PathBuf::from(CGROUP_ROOT)];
    if let Ok(entries) = fs::read_dir(CGROUP_ROOT) {
        roots.extend(entries.flatten().map(|entry| entry.path()));
    }
    for root in roots {
        remove_cgroup_dirs(&root.join(relative));
    }
}

/// rmdir of `dir`'s sub-cgroups, deepest first, then of `dir`.
fn remove_cgroup_dirs(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            remove_cgroup_dirs(&entry.path());
        }
    }
    let _ = fs::remove_dir(dir);
}

/// AppArmor is enabled and its parser installed: docker and podman then
/// load their default profile and put it in every container's config.
fn apparmor_active() -> bool {
    fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|text| text.starts_with('Y'))
        && find_binary("apparmor_parser").is_some()
}

/// `cat /proc/self/attr/current` of a command's output: the AppArmor label
/// it ran under.
fn assert_apparmor_label(out: &Output, prefix: &str) {
    out.assert_ok();
    assert!(out.stdout.starts_with(prefix), "label {prefix}...: {out}");
}

// ---------------------------------------------------------------- podman

/// podman (root) with a private store, run root, tmpdir and configuration,
/// using the runtime under test; removes its containers, images and cgroups
/// on drop.
struct Podman {
    ctx: Ctx,
    dir: PathBuf,
    cgroup_parent: String,
}

impl Podman {
    fn new() -> Podman {
        let ctx = Ctx::new();
        let dir = ctx.work().join("podman");
        fs::create_dir_all(&dir).expect("create podman dir");
        let name = runtime_name();
        // The VM's bounding set lacks CAP_SYS_RESOURCE: podman's default
        // rlimits (1048576) fail with every runtime, so ask for small ones.
        let containers_conf = format!(
            "[containers]\n\
             default_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n\
             [engine]\n\
             cgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n\
             runtime = \"{name}\"\n\
             runtime_supports_json = [\"{name}\"]\n\
             [engine.runtimes]\n\
             {name} = [\"{}\"]\n",
            runtime_path()
        );
        fs::write(dir.join("containers.conf"), containers_conf).expect("write containers.conf");
        let storage_conf = format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
            dir.display()
        );
        fs::write(dir.join("storage.conf"), storage_conf).expect("write storage.conf");
        let podman = Podman {
            cgroup_parent: format!("/{}", unique_id("berth-engines-podman")),
            ctx,
            dir,
        };
        let tar = rootfs_tar(&podman.ctx);
        podman
            .podman(&["import".as_ref(), tar.as_os_str(), IMAGE.as_ref()])
            .assert_ok();
        podman
    }

    fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let dir = &self.dir;
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", dir.join("storage.conf"))
            .arg("--root")
            .arg(dir.join("graph"))
            .arg("--runroot")
            .arg(dir.join("run"))
            .arg("--tmpdir")
            .arg(dir.join("tmp"))
            .arg("--runtime")
            .arg(runtime())
            .args(args);
        cmd
    }

    fn podman<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        self.ctx.output(self.command(args))
    }

    /// `podman run --network none --cgroup-parent P <options> IMAGE <command>`.
    fn run(&self, options: &[&str], command: &[&str]) -> Output {
        let mut args = vec![
            "run",
            "--network",
            "none",
            "--cgroup-parent",
            &self.cgroup_parent,
        ];
        args.extend_from_slice(options);
        args.push(IMAGE);
        args.extend_from_slice(command);
        self.podman(&args)
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        let out = self.podman(&["inspect", "--format", format, name]);
        out.assert_ok();
        out.stdout.trim().to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "--all", "--force", "--time", "0"]);
        let _ = self.podman(&["rmi", "--all", "--force"]);
        remove_cgroup_tree(&self.cgroup_parent);
    }
}

#[test]
fn podman_runs_execs_pauses_and_stops() {
    if skip_without("podman_runs_execs_pauses_and_stops", &["podman", "conmon"]) {
        return;
    }
    let podman = Podman::new();
    let out = podman.run(&["--rm"], &["echo", "hi"]);
    out.assert_ok();
    assert_eq!(out.stdout, "hi\n", "{out}");

    if apparmor_active() {
        let out = podman.run(&["--rm"], &["cat", "/proc/self/attr/current"]);
        assert_apparmor_label(&out, "containers-default");
    }

    let out = podman.run(&["--rm", "-t"], &["tty"]);
    out.assert_ok();
    assert!(out.stdout.starts_with("/dev/pts/"), "{out}");

    let name = unique_id("berth-engines");
    podman
        .run(&["-d", "--name", &name, "--memory", "64m"], TERM_AWARE)
        .assert_ok();
    assert_eq!(podman.inspect(&name, "{{.State.Status}}"), "running");

    let out = podman.podman(&["exec", &name, "sh", "-c", "echo in-exec; exit 3"]);
    assert_eq!(out.code(), Some(3), "{out}");
    assert_eq!(out.stdout, "in-exec\n", "{out}");
    let out = podman.podman(&["exec", "-t", &name, "tty"]);
    out.assert_ok();
    assert!(out.stdout.starts_with("/dev/pts/"), "{out}");

    podman.podman(&["pause", &name]).assert_ok();
    assert_eq!(podman.inspect(&name, "{{.State.Status}}"), "paused");
    podman.podman(&["unpause", &name]).assert_ok();
    assert_eq!(podman.inspect(&name, "{{.State.Status}}"), "running");

    podman
        .podman(&["update", "--cpus", "0.5", &name])
        .assert_ok();
    let out = podman.podman(&["top", &name, "pid", "args"]);
    out.assert_ok();
    assert!(out.stdout.contains("while"), "{out}");

    // podman stop sends `kill ID 15`: the trap's exit code shows it arrived.
    podman.podman(&["stop", "--time", "10", &name]).assert_ok();
    assert_eq!(podman.inspect(&name, "{{.State.ExitCode}}"), "7");
    podman.podman(&["rm", &name]).assert_ok();
}

#[test]
fn podman_reports_a_missing_command_as_127() {
    if skip_without(
        "podman_reports_a_missing_command_as_127",
        &["podman", "conmon"],
    ) {
        return;
    }
    let podman = Podman::new();
    // podman maps the runtime's error text (one JSON line in its log) to 127.
    let out = podman.run(&["--rm"], &["/nonexistent"]);
    assert_eq!(out.code(), Some(127), "{out}");
    assert!(out.stderr.contains("no such file or directory"), "{out}");

    let name = unique_id("berth-engines");
    podman
        .run(&["-d", "--name", &name], &["sleep", "60"])
        .assert_ok();
    let out = podman.podman(&["exec", &name, "/nonexistent"]);
    assert_eq!(out.code(), Some(127), "{out}");
    assert!(out.stderr.contains("no such file or directory"), "{out}");
    podman
        .podman(&["rm", "--force", "--time", "0", &name])
        .assert_ok();
}

// ---------------------------------------------------------------- containerd

/// `ctr` against a private containerd in a unique namespace, with the
/// runtime under test as the shim's `BinaryName` and a private `Root`. On drop:
/// kills and deletes its tasks and containers, stops containerd, removes the
/// namespace's cgroups (the shim's cgroupsPath is `/<namespace>/<id>`).
struct Ctr {
    namespace: String,
    runtime_root: PathBuf,
    daemon: Containerd,
    ctx: Ctx,
}

impl Ctr {
    fn new() -> Ctr {
        let ctx = Ctx::new();
        let daemon = Containerd::start(&ctx, &ctx.work().join("containerd"), DAEMON_START_TIMEOUT);
        let ctr = Ctr {
            namespace: unique_id("berth-engines-ctr"),
            runtime_root: ctx.work().join("runtime-root"),
            daemon,
            ctx,
        };
        let image = oci_image_tar(&ctr.ctx, IMAGE, &["sh"]);
        ctr.ctr(&["images".as_ref(), "import".as_ref(), image.as_os_str()])
            .assert_ok();
        ctr
    }

    fn ctr<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        self.daemon.ctr(&self.ctx, &self.namespace, args)
    }

    /// `ctr run --runtime io.containerd.runc.v2 --runc-binary RT ... IMAGE ID CMD`.
    fn run(&self, options: &[&str], id: &str, command: &[&str]) -> Output {
        let runtime = runtime_path();
        let root = self.runtime_root.to_string_lossy().into_owned();
        let mut args = vec![
            "run",
            "--runtime",
            "io.containerd.runc.v2",
            "--runc-binary",
            &runtime,
            "--runc-root",
            &root,
        ];
        args.extend_from_slice(options);
        args.extend_from_slice(&[IMAGE, id]);
        args.extend_from_slice(command);
        self.ctr(&args)
    }

    fn task_status(&self, id: &str) -> Option<String> {
        self.daemon.task_status(&self.ctx, &self.namespace, id)
    }

    fn wait_task_status(&self, id: &str, want: &str) {
        let timeout = Duration::from_secs(10);
        self.daemon
            .wait_task_status(&self.ctx, &self.namespace, id, want, timeout);
    }

    fn listed(&self, what: &str) -> Vec<String> {
        let out = self.ctr(&[what, "ls", "-q"]);
        out.stdout
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        for task in self.listed("tasks") {
            let _ = self.ctr(&["task", "kill", "--signal", "SIGKILL", &task]);
            let _ = self.ctr(&["task", "delete", "--force", &task]);
        }
        for container in self.listed("containers") {
            let _ = self.ctr(&["containers", "delete", &container]);
        }
        for image in self.listed("images") {
            let _ = self.ctr(&["images", "rm", &image]);
        }
        remove_cgroup_tree(&self.namespace);
        // Then containerd stops (field drop) and the Ctx unmounts and removes
        // the snapshots and state under its work directory.
    }
}

#[test]
fn ctr_runs_execs_pauses_kills_and_deletes() {
    if skip_without(
        "ctr_runs_execs_pauses_kills_and_deletes",
        &["containerd", "ctr", "containerd-shim-runc-v2"],
    ) {
        return;
    }
    let ctr = Ctr::new();
    let id = unique_id("echo");
    let out = ctr.run(&["--rm"], &id, &["echo", "hi"]);
    out.assert_ok();
    assert_eq!(out.stdout, "hi\n", "{out}");

    // The shim reaps the init: its exit code is the task's.
    let id = unique_id("exit");
    let out = ctr.run(&["--rm"], &id, &["sh", "-c", "exit 5"]);
    assert_eq!(out.code(), Some(5), "{out}");

    let id = unique_id("sleeper");
    ctr.run(&["-d"], &id, TERM_AWARE).assert_ok();
    ctr.wait_task_status(&id, "RUNNING");

    let out = ctr.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        &id,
        "sh",
        "-c",
        "echo in-exec; exit 4",
    ]);
    assert_eq!(out.code(), Some(4), "{out}");
    assert_eq!(out.stdout, "in-exec\n", "{out}");

    // `ctr task ps` is the runtime's `ps --format json`: the init is listed.
    let listed = ctr.ctr(&["task", "ls"]);
    let init_pid = listed
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix(id.as_str()))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{listed}"))
        .to_string();
    let out = ctr.ctr(&["task", "ps", &id]);
    out.assert_ok();
    assert!(
        out.stdout
            .lines()
            .any(|line| line.split_whitespace().next() == Some(init_pid.as_str())),
        "init {init_pid}: {out}"
    );

    ctr.ctr(&["task", "pause", &id]).assert_ok();
    ctr.wait_task_status(&id, "PAUSED");
    ctr.ctr(&["task", "resume", &id]).assert_ok();
    ctr.wait_task_status(&id, "RUNNING");

    ctr.ctr(&["task", "kill", "--signal", "SIGTERM", &id])
        .assert_ok();
    ctr.wait_task_status(&id, "STOPPED");
    let out = ctr.ctr(&["task", "delete", &id]);
    out.assert_ok();
    ctr.ctr(&["containers", "delete", &id]).assert_ok();
    assert!(ctr.listed("tasks").is_empty(), "no task is left");
}

#[test]
fn ctr_reports_the_runtimes_create_and_exec_errors() {
    if skip_without(
        "ctr_reports_the_runtimes_create_and_exec_errors",
        &["containerd", "ctr", "containerd-shim-runc-v2"],
    ) {
        return;
    }
    let ctr = Ctr::new();
    // The shim keeps the msg of the last error line of the runtime's log.json.
    let id = unique_id("missing");
    let out = ctr.run(&["--rm"], &id, &["/nonexistent"]);
    out.assert_fail();
    assert!(
        out.stderr.contains("OCI runtime create failed")
            && out
                .stderr
                .contains("exec: \"/nonexistent\": stat /nonexistent: no such file or directory"),
        "{out}"
    );

    let id = unique_id("sleeper");
    ctr.run(&["-d"], &id, &["sleep", "60"]).assert_ok();
    let out = ctr.ctr(&["task", "exec", "--exec-id", "e1", &id, "/nonexistent"]);
    out.assert_fail();
    assert!(
        out.stderr.contains("OCI runtime exec failed")
            && out.stderr.contains("no such file or directory"),
        "{out}"
    );
    assert_eq!(ctr.task_status(&id).as_deref(), Some("RUNNING"));
}

// ---------------------------------------------------------------- docker

/// dockerd 20.10 over a private containerd, with `--add-runtime` for the
/// runtime under test, private data/exec roots, pid file and socket, no
/// iptables or bridge, a unique cgroup parent, in a private mount namespace
/// whose tmpfs on /etc/docker takes the key.json it always writes.
struct Docker {
    child: Child,
    socket: PathBuf,
    cgroup_parent: String,
    /// Kept for its drop: stopped after dockerd.
    _containerd: Containerd,
    ctx: Ctx,
}

/// The name the runtime under test is registered under in dockerd.
const DOCKER_RUNTIME: &str = "under-test";

impl Docker {
    fn start() -> Docker {
        let ctx = Ctx::new();
        let containerd =
            Containerd::start(&ctx, &ctx.work().join("containerd"), DAEMON_START_TIMEOUT);
        let dir = ctx.work().join("docker");
        fs::create_dir_all(&dir).expect("create docker dir");
        fs::write(dir.join("daemon.json"), "{}").expect("write daemon.json");
        let socket = dir.join("d.sock");
        let cgroup_parent = format!("/{}", unique_id("berth-engines-docker"));
        let dockerd = format!(
            "mkdir -p /etc/docker && mount -t tmpfs tmpfs /etc/docker && exec {dockerd} \
             --config-file {d}/daemon.json --data-root {d}/data --exec-root {d}/exec \
             --pidfile {d}/dockerd.pid -H unix://{sock} --containerd {ctd} \
             --iptables=false --ip6tables=false --bridge=none --storage-driver vfs \
             --cgroup-parent {cg} --add-runtime {name}={rt}",
            dockerd = find_binary("dockerd")
                .expect("dockerd is installed")
                .display(),
            d = dir.display(),
            sock = socket.display(),
            ctd = containerd.address().display(),
            cg = cgroup_parent,
            name = DOCKER_RUNTIME,
            rt = runtime_path(),
        );
        let log = dir.join("dockerd.log");
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &dockerd])
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).expect("create dockerd log"))
            .stderr(fs::File::create(&log).expect("create dockerd log"))
            .spawn()
            .expect("spawn dockerd");
        let mut docker = Docker {
            child,
            socket,
            cgroup_parent,
            _containerd: containerd,
            ctx,
        };
        let up = wait_for(DAEMON_START_TIMEOUT, || {
            !matches!(docker.child.try_wait(), Ok(None))
                || (is_socket(&docker.socket) && docker.docker(&["version"]).success())
        });
        assert!(
            up && matches!(docker.child.try_wait(), Ok(None)),
            "dockerd did not start:\n{}",
            log_tail(&log)
        );
        let tar = rootfs_tar(&docker.ctx).to_string_lossy().into_owned();
        docker
            .docker(&["import", "--change", "CMD [\"sh\"]", &tar, IMAGE])
            .assert_ok();
        docker
    }

    fn docker(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("docker");
        cmd.arg("--host")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args);
        self.ctx.output(cmd)
    }

    /// `docker run --network none --runtime under-test <options> IMAGE <command>`.
    fn run(&self, options: &[&str], command: &[&str]) -> Output {
        let mut args = vec!["run", "--network", "none", "--runtime", DOCKER_RUNTIME];
        args.extend_from_slice(options);
        args.push(IMAGE);
        args.extend_from_slice(command);
        self.docker(&args)
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        let out = self.docker(&["inspect", "--format", format, name]);
        out.assert_ok();
        out.stdout.trim().to_string()
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let listed = self.docker(&["ps", "--all", "--quiet"]);
        for id in listed.stdout.split_whitespace() {
            let _ = self.docker(&["rm", "--force", id]);
        }
        stop_child(&mut self.child, Duration::from_secs(15));
        remove_cgroup_tree(&self.cgroup_parent);
        // containerd stops next (field drop); the Ctx removes the data roots.
    }
}

#[test]
fn docker_runs_execs_updates_and_stops() {
    if skip_without(
        "docker_runs_execs_updates_and_stops",
        &["dockerd", "docker", "containerd", "unshare"],
    ) {
        return;
    }
    let docker = Docker::start();
    // dockerd's config always has a libnetwork-setkey prestart hook: it must run.
    let out = docker.run(&["--rm"], &["echo", "hi"]);
    out.assert_ok();
    assert_eq!(out.stdout, "hi\n", "{out}");

    // On an AppArmor host every container and exec gets docker-default.
    let apparmor = apparmor_active();
    if apparmor {
        let out = docker.run(&["--rm"], &["cat", "/proc/self/attr/current"]);
        assert_apparmor_label(&out, "docker-default");
    }

    // docker turns the create error's text into 127, as with runc.
    let out = docker.run(&["--rm"], &["/nonexistent"]);
    assert_eq!(out.code(), Some(127), "{out}");

    let name = unique_id("berth-engines");
    docker.run(&["-d", "--name", &name], TERM_AWARE).assert_ok();
    let out = docker.docker(&["exec", &name, "sh", "-c", "echo in-exec; exit 3"]);
    assert_eq!(out.code(), Some(3), "{out}");
    assert_eq!(out.stdout, "in-exec\n", "{out}");
    if apparmor {
        let out = docker.docker(&["exec", &name, "cat", "/proc/self/attr/current"]);
        assert_apparmor_label(&out, "docker-default");
    }

    // Zero values in docker's update JSON mean "leave unchanged".
    docker
        .docker(&["update", "--pids-limit", "77", &name])
        .assert_ok();
    let out = docker.docker(&["exec", &name, "cat", "/sys/fs/cgroup/pids/pids.max"]);
    let v2 = docker.docker(&["exec", &name, "cat", "/sys/fs/cgroup/pids.max"]);
    assert!(
        out.stdout.trim() == "77" || v2.stdout.trim() == "77",
        "{out}\n{v2}"
    );

    docker.docker(&["pause", &name]).assert_ok();
    assert_eq!(docker.inspect(&name, "{{.State.Status}}"), "paused");
    docker.docker(&["unpause", &name]).assert_ok();
    docker.docker(&["stop", "--time", "10", &name]).assert_ok();
    assert_eq!(docker.inspect(&name, "{{.State.ExitCode}}"), "7");
    docker.docker(&["rm", &name]).assert_ok();
}
