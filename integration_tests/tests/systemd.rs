//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a
//! transient scope that systemd creates, carries the limits as unit
//! properties, follows `update`, and is gone after `delete` or a failed
//! create, also when containerd's runc v2 shim drives the runtime with
//! `SystemdCgroup` (a private containerd, `ctr run`). These need systemd as
//! PID 1 with a system bus: they return early with a note elsewhere. CI runs
//! them in `shared/vm` with `--init systemd` on pure v2 and hybrid
//! (`scripts/test-systemd-vm.sh`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use integration_tests::daemon::Containerd;
use integration_tests::{runtime, runtime_is_runc, state_pid, Bundle, Ctx, Output, LONG_RUNNING};
use serde_json::json;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// systemd is PID 1 (sd_booted: `/run/systemd/system` exists).
fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Returns true (and says so) when the test cannot run here.
fn skip_without_systemd(test: &str) -> bool {
    if systemd_running() {
        return false;
    }
    eprintln!("{test}: skipped, systemd is not PID 1 (run scripts/test-systemd-vm.sh)");
    true
}

fn pure_v2() -> bool {
    Path::new(CGROUP_ROOT).join("cgroup.controllers").exists()
}

/// `systemctl show UNIT -p P...` as a map.
fn unit_properties(unit: &str, names: &[&str]) -> HashMap<String, String> {
    let mut cmd = Command::new("systemctl");
    cmd.args(["show", unit]);
    for name in names {
        cmd.args(["-p", name]);
    }
    let out = cmd.output().expect("run systemctl show");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every value of a list property (`systemctl show` prints one line each).
fn unit_property_list(unit: &str, name: &str) -> Vec<String> {
    let out = Command::new("systemctl")
        .args(["show", unit, "-p", name])
        .output()
        .expect("run systemctl show");
    let prefix = format!("{name}=");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

fn unit_property(unit: &str, name: &str) -> String {
    unit_properties(unit, &[name])
        .remove(name)
        .unwrap_or_default()
}

/// The unit's directory in every hierarchy the container's cgroup may use.
fn unit_dirs(cgroup: &str) -> Vec<PathBuf> {
    let relative = cgroup.trim_start_matches('/');
    if pure_v2() {
        return vec![Path::new(CGROUP_ROOT).join(relative)];
    }
    [
        "memory", "pids", "cpu", "devices", "freezer", "systemd", "unified",
    ]
    .iter()
    .map(|h| Path::new(CGROUP_ROOT).join(h).join(relative))
    .filter(|d| d.parent().is_some_and(Path::exists))
    .collect()
}

/// A container of this test under the systemd driver; on drop it is deleted
/// and its unit stopped and reset, whatever the test did.
struct Unit<'a> {
    ctx: &'a Ctx,
    id: String,
    name: String,
    /// The unit's cgroup, as systemd's `ControlGroup` shows it.
    cgroup: String,
}

impl<'a> Unit<'a> {
    /// Scope `berth-it-<id>.scope` in the slice whose cgroup is `slice_dir`.
    fn new(ctx: &'a Ctx, prefix: &str, slice_dir: &str) -> Unit<'a> {
        let id = ctx.id(prefix);
        let name = format!("berth-it-{id}.scope");
        let cgroup = format!("{slice_dir}/{name}");
        Unit {
            ctx,
            id,
            name,
            cgroup,
        }
    }

    fn in_system_slice(ctx: &'a Ctx, prefix: &str) -> Unit<'a> {
        Unit::new(ctx, prefix, "/system.slice")
    }

    /// `slice:berth-it:<id>`, for `linux.cgroupsPath`.
    fn cgroups_path(&self, slice: &str) -> String {
        format!("{slice}:berth-it:{}", self.id)
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--systemd-cgroup"];
        all.extend(args);
        self.ctx.run(&all)
    }

    fn create(&self, bundle: &Bundle) -> Output {
        let path = bundle.path().to_string_lossy().into_owned();
        self.run(&["create", "--bundle", &path, &self.id])
    }

    fn pid(&self) -> u32 {
        state_pid(&self.ctx.state(&self.id))
    }
}

impl Drop for Unit<'_> {
    fn drop(&mut self) {
        let _ = self.run(&["delete", "--force", &self.id]);
        for verb in ["stop", "reset-failed"] {
            let _ = Command::new("systemctl").args([verb, &self.name]).output();
        }
    }
}

/// A sleeper bundle in `slice` with memory, cpu and pids limits.
fn limited_bundle(ctx: &Ctx, unit: &Unit, slice: &str) -> Bundle {
    let bundle = ctx.bundle();
    bundle.set_args(LONG_RUNNING);
    bundle.set("/linux/cgroupsPath", json!(unit.cgroups_path(slice)));
    bundle.set("/linux/resources/memory", json!({"limit": 67108864}));
    bundle.set(
        "/linux/resources/cpu",
        json!({"shares": 512, "quota": 50000, "period": 100000}),
    );
    bundle.set("/linux/resources/pids", json!({"limit": 42}));
    bundle
}

/// The lines of the container's `/proc/self/cgroup` (no cgroup namespace in
/// the default spec, so they show host paths).
fn container_cgroups(ctx: &Ctx, id: &str) -> String {
    let out = ctx.run(&["exec", id, "cat", "/proc/self/cgroup"]);
    out.assert_ok();
    out.stdout
}

/// A container process's `/proc/self/cgroup` (`lines`) puts it in the unit's
/// cgroup, in every hierarchy systemd or the runtime placed it in.
#[track_caller]
fn assert_cgroups_in_unit(lines: &str, unit: &Unit) {
    let in_unit = |controller: &str| {
        lines
            .lines()
            .find(|l| l.split(':').nth(1) == Some(controller))
            .is_some_and(|l| l.ends_with(&format!(":{}", unit.cgroup)))
    };
    if pure_v2() {
        assert!(in_unit(""), "{lines}");
    } else {
        for controller in ["name=systemd", "memory", "pids", "devices", "freezer"] {
            assert!(in_unit(controller), "{controller}: {lines}");
        }
    }
}

/// The memory limit property name for this host's cgroup version (runc's).
fn memory_property() -> &'static str {
    if pure_v2() {
        "MemoryMax"
    } else {
        "MemoryLimit"
    }
}

#[test]
fn scope_carries_the_limits_and_holds_the_container() {
    if skip_without_systemd("scope_carries_the_limits_and_holds_the_container") {
        return;
    }
    let ctx = Ctx::new();
    let unit = Unit::in_system_slice(&ctx, "sd-scope");
    let bundle = limited_bundle(&ctx, &unit, "system.slice");
    unit.create(&bundle).assert_ok();
    ctx.start(&unit.id).assert_ok();

    let props = unit_properties(
        &unit.name,
        &[
            "ActiveState",
            "ControlGroup",
            "Delegate",
            memory_property(),
            "TasksMax",
            "CPUQuotaPerSecUSec",
            "CPUWeight",
            "CPUShares",
        ],
    );
    assert_eq!(props["ActiveState"], "active", "{props:?}");
    assert_eq!(props["ControlGroup"], unit.cgroup, "{props:?}");
    assert_eq!(props["Delegate"], "yes", "{props:?}");
    assert_eq!(props[memory_property()], "67108864", "{props:?}");
    assert_eq!(props["TasksMax"], "42", "{props:?}");
    assert_eq!(props["CPUQuotaPerSecUSec"], "500ms", "{props:?}");
    if pure_v2() {
        // shares 512 → cpu.weight 20 (runc's conversion)
        assert_eq!(props["CPUWeight"], "20", "{props:?}");
    } else {
        assert_eq!(props["CPUShares"], "512", "{props:?}");
    }

    assert_cgroups_in_unit(&container_cgroups(&ctx, &unit.id), &unit);
    let init_cgroups = std::fs::read_to_string(format!("/proc/{}/cgroup", unit.pid())).unwrap();
    assert!(init_cgroups.contains(&unit.cgroup), "{init_cgroups}");

    unit.run(&["delete", "--force", &unit.id]).assert_ok();
    assert_eq!(unit_property(&unit.name, "LoadState"), "not-found");
    for dir in unit_dirs(&unit.cgroup) {
        assert!(!dir.exists(), "{} is left after delete", dir.display());
    }
}

#[test]
fn cgroup_files_hold_the_limits() {
    if skip_without_systemd("cgroup_files_hold_the_limits") {
        return;
    }
    let ctx = Ctx::new();
    let unit = Unit::in_system_slice(&ctx, "sd-files");
    let bundle = limited_bundle(&ctx, &unit, "system.slice");
    unit.create(&bundle).assert_ok();
    let relative = unit.cgroup.trim_start_matches('/');
    let read = |hierarchy: &str, file: &str| {
        let dir = match pure_v2() {
            true => Path::new(CGROUP_ROOT).join(relative),
            false => Path::new(CGROUP_ROOT).join(hierarchy).join(relative),
        };
        std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
            .trim()
            .to_string()
    };
    if pure_v2() {
        assert_eq!(read("", "memory.max"), "67108864");
        assert_eq!(read("", "cpu.max"), "50000 100000");
        assert_eq!(read("", "pids.max"), "42");
    } else {
        assert_eq!(read("memory", "memory.limit_in_bytes"), "67108864");
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("pids", "pids.max"), "42");
    }
}

#[test]
fn devices_are_a_strict_allow_list_that_lets_the_defaults_through() {
    if skip_without_systemd("devices_are_a_strict_allow_list_that_lets_the_defaults_through") {
        return;
    }
    let ctx = Ctx::new();
    let unit = Unit::in_system_slice(&ctx, "sd-dev");
    let bundle = limited_bundle(&ctx, &unit, "system.slice");
    unit.create(&bundle).assert_ok();
    ctx.start(&unit.id).assert_ok();
    assert_eq!(unit_property(&unit.name, "DevicePolicy"), "strict");
    let allowed = unit_property_list(&unit.name, "DeviceAllow");
    assert!(
        allowed.iter().any(|a| a == "/dev/char/1:3 rwm"),
        "{allowed:?}"
    );
    let out = ctx.run(&[
        "exec",
        &unit.id,
        "sh",
        "-c",
        "echo x > /dev/null && head -c 3 /dev/zero | wc -c",
    ]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "3", "{out}");
}

#[test]
fn update_sets_the_unit_properties() {
    if skip_without_systemd("update_sets_the_unit_properties") {
        return;
    }
    let ctx = Ctx::new();
    let unit = Unit::in_system_slice(&ctx, "sd-update");
    let bundle = limited_bundle(&ctx, &unit, "system.slice");
    unit.create(&bundle).assert_ok();
    ctx.start(&unit.id).assert_ok();
    unit.run(&[
        "update",
        "--memory",
        "128M",
        "--pids-limit",
        "50",
        "--cpu-quota",
        "20000",
        &unit.id,
    ])
    .assert_ok();
    let props = unit_properties(
        &unit.name,
        &[memory_property(), "TasksMax", "CPUQuotaPerSecUSec"],
    );
    assert_eq!(props[memory_property()], "134217728", "{props:?}");
    assert_eq!(props["TasksMax"], "50", "{props:?}");
    assert_eq!(props["CPUQuotaPerSecUSec"], "200ms", "{props:?}");
}

#[test]
fn failed_create_leaves_no_unit() {
    if skip_without_systemd("failed_create_leaves_no_unit") {
        return;
    }
    let ctx = Ctx::new();
    let unit = Unit::in_system_slice(&ctx, "sd-fail");
    let bundle = limited_bundle(&ctx, &unit, "system.slice");
    bundle.set_args(&["/no/such/binary"]);
    let out = unit.create(&bundle);
    out.assert_fail();
    assert_eq!(unit_property(&unit.name, "LoadState"), "not-found", "{out}");
    for dir in unit_dirs(&unit.cgroup) {
        assert!(
            !dir.exists(),
            "{} is left after a failed create",
            dir.display()
        );
    }
    assert!(!ctx.has_state_dir(&unit.id), "{out}");
}

/// A process in a scope made beforehand with the unit's name (`systemd-run
/// --scope`); killed on drop if still there.
struct ForeignScope(std::process::Child);

impl ForeignScope {
    fn start(unit: &Unit) -> ForeignScope {
        let name = unit.name.trim_end_matches(".scope");
        let child = Command::new("systemd-run")
            .args(["--quiet", "--scope", "--unit", name, "sleep", "3600"])
            .spawn()
            .expect("run systemd-run --scope");
        let scope = ForeignScope(child);
        for _ in 0..300 {
            if unit_property(&unit.name, "ActiveState") == "active" {
                return scope;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("systemd-run made no active {}", unit.name);
    }

    /// Whether its process has ended, waiting a few seconds for it.
    fn ended(&mut self) -> bool {
        for _ in 0..100 {
            if self.0.try_wait().expect("wait for systemd-run").is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for ForeignScope {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// runc 1.1.5 takes `UnitExists` from StartTransientUnit as success: the
/// existing scope gets the limits, init stays in the runtime's own cgroup
/// (only the v1 controllers are joined), and `delete` stops the scope
/// with what runs in it.
#[test]
fn an_existing_scope_gets_the_limits_but_not_init() {
    if skip_without_systemd("an_existing_scope_gets_the_limits_but_not_init") {
        return;
    }
    let ctx = Ctx::new();
    let unit = Unit::in_system_slice(&ctx, "sd-exists");
    let mut foreign = ForeignScope::start(&unit);
    let bundle = limited_bundle(&ctx, &unit, "system.slice");
    let path = bundle.path().to_string_lossy().into_owned();
    let out = unit.run(&["run", "--detach", "--bundle", &path, &unit.id]);
    out.assert_ok();
    if pure_v2() {
        out.assert_stderr_contains("container's cgroup is not empty: 1 process(es) found");
    }
    assert_eq!(unit_property(&unit.name, memory_property()), "67108864");
    assert_eq!(unit_property(&unit.name, "TasksMax"), "42");
    let own = std::fs::read_to_string("/proc/self/cgroup").expect("own cgroup");
    let own_unified = own.lines().find(|l| l.starts_with("0::"));
    let init = std::fs::read_to_string(format!("/proc/{}/cgroup", unit.pid())).expect("cgroup");
    let init_unified = init.lines().find(|l| l.starts_with("0::"));
    assert_eq!(
        init_unified, own_unified,
        "init stays in the runtime's cgroup: {init}"
    );
    if !pure_v2() {
        let memory = init.lines().find(|l| l.split(':').nth(1) == Some("memory"));
        let in_unit = format!(":{}", unit.cgroup);
        assert!(memory.is_some_and(|l| l.ends_with(&in_unit)), "{init}");
    }
    unit.run(&["delete", "--force", &unit.id]).assert_ok();
    assert!(foreign.ended(), "delete stops the scope and its process");
    assert_ne!(unit_property(&unit.name, "ActiveState"), "active");
}

#[test]
fn nested_slice_expands_to_its_parents() {
    if skip_without_systemd("nested_slice_expands_to_its_parents") {
        return;
    }
    let ctx = Ctx::new();
    let probe = ctx.id("sd-slice");
    // a slice name's dashes are its nesting: keep them out of the leaf part
    let leaf = probe.replace('-', "_");
    let slice = format!("berthit-{leaf}.slice");
    let unit = Unit::new(&ctx, "sd-slice", &format!("/berthit.slice/{slice}"));
    let bundle = limited_bundle(&ctx, &unit, &slice);
    unit.create(&bundle).assert_ok();
    assert_eq!(unit_property(&unit.name, "ControlGroup"), unit.cgroup);
    assert_eq!(unit_property(&unit.name, "Slice"), slice);
    let init_cgroups = std::fs::read_to_string(format!("/proc/{}/cgroup", unit.pid())).unwrap();
    assert!(init_cgroups.contains(&unit.cgroup), "{init_cgroups}");
    unit.run(&["delete", "--force", &unit.id]).assert_ok();
    assert_eq!(unit_property(&unit.name, "LoadState"), "not-found");
    for parent in [slice.as_str(), "berthit.slice"] {
        let _ = Command::new("systemctl").args(["stop", parent]).output();
    }
}

#[test]
fn a_slice_name_makes_a_slice_holding_the_container() {
    if skip_without_systemd("a_slice_name_makes_a_slice_holding_the_container") {
        return;
    }
    // berth-only: runc 1.1.5 starts a slice unit with `PIDs` and fails
    // ("Cannot set property PIDs, or unknown property.")
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let id = ctx.id("sd-own-slice");
    let slice = format!("berthit_{}.slice", id.replace('-', "_"));
    let bundle = ctx.bundle();
    bundle.set_args(LONG_RUNNING);
    bundle.set(
        "/linux/cgroupsPath",
        json!(format!("system.slice:x:{slice}")),
    );
    let created = ctx.run(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        &bundle.path().to_string_lossy(),
        &id,
    ]);
    let stop_slice = || {
        let _ = Command::new("systemctl").args(["stop", &slice]).output();
    };
    if !created.success() {
        stop_slice();
        panic!("{created}");
    }
    let props = unit_properties(&slice, &["ActiveState", "ControlGroup", "Wants"]);
    let pid = state_pid(&ctx.state(&id));
    let init_cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let deleted = ctx.run(&["--systemd-cgroup", "delete", "--force", &id]);
    let after = unit_property(&slice, "ActiveState");
    stop_slice();
    assert_eq!(props["ActiveState"], "active", "{props:?}");
    assert_eq!(props["ControlGroup"], format!("/{slice}"), "{props:?}");
    assert_eq!(props["Wants"], "system.slice", "{props:?}");
    assert!(
        init_cgroups.contains(&format!("/{slice}")),
        "{init_cgroups}"
    );
    deleted.assert_ok();
    assert_eq!(after, "inactive");
}

#[test]
fn cgroups_path_must_be_slice_prefix_name() {
    if skip_without_systemd("cgroups_path_must_be_slice_prefix_name") {
        return;
    }
    let ctx = Ctx::new();
    let unit = Unit::in_system_slice(&ctx, "sd-badpath");
    let bundle = limited_bundle(&ctx, &unit, "system.slice");
    bundle.set("/linux/cgroupsPath", json!("/not/systemd"));
    unit.create(&bundle).assert_stderr_contains(
        "expected cgroupsPath to be of format \\\"slice:prefix:name\\\" for systemd cgroups, \
         got \\\"/not/systemd\\\" instead",
    );
    bundle.set("/linux/cgroupsPath", json!("notaslice:p:n"));
    unit.create(&bundle)
        .assert_stderr_contains("invalid slice name: notaslice");
    assert!(!ctx.has_state_dir(&unit.id));
}

#[test]
fn systemd_cgroup_needs_systemd() {
    if systemd_running() {
        return; // the refusal is for hosts without systemd
    }
    let ctx = Ctx::new();
    let unit = Unit::in_system_slice(&ctx, "sd-none");
    let bundle = limited_bundle(&ctx, &unit, "system.slice");
    unit.create(&bundle).assert_stderr_contains(
        "systemd not running on this host, cannot use systemd cgroups manager",
    );
    assert!(!ctx.has_state_dir(&unit.id));
}

/// How long containerd may take to serve its socket, and a killed task to be
/// reported stopped (TCG emulation in the test VM makes both slow).
const CONTAINERD_WAIT: Duration = Duration::from_secs(60);

/// `ctr` against a private containerd for one test (its shims' sockets still
/// go to /run/containerd/s/). The runc v2 shim runs the runtime with
/// `--root <runc-root>/<namespace>`: the namespace is the name of the Ctx's
/// `--root` and the runc root its parent, so the runtime state of the shim's
/// containers is the Ctx's own (`ctx.state`, cleanup on drop).
struct ShimCtr<'a> {
    ctx: &'a Ctx,
    namespace: String,
    daemon: Containerd,
}

impl<'a> ShimCtr<'a> {
    fn start(ctx: &'a Ctx) -> ShimCtr<'a> {
        let namespace = ctx
            .root()
            .file_name()
            .expect("the test's --root has a name")
            .to_string_lossy()
            .into_owned();
        let dir = ctx.work().join("containerd");
        ShimCtr {
            ctx,
            namespace,
            daemon: Containerd::start(ctx, &dir, CONTAINERD_WAIT),
        }
    }

    fn ctr(&self, args: &[&str]) -> Output {
        self.daemon.ctr(self.ctx, &self.namespace, args)
    }

    /// `ctr run -d` through the runc v2 shim with the runtime under test and
    /// `--runc-systemd-cgroup` (the shim's `SystemdCgroup` option, which the
    /// CRI plugin sets for `SystemdCgroup = true`), `rootfs` as the root (no
    /// image) and `slice:prefix:name` of `unit` as the cgroups path.
    fn run_detached(&self, unit: &Unit, rootfs: &Path, memory_limit: u64, args: &[&str]) -> Output {
        // the shim runs it from the bundle directory: a relative
        // BERTH_TEST_RUNTIME would not be found there
        let runtime = std::path::absolute(runtime()).expect("absolute runtime path");
        let runc_root = self.ctx.root().parent().expect("--root has a parent");
        let cgroups_path = unit.cgroups_path("system.slice");
        let limit = memory_limit.to_string();
        let mut all = vec![
            "run",
            "--detach",
            "--null-io",
            "--runtime",
            "io.containerd.runc.v2",
            "--runc-binary",
            runtime.to_str().expect("runtime path is UTF-8"),
            "--runc-root",
            runc_root.to_str().expect("--root is UTF-8"),
            "--runc-systemd-cgroup",
            "--cgroup",
            &cgroups_path,
            "--memory-limit",
            &limit,
            "--rootfs",
            rootfs.to_str().expect("rootfs path is UTF-8"),
            &unit.id,
        ];
        all.extend(args);
        self.ctr(&all)
    }

    fn wait_task_stopped(&self, id: &str) {
        self.daemon
            .wait_task_status(self.ctx, &self.namespace, id, "STOPPED", CONTAINERD_WAIT);
    }

    /// Sends containerd SIGTERM and says whether it exited 0 by itself.
    fn stop(&mut self) -> bool {
        self.daemon
            .stop(CONTAINERD_WAIT)
            .is_some_and(|status| status.success())
    }
}

impl Drop for ShimCtr<'_> {
    /// After a failure: every task is killed and deleted and every container
    /// removed (so their shims exit) before containerd is stopped.
    fn drop(&mut self) {
        let listed = self.ctr(&["containers", "list", "--quiet"]);
        for id in listed.stdout.split_whitespace() {
            let _ = self.ctr(&["tasks", "delete", "--force", id]);
            let _ = self.ctr(&["containers", "delete", id]);
        }
    }
}

#[test]
fn containerd_shim_with_systemd_cgroup_runs_a_container_in_a_scope() {
    if skip_without_systemd("containerd_shim_with_systemd_cgroup_runs_a_container_in_a_scope") {
        return;
    }
    let ctx = Ctx::new();
    let unit = Unit::in_system_slice(&ctx, "sd-ctd");
    let bundle = ctx.bundle(); // only its rootfs copy: ctr makes the config
    let mut containerd = ShimCtr::start(&ctx);
    containerd
        .run_detached(&unit, &bundle.rootfs(), 67108864, &["/bin/sleep", "3600"])
        .assert_ok();

    let props = unit_properties(
        &unit.name,
        &["ActiveState", "ControlGroup", memory_property()],
    );
    assert_eq!(props["ActiveState"], "active", "{props:?}");
    assert_eq!(props["ControlGroup"], unit.cgroup, "{props:?}");
    assert_eq!(props[memory_property()], "67108864", "{props:?}");
    let init_cgroups = std::fs::read_to_string(format!("/proc/{}/cgroup", unit.pid())).unwrap();
    assert_cgroups_in_unit(&init_cgroups, &unit);
    // a process the shim execs joins the same cgroup
    let exec = containerd.ctr(&[
        "tasks",
        "exec",
        "--exec-id",
        "cgroup",
        &unit.id,
        "/bin/cat",
        "/proc/self/cgroup",
    ]);
    exec.assert_ok();
    assert_cgroups_in_unit(&exec.stdout, &unit);

    containerd
        .ctr(&["tasks", "kill", "--signal", "SIGKILL", &unit.id])
        .assert_ok();
    containerd.wait_task_stopped(&unit.id);
    containerd.ctr(&["tasks", "delete", &unit.id]).assert_ok();
    containerd
        .ctr(&["containers", "delete", &unit.id])
        .assert_ok();
    assert_eq!(unit_property(&unit.name, "LoadState"), "not-found");
    for dir in unit_dirs(&unit.cgroup) {
        assert!(!dir.exists(), "{} is left after delete", dir.display());
    }
    assert!(!ctx.has_state_dir(&unit.id), "the runtime's state is left");
    let listed = containerd.ctr(&["containers", "list", "--quiet"]);
    assert_eq!(listed.stdout.trim(), "", "{listed}");
    assert!(
        containerd.stop(),
        "containerd did not stop cleanly on SIGTERM"
    );
}
