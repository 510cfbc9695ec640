//! Resources in cgroups, seen from the host: limits, membership, `update`,
//! `events --stats`, removal on delete. Works on cgroup v1/hybrid and pure v2.

use std::path::{Path, PathBuf};

use integration_tests::{state_pid, unique_id, Ctx};
use serde_json::json;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// True on a pure cgroup v2 host.
fn unified() -> bool {
    Path::new(CGROUP_ROOT).join("cgroup.controllers").exists()
}

/// The directory of cgroup `path` for `controller` (v1), or the unified one (v2).
fn cgroup_dir(controller: &str, path: &str) -> PathBuf {
    let relative = path.trim_start_matches('/');
    if unified() {
        Path::new(CGROUP_ROOT).join(relative)
    } else {
        Path::new(CGROUP_ROOT).join(controller).join(relative)
    }
}

fn read_cgroup_file(controller: &str, path: &str, file: &str) -> String {
    let full = cgroup_dir(controller, path).join(file);
    std::fs::read_to_string(&full)
        .unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
        .trim()
        .to_string()
}

fn memory_limit(path: &str) -> String {
    let file = if unified() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    read_cgroup_file("memory", path, file)
}

fn pids_limit(path: &str) -> String {
    read_cgroup_file("pids", path, "pids.max")
}

/// A unique parent cgroup for one test; its leftovers are removed on drop, in
/// every hierarchy.
struct CgroupParent {
    name: String,
}

impl CgroupParent {
    fn new() -> CgroupParent {
        CgroupParent {
            name: unique_id("berth-it-cg"),
        }
    }

    /// `/<parent>/<leaf>`, for `linux.cgroupsPath`.
    fn child(&self, leaf: &str) -> String {
        format!("/{}/{leaf}", self.name)
    }

    fn dirs(&self) -> Vec<PathBuf> {
        let roots: Vec<PathBuf> = if unified() {
            vec![PathBuf::from(CGROUP_ROOT)]
        } else {
            std::fs::read_dir(CGROUP_ROOT)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default()
        };
        roots.into_iter().map(|r| r.join(&self.name)).collect()
    }
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        for dir in self.dirs().into_iter().filter(|d| d.is_dir()) {
            if let Ok(children) = std::fs::read_dir(&dir) {
                for child in children.filter_map(|e| e.ok()).map(|e| e.path()) {
                    if child.is_dir() {
                        let _ = std::fs::remove_dir(&child);
                    }
                }
            }
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Creates a sleeper in cgroup `path` with `resources`; returns its id.
fn create_in_cgroup(ctx: &Ctx, path: &str, resources: serde_json::Value) -> String {
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    bundle.set("/linux/cgroupsPath", json!(path));
    bundle.set("/linux/resources", resources);
    let id = ctx.id("cg");
    ctx.create(&bundle, &id).assert_ok();
    id
}

fn default_resources() -> serde_json::Value {
    json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": 67108864},
        "pids": {"limit": 50}
    })
}

#[test]
fn resources_are_written_to_the_cgroup() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("limits");
    let mut resources = default_resources();
    resources["cpu"] = json!({"shares": 512});
    create_in_cgroup(&ctx, &path, resources);
    assert_eq!(memory_limit(&path), "67108864");
    assert_eq!(pids_limit(&path), "50");
    if unified() {
        // runc's conversion: weight = 1 + (shares - 2) * 9999 / 262142.
        assert_eq!(read_cgroup_file("cpu", &path, "cpu.weight"), "20");
    } else {
        assert_eq!(read_cgroup_file("cpu", &path, "cpu.shares"), "512");
    }
}

#[test]
fn init_is_placed_in_the_cgroup() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("member");
    let id = create_in_cgroup(&ctx, &path, default_resources());
    let pid = state_pid(&ctx.state(&id));
    let procs = read_cgroup_file("pids", &path, "cgroup.procs");
    assert_eq!(procs, pid.to_string());
    // In that cgroup in every hierarchy: each v1 one, named ones such as
    // name=systemd, and the cgroup2 tree (hybrid's unified one included).
    // `misc` is left alone: runc 1.1 does not know that controller.
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    let wanted = format!(":{path}");
    assert!(
        membership
            .lines()
            .filter(|l| !l.contains(":misc:"))
            .all(|l| l.ends_with(&wanted)),
        "not every line ends with {wanted}:\n{membership}"
    );
    let memory = if unified() { "0::" } else { ":memory:" };
    assert!(
        membership.contains(&format!("{memory}{path}")),
        "{membership}"
    );
}

#[test]
fn delete_removes_the_cgroup() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("removed");
    let id = create_in_cgroup(&ctx, &path, default_resources());
    assert!(cgroup_dir("memory", &path).is_dir());
    ctx.delete_force(&id).assert_ok();
    assert!(!cgroup_dir("memory", &path).exists());
    assert!(!cgroup_dir("pids", &path).exists());
}

#[test]
fn pids_limit_is_enforced() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let path = parent.child("pidsmax");
    bundle.set("/linux/cgroupsPath", json!(path));
    bundle.set("/linux/resources/pids", json!({"limit": 3}));
    bundle.set_args(&[
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do sleep 5 & done; echo done",
    ]);
    let id = ctx.id("pids");
    let out = ctx.run_container(&bundle, &id);
    assert!(
        out.stderr.contains("can't fork") || out.stderr.contains("Resource temporarily"),
        "forks beyond the limit must fail: {out}"
    );
}

#[test]
fn update_resources_from_a_file_and_stdin() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("update");
    let id = create_in_cgroup(&ctx, &path, default_resources());
    let file = ctx.work().join("resources.json");
    std::fs::write(
        &file,
        json!({"memory": {"limit": 33554432}, "pids": {"limit": 20}}).to_string(),
    )
    .expect("write resources");
    ctx.run(&[
        "update".as_ref(),
        "--resources".as_ref(),
        file.as_os_str(),
        id.as_ref(),
    ])
    .assert_ok();
    assert_eq!(memory_limit(&path), "33554432");
    assert_eq!(pids_limit(&path), "20");
    ctx.sh(&format!(
        "echo '{{\"pids\": {{\"limit\": 10}}}}' | \"$RUNTIME\" --root \"$ROOT\" update --resources - {id}"
    ))
    .assert_ok();
    assert_eq!(pids_limit(&path), "10");
    assert_eq!(memory_limit(&path), "33554432", "unrelated limits stay");
}

#[test]
fn update_with_flags() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("flags");
    let id = create_in_cgroup(&ctx, &path, default_resources());
    ctx.run(&["update", "--pids-limit", "30", "--memory", "50331648", &id])
        .assert_ok();
    assert_eq!(pids_limit(&path), "30");
    assert_eq!(memory_limit(&path), "50331648");
}

#[test]
fn update_of_missing_container_fails() {
    let ctx = Ctx::new();
    ctx.run(&["update", "--pids-limit", "30", "ghost"])
        .assert_fail()
        .assert_stderr_contains("container does not exist");
}

#[test]
fn events_stats_reports_memory_and_pids() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("stats");
    let id = create_in_cgroup(&ctx, &path, default_resources());
    ctx.start(&id).assert_ok();
    let out = ctx.run(&["events", "--stats", &id]);
    out.assert_ok();
    let event = out.json();
    assert_eq!(event["type"], json!("stats"));
    assert_eq!(event["id"], json!(id));
    let data = &event["data"];
    assert!(
        data["memory"]["usage"]["usage"]
            .as_u64()
            .is_some_and(|u| u > 0),
        "{event}"
    );
    assert_eq!(data["memory"]["usage"]["limit"], json!(67108864), "{event}");
    assert_eq!(data["pids"]["current"], json!(1), "{event}");
    assert_eq!(data["pids"]["limit"], json!(50), "{event}");
}

/// `exec --cgroup`: the process runs in an existing sub-cgroup of the
/// container's (v1: of the named controller; pure v2: of the cgroup2 tree),
/// and a missing one is an error.
#[test]
fn exec_runs_in_an_existing_sub_cgroup() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("execsub");
    let id = create_in_cgroup(&ctx, &path, default_resources());
    ctx.start(&id).assert_ok();
    let (flag, line_start) = if unified() {
        ("sub".to_string(), "0::")
    } else {
        ("memory:sub".to_string(), ":memory:")
    };
    let cat = ["exec", "--cgroup", &flag, &id, "cat", "/proc/self/cgroup"];
    ctx.run(&cat).assert_fail();
    std::fs::create_dir(cgroup_dir("memory", &path).join("sub")).expect("mkdir sub-cgroup");
    let out = ctx.run(&cat);
    out.assert_ok();
    let wanted = format!("{line_start}{path}/sub");
    assert!(
        out.stdout.lines().any(|l| l.ends_with(&wanted)),
        "{wanted} not in\n{}",
        out.stdout
    );
    if !unified() {
        // Only the named controller moves.
        let pids = format!(":pids:{path}");
        assert!(
            out.stdout.lines().any(|l| l.ends_with(&pids)),
            "{}",
            out.stdout
        );
    }
}

/// Polls `done` every 50 ms for up to `timeout`.
fn wait_until(timeout: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    done()
}

#[test]
fn events_stream_stats_and_oom_kills() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("oom");
    let id = create_in_cgroup(&ctx, &path, json!({"memory": {"limit": 8388608}}));
    ctx.start(&id).assert_ok();
    let events = ctx.spawn(&["events", "--interval", "200ms", &id]);
    let lines = |text: String| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect()
    };
    let stats_seen = wait_until(std::time::Duration::from_secs(10), || {
        lines(events.stdout_so_far()).len() >= 2
    });
    assert!(stats_seen, "no stats stream: {:?}", events.stdout_so_far());
    // tail keeps its whole input in memory: far beyond 8 MiB.
    let out = ctx.run(&[
        "exec",
        &id,
        "sh",
        "-c",
        "head -c 64m /dev/zero | tail >/dev/null",
    ]);
    assert!(
        !out.success(),
        "the exec should have been OOM-killed: {out}"
    );
    let oom_seen = wait_until(std::time::Duration::from_secs(10), || {
        events.stdout_so_far().contains(r#""type":"oom""#)
    });
    let all = lines(events.stdout_so_far());
    assert!(oom_seen, "no oom event: {all:?}");
    for event in &all {
        assert_eq!(event["id"], json!(id), "{event}");
        assert!(
            event["type"] == "stats" || event["type"] == "oom",
            "{event}"
        );
    }
    let stats = all
        .iter()
        .find(|e| e["type"] == "stats")
        .expect("a stats event");
    assert_eq!(stats["data"]["memory"]["usage"]["limit"], json!(8388608));
}

#[test]
fn events_of_a_stopped_container_are_refused() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["true"]);
    let id = ctx.id("evstop");
    ctx.create(&bundle, &id).assert_ok();
    ctx.start(&id).assert_ok();
    ctx.wait_status(&id, "stopped", std::time::Duration::from_secs(10));
    ctx.run(&["events", "--stats", &id])
        .assert_fail()
        .assert_stderr_contains("is not running");
}

/// `cpu.max` (v2) or `cpu.cfs_quota_us` (v1) as the quota alone.
fn cpu_quota(path: &str) -> String {
    if unified() {
        let max = read_cgroup_file("cpu", path, "cpu.max");
        max.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    } else {
        read_cgroup_file("cpu", path, "cpu.cfs_quota_us")
    }
}

fn cpu_weight_or_shares(path: &str) -> String {
    if unified() {
        read_cgroup_file("cpu", path, "cpu.weight")
    } else {
        read_cgroup_file("cpu", path, "cpu.shares")
    }
}

/// Memory+swap as runc's `memory.swap` means it (v1 memsw; v2 swap.max is the
/// swap part alone), or `None` without swap accounting.
fn memory_and_swap(path: &str) -> Option<u64> {
    let (file, add_limit) = if unified() {
        ("memory.swap.max", true)
    } else {
        ("memory.memsw.limit_in_bytes", false)
    };
    let dir = cgroup_dir("memory", path);
    let value: u64 = std::fs::read_to_string(dir.join(file))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let limit: u64 = memory_limit(path).parse().ok()?;
    Some(if add_limit { value + limit } else { value })
}

#[test]
fn docker_style_update_leaves_zero_values_unchanged() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("docker");
    let id = create_in_cgroup(
        &ctx,
        &path,
        json!({
            "memory": {"limit": 67108864, "swap": 134217728},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000},
            "pids": {"limit": 2048}
        }),
    );
    let swap_before = memory_and_swap(&path);
    if let Some(swap) = swap_before {
        assert_eq!(swap, 134217728);
    }
    let weight_before = cpu_weight_or_shares(&path);
    assert_eq!(cpu_quota(&path), "50000");
    let file = ctx.work().join("docker-update.json");
    std::fs::write(
        &file,
        r#"{"memory":{"limit":100663296,"reservation":0,"kernel":0},"cpu":{"shares":0,"quota":25000,"period":100000},"pids":{"limit":77},"blockIO":{"weight":0}}"#,
    )
    .expect("write resources");
    let resources = format!("--resources={}", file.display());
    ctx.run(&["update", &resources, &id]).assert_ok();
    assert_eq!(memory_limit(&path), "100663296");
    assert_eq!(pids_limit(&path), "77");
    assert_eq!(cpu_quota(&path), "25000");
    assert_eq!(
        cpu_weight_or_shares(&path),
        weight_before,
        "shares 0 = unchanged"
    );
    if swap_before.is_some() && !unified() {
        assert_eq!(memory_and_swap(&path), Some(134217728), "swap untouched");
    }
}

/// A process outside any container, put into a cgroup by the test; killed
/// and reaped on drop.
struct Outsider(std::process::Child);

impl Outsider {
    /// `sleep 3600` moved into `dir` (a cgroup directory).
    fn spawn_into(dir: &Path) -> Outsider {
        let child = std::process::Command::new("sleep")
            .arg("3600")
            .spawn()
            .expect("spawn sleep");
        let outsider = Outsider(child);
        std::fs::write(dir.join("cgroup.procs"), outsider.0.id().to_string())
            .unwrap_or_else(|e| panic!("move the sleeper into {}: {e}", dir.display()));
        outsider
    }
}

impl Drop for Outsider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The hierarchy in which both runtimes count a cgroup's processes (v1:
/// devices) or check its freezer.
fn existing_cgroup(controller: &str, path: &str) -> PathBuf {
    let dir = cgroup_dir(controller, path);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    dir
}

/// `linux.cgroupsPath` naming a cgroup that already has processes: runc
/// warns and goes on.
#[test]
fn a_non_empty_cgroup_is_used_with_a_warning() {
    let parent = CgroupParent::new();
    let path = parent.child("busy");
    let mut outsider = Outsider::spawn_into(&existing_cgroup("devices", &path));
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    bundle.set("/linux/cgroupsPath", json!(path));
    let id = ctx.id("busy");
    ctx.create(&bundle, &id)
        .assert_ok()
        .assert_stderr_contains("container's cgroup is not empty: 1 process(es) found");
    assert_eq!(ctx.status(&id).as_deref(), Some("created"));
    // The container has its own pid namespace: deleting it leaves the
    // process it does not own alone (and with it the cgroup).
    ctx.delete_force(&id).assert_ok();
    assert!(ctx.status(&id).is_none());
    assert!(
        outsider.0.try_wait().expect("try_wait").is_none(),
        "delete killed a process outside the container"
    );
}

/// A frozen cgroup would freeze init: runc refuses it before creating
/// anything, and leaves the cgroup as it found it.
#[test]
fn a_frozen_cgroup_is_refused() {
    let parent = CgroupParent::new();
    let path = parent.child("frozen");
    let (controller, file, frozen, thawed) = if unified() {
        ("", "cgroup.freeze", "1", "0")
    } else {
        ("freezer", "freezer.state", "FROZEN", "THAWED")
    };
    let dir = existing_cgroup(controller, &path);
    std::fs::write(dir.join(file), frozen).expect("freeze the cgroup");
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    bundle.set("/linux/cgroupsPath", json!(path));
    let id = ctx.id("frozen");
    let out = ctx.create(&bundle, &id);
    let _ = std::fs::write(dir.join(file), thawed);
    out.assert_fail()
        .assert_stderr_contains("container's cgroup unexpectedly frozen");
    assert!(dir.is_dir(), "the cgroup is left in place");
    assert!(ctx.status(&id).is_none(), "no container is left");
}

/// v1 refuses a `cpu.cfs_period_us` that would make the old quota exceed the
/// parent's limit (EINVAL); runc then writes the quota first and the period
/// after it. The parent here is limited to one CPU.
#[test]
fn update_to_a_shorter_cpu_period_below_a_limited_parent() {
    let parent = CgroupParent::new();
    let parent_dir = existing_cgroup("cpu", &format!("/{}", parent.name));
    let (file, one_cpu) = if unified() {
        ("cpu.max", "100000 100000")
    } else {
        ("cpu.cfs_quota_us", "100000")
    };
    std::fs::write(parent_dir.join(file), one_cpu).expect("limit the parent to one CPU");
    let ctx = Ctx::new();
    let path = parent.child("period");
    let id = create_in_cgroup(
        &ctx,
        &path,
        json!({"cpu": {"quota": 50000, "period": 100000}}),
    );
    ctx.run(&[
        "update",
        "--cpu-period",
        "10000",
        "--cpu-quota",
        "5000",
        &id,
    ])
    .assert_ok();
    assert_eq!(cpu_quota(&path), "5000");
    let period = if unified() {
        let max = read_cgroup_file("cpu", &path, "cpu.max");
        max.split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    } else {
        read_cgroup_file("cpu", &path, "cpu.cfs_period_us")
    };
    assert_eq!(period, "10000");
}

/// A device rule's access is the set of `r`, `w`, `m` it holds: runc takes
/// `rwa` as `rw` (redundant or unknown letters are fine); an empty one is
/// refused. /dev/kmsg (1:11, not in runc's default allow list) shows the
/// rule at work: opening it for writing is what the rule allows.
#[test]
fn device_access_letters_are_a_set() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/devices",
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 420}]),
    );
    let rules = |access: &str| {
        json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 11, "access": access}
        ])
    };
    let open_for_writing = [
        "sh",
        "-c",
        "(exec 4>/dev/kmsg) 2>/dev/null && echo opened || echo denied",
    ];
    bundle.set("/linux/resources/devices", rules("rwa"));
    assert_eq!(ctx.run_in(&bundle, &open_for_writing).trim(), "opened");
    bundle.set("/linux/resources/devices", rules("r"));
    assert_eq!(ctx.run_in(&bundle, &open_for_writing).trim(), "denied");
    bundle.set("/linux/resources/devices", rules(""));
    let id = ctx.id("noaccess");
    ctx.run_container(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("device access at 1 field cannot be empty");
}

/// `exec --cgroup` paths are cleaned below the container's cgroup, as runc:
/// `/` and `a/..` are the container's cgroup itself; a path leading out of
/// it is refused in runc's words.
#[test]
fn exec_cgroup_paths_stay_below_the_container() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("execclean");
    let id = create_in_cgroup(&ctx, &path, default_resources());
    ctx.start(&id).assert_ok();
    // A controller prefix names v1 hierarchies (pure v2 has none to name).
    let pids = |path: &str| {
        if unified() {
            path.to_string()
        } else {
            format!("pids:{path}")
        }
    };
    for own in ["/".to_string(), "a/..".to_string(), pids("/")] {
        let out = ctx.run(&["exec", "--cgroup", &own, &id, "cat", "/proc/self/cgroup"]);
        out.assert_ok();
        assert!(
            out.stdout.lines().any(|l| l.ends_with(&path)),
            "{own}: {}",
            out.stdout
        );
    }
    for (flag, shown) in [("..".to_string(), ".."), (pids("a/../.."), "a/../..")] {
        ctx.run(&["exec", "--cgroup", &flag, &id, "true"])
            .assert_fail()
            .assert_stderr_contains(&format!(" {shown} is not a sub cgroup path"));
    }
}

/// `linux.resources.unified` needs a pure cgroup v2 host; elsewhere runc
/// refuses the config as invalid.
#[test]
fn unified_resources_on_cgroup_v1_are_an_invalid_configuration() {
    if unified() {
        return; // pure v2: unified is allowed there
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["true"]);
    bundle.set("/linux/resources/unified", json!({"pids.max": "10"}));
    let id = ctx.id("unifiedv1");
    ctx.run_container(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("invalid configuration: ")
        .assert_stderr_contains("cannot use unified on cgroup v1");
}

/// `memory.kernel` and `memory.kernelTCP` may be ignored (runtime-spec);
/// runc ignores them with a warning, so configs made by older tools work.
#[test]
fn kernel_memory_settings_are_ignored_with_a_warning() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("kmem");
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    bundle.set("/linux/cgroupsPath", json!(path));
    bundle.set(
        "/linux/resources/memory",
        json!({"limit": 67108864, "kernel": 33554432, "kernelTCP": 16777216}),
    );
    let id = ctx.id("kmem");
    ctx.create(&bundle, &id)
        .assert_ok()
        .assert_stderr_contains("Kernel memory settings are ignored");
    assert_eq!(memory_limit(&path), "67108864");
}

/// A memory reservation above the limit is applied as given, as runc 1.1.5
/// does: runtime-spec sets no order between the two, the kernel takes both
/// (a soft limit / `memory.low` above the hard limit is never reached) and
/// docker refuses the pair itself before a runtime sees it.
#[test]
fn a_reservation_above_the_limit_is_applied_as_runc_does() {
    let parent = CgroupParent::new();
    let ctx = Ctx::new();
    let path = parent.child("reservation");
    let mut resources = default_resources();
    resources["memory"] = json!({"limit": 33554432, "reservation": 67108864});
    create_in_cgroup(&ctx, &path, resources);
    assert_eq!(memory_limit(&path), "33554432");
    let soft = if unified() {
        "memory.low"
    } else {
        "memory.soft_limit_in_bytes"
    };
    assert_eq!(read_cgroup_file("memory", &path, soft), "67108864");
}
