//! Rootless containers: the runtime run by an unprivileged host user (made
//! for each test with `useradd`, with /etc/subuid and /etc/subgid ranges,
//! and removed after it), as runc 1.1 runs them.

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use integration_tests::{
    rootfs_template, runtime, state_pid, unique_id, Bundle, Ctx, Output, TempDir,
};
use serde_json::{json, Value};

/// An unprivileged host user for one test; removed (after its containers)
/// on drop.
struct HostUser {
    name: String,
    uid: u32,
    gid: u32,
    /// Its `$XDG_RUNTIME_DIR`, owned by it (0700).
    xdg: TempDir,
    ids: Mutex<Vec<String>>,
}

impl HostUser {
    /// A new user with a unique name, or `None` (with a note) where this
    /// host cannot make one.
    fn new() -> Option<HostUser> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: the rootless tests make a host user and need root");
            return None;
        }
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("brt{}x{n}", std::process::id());
        let made = Command::new("useradd")
            .args([
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "--user-group",
            ])
            .arg(&name)
            .output();
        match made {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!("useradd {name}: {}", String::from_utf8_lossy(&out.stderr)),
            Err(e) => {
                eprintln!("skipped: cannot run useradd ({e})");
                return None;
            }
        }
        let user = nix::unistd::User::from_name(&name)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("useradd made no user {name}"));
        let xdg = TempDir::new("xdg");
        let host_user = HostUser {
            name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            xdg,
            ids: Mutex::new(Vec::new()),
        };
        host_user.give(host_user.xdg.path());
        std::fs::set_permissions(host_user.xdg.path(), PermissionsExt::from_mode(0o700))
            .expect("chmod the user's XDG_RUNTIME_DIR");
        Some(host_user)
    }

    /// `chown -R` to this user.
    fn give(&self, path: &Path) {
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path)
            .status()
            .expect("run chown");
        assert!(status.success(), "chown -R {path:?}");
    }

    /// `program args` as this user, with a clean login-like environment
    /// (`XDG_RUNTIME_DIR` set); std drops the supplementary groups.
    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("USER", &self.name)
            .env("HOME", self.xdg.path())
            .env("XDG_RUNTIME_DIR", self.xdg.path())
            .current_dir(self.xdg.path())
            .uid(self.uid)
            .gid(self.gid);
        cmd
    }

    /// The runtime under test as this user, with its default state root.
    fn runtime(&self, ctx: &Ctx, args: &[&str]) -> Output {
        ctx.output(self.command(&runtime(), args))
    }

    /// Where the runtime keeps its state by default: `$XDG_RUNTIME_DIR/<name>`.
    fn state_root(&self) -> PathBuf {
        let name = runtime()
            .file_name()
            .expect("runtime has a file name")
            .to_owned();
        self.xdg.path().join(name)
    }

    /// A fresh id, deleted (`--force`) as this user on drop.
    fn id(&self, prefix: &str) -> String {
        let id = unique_id(prefix);
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id.clone());
        id
    }

    /// A bundle owned by this user whose config is the runtime's
    /// `spec --rootless` with `terminal: false` and `args`.
    fn bundle(&self, ctx: &Ctx, args: &[&str]) -> Bundle {
        let bundle = ctx.bundle();
        bundle.remove_config();
        self.give(bundle.path());
        let dir = bundle.path().to_str().expect("utf-8 path");
        self.runtime(ctx, &["spec", "--rootless", "--bundle", dir])
            .assert_ok();
        let mut config = read_config(bundle.path());
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        write_config(&bundle, &config);
        bundle
    }
}

impl Drop for HostUser {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.ids.lock().unwrap_or_else(|e| e.into_inner()));
        for id in ids {
            let _ = self
                .command(&runtime(), &["delete", "--force", &id])
                .output();
        }
        // podman's pause process holds its user namespace open.
        let pause_pid = self.xdg.path().join("libpod/tmp/pause.pid");
        if let Some(pid) = std::fs::read_to_string(pause_pid)
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
        // userdel refuses a user that still has a process (the pause
        // process until it is reaped): retry for a while.
        for _ in 0..100 {
            let deleted = Command::new("userdel").arg(&self.name).output();
            if deleted.is_ok_and(|out| out.status.success()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("warning: could not remove the test user {}", self.name);
    }
}

fn read_config(bundle: &Path) -> Value {
    let text = std::fs::read_to_string(bundle.join("config.json")).expect("read config.json");
    serde_json::from_str(&text).expect("config.json is JSON")
}

fn write_config(bundle: &Bundle, config: &Value) {
    bundle.write_raw_config(&serde_json::to_string_pretty(config).expect("serialise"));
}

/// The fields of `/proc/<pid>/status` line `key` (e.g. `Uid`).
fn status_field(pid: u32, key: &str) -> Vec<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The user's first range in /etc/subuid (or subgid): (start, count).
fn sub_range(file: &str, name: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.split(':');
        if parts.next()? != name {
            return None;
        }
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    })
}

fn pure_cgroup_v2() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

#[test]
fn spec_rootless_maps_the_caller_as_runc_does() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let bundle = user.bundle(&ctx, &["sh"]);
    let config = read_config(bundle.path());
    let own = |id: u32| json!([{"containerID": 0, "hostID": id, "size": 1}]);
    assert_eq!(config["linux"]["uidMappings"], own(user.uid));
    assert_eq!(config["linux"]["gidMappings"], own(user.gid));
    let runc = Path::new("/usr/sbin/runc");
    if !runc.exists() {
        eprintln!("skipped the comparison: no /usr/sbin/runc");
        return;
    }
    let runc_dir = ctx.work().join("runc-spec");
    std::fs::create_dir(&runc_dir).expect("mkdir");
    user.give(&runc_dir);
    let dir = runc_dir.to_str().expect("utf-8 path");
    ctx.output(user.command(runc, &["spec", "--rootless", "--bundle", dir]))
        .assert_ok();
    let mut ours = read_config(bundle.path());
    let mut theirs = read_config(&runc_dir);
    for config in [&mut ours, &mut theirs] {
        // Each runtime names its hostname and spec version; the terminal
        // was switched off above.
        for field in ["hostname", "ociVersion"] {
            config.as_object_mut().expect("object").remove(field);
        }
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["sh"]);
    }
    assert_eq!(ours, theirs);
}

#[test]
fn run_as_user_is_root_inside_and_the_user_outside() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let bundle = user.bundle(&ctx, &["id"]);
    let id = user.id("rl-run");
    let dir = bundle.path().to_str().expect("utf-8 path");
    let out = user.runtime(&ctx, &["run", "--bundle", dir, &id]);
    out.assert_ok();
    assert!(out.stdout.starts_with("uid=0(root) gid=0(root)"), "{out}");
}

#[test]
fn lifecycle_as_user_keeps_state_under_xdg_runtime_dir() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let bundle = user.bundle(&ctx, &["sleep", "3600"]);
    let id = user.id("rl-life");
    let dir = bundle.path().to_str().expect("utf-8 path");
    user.runtime(&ctx, &["create", "--bundle", dir, &id])
        .assert_ok();
    let root = user.state_root();
    let meta = std::fs::metadata(&root).expect("the state root exists");
    assert_eq!(meta.uid(), user.uid);
    assert_eq!(meta.mode() & 0o7777, 0o1700, "0700 + sticky, as runc");
    assert!(root.join(&id).is_dir(), "state of {id} under {root:?}");
    user.runtime(&ctx, &["start", &id]).assert_ok();
    let state = user.runtime(&ctx, &["state", &id]).assert_ok().json();
    assert_eq!(state["status"], "running");
    let pid = state_pid(&state);
    // The user's uid outside, 0 inside.
    let uid = user.uid.to_string();
    assert_eq!(status_field(pid, "Uid"), [uid.as_str(); 4]);
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).expect("uid_map");
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        ["0", uid.as_str(), "1"]
    );
    let exec = user.runtime(&ctx, &["exec", &id, "id", "-u"]);
    assert_eq!(exec.assert_ok().stdout.trim(), "0", "{exec}");
    let listed = user
        .runtime(&ctx, &["list", "-q"])
        .assert_ok()
        .stdout
        .clone();
    assert!(listed.lines().any(|l| l == id), "{listed}");
    let table = user.runtime(&ctx, &["list"]).assert_ok().stdout.clone();
    let row = table.lines().find(|l| l.starts_with(&id)).expect("a row");
    assert!(row.ends_with(&user.name), "owner column: {row}");
    user.runtime(&ctx, &["kill", &id, "KILL"]).assert_ok();
    let mut stopped = false;
    for _ in 0..200 {
        let state = user.runtime(&ctx, &["state", &id]).assert_ok().json();
        if state["status"] == "stopped" {
            stopped = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(stopped, "{id} did not stop after SIGKILL");
    user.runtime(&ctx, &["delete", &id]).assert_ok();
    assert!(!root.join(&id).exists());
}

#[test]
fn without_xdg_runtime_dir_the_default_root_is_refused() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let bundle = user.bundle(&ctx, &["true"]);
    let id = user.id("rl-noxdg");
    let dir = bundle.path().to_str().expect("utf-8 path");
    let mut cmd = user.command(&runtime(), &["run", "--bundle", dir, &id]);
    cmd.env_remove("XDG_RUNTIME_DIR");
    let name = runtime()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    // `mkdir /run/NAME` or, once root made it, a lookup in it.
    ctx.output(cmd)
        .assert_fail()
        .assert_stderr_contains(&format!("/run/{name}"))
        .assert_stderr_contains("permission denied");
}

#[test]
fn a_limit_without_cgroup_access_fails_in_runcs_words() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let bundle = user.bundle(&ctx, &["true"]);
    let mut config = read_config(bundle.path());
    config["linux"]["resources"] = json!({"memory": {"limit": 67108864}});
    write_config(&bundle, &config);
    let id = user.id("rl-limit");
    let dir = bundle.path().to_str().expect("utf-8 path");
    let expected = if pure_cgroup_v2() {
        "rootless needs no limits + no cgrouppath when no permission is granted for cgroups"
    } else {
        "cannot set memory limit: container could not join or create cgroup"
    };
    user.runtime(&ctx, &["run", "--bundle", dir, &id])
        .assert_fail()
        .assert_stderr_contains(expected);
    // A cgroupsPath the user may not create: the permission error stands.
    config["linux"]["resources"] = json!({});
    config["linux"]["cgroupsPath"] = json!(format!("/{}", unique_id("rl-cg")));
    write_config(&bundle, &config);
    user.runtime(&ctx, &["run", "--bundle", dir, &id])
        .assert_fail()
        .assert_stderr_contains("permission denied");
}

#[test]
fn additional_gids_are_refused_in_runcs_words() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let bundle = user.bundle(&ctx, &["true"]);
    let mut config = read_config(bundle.path());
    config["process"]["user"]["additionalGids"] = json!([0]);
    write_config(&bundle, &config);
    let id = user.id("rl-gids");
    let dir = bundle.path().to_str().expect("utf-8 path");
    user.runtime(&ctx, &["run", "--bundle", dir, &id])
        .assert_fail()
        .assert_stderr_contains("cannot set any additional groups in a rootless container");
}

#[test]
fn subordinate_ranges_are_mapped_with_newuidmap() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let (Some(uids), Some(gids)) = (
        sub_range("/etc/subuid", &user.name),
        sub_range("/etc/subgid", &user.name),
    ) else {
        eprintln!("skipped: useradd gave no /etc/subuid or /etc/subgid range");
        return;
    };
    if !Path::new("/usr/bin/newuidmap").exists() {
        eprintln!("skipped: no newuidmap (Debian's uidmap package)");
        return;
    }
    let bundle = user.bundle(
        &ctx,
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g",
        ],
    );
    let mut config = read_config(bundle.path());
    let map = |own: u32, (start, count): (u32, u32)| {
        json!([
            {"containerID": 0, "hostID": own, "size": 1},
            {"containerID": 1, "hostID": start, "size": count}
        ])
    };
    config["linux"]["uidMappings"] = map(user.uid, uids);
    config["linux"]["gidMappings"] = map(user.gid, gids);
    config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    write_config(&bundle, &config);
    let id = user.id("rl-subid");
    let dir = bundle.path().to_str().expect("utf-8 path");
    let out = user.runtime(&ctx, &["run", "--bundle", dir, &id]);
    out.assert_ok();
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    let (uid, start, count) = (user.uid.to_string(), uids.0.to_string(), uids.1.to_string());
    let (gid, gstart, gcount) = (user.gid.to_string(), gids.0.to_string(), gids.1.to_string());
    assert_eq!(
        words,
        [
            "0", &uid, "1", "1", &start, &count, "0", &gid, "1", "1", &gstart, &gcount, "1000",
            "1000"
        ],
        "{out}"
    );
}

/// podman (with conmon) drives the runtime for a rootless container: it
/// runs the runtime inside its own user namespace as root there, so the
/// runtime decides "rootless" as runc does (`--rootless auto`: in a user
/// namespace) and keeps its state under `$XDG_RUNTIME_DIR`.
#[test]
fn podman_runs_a_rootless_container() {
    let Some(podman) = which("podman") else {
        eprintln!("skipped: podman is not installed");
        return;
    };
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let image = podman_image(&ctx, &user, &podman, "cgroupfs");
    let rt = runtime();
    let rt = rt.to_str().expect("utf-8 path");
    // No network: slirp4netns needs /dev/net/tun, which this VM keeps
    // from unprivileged users (a podman matter, not the runtime's).
    let script = "echo hi; id -u; cat /proc/self/uid_map";
    let args = [
        "--runtime",
        rt,
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "sh",
        "-c",
        script,
    ];
    let out = ctx.output(user.command(&podman, &args));
    out.assert_ok();
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(words[..2], ["hi", "0"], "{out}");
    // podman's user namespace: the user's own uid as 0, then its range.
    let uid = user.uid.to_string();
    assert_eq!(words[2..5], ["0", uid.as_str(), "1"], "{out}");
}

/// Rootless podman with `cgroup_manager = "systemd"` (pure cgroup v2): the
/// runtime, root in podman's user namespace, finds the owner of the user
/// bus (`busctl --user status`, as runc) and has the user's systemd make
/// `libpod-<id>.scope` with the memory limit; `podman rm` removes it.
#[test]
fn podman_with_the_systemd_cgroup_manager_uses_the_users_systemd() {
    let Some(podman) = which("podman") else {
        eprintln!("skipped: podman is not installed");
        return;
    };
    if !pure_cgroup_v2() {
        eprintln!("skipped: rootless systemd cgroups need pure cgroup v2");
        return;
    }
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let Some(manager) = UserManager::start(&user) else {
        return;
    };
    let image = podman_image(&ctx, &user, &podman, "systemd");
    let rt = runtime();
    let rt = rt.to_str().expect("utf-8 path");
    let podman_cmd = |args: &[&str]| {
        let mut all = vec!["--runtime", rt];
        all.extend(args);
        let mut cmd = user.command(&podman, &all);
        // As in a login session: podman hands XDG_RUNTIME_DIR (not
        // DBUS_SESSION_BUS_ADDRESS) on to the runtime.
        cmd.env("XDG_RUNTIME_DIR", &manager.runtime_dir);
        ctx.output(cmd)
    };
    let run = ["run", "--detach", "--network", "none", "--memory", "64m"];
    let out = podman_cmd(&[&run[..], &[&image, "sleep", "3600"]].concat());
    out.assert_ok();
    let container = out.stdout.trim().to_string();
    let scope = format!("libpod-{container}.scope");
    let shown = manager.show(&user, &scope, &["MemoryMax", "ControlGroup"]);
    let memory = podman_cmd(&["exec", &container, "cat", "/sys/fs/cgroup/memory.max"]);
    podman_cmd(&["rm", "--force", "--time", "0", &container]).assert_ok();
    assert_eq!(shown["MemoryMax"], "67108864", "{shown:?}");
    let uid = user.uid;
    let manager_cgroup = format!("/user.slice/user-{uid}.slice/user@{uid}.service/");
    assert!(
        shown["ControlGroup"].starts_with(&manager_cgroup),
        "{shown:?}"
    );
    assert_eq!(memory.assert_ok().stdout.trim(), "67108864");
    let after = manager.show(&user, &scope, &["LoadState"]);
    assert_eq!(after["LoadState"], "not-found", "the scope is gone");
}

/// A busybox image imported into `user`'s podman, whose containers.conf
/// names `cgroup_manager`.
fn podman_image(ctx: &Ctx, user: &HostUser, podman: &Path, cgroup_manager: &str) -> String {
    let tarball = ctx.work().join("busybox.tar");
    let tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs_template())
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(tar.success(), "tar the rootfs template");
    // This VM's bounding set lacks CAP_SYS_RESOURCE: podman's default
    // RLIMIT_NOFILE (1048576) cannot be set by any runtime.
    let (_, nofile) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    let config_dir = user.xdg.path().join(".config/containers");
    std::fs::create_dir_all(&config_dir).expect("mkdir .config/containers");
    let config = format!(
        "[containers]\ndefault_ulimits = [\"nofile={nofile}:{nofile}\"]\n\
         [engine]\ncgroup_manager = \"{cgroup_manager}\"\nevents_logger = \"file\"\n"
    );
    std::fs::write(config_dir.join("containers.conf"), config).expect("write containers.conf");
    user.give(&user.xdg.path().join(".config"));
    let image = unique_id("rl-podman");
    let tarball = tarball.to_str().expect("utf-8 path");
    ctx.output(user.command(podman, &["import", "--quiet", tarball, &image]))
        .assert_ok();
    image
}

/// `name` found in `$PATH`.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// A cgroup delegated to a user, as systemd's `Delegate=yes` does it: a
/// directory `/<name>` in every cgroup hierarchy, it and its
/// `cgroup.procs`/`tasks`/`cgroup.subtree_control` owned by the user,
/// cpusets filled in; in each cgroup2 tree a `caller` child for the
/// runtime's own process (moving a process needs write access to the
/// common ancestor). Removed on drop.
struct DelegatedCgroup {
    name: String,
    mounts: Vec<(PathBuf, bool)>,
}

impl DelegatedCgroup {
    fn new(user: &HostUser) -> DelegatedCgroup {
        let delegated = DelegatedCgroup {
            name: unique_id("rl-deleg"),
            mounts: cgroup_mounts(),
        };
        for (mountpoint, v2) in &delegated.mounts {
            let dir = mountpoint.join(&delegated.name);
            std::fs::create_dir(&dir).expect("mkdir the delegated cgroup");
            for file in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(parent) = std::fs::read_to_string(mountpoint.join(file)) {
                    std::fs::write(dir.join(file), parent.trim()).expect("fill in cpuset");
                }
            }
            let owned = [
                ".",
                "cgroup.procs",
                "tasks",
                "cgroup.subtree_control",
                "cgroup.threads",
            ];
            for name in owned.iter().map(|f| dir.join(f)).filter(|p| p.exists()) {
                let uid = Some(nix::unistd::Uid::from_raw(user.uid));
                let gid = Some(nix::unistd::Gid::from_raw(user.gid));
                nix::unistd::chown(&name, uid, gid).expect("chown the delegated cgroup");
            }
            if *v2 {
                std::fs::create_dir(dir.join("caller")).expect("mkdir caller");
            }
        }
        delegated
    }

    /// The `cgroup.procs` files the runtime's process goes into.
    fn caller_procs(&self) -> Vec<PathBuf> {
        let caller = |(m, _): &(PathBuf, bool)| m.join(&self.name).join("caller/cgroup.procs");
        self.mounts
            .iter()
            .filter(|(_, v2)| *v2)
            .map(caller)
            .collect()
    }

    /// The container's directory `<name>/ctr` in the hierarchy with `file`.
    fn container_file(&self, file: &str) -> PathBuf {
        self.mounts
            .iter()
            .map(|(m, _)| m.join(&self.name).join("ctr").join(file))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no {file} in any {}/ctr", self.name))
    }
}

impl Drop for DelegatedCgroup {
    fn drop(&mut self) {
        for (mountpoint, _) in &self.mounts {
            let dir = mountpoint.join(&self.name);
            for child in ["caller", "ctr"] {
                let _ = std::fs::remove_dir(dir.join(child));
            }
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Every cgroup and cgroup2 mount point (mountinfo), with "is cgroup2".
fn cgroup_mounts() -> Vec<(PathBuf, bool)> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let mut mounts: Vec<(PathBuf, bool)> = Vec::new();
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let fstype = fields.get(dash + 1).copied().unwrap_or_default();
        let point = PathBuf::from(fields[4]);
        if matches!(fstype, "cgroup" | "cgroup2") && !mounts.iter().any(|(m, _)| *m == point) {
            mounts.push((point, fstype == "cgroup2"));
        }
    }
    mounts
}

impl HostUser {
    /// `program args` as this user, started from the delegated cgroup's
    /// `caller` (root moves the shell there, then `setpriv` drops to the
    /// user), the way a systemd user session runs it.
    fn command_in(&self, cgroup: &DelegatedCgroup, program: &Path, args: &[&str]) -> Command {
        let procs: Vec<String> = cgroup
            .caller_procs()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let script = r#"for f in $CALLER_PROCS; do echo $$ > "$f" || exit 1; done
exec setpriv --reuid "$RUN_UID" --regid "$RUN_GID" --clear-groups -- "$@""#;
        let mut cmd = self.command(Path::new("/bin/sh"), &["-c", script, "sh"]);
        cmd.arg(program)
            .args(args)
            .env("CALLER_PROCS", procs.join(" "))
            .env("RUN_UID", self.uid.to_string())
            .env("RUN_GID", self.gid.to_string())
            .uid(0)
            .gid(0);
        cmd
    }
}

#[test]
fn a_delegated_cgroup_gets_the_limits() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let delegated = DelegatedCgroup::new(&user);
    let bundle = user.bundle(&ctx, &["sleep", "3600"]);
    let mut config = read_config(bundle.path());
    config["linux"]["cgroupsPath"] = json!(format!("/{}/ctr", delegated.name));
    config["linux"]["resources"] = json!({"pids": {"limit": 10}});
    write_config(&bundle, &config);
    let id = user.id("rl-deleg");
    let dir = bundle.path().to_str().expect("utf-8 path");
    let create = ["run", "--detach", "--bundle", dir, &id];
    ctx.output(user.command_in(&delegated, &runtime(), &create))
        .assert_ok();
    let state = user.runtime(&ctx, &["state", &id]).assert_ok().json();
    let pid = state_pid(&state);
    let max = std::fs::read_to_string(delegated.container_file("pids.max")).expect("pids.max");
    assert_eq!(max.trim(), "10");
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    let inside = format!("/{}/ctr", delegated.name);
    let pids_line = cgroups
        .lines()
        .find(|l| l.contains(":pids:") || l.starts_with("0::"))
        .expect("a pids or cgroup2 line");
    assert!(pids_line.ends_with(&inside), "{cgroups}");
    user.runtime(&ctx, &["delete", "--force", &id]).assert_ok();
}

/// Without cgroup access the container has no cgroup: what needs one
/// (`kill --all`, `ps`, `pause`) fails instead of acting on nothing, as
/// with runc; `delete --force` still works.
#[test]
fn without_cgroup_access_kill_all_ps_and_pause_fail() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let bundle = user.bundle(&ctx, &["sleep", "3600"]);
    let id = user.id("rl-nocg");
    let dir = bundle.path().to_str().expect("utf-8 path");
    user.runtime(&ctx, &["run", "--detach", "--bundle", dir, &id])
        .assert_ok();
    user.runtime(&ctx, &["kill", "--all", &id, "KILL"])
        .assert_fail();
    user.runtime(&ctx, &["ps", &id]).assert_fail();
    user.runtime(&ctx, &["pause", &id]).assert_fail();
    let state = user.runtime(&ctx, &["state", &id]).assert_ok().json();
    assert_eq!(state["status"], "running", "nothing was killed or frozen");
    user.runtime(&ctx, &["delete", "--force", &id]).assert_ok();
}

/// A sysfs mount needs a network namespace owned by the container's user
/// namespace; without one the kernel refuses it and, as runc 1.1, the
/// runtime does not fall back (`spec --rootless` binds the host's /sys).
#[test]
fn sysfs_needs_the_containers_own_network_namespace() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let bundle = user.bundle(&ctx, &["sh", "-c", "grep ' /sys ' /proc/self/mountinfo"]);
    let mut config = read_config(bundle.path());
    for mount in config["mounts"].as_array_mut().expect("mounts") {
        if mount["destination"] == "/sys" {
            *mount = json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"]});
        }
    }
    write_config(&bundle, &config);
    let dir = bundle.path().to_str().expect("utf-8 path");
    let id = user.id("rl-sysfs");
    user.runtime(&ctx, &["run", "--bundle", dir, &id])
        .assert_fail()
        .assert_stderr_contains("operation not permitted");
    let namespaces = config["linux"]["namespaces"].as_array_mut().expect("list");
    namespaces.push(json!({"type": "network"}));
    write_config(&bundle, &config);
    let id = user.id("rl-sysfs-net");
    let out = user.runtime(&ctx, &["run", "--bundle", dir, &id]);
    out.assert_ok();
    assert!(out.stdout.contains(" - sysfs "), "{out}");
}

/// runc's checks for an unprivileged runtime: a user namespace is
/// required, and `uid=`/`gid=` mount options must name mapped ids.
#[test]
fn configs_an_unprivileged_runtime_cannot_run_are_refused_in_runcs_words() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let bundle = user.bundle(&ctx, &["true"]);
    let dir = bundle.path().to_str().expect("utf-8 path");
    let rootless = read_config(bundle.path());
    let mut config = rootless.clone();
    for mount in config["mounts"].as_array_mut().expect("mounts") {
        if mount["destination"] == "/dev/pts" {
            mount["options"]
                .as_array_mut()
                .expect("options")
                .push(json!("gid=5"));
        }
    }
    write_config(&bundle, &config);
    user.runtime(&ctx, &["run", "--bundle", dir, &user.id("rl-gid5")])
        .assert_fail()
        .assert_stderr_contains(
            "cannot specify gid= mount options for unmapped gid in rootless containers",
        );
    let mut config = rootless;
    let namespaces = config["linux"]["namespaces"].as_array_mut().expect("list");
    namespaces.retain(|ns| ns["type"] != "user");
    write_config(&bundle, &config);
    user.runtime(&ctx, &["run", "--bundle", dir, &user.id("rl-nouserns")])
        .assert_fail()
        .assert_stderr_contains("rootless container requires user namespaces");
}

/// The user's own systemd instance (`user@UID.service`, as a login would
/// start it) with its user bus, for the systemd cgroup driver over the user
/// bus; stopped on drop, before the user goes.
struct UserManager {
    unit: String,
    /// Its runtime directory, `/run/user/UID` (the bus is `bus` in it).
    runtime_dir: PathBuf,
}

impl UserManager {
    /// Starts the user's manager, or `None` (with a note) where systemd is
    /// not PID 1.
    fn start(user: &HostUser) -> Option<UserManager> {
        if !Path::new("/run/systemd/system").is_dir() {
            eprintln!("skipped: systemd is not PID 1 (run scripts/test-systemd-vm.sh)");
            return None;
        }
        let manager = UserManager {
            unit: format!("user@{}.service", user.uid),
            runtime_dir: PathBuf::from(format!("/run/user/{}", user.uid)),
        };
        let out = Command::new("systemctl")
            .args(["start", &manager.unit])
            .output()
            .expect("run systemctl start");
        assert!(
            out.status.success(),
            "systemctl start {}: {out:?}",
            manager.unit
        );
        let bus = manager.runtime_dir.join("bus");
        assert!(
            bus.exists(),
            "no user bus {bus:?}: the dbus-user-session package is needed"
        );
        Some(manager)
    }

    /// `unix:path=/run/user/UID/bus`.
    fn bus_address(&self) -> String {
        format!("unix:path={}", self.runtime_dir.join("bus").display())
    }

    /// `systemctl --user show UNIT -p NAME...` as `user`, as a map.
    fn show(&self, user: &HostUser, unit: &str, names: &[&str]) -> HashMap<String, String> {
        let mut args = vec!["--user", "show", unit];
        for name in names {
            args.extend(["-p", name]);
        }
        let mut cmd = user.command(Path::new("systemctl"), &args);
        cmd.env("XDG_RUNTIME_DIR", &self.runtime_dir);
        let out = cmd.output().expect("run systemctl --user show");
        assert!(out.status.success(), "systemctl --user show: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl Drop for UserManager {
    fn drop(&mut self) {
        let _ = Command::new("systemctl")
            .args(["stop", &self.unit])
            .output();
    }
}

impl HostUser {
    /// The runtime as this user with `--systemd-cgroup`, its bus the user
    /// manager's (`DBUS_SESSION_BUS_ADDRESS`, as a login session has it).
    fn runtime_on_user_bus(&self, ctx: &Ctx, manager: &UserManager, args: &[&str]) -> Output {
        let mut all = vec!["--systemd-cgroup"];
        all.extend(args);
        let mut cmd = self.command(&runtime(), &all);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", manager.bus_address());
        ctx.output(cmd)
    }
}

/// Rootless `--systemd-cgroup` (runc 1.1 on cgroup v2): the user's own
/// systemd makes the scope, in `user.slice` (an empty slice in
/// `cgroupsPath`) below its own cgroup, delegated, with the limits as unit
/// properties and in the cgroup files; init is in it; `delete` leaves
/// nothing. With v1 hierarchies (hybrid) it is refused in runc's words.
#[test]
fn systemd_cgroup_rootless_makes_a_scope_in_the_users_systemd() {
    let ctx = Ctx::new();
    let Some(user) = HostUser::new() else { return };
    let Some(manager) = UserManager::start(&user) else {
        return;
    };
    let bundle = user.bundle(&ctx, &["sleep", "3600"]);
    let id = user.id("rl-sduser");
    let mut config = read_config(bundle.path());
    config["linux"]["cgroupsPath"] = json!(format!(":berth-it:{id}"));
    config["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 42}});
    write_config(&bundle, &config);
    let dir = bundle.path().to_str().expect("utf-8 path");
    let run = user.runtime_on_user_bus(&ctx, &manager, &["run", "--detach", "--bundle", dir, &id]);
    if !pure_cgroup_v2() {
        run.assert_fail()
            .assert_stderr_contains("cannot use rootless systemd cgroups manager on cgroup v1");
        return;
    }
    run.assert_ok();
    let unit = format!("berth-it-{id}.scope");
    let props = ["ControlGroup", "Slice", "Delegate", "MemoryMax", "TasksMax"];
    let shown = manager.show(&user, &unit, &props);
    let (uid, cgroup) = (user.uid, &shown["ControlGroup"]);
    let expected = format!("/user.slice/user-{uid}.slice/user@{uid}.service/user.slice/{unit}");
    assert_eq!(cgroup, &expected, "{shown:?}");
    assert_eq!(shown["Slice"], "user.slice");
    assert_eq!(shown["Delegate"], "yes");
    assert_eq!(shown["MemoryMax"], "67108864");
    assert_eq!(shown["TasksMax"], "42");
    let dir_in_fs = Path::new("/sys/fs/cgroup").join(cgroup.trim_start_matches('/'));
    let memory_max = std::fs::read_to_string(dir_in_fs.join("memory.max")).expect("memory.max");
    assert_eq!(memory_max.trim(), "67108864");
    // The container's init (its /proc/self/cgroup, seen from the host).
    let pid = state_pid(&user.runtime(&ctx, &["state", &id]).assert_ok().json());
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    assert_eq!(cgroups.trim(), format!("0::{cgroup}"));
    // The caller (the test's root-owned cgroup) may not move a process into
    // the user's scope: exec runs anyway, as with runc.
    user.runtime(&ctx, &["exec", &id, "true"]).assert_ok();
    user.runtime_on_user_bus(&ctx, &manager, &["delete", "--force", &id])
        .assert_ok();
    let after = manager.show(&user, &unit, &["LoadState"]);
    assert_eq!(after["LoadState"], "not-found", "the scope is gone");
    assert!(!dir_in_fs.exists(), "{dir_in_fs:?} is gone");
}
