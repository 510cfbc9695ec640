//! Process and namespace features of runtime-spec 1.1-1.3 / runc 1.2-1.4,
//! seen from inside the container: time namespaces, CPU affinity
//! (the runtime's is not inherited; execCPUAffinity), ioPriority,
//! scheduler, personality, memoryPolicy. Debian's runc 1.1.5 has none of
//! them: every test here is berth-only.

use integration_tests::{runtime_is_runc, state_pid, Bundle, Ctx, LONG_RUNNING};
use serde_json::{json, Value};

/// The offsets the time namespace tests use (runc's timens.bats values).
fn offsets() -> Value {
    json!({
        "monotonic": {"secs": 7881, "nanosecs": 2718281},
        "boottime": {"secs": 1337, "nanosecs": 3141519}
    })
}

/// `clock secs nanosecs` lines of /proc/self/timens_offsets, normalised.
fn offset_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    lines
}

const EXPECTED_OFFSETS: [&str; 2] = ["boottime 1337 3141519", "monotonic 7881 2718281"];

fn add_namespace(bundle: &Bundle, ns: Value) {
    bundle.update(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(ns)
    });
}

/// Create and start a sleeping container from `bundle`; its id and pid.
fn start_sleeper(ctx: &Ctx, bundle: &Bundle) -> (String, u32) {
    bundle.set_args(LONG_RUNNING);
    let id = ctx.id("sleeper");
    ctx.create(bundle, &id).assert_ok();
    ctx.start(&id).assert_ok();
    let pid = state_pid(&ctx.state(&id));
    (id, pid)
}

fn uptime_secs(text: &str) -> f64 {
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no uptime in {text:?}"))
}

#[test]
fn time_namespace_offsets_show_inside() {
    // berth-only: runc >= 1.2 feature (time namespaces)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    add_namespace(&bundle, json!({"type": "time"}));
    bundle.set("/linux/timeOffsets", offsets());
    let before = uptime_secs(&std::fs::read_to_string("/proc/uptime").unwrap());
    let out = ctx.run_in(
        &bundle,
        &[
            "sh",
            "-c",
            "cat /proc/self/timens_offsets; cat /proc/uptime",
        ],
    );
    let after = uptime_secs(&std::fs::read_to_string("/proc/uptime").unwrap());
    let mut lines: Vec<&str> = out.lines().collect();
    let uptime = uptime_secs(lines.pop().expect("uptime line"));
    assert_eq!(offset_lines(&lines.join("\n")), EXPECTED_OFFSETS, "{out}");
    // The boot time clock runs 1337 s ahead of the host's.
    assert!(
        uptime >= before + 1337.0 && uptime <= after + 1338.0,
        "{before} {uptime} {after}"
    );
}

#[test]
fn time_namespace_without_offsets_is_new_with_zero_offsets() {
    // berth-only: runc >= 1.2 feature (time namespaces)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    add_namespace(&bundle, json!({"type": "time"}));
    let (_id, pid) = start_sleeper(&ctx, &bundle);
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/time")).unwrap();
    let ours = std::fs::read_link("/proc/self/ns/time").unwrap();
    assert_ne!(theirs, ours);
    let offsets = std::fs::read_to_string(format!("/proc/{pid}/timens_offsets")).unwrap();
    assert_eq!(
        offset_lines(&offsets),
        ["boottime 0 0", "monotonic 0 0"],
        "{offsets}"
    );
}

#[test]
fn exec_joins_the_time_namespace() {
    // berth-only: runc >= 1.2 feature (time namespaces)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    add_namespace(&bundle, json!({"type": "time"}));
    bundle.set("/linux/timeOffsets", offsets());
    let (id, _pid) = start_sleeper(&ctx, &bundle);
    let out = ctx.run(&["exec", &id, "cat", "/proc/self/timens_offsets"]);
    assert_eq!(offset_lines(&out.assert_ok().stdout), EXPECTED_OFFSETS);
}

#[test]
fn time_namespace_in_a_user_namespace_for_init_and_exec() {
    // berth-only: runc >= 1.2 feature (time namespaces)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.with_user_namespace();
    add_namespace(&bundle, json!({"type": "time"}));
    bundle.set("/linux/timeOffsets", offsets());
    let (id, pid) = start_sleeper(&ctx, &bundle);
    let init = std::fs::read_to_string(format!("/proc/{pid}/timens_offsets")).unwrap();
    assert_eq!(offset_lines(&init), EXPECTED_OFFSETS);
    let out = ctx.run(&["exec", &id, "cat", "/proc/self/timens_offsets"]);
    assert_eq!(offset_lines(&out.assert_ok().stdout), EXPECTED_OFFSETS);
}

#[test]
fn time_namespace_joined_by_path() {
    // berth-only: runc >= 1.2 feature (time namespaces)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let owner = ctx.bundle();
    add_namespace(&owner, json!({"type": "time"}));
    owner.set("/linux/timeOffsets", offsets());
    let (_id, pid) = start_sleeper(&ctx, &owner);
    let joiner = ctx.bundle();
    let path = format!("/proc/{pid}/ns/time");
    add_namespace(&joiner, json!({"type": "time", "path": path}));
    let out = ctx.run_in(&joiner, &["cat", "/proc/self/timens_offsets"]);
    assert_eq!(offset_lines(&out), EXPECTED_OFFSETS);
}

#[test]
fn time_offsets_need_a_new_time_namespace() {
    // berth-only: runc >= 1.2 feature (time namespaces; runc 1.1.5 ignores
    // timeOffsets)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/linux/timeOffsets", offsets());
    let id = ctx.id("offsets");
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("linux.timeOffsets: time namespace offsets specified, but time namespace isn't enabled in the config");
    assert!(!ctx.has_state_dir(&id));
}

/// `Cpus_allowed_list` of a /proc/<pid>/status text.
fn cpus_allowed(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or_else(|| panic!("no Cpus_allowed_list in {status}"))
        .trim()
        .to_string()
}

/// The test's own CPUs (what an unpinned container gets), when there are
/// at least two (else affinity cannot be told apart).
fn own_cpus_if_several() -> Option<String> {
    let ours = cpus_allowed(&std::fs::read_to_string("/proc/self/status").unwrap());
    (ours.contains('-') || ours.contains(',')).then_some(ours)
}

#[test]
fn the_runtimes_cpu_affinity_is_not_inherited() {
    // berth-only: runc >= 1.4 behaviour (runc 1.1.5's container inherits
    // the affinity of `taskset -c 0 runc run`)
    if runtime_is_runc() {
        return;
    }
    let Some(all) = own_cpus_if_several() else {
        return; // one CPU: nothing to tell apart
    };
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["grep", "Cpus_allowed_list", "/proc/self/status"]);
    let id = ctx.id("taskset");
    let out = ctx.sh(&format!(
        "exec taskset -c 0 \"$RUNTIME\" --root \"$ROOT\" run --bundle {} {id}",
        bundle.path().display()
    ));
    assert_eq!(cpus_allowed(&out.assert_ok().stdout), all);
    let (id, _pid) = start_sleeper(&ctx, &bundle);
    let out = ctx.sh(&format!(
        "exec taskset -c 0 \"$RUNTIME\" --root \"$ROOT\" exec {id} grep Cpus_allowed_list /proc/self/status"
    ));
    assert_eq!(cpus_allowed(&out.assert_ok().stdout), all);
}

fn exec_process_with(args: &[&str], extra: Value) -> Value {
    let mut process = json!({
        "user": {"uid": 0, "gid": 0},
        "cwd": "/",
        "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        "args": args,
    });
    for (key, value) in extra.as_object().expect("object") {
        process[key] = value.clone();
    }
    process
}

#[test]
fn exec_cpu_affinity_initial_and_final() {
    // berth-only: runc >= 1.3 feature (process.execCPUAffinity)
    if runtime_is_runc() || own_cpus_if_several().is_none() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    // The config's execCPUAffinity is for exec'd processes, not init.
    bundle.set("/process/execCPUAffinity", json!({"final": "1"}));
    let (id, pid) = start_sleeper(&ctx, &bundle);
    let init = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(Some(cpus_allowed(&init)), own_cpus_if_several());
    let grep = ["grep", "Cpus_allowed_list", "/proc/self/status"];
    let cases = [
        (json!({}), "1"),
        (
            json!({"execCPUAffinity": {"initial": "0", "final": "1"}}),
            "1",
        ),
        (json!({"execCPUAffinity": {"initial": "0"}}), "0"),
    ];
    for (extra, want) in cases {
        let out = ctx.exec_process(&id, &exec_process_with(&grep, extra.clone()));
        assert_eq!(cpus_allowed(&out.assert_ok().stdout), want, "{extra}");
    }
}

#[test]
fn io_priority_is_set_for_init_and_exec() {
    // berth-only: runc >= 1.2 feature (process.ioPriority)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/process/ioPriority",
        json!({"class": "IOPRIO_CLASS_BE", "priority": 3}),
    );
    let out = ctx.run_in(&bundle, &["ionice", "-p", "1"]);
    assert_eq!(out.trim(), "best-effort: prio 3");
    let (id, _pid) = start_sleeper(&ctx, &bundle);
    // exec inherits the container's; its process.json may set its own.
    let out = ctx.run(&["exec", &id, "sh", "-c", "ionice -p $$"]);
    assert_eq!(out.assert_ok().stdout.trim(), "best-effort: prio 3");
    let own = json!({"ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}});
    let out = ctx.exec_process(&id, &exec_process_with(&["sh", "-c", "ionice -p $$"], own));
    assert_eq!(out.assert_ok().stdout.trim(), "idle");
}

/// Fields of /proc/self/stat (1-based, as proc(5) numbers them) after the
/// command name.
fn stat_field(stat: &str, n: usize) -> i64 {
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    rest.split_whitespace()
        .nth(n - 3)
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("no field {n} in {stat}"))
}

const STAT_NICE: usize = 19;
const STAT_POLICY: usize = 41;

#[test]
fn scheduler_policy_and_nice_are_set() {
    // berth-only: runc >= 1.2 feature (process.scheduler)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/process/scheduler",
        json!({"policy": "SCHED_BATCH", "nice": 7}),
    );
    let stat = ctx.run_in(&bundle, &["cat", "/proc/self/stat"]);
    assert_eq!(stat_field(&stat, STAT_POLICY), 3, "{stat}");
    assert_eq!(stat_field(&stat, STAT_NICE), 7, "{stat}");
    let (id, _pid) = start_sleeper(&ctx, &bundle);
    let idle = json!({"scheduler": {"policy": "SCHED_IDLE"}});
    let out = ctx.exec_process(&id, &exec_process_with(&["cat", "/proc/self/stat"], idle));
    assert_eq!(stat_field(&out.assert_ok().stdout, STAT_POLICY), 5);
}

const STAT_RT_PRIORITY: usize = 40;

#[test]
fn real_time_and_deadline_policies_work_or_fail_in_the_scheduler_step() {
    // berth-only: runc >= 1.2 feature (process.scheduler)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let cases = [
        (json!({"policy": "SCHED_FIFO", "priority": 10}), 1, 10),
        (json!({"policy": "SCHED_RR", "priority": 5}), 2, 5),
        (
            json!({"policy": "SCHED_DEADLINE", "runtime": 1_000_000,
                "deadline": 10_000_000, "period": 10_000_000}),
            6,
            0,
        ),
    ];
    for (scheduler, policy, priority) in cases {
        let bundle = ctx.bundle();
        bundle.set("/process/scheduler", scheduler.clone());
        bundle.set_args(&["cat", "/proc/self/stat"]);
        let out = ctx.run_container(&bundle, &ctx.id("rt"));
        if out.success() {
            assert_eq!(stat_field(&out.stdout, STAT_POLICY), policy, "{scheduler}");
            assert_eq!(stat_field(&out.stdout, STAT_RT_PRIORITY), priority);
        } else {
            // A cgroup without real-time bandwidth (CONFIG_RT_GROUP_SCHED,
            // cpu.rt_runtime_us 0) refuses real-time policies.
            out.assert_stderr_contains("set the scheduler: sched_setattr: operation not permitted");
        }
    }
}

#[test]
fn scheduler_refusals_name_the_field_before_anything_is_made() {
    // berth-only: runc >= 1.2 feature (process.scheduler)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let cases = [
        (
            json!({"policy": "SCHED_X"}),
            "process.scheduler.policy: unknown policy",
        ),
        (
            json!({"policy": "SCHED_OTHER", "nice": 30}),
            "process.scheduler.nice",
        ),
        (
            json!({"policy": "SCHED_OTHER", "priority": 5}),
            "process.scheduler.priority",
        ),
    ];
    for (scheduler, message) in cases {
        let bundle = ctx.bundle();
        bundle.set("/process/scheduler", scheduler);
        let id = ctx.id("sched");
        ctx.create(&bundle, &id)
            .assert_fail()
            .assert_stderr_contains(message);
        assert!(!ctx.has_state_dir(&id));
    }
}

#[test]
fn personality_linux32() {
    // berth-only: runc >= 1.2 feature (linux.personality)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/linux/personality", json!({"domain": "LINUX32"}));
    let out = ctx.run_in(&bundle, &["cat", "/proc/self/personality"]);
    assert_eq!(out.trim(), "00000008");
    let (id, _pid) = start_sleeper(&ctx, &bundle);
    let out = ctx.run(&["exec", &id, "cat", "/proc/self/personality"]);
    assert_eq!(out.assert_ok().stdout.trim(), "00000008");
}

#[test]
fn personality_flags_are_refused() {
    // berth-only: runc >= 1.2 feature (linux.personality; runc ignores
    // flags with a warning, berth refuses what it would not apply)
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/personality",
        json!({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}),
    );
    let id = ctx.id("persona");
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("linux.personality.flags");
}

/// A numa_maps line: `address policy details...`.
fn interleaved_on_node_0(line: &str) -> bool {
    line.split_whitespace().nth(1) == Some("interleave:0")
}

#[test]
fn memory_policy_is_set_for_init_and_exec() {
    // berth-only: runc >= 1.3 feature (linux.memoryPolicy)
    if runtime_is_runc() || !std::path::Path::new("/proc/self/numa_maps").exists() {
        return; // a kernel without NUMA has no memory policies
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/memoryPolicy",
        json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}),
    );
    let maps = ctx.run_in(&bundle, &["cat", "/proc/self/numa_maps"]);
    assert!(maps.lines().all(interleaved_on_node_0), "{maps}");
    let (id, _pid) = start_sleeper(&ctx, &bundle);
    let out = ctx.run(&["exec", &id, "cat", "/proc/self/numa_maps"]);
    let maps = out.assert_ok().stdout.clone();
    assert!(maps.lines().all(interleaved_on_node_0), "{maps}");
}

#[test]
fn memory_policy_errors_name_the_field_or_the_step() {
    // berth-only: runc >= 1.3 feature (linux.memoryPolicy)
    if runtime_is_runc() || !std::path::Path::new("/proc/self/numa_maps").exists() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/linux/memoryPolicy", json!({"mode": "MPOL_BIND"}));
    let id = ctx.id("mpol");
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("linux.memoryPolicy.nodes: mode MPOL_BIND needs at least one node");
    // A node the host does not have: the kernel refuses, init says where.
    bundle.set(
        "/linux/memoryPolicy",
        json!({"mode": "MPOL_BIND", "nodes": "1000"}),
    );
    let id = ctx.id("mpol");
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("set the memory policy: set_mempolicy: invalid argument");
}

#[test]
fn features_list_the_time_namespace_and_memory_policies() {
    // berth-only: runc >= 1.2 lists "time"; memoryPolicy is runtime-spec 1.3
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let features = ctx.run(&["features"]).assert_ok().json();
    let namespaces = features["linux"]["namespaces"].as_array().unwrap();
    assert!(namespaces.contains(&json!("time")), "{features}");
    let modes = features["linux"]["memoryPolicy"]["modes"]
        .as_array()
        .unwrap();
    assert!(modes.contains(&json!("MPOL_BIND")), "{features}");
}

/// What busybox `sh -c` and `sleep` and berth's init (with
/// noNewPrivileges the filter loads just before Ready) need, none numbered
/// above openat (257) on x86_64.
const SMALL_ALLOW_LIST: &[&str] = &[
    "access",
    "arch_prctl",
    "brk",
    "chdir",
    "clock_nanosleep",
    "clone",
    "close",
    "dup2",
    "execve",
    "exit",
    "exit_group",
    "fcntl",
    "fork",
    "fstat",
    "getcwd",
    "getegid",
    "geteuid",
    "getgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getuid",
    "ioctl",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "pipe",
    "prctl",
    "read",
    "readlink",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "set_tid_address",
    "setpgid",
    "stat",
    "uname",
    "vfork",
    "wait4",
    "write",
];

#[test]
fn seccomp_syscalls_newer_than_the_profile_get_enosys() {
    // berth-only: runc >= 1.2 behaviour (the -ENOSYS stub is runc 1.0's,
    // but runc 1.1.5's init needs more syscalls than this profile allows)
    if runtime_is_runc() || std::env::consts::ARCH != "x86_64" {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/noNewPrivileges", json!(true));
    bundle.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": SMALL_ALLOW_LIST, "action": "SCMP_ACT_ALLOW"}]
        }),
    );
    // unshare (272) is newer than every named syscall: ENOSYS. ioprio_set
    // (251) is not named but older: the default action, EPERM.
    bundle.set_args(&["sh", "-c", "unshare -m true; ionice -c 3 true; echo done"]);
    let out = ctx.run_container(&bundle, &ctx.id("enosys"));
    out.assert_ok()
        .assert_stderr_contains("unshare(0x20000): Function not implemented")
        .assert_stderr_contains("ioprio_set: Operation not permitted");
    assert_eq!(out.stdout, "done\n");
    // exec'd processes run under the same program.
    let (id, _pid) = start_sleeper(&ctx, &bundle);
    let out = ctx.run(&["exec", &id, "unshare", "-m", "true"]);
    out.assert_fail()
        .assert_stderr_contains("unshare(0x20000): Function not implemented");
}
