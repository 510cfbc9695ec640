//! Command line of runc 1.2+: `--pidfd-socket` (create, run, exec),
//! `kill --all` through `cgroup.kill`, `update` refusing a memory limit
//! below the usage. Debian's runc 1.1.5 lacks them, so those tests are
//! berth-only.

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

use integration_tests::{receive_with_fd, runtime_is_runc, state_pid, Ctx, LONG_RUNNING};

/// The pid a pidfd (our fd number `fd`) refers to, from its fdinfo.
fn pid_of_pidfd(fd: i32) -> u32 {
    let link = fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    assert_eq!(link.to_string_lossy(), "anon_inode:[pidfd]");
    let info = fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .expect("Pid: in fdinfo")
        .trim()
        .parse()
        .unwrap()
}

/// Accepts the connection the runtime made and reads its one message.
fn received(listener: &UnixListener) -> (String, u32) {
    listener.set_nonblocking(true).unwrap();
    let (stream, _) = listener.accept().expect("the runtime connected");
    stream.set_nonblocking(false).unwrap();
    let (payload, fd) = receive_with_fd(stream.as_raw_fd());
    (String::from_utf8(payload).unwrap(), pid_of_pidfd(fd))
}

#[test]
fn create_and_exec_send_a_pidfd_of_their_process() {
    // berth-only: runc >= 1.2 feature (--pidfd-socket).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(LONG_RUNNING);
    let path = ctx.work().join("pidfd.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let id = ctx.id("pidfd");
    ctx.track(&id);
    let bundle_dir = bundle.path().to_string_lossy().into_owned();
    let sock = path.to_string_lossy().into_owned();
    ctx.run(&[
        "create",
        "--bundle",
        &bundle_dir,
        "--pidfd-socket",
        &sock,
        &id,
    ])
    .assert_ok();
    let (kind, pid) = received(&listener);
    assert_eq!(kind, "standard");
    assert_eq!(pid, state_pid(&ctx.state(&id)));

    ctx.start(&id).assert_ok();
    let pid_file = ctx.work().join("exec.pid");
    let pid_file_arg = pid_file.to_string_lossy().into_owned();
    ctx.run(&[
        "exec",
        "--detach",
        "--pidfd-socket",
        &sock,
        "--pid-file",
        &pid_file_arg,
        &id,
        "sleep",
        "100",
    ])
    .assert_ok();
    let (kind, pid) = received(&listener);
    assert_eq!(kind, "setns");
    assert_eq!(pid.to_string(), fs::read_to_string(&pid_file).unwrap());
}

#[test]
fn a_pidfd_socket_nobody_listens_on_fails_before_anything_is_created() {
    // berth-only: runc >= 1.2 feature (--pidfd-socket).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let id = ctx.id("pidfd-none");
    ctx.track(&id);
    let missing = ctx.work().join("nobody.sock");
    let out = ctx.run(&[
        "run",
        "--bundle",
        &bundle.path().to_string_lossy(),
        "--pidfd-socket",
        &missing.to_string_lossy(),
        &id,
    ]);
    out.assert_fail()
        .assert_stderr_contains("--pidfd-socket")
        .assert_stderr_contains("nobody.sock");
    assert!(ctx.listed_ids().is_empty());
}

/// The container's cgroup directory on a pure cgroup v2 host whose kernel
/// has `cgroup.kill` (5.14+); None elsewhere.
fn v2_cgroup_with_kill(path: &str) -> Option<std::path::PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if !root.join("cgroup.controllers").exists() {
        return None;
    }
    let dir = root.join(path.trim_start_matches('/'));
    dir.join("cgroup.kill").exists().then_some(dir)
}

#[test]
fn kill_all_with_sigkill_writes_cgroup_kill_on_cgroup_v2() {
    // berth-only: runc >= 1.2 feature (cgroup.kill; runc 1.1.5 freezes,
    // signals each pid and thaws).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let id = ctx.id("cgkill");
    let path = format!("/{id}");
    bundle.set("/linux/cgroupsPath", serde_json::json!(path));
    bundle.set_args(&["sh", "-c", "sleep 3600 & sleep 3600 & wait"]);
    ctx.create(&bundle, &id).assert_ok();
    let Some(dir) = v2_cgroup_with_kill(&path) else {
        // Hybrid or v1 host (this one), or a kernel before 5.14: the walk
        // is used, which kill.rs covers. Run it in shared/vm for v2.
        return;
    };
    ctx.start(&id).assert_ok();
    ctx.run(&["pause", &id]).assert_ok();
    ctx.run(&["kill", "--all", &id, "KILL"]).assert_ok();
    ctx.wait_status(&id, "stopped", Duration::from_secs(20));
    // cgroup.kill kills frozen tasks and leaves the freezer as it was; the
    // freeze-signal-thaw walk would have thawed it.
    let freeze = fs::read_to_string(dir.join("cgroup.freeze")).unwrap();
    assert_eq!(freeze.trim(), "1");
    assert_eq!(fs::read_to_string(dir.join("cgroup.procs")).unwrap(), "");
    ctx.delete(&id).assert_ok();
}

/// The container's memory limit file: v2 `memory.max`, else v1's.
fn memory_limit_file(path: &str) -> std::path::PathBuf {
    let root = Path::new("/sys/fs/cgroup");
    let relative = path.trim_start_matches('/');
    if root.join("cgroup.controllers").exists() {
        root.join(relative).join("memory.max")
    } else {
        root.join("memory")
            .join(relative)
            .join("memory.limit_in_bytes")
    }
}

#[test]
fn update_with_check_before_update_refuses_a_limit_below_the_usage() {
    // berth-only: runc >= 1.2 feature (memory.checkBeforeUpdate; runc
    // 1.1.5 does not know the field and writes the limit).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let id = ctx.id("checkmem");
    let path = format!("/{id}");
    bundle.set("/linux/cgroupsPath", serde_json::json!(path));
    bundle.set(
        "/linux/resources",
        serde_json::json!({"memory": {"limit": 268435456}}),
    );
    bundle.set_args(LONG_RUNNING);
    ctx.create(&bundle, &id).assert_ok();
    ctx.start(&id).assert_ok();
    let update = |resources: serde_json::Value| {
        let file = ctx.work().join("resources.json");
        fs::write(&file, resources.to_string()).unwrap();
        ctx.run(&["update", "--resources", &file.to_string_lossy(), &id])
    };
    update(serde_json::json!({"memory": {"limit": 4096, "checkBeforeUpdate": true}}))
        .assert_fail()
        .assert_stderr_contains("rejecting memory limit 4096 <= usage")
        .assert_stderr_contains("checkBeforeUpdate");
    let limit = || fs::read_to_string(memory_limit_file(&path)).unwrap();
    assert_eq!(limit().trim(), "268435456", "the limit is left as it was");
    update(serde_json::json!({"memory": {"limit": 134217728, "checkBeforeUpdate": true}}))
        .assert_ok();
    assert_eq!(limit().trim(), "134217728");
    ctx.delete_force(&id).assert_ok();
}

/// This host has a resctrl filesystem mounted (Intel RDT usable).
fn has_resctrl() -> bool {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(" - resctrl "))
}

#[test]
fn intel_rdt_without_resctrl_is_refused_by_name_before_anything_is_made() {
    // berth-only: runc 1.1.5 runs the container and ignores a closID it
    // cannot apply; runc >= 1.2 refuses with these words.
    if runtime_is_runc() || has_resctrl() {
        // With resctrl the config is valid; the group's files are covered
        // by berth-cgroups' resctrl unit tests.
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/intelRdt",
        serde_json::json!({"closID": "guaranteed"}),
    );
    let id = ctx.id("rdt");
    ctx.run_container(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains(
            "linux.intelRdt: intelRdt is specified in config, but Intel RDT is not enabled",
        );
    assert!(ctx.listed_ids().is_empty());
}

#[test]
fn update_with_a_cache_schema_needs_cat() {
    if has_resctrl() {
        // Where CAT may exist the write itself would be tested; this host
        // kind has no resctrl.
        return;
    }
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("rdt-update");
    ctx.run(&["update", "--l3-cache-schema", "L3:0=f", &id])
        .assert_fail()
        .assert_stderr_contains("Intel RDT/CAT: l3 cache schema is not enabled");
    ctx.run(&["update", "--mem-bw-schema", "MB:0=20", &id])
        .assert_fail()
        .assert_stderr_contains("Intel RDT/MBA: memory bandwidth schema is not enabled");
}
