//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a
//! transient scope that systemd creates, carries the limits as unit
//! properties, follows `update`, and is gone after `delete` or a failed
//! create, also when containerd's runc v2 shim drives the runtime with
//! `SystemdCgroup` (a private containerd, `ctr run`), and on the kubelet's
//! path through containerd's CRI plugin (`cri/cri_client.py`). These need
//! systemd as PID 1 with a system bus: they return early with a note
//! elsewhere. CI runs them in `shared/vm` with `--init systemd` on pure v2
//! and hybrid (`scripts/test-systemd-vm.sh`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use integration_tests::daemon::{log_tail, stop_child, wait_for, Containerd};
use integration_tests::image::oci_image_tar;
use integration_tests::{
    runtime, runtime_is_runc, state_pid, unique_id, workspace_root, Bundle, Ctx, Output,
    LONG_RUNNING,
};
use serde_json::{json, Value};

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
    assert_cgroups_in(lines, &unit.cgroup);
}

/// `/proc/<pid>/cgroup` `lines` put the process in `cgroup` in every
/// hierarchy systemd or the runtime placed it in.
#[track_caller]
fn assert_cgroups_in(lines: &str, cgroup: &str) {
    assert_cgroups_in_except(lines, cgroup, &[]);
}

/// [`assert_cgroups_in`] without checking the v1 controllers in `unchecked`.
#[track_caller]
fn assert_cgroups_in_except(lines: &str, cgroup: &str, unchecked: &[&str]) {
    let in_unit = |controller: &str| {
        lines
            .lines()
            .find(|l| l.split(':').nth(1) == Some(controller))
            .is_some_and(|l| l.ends_with(&format!(":{cgroup}")))
    };
    if pure_v2() {
        assert!(in_unit(""), "{lines}");
    } else {
        for controller in ["name=systemd", "memory", "pids", "devices", "freezer"] {
            let checked = !unchecked.contains(&controller);
            assert!(!checked || in_unit(controller), "{controller}: {lines}");
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

/// The image of the CRI test's pod: the busybox rootfs, sleeping as its
/// command (the sandbox's "pause" process).
const CRI_IMAGE: &str = "localhost/berth-it-pause:1";

/// The python the CRI client runs with (Debian's, which has `grpc` from the
/// python3-grpcio package; a pyenv `python3` on `$PATH` may not).
const CRI_PYTHON: &str = "/usr/bin/python3";

/// How long the client waits for one CRI call (its gRPC deadline).
const CRI_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// `integration_tests/cri/cri_client.py`: a CRI client with hand-encoded
/// messages (Debian has no crictl).
fn cri_client() -> PathBuf {
    workspace_root().join("integration_tests/cri/cri_client.py")
}

/// The kubelet's systemd cgroup driver's slices for one pod of QoS class
/// Burstable: `kubepods-burstable-pod<uid>.slice` (dashes of the uid become
/// underscores, since a dash nests). On drop the pod slice is stopped, as
/// the kubelet does, and so are its parents if this test loaded them.
struct PodSlice {
    uid: String,
    name: String,
    /// The parent slices that were not active before the test.
    new_parents: Vec<&'static str>,
}

impl PodSlice {
    const PARENTS: [&'static str; 2] = ["kubepods-burstable.slice", "kubepods.slice"];

    fn new() -> PodSlice {
        let uid = unique_id("cri");
        let name = format!("kubepods-burstable-pod{}.slice", uid.replace('-', "_"));
        let new_parents = PodSlice::PARENTS
            .into_iter()
            .filter(|slice| unit_property(slice, "ActiveState") != "active")
            .collect();
        PodSlice {
            uid,
            name,
            new_parents,
        }
    }

    /// Its cgroup: `/kubepods.slice/kubepods-burstable.slice/<name>`.
    fn cgroup(&self) -> String {
        format!("/kubepods.slice/kubepods-burstable.slice/{}", self.name)
    }

    /// The cgroup of the scope `cri-containerd-<id>.scope` that containerd
    /// asks for (cgroupsPath `<pod slice>:cri-containerd:<id>`).
    fn scope_cgroup(&self, id: &str) -> String {
        format!("{}/cri-containerd-{id}.scope", self.cgroup())
    }

    /// The cgroups below the pod slice, in every hierarchy.
    fn children(&self) -> Vec<PathBuf> {
        unit_dirs(&self.cgroup())
            .iter()
            .filter_map(|dir| std::fs::read_dir(dir).ok())
            .flat_map(|entries| entries.flatten().map(|entry| entry.path()))
            .filter(|path| path.is_dir())
            .collect()
    }
}

impl Drop for PodSlice {
    fn drop(&mut self) {
        let slices = std::iter::once(self.name.as_str()).chain(self.new_parents.iter().copied());
        for slice in slices {
            let _ = Command::new("systemctl").args(["stop", slice]).output();
        }
    }
}

/// `cri_client.py` serving calls over one connection (python with grpc
/// starts slowly under the VM's emulation): one JSON line per call in, one
/// out; its stderr goes to `stderr`. Killed on drop.
struct CriClient {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
}

impl CriClient {
    fn spawn(socket: &Path, stderr: &Path) -> CriClient {
        let mut child = Command::new(CRI_PYTHON)
            .arg(cri_client())
            .arg(socket)
            .env("CRI_CLIENT_TIMEOUT", CRI_CALL_TIMEOUT.as_secs().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr).expect("create the client's stderr file"))
            .spawn()
            .expect("spawn cri_client.py");
        let stdout = child.stdout.take().expect("the client's stdout");
        let (sender, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if line.is_err() || sender.send(line.unwrap_or_default()).is_err() {
                    break;
                }
            }
        });
        CriClient {
            stdin: child.stdin.take(),
            child,
            replies,
        }
    }

    /// One call: the response, or the error text (also when no reply came
    /// in time: the client's own deadline plus a margin).
    fn call(&mut self, method: &str, request: &Value) -> Result<Value, String> {
        let line = json!({"method": method, "request": request}).to_string() + "\n";
        let stdin = self.stdin.as_mut().ok_or("the client's stdin is closed")?;
        stdin
            .write_all(line.as_bytes())
            .map_err(|e| format!("{method}: write to the client: {e}"))?;
        let reply = self
            .replies
            .recv_timeout(CRI_CALL_TIMEOUT + Duration::from_secs(10))
            .map_err(|e| {
                self.stdin = None; // a late reply would answer the next call
                format!("{method}: no reply from the client: {e}")
            })?;
        let mut reply: Value =
            serde_json::from_str(&reply).map_err(|e| format!("{method}: reply {reply:?}: {e}"))?;
        match reply["error"].as_str() {
            Some(error) => Err(error.to_string()),
            None => Ok(reply["response"].take()),
        }
    }
}

impl Drop for CriClient {
    fn drop(&mut self) {
        drop(self.stdin.take()); // it exits at the end of its input
        if stop_child(&mut self.child, Duration::from_secs(5)).is_none() {
            eprintln!("cri_client.py did not exit by itself");
        }
    }
}

/// A private containerd with the CRI plugin: one runtime (the one under
/// test) through the runc v2 shim with `SystemdCgroup = true`, as the
/// kubelet's systemd cgroup driver needs, and [`CRI_IMAGE`] as the sandbox
/// image, imported beforehand (no registry). The CRI namespace is `k8s.io`:
/// the shim runs the runtime with `--root <Root>/k8s.io`, a link to the
/// Ctx's `--root`, so the Ctx's cleanup also covers the shim's containers.
/// On drop every container and sandbox still listed is removed.
struct Cri<'a> {
    ctx: &'a Ctx,
    client: RefCell<CriClient>,
    daemon: Containerd,
}

impl<'a> Cri<'a> {
    fn start(ctx: &'a Ctx) -> Cri<'a> {
        let dir = ctx.work().join("containerd");
        let runc_root = ctx.work().join("runc-root");
        std::fs::create_dir_all(&runc_root).expect("create the shim's runtime root");
        std::os::unix::fs::symlink(ctx.root(), runc_root.join("k8s.io"))
            .expect("link <Root>/k8s.io to the test's --root");
        let cni = dir.join("cni"); // no CNI: the pod uses the host's network
        std::fs::create_dir_all(&cni).expect("create an empty CNI directory");
        let runtime = std::path::absolute(runtime()).expect("absolute runtime path");
        let cri = format!(
            r#"[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{CRI_IMAGE}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni}"
    conf_dir = "{cni}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "under-test"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.under-test]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.under-test.options]
        BinaryName = "{runtime}"
        Root = "{runc_root}"
        SystemdCgroup = true
"#,
            cni = cni.display(),
            runtime = runtime.display(),
            runc_root = runc_root.display(),
        );
        let daemon = Containerd::start_with_cri(ctx, &dir, CONTAINERD_WAIT, &cri);
        let client = CriClient::spawn(&daemon.address(), &ctx.work().join("cri_client.err"));
        let cri = Cri {
            ctx,
            client: RefCell::new(client),
            daemon,
        };
        let image = oci_image_tar(ctx, CRI_IMAGE, LONG_RUNNING);
        cri.daemon
            .ctr(
                ctx,
                "k8s.io",
                &["images".as_ref(), "import".as_ref(), image.as_os_str()],
            )
            .assert_ok();
        // the CRI plugin learns of the image from containerd's events
        let request = json!({"image": {"image": CRI_IMAGE}});
        let known = wait_for(CONTAINERD_WAIT, || {
            cri.call_quietly("ImageStatus", &request)
                .is_some_and(|status| status["image"]["repo_tags"][0] == CRI_IMAGE)
        });
        assert!(
            known,
            "the CRI plugin does not list {CRI_IMAGE}; the client's stderr (python3-grpcio installed?):\n{}",
            log_tail(&ctx.work().join("cri_client.err"))
        );
        cri
    }

    /// One CRI call that must succeed; its response.
    #[track_caller]
    fn call(&self, method: &str, request: Value) -> Value {
        let reply = self.client.borrow_mut().call(method, &request);
        reply.unwrap_or_else(|error| {
            panic!(
                "{error}\nrequest: {request}\nclient's stderr:\n{}\ncontainerd's log:\n{}",
                log_tail(&self.ctx.work().join("cri_client.err")),
                log_tail(&self.daemon.log())
            )
        })
    }

    /// A CRI call for waits and cleanup: never panics.
    fn call_quietly(&self, method: &str, request: &Value) -> Option<Value> {
        self.client.borrow_mut().call(method, request).ok()
    }

    /// The `info` JSON of a verbose status (`PodSandboxStatus`,
    /// `ContainerStatus`): the pid, the runtime spec, ...
    fn verbose_info(&self, method: &str, request: Value) -> Value {
        let status = self.call(method, request);
        let info = status["info"]["info"]
            .as_str()
            .expect("verbose status has info");
        serde_json::from_str(info).expect("the info is JSON")
    }

    /// The ids of the listed sandboxes or containers (`method` is
    /// `ListPodSandbox` or `ListContainers`).
    fn listed(&self, method: &str) -> Option<Vec<String>> {
        let list = self.call_quietly(method, &json!({}))?;
        let items = list.get("items").or(list.get("containers"));
        Some(
            items
                .and_then(|items| items.as_array())
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item["id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// Whether containerd's log has `text`.
    fn logged(&self, text: &str) -> bool {
        std::fs::read_to_string(self.daemon.log()).is_ok_and(|log| log.contains(text))
    }
}

impl Drop for Cri<'_> {
    /// After a failure: every container, then every sandbox is stopped and
    /// removed (so their shims exit and their mounts go) before containerd
    /// is stopped.
    fn drop(&mut self) {
        for id in self.listed("ListContainers").unwrap_or_default() {
            let _ = self.call_quietly("StopContainer", &json!({"container_id": id, "timeout": 1}));
            let _ = self.call_quietly("RemoveContainer", &json!({"container_id": id}));
        }
        for id in self.listed("ListPodSandbox").unwrap_or_default() {
            let _ = self.call_quietly("StopPodSandbox", &json!({"pod_sandbox_id": id}));
            let _ = self.call_quietly("RemovePodSandbox", &json!({"pod_sandbox_id": id}));
        }
    }
}

/// What a scope of the CRI test must be while its pod runs: active, with
/// the cgroup containerd asked for, holding `pid` (v1: except in the
/// `unchecked` controllers).
#[track_caller]
fn assert_scope_holds(cgroup: &str, pid: u64, unchecked: &[&str]) -> HashMap<String, String> {
    let unit = cgroup
        .rsplit('/')
        .next()
        .expect("a scope's cgroup has a name");
    let props = unit_properties(unit, &["ActiveState", "ControlGroup", memory_property()]);
    assert_eq!(props["ActiveState"], "active", "{unit}: {props:?}");
    assert_eq!(props["ControlGroup"], cgroup, "{unit}: {props:?}");
    let lines =
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read /proc/PID/cgroup");
    assert_cgroups_in_except(&lines, cgroup, unchecked);
    props
}

/// The scope and its cgroup directories are gone (waits a little: systemd
/// collects a scope whose processes exited by itself).
#[track_caller]
fn assert_scope_gone(cgroup: &str) {
    let unit = cgroup
        .rsplit('/')
        .next()
        .expect("a scope's cgroup has a name");
    let gone = wait_for(Duration::from_secs(10), || {
        unit_property(unit, "LoadState") == "not-found"
    });
    assert!(
        gone,
        "{unit} is left: {:?}",
        unit_properties(unit, &["LoadState", "ActiveState"])
    );
    for dir in unit_dirs(cgroup) {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
}

/// The kubelet's path for a pod, through containerd's CRI plugin with
/// `SystemdCgroup = true` (the runc v2 shim runs the runtime under test with
/// `--systemd-cgroup`): a host-network pod in its Burstable pod slice and a
/// container with a memory limit each run in a `cri-containerd-<id>.scope`
/// of that slice; ExecSync runs in the container's cgroup; stopping and
/// removing both leaves no scope, cgroup or runtime state behind. The
/// container shares the sandbox's pid namespace (a pod with
/// shareProcessNamespace), so after its init exits the shim runs
/// `kill --all` on it.
#[test]
fn containerd_cri_with_systemd_cgroup_runs_a_pod_in_scopes() {
    if skip_without_systemd("containerd_cri_with_systemd_cgroup_runs_a_pod_in_scopes") {
        return;
    }
    let ctx = Ctx::new();
    let pod = PodSlice::new();
    let mut cri = Cri::start(&ctx);
    let sandbox_config = json!({
        "metadata": {"name": "berth-it-pod", "uid": pod.uid, "namespace": "berth-it"},
        "log_directory": ctx.work().join("pod-logs").to_str().expect("UTF-8 path"),
        "linux": {
            "cgroup_parent": pod.name,
            "security_context": {"namespace_options": {"network": "NODE", "pid": "CONTAINER"}},
        },
    });
    let sandbox = cri.call("RunPodSandbox", json!({"config": sandbox_config}));
    let sandbox_id = sandbox["pod_sandbox_id"]
        .as_str()
        .expect("a sandbox id")
        .to_string();
    let sandbox_request = json!({"pod_sandbox_id": sandbox_id, "verbose": true});
    let sandbox_info = cri.verbose_info("PodSandboxStatus", sandbox_request);
    let sandbox_cgroup = pod.scope_cgroup(&sandbox_id);
    // runc 1.1.5 on v1/hybrid leaves the sandbox's process in the pod
    // slice's devices cgroup, outside its scope (berth: in the scope)
    let unchecked: &[&str] = if runtime_is_runc() { &["devices"] } else { &[] };
    let sandbox_pid = sandbox_info["pid"].as_u64().expect("sandbox pid");
    assert_scope_holds(&sandbox_cgroup, sandbox_pid, unchecked);

    let limit: u64 = 64 << 20;
    let created = cri.call(
        "CreateContainer",
        json!({
            "pod_sandbox_id": sandbox_id,
            "config": {
                "metadata": {"name": "sleeper"},
                "image": {"image": CRI_IMAGE},
                "command": LONG_RUNNING,
                "log_path": "sleeper.log",
                "linux": {"resources": {
                    "memory_limit_in_bytes": limit,
                    "cpu_shares": 512,
                    "cpu_period": 100000,
                    "cpu_quota": 50000,
                }},
            },
            "sandbox_config": sandbox_config,
        }),
    );
    let id = created["container_id"]
        .as_str()
        .expect("a container id")
        .to_string();
    cri.call("StartContainer", json!({"container_id": id}));
    let info = cri.verbose_info(
        "ContainerStatus",
        json!({"container_id": id, "verbose": true}),
    );
    let cgroup = pod.scope_cgroup(&id);
    assert_eq!(
        info["runtimeSpec"]["linux"]["cgroupsPath"],
        format!("{}:cri-containerd:{id}", pod.name)
    );
    let props = assert_scope_holds(&cgroup, info["pid"].as_u64().expect("container pid"), &[]);
    assert_eq!(props[memory_property()], limit.to_string(), "{props:?}");
    let status = cri.call("ContainerStatus", json!({"container_id": id}));
    assert_eq!(status["status"]["state"], "CONTAINER_RUNNING", "{status}");

    // An exec'd process is in the container's cgroup: on pure v2 the CRI
    // plugin gives the container a cgroup namespace rooted at the scope.
    let (memory_file, own_cgroup) = if pure_v2() {
        ("/sys/fs/cgroup/memory.max", "0::/".to_string())
    } else {
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", String::new())
    };
    let exec = cri.call(
        "ExecSync",
        json!({
            "container_id": id,
            "cmd": ["sh", "-c", format!("cat {memory_file} /proc/self/cgroup")],
            "timeout": 20,
        }),
    );
    assert_eq!(exec["exit_code"].as_i64().unwrap_or(0), 0, "{exec}");
    let stdout = exec["stdout"].as_str().unwrap_or_default();
    let (memory, lines) = stdout.split_once('\n').expect("two files");
    assert_eq!(memory, limit.to_string(), "{exec}");
    if own_cgroup.is_empty() {
        assert_cgroups_in(lines, &cgroup);
    } else {
        assert_eq!(lines.trim(), own_cgroup, "{exec}");
    }
    let failing = cri.call(
        "ExecSync",
        json!({"container_id": id, "cmd": ["sh", "-c", "echo out; echo err >&2; exit 3"], "timeout": 20}),
    );
    assert_eq!(failing["exit_code"], 3, "{failing}");
    assert_eq!(failing["stdout"], "out\n", "{failing}");
    assert_eq!(failing["stderr"], "err\n", "{failing}");

    cri.call("StopContainer", json!({"container_id": id, "timeout": 10}));
    let status = cri.call("ContainerStatus", json!({"container_id": id}));
    assert_eq!(status["status"]["state"], "CONTAINER_EXITED", "{status}");
    cri.call("RemoveContainer", json!({"container_id": id}));
    assert_scope_gone(&cgroup);
    cri.call("StopPodSandbox", json!({"pod_sandbox_id": sandbox_id}));
    cri.call("RemovePodSandbox", json!({"pod_sandbox_id": sandbox_id}));
    assert_scope_gone(&sandbox_cgroup);

    assert_eq!(cri.listed("ListContainers"), Some(vec![]));
    assert_eq!(cri.listed("ListPodSandbox"), Some(vec![]));
    assert_eq!(
        pod.children(),
        Vec::<PathBuf>::new(),
        "cgroups left in the pod slice"
    );
    assert_eq!(
        ctx.root_entries(),
        Vec::<String>::new(),
        "the runtime's state is left"
    );
    assert!(
        !cri.logged("failed to kill init's children"),
        "the shim's kill --all after the container's exit failed:\n{}",
        log_tail(&cri.daemon.log())
    );
    assert!(
        cri.daemon
            .stop(CONTAINERD_WAIT)
            .is_some_and(|s| s.success()),
        "containerd did not stop cleanly on SIGTERM"
    );
}
