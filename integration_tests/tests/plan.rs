//! Invalid or unsupported configs are refused before anything is created:
//! the error names the config field (berth), and there is no state
//! directory, no cgroup directory and no clone of a child process (both
//! runtimes, where runc also refuses before it creates anything).

use std::path::Path;
use std::process::Command;

use integration_tests::{runtime, runtime_is_runc, Bundle, Ctx};
use serde_json::{json, Value};

type Patch = fn(&mut Value);

/// One refused config.
struct Case {
    name: &'static str,
    patch: Patch,
    /// What berth's error says: the field's JSON path (where serde refuses
    /// the JSON itself, the path of the bad value and serde's words).
    berth_says: &'static str,
    /// Why this case is berth-only, when runc 1.1.5 creates something
    /// first (or accepts the config).
    berth_only: Option<&'static str>,
}

fn add_mount(v: &mut Value, mount: Value) {
    v["mounts"].as_array_mut().unwrap().push(mount);
}

fn add_namespace(v: &mut Value, ns: Value) {
    v["linux"]["namespaces"].as_array_mut().unwrap().push(ns);
}

fn drop_namespace(v: &mut Value, typ: &str) {
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|ns| ns["type"] != typ);
}

const RUNC_LATER: &str = "runc 1.1.5 refuses it in runc init, after the clone";
const RUNC_CGROUP_LATER: &str =
    "runc 1.1.5 refuses it when it sets up the cgroup, after it made it and cloned runc init";
const RUNC_IGNORES: &str = "runc 1.1.5 does not know the field and accepts the config";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "idmap-on-tmpfs",
            patch: |v| {
                add_mount(
                    v,
                    json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                           "options": ["idmap"]}),
                )
            },
            berth_says: "mounts[7]: id-mapped mounts are only supported for bind-mounts",
            berth_only: Some("runc 1.1.5 passes idmap to the kernel as tmpfs data, in runc init"),
        },
        Case {
            name: "idmap-one-map",
            patch: |v| {
                add_mount(
                    v,
                    json!({"destination": "/mnt", "type": "bind", "source": "/tmp",
                           "options": ["rbind"],
                           "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
                )
            },
            berth_says: "mounts[7]: id-mapped mounts must have both uid and gid mappings",
            berth_only: Some(RUNC_IGNORES),
        },
        Case {
            name: "rootfs-propagation",
            patch: |v| v["linux"]["rootfsPropagation"] = json!("bogus"),
            berth_says: "linux.rootfsPropagation: ",
            berth_only: None,
        },
        Case {
            name: "unknown-namespace",
            patch: |v| add_namespace(v, json!({"type": "bogus"})),
            berth_says: "linux.namespaces[5].type: unknown variant `bogus`",
            berth_only: None,
        },
        Case {
            name: "duplicate-namespace",
            patch: |v| add_namespace(v, json!({"type": "pid"})),
            berth_says: "linux.namespaces: namespace type pid is listed twice",
            berth_only: None,
        },
        Case {
            name: "hostname-without-uts",
            patch: |v| drop_namespace(v, "uts"),
            berth_says: "hostname: unable to set hostname without a private UTS namespace",
            berth_only: None,
        },
        Case {
            name: "seccomp-action",
            patch: |v| v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_BOGUS"}),
            berth_says: "linux.seccomp.defaultAction: unknown action",
            berth_only: None,
        },
        Case {
            name: "unknown-capability",
            patch: |v| v["process"]["capabilities"]["bounding"] = json!(["CAP_BOGUS"]),
            berth_says: "process.capabilities.bounding[0]: capability CAP_BOGUS",
            berth_only: Some("runc 1.1.5 warns about an unknown capability and goes on"),
        },
        Case {
            name: "device-type",
            patch: |v| {
                v["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "q", "major": 1, "minor": 3}])
            },
            berth_says: "linux.devices[0].type: unknown variant `q`",
            berth_only: None,
        },
        Case {
            name: "mount-on-root",
            patch: |v| add_mount(v, json!({"destination": "/", "type": "tmpfs", "source": "tmpfs"})),
            berth_says: "mounts[7].destination: mountpoint ",
            berth_only: Some("runc 1.1.5 fails in init, after the clone (error closing exec fds)"),
        },
        Case {
            name: "device-type-all",
            patch: |v| {
                v["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "a", "major": 1, "minor": 3}])
            },
            berth_says: "linux.devices[0].type: a is not a valid device type for device",
            berth_only: None,
        },
        Case {
            name: "device-negative-major",
            patch: |v| {
                v["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "c", "major": -1, "minor": 3}])
            },
            berth_says: "linux.devices[0].major: -1: device numbers cannot be negative",
            berth_only: Some("runc 1.1.5 refuses it in init, after the clone and the cgroup (cannot mkdev() device with wildcards)"),
        },
        Case {
            name: "device-rule-access",
            patch: |v| {
                v["linux"]["resources"]["devices"] =
                    json!([{"allow": true, "type": "c", "access": "xyz"}])
            },
            berth_says: "linux.resources.devices[0]",
            berth_only: Some("runc 1.1.5 accepts unknown access letters"),
        },
        Case {
            name: "rlimit-type",
            patch: |v| {
                v["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}])
            },
            berth_says: "process.rlimits[0].type: unknown variant `RLIMIT_BOGUS`",
            berth_only: None,
        },
        Case {
            name: "rlimit-soft-above-hard",
            patch: |v| {
                v["process"]["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "hard": 1000, "soft": 2000}])
            },
            berth_says: "process.rlimits[0]: error setting rlimit type 7: invalid argument",
            berth_only: Some(RUNC_LATER),
        },
        Case {
            name: "oom-score-adj",
            patch: |v| v["process"]["oomScoreAdj"] = json!(-1001),
            berth_says: "process.oomScoreAdj: -1001",
            berth_only: Some(RUNC_LATER),
        },
        Case {
            name: "scheduler-policy",
            patch: |v| v["process"]["scheduler"] = json!({"policy": "SCHED_X"}),
            berth_says: "process.scheduler.policy: unknown policy",
            berth_only: Some(RUNC_IGNORES),
        },
        Case {
            name: "relative-cwd",
            patch: |v| v["process"]["cwd"] = json!("rel"),
            berth_says: "process.cwd",
            berth_only: None,
        },
        Case {
            name: "empty-args",
            patch: |v| v["process"]["args"] = json!([]),
            berth_says: "process.args",
            berth_only: None,
        },
        Case {
            name: "userns-without-maps",
            patch: |v| add_namespace(v, json!({"type": "user"})),
            berth_says: "User namespaces enabled, but no uid mappings found.",
            berth_only: None,
        },
        Case {
            name: "time-offsets-without-timens",
            patch: |v| v["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 1}}),
            berth_says: "linux.timeOffsets",
            berth_only: Some(RUNC_IGNORES),
        },
        Case {
            name: "net-devices-without-netns",
            patch: |v| {
                drop_namespace(v, "network");
                v["linux"]["netDevices"] = json!({"eth9": {}});
            },
            berth_says: "linux.netDevices",
            berth_only: Some(RUNC_IGNORES),
        },
        Case {
            name: "namespace-path-missing",
            patch: |v| add_namespace(v, json!({"type": "cgroup", "path": "/nonexistent-berth-ns"})),
            berth_says: "linux.namespaces[5].path: namespace path: lstat /nonexistent-berth-ns: no such file or directory",
            berth_only: None,
        },
        Case {
            name: "masked-paths-without-mountns",
            patch: |v| drop_namespace(v, "mount"),
            berth_says: "linux.maskedPaths/readonlyPaths",
            berth_only: None,
        },
        Case {
            name: "cpu-shares-out-of-range",
            patch: |v| v["linux"]["resources"] = json!({"cpu": {"shares": 1}}),
            berth_says: "linux.resources.cpu.shares",
            berth_only: Some(RUNC_CGROUP_LATER),
        },
        Case {
            name: "memory-swappiness",
            patch: |v| v["linux"]["resources"] = json!({"memory": {"swappiness": 101}}),
            berth_says: "linux.resources.memory.swappiness",
            berth_only: Some(RUNC_CGROUP_LATER),
        },
        Case {
            name: "unified-file-name",
            patch: |v| v["linux"]["resources"] = json!({"unified": {"../cpu.max": "max"}}),
            berth_says: "linux.resources.unified",
            berth_only: Some(RUNC_CGROUP_LATER),
        },
        Case {
            name: "scheduler-without-policy-flags",
            patch: |v| v["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "flags": ["X"]}),
            berth_says: "process.scheduler.flags",
            berth_only: Some(RUNC_IGNORES),
        },
        Case {
            name: "wrong-type-bool",
            patch: |v| v["process"]["terminal"] = json!("yes"),
            berth_says: "process.terminal: invalid type: string",
            berth_only: None,
        },
        Case {
            name: "wrong-type-list",
            patch: |v| v["mounts"][1]["options"] = json!("nosuid"),
            berth_says: "mounts[1].options: invalid type: string",
            berth_only: None,
        },
        Case {
            name: "wrong-type-number",
            patch: |v| v["linux"]["resources"]["memory"] = json!({"limit": "64m"}),
            berth_says: "linux.resources.memory.limit: invalid type: string",
            berth_only: None,
        },
        Case {
            name: "sysctl-not-namespaced",
            patch: |v| v["linux"]["sysctl"] = json!({"kernel.panic": "1"}),
            // stderr is a logrus text line: its quotes are escaped.
            berth_says: r#"linux.sysctl: sysctl \"kernel.panic\" is not in a separate kernel namespace"#,
            berth_only: None,
        },
        Case {
            name: "sysctl-net-without-netns",
            patch: |v| {
                drop_namespace(v, "network");
                v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            },
            berth_says: r#"linux.sysctl: sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"#,
            berth_only: None,
        },
        Case {
            name: "sysctl-ipc-without-ipcns",
            patch: |v| {
                drop_namespace(v, "ipc");
                v["linux"]["sysctl"] = json!({"kernel.shmmax": "100000"});
            },
            berth_says: r#"linux.sysctl: sysctl \"kernel.shmmax\" is not allowed in the hosts ipc namespace"#,
            berth_only: None,
        },
        Case {
            name: "sysctl-invalid-key",
            patch: |v| v["linux"]["sysctl"] = json!({"net..core": "1"}),
            berth_says: r#"linux.sysctl: invalid key \"net..core\""#,
            berth_only: Some(RUNC_LATER),
        },
        Case {
            name: "id-mappings-without-userns",
            patch: |v| {
                let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
                v["linux"]["uidMappings"] = map.clone();
                v["linux"]["gidMappings"] = map;
            },
            berth_says: "linux.uidMappings: user namespace mappings specified, but user namespace isn't enabled",
            berth_only: Some(
                "runc 1.1.5 drops the mappings without a user namespace and accepts the config",
            ),
        },
    ]
}

/// The cgroup path each case asks for: it must not appear in any hierarchy.
fn cgroup_name(id: &str) -> String {
    format!("berth-plan-{id}")
}

/// Cgroup directories named `name` at the top of every hierarchy.
fn cgroup_dirs(name: &str) -> Vec<String> {
    let base = Path::new("/sys/fs/cgroup");
    let mut found: Vec<String> = std::fs::read_dir(base)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join(name))
                .filter(|p| p.is_dir())
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    if base.join(name).is_dir() {
        found.push(base.join(name).display().to_string());
    }
    found
}

/// What `create` did under `strace -f`.
struct Traced {
    failed: bool,
    stderr: String,
    /// The clone calls that would make a process, not a thread.
    clones: Vec<String>,
    /// The mkdir calls of the case's cgroup (made, even if removed again).
    cgroup_mkdirs: Vec<String>,
}

/// Runs `create` under `strace -f`.
fn traced_create(ctx: &Ctx, bundle: &Bundle, id: &str) -> Traced {
    const KILLED_BY_TIMEOUT: i32 = 128 + 9;
    let trace = ctx.work().join(format!("{id}.strace"));
    let mut cmd = Command::new("timeout");
    // Under the harness' 30 s limit; a killed strace would let the runtime
    // go on untraced, so that counts as a failure below.
    cmd.args(["-s", "KILL", "25"])
        .arg("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=clone,clone3,fork,vfork,mkdir,mkdirat",
        ])
        .arg("-o")
        .arg(&trace)
        .arg(runtime())
        .arg("--root")
        .arg(ctx.root())
        .args(["create", "--bundle"])
        .arg(bundle.path())
        .arg(id);
    ctx.track(id);
    let out = ctx.output(cmd);
    assert_ne!(
        out.code(),
        Some(KILLED_BY_TIMEOUT),
        "strace was killed, the trace is incomplete: {out}"
    );
    let text = std::fs::read_to_string(&trace).unwrap_or_default();
    let clones = text
        .lines()
        .filter(|l| l.contains("clone") || l.contains("fork("))
        .filter(|l| !l.contains("CLONE_THREAD") && !l.contains("resumed>"))
        .map(str::to_string)
        .collect();
    let cgroup = cgroup_name(id);
    let cgroup_mkdirs = text
        .lines()
        .filter(|l| l.contains("mkdir") && l.contains(&cgroup))
        .map(str::to_string)
        .collect();
    Traced {
        failed: !out.success(),
        stderr: out.stderr.clone(),
        clones,
        cgroup_mkdirs,
    }
}

#[test]
fn refused_configs_name_the_field_and_create_nothing() {
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is needed (apt-get install strace)");
    }
    let ctx = Ctx::new();
    let mut failures = Vec::new();
    for case in cases() {
        if runtime_is_runc() && case.berth_only.is_some() {
            continue;
        }
        let bundle = ctx.bundle();
        let id = ctx.id(&format!("plan-{}", case.name));
        let cgroup = cgroup_name(&id);
        bundle.update(|v| {
            v["linux"]["cgroupsPath"] = json!(format!("/{cgroup}"));
            (case.patch)(v);
        });
        let Traced {
            failed,
            stderr,
            clones,
            cgroup_mkdirs,
        } = traced_create(&ctx, &bundle, &id);
        let mut wrong = Vec::new();
        if !failed {
            wrong.push("create succeeded".to_string());
        }
        if !runtime_is_runc() && !stderr.contains(case.berth_says) {
            wrong.push(format!("error does not say {:?}", case.berth_says));
        }
        if !clones.is_empty() {
            wrong.push(format!("cloned a process: {clones:?}"));
        }
        if !cgroup_mkdirs.is_empty() {
            wrong.push(format!("made the cgroup: {cgroup_mkdirs:?}"));
        }
        if !ctx.root_entries().is_empty() {
            wrong.push(format!("state left: {:?}", ctx.root_entries()));
        }
        let dirs = cgroup_dirs(&cgroup);
        if !dirs.is_empty() {
            wrong.push(format!("cgroup left: {dirs:?}"));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {} ({})",
                case.name,
                wrong.join("; "),
                stderr.trim()
            ));
        }
        // Whatever a wrong runtime made goes before the next case.
        ctx.run(&["delete", "--force", &id]);
        for dir in dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
