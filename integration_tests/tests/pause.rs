//! `pause` / `resume` (freezer) and `ps`.

use std::time::Duration;

use integration_tests::{state_pid, Ctx};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

/// Whether the freezer cgroup of `pid` is frozen: v1 `freezer.state` (hybrid
/// hosts) or v2 `cgroup.freeze`.
fn is_frozen(pid: u32) -> bool {
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    let v1 = membership.lines().find_map(|l| {
        let (_, rest) = l.split_once(':')?;
        rest.strip_prefix("freezer:")
    });
    match v1 {
        Some(path) => {
            let file = format!("/sys/fs/cgroup/freezer{path}/freezer.state");
            std::fs::read_to_string(&file)
                .expect("freezer.state")
                .trim()
                == "FROZEN"
        }
        None => {
            let path = membership
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .expect("a cgroup v2 line");
            let file = format!("/sys/fs/cgroup{path}/cgroup.freeze");
            std::fs::read_to_string(&file)
                .expect("cgroup.freeze")
                .trim()
                == "1"
        }
    }
}

#[test]
fn pause_and_resume() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("pause");
    ctx.run(&["pause", &id]).assert_ok();
    assert_eq!(ctx.status(&id).as_deref(), Some("paused"));
    let pid = state_pid(&ctx.state(&id));
    assert!(is_frozen(pid), "the container's cgroup is not frozen");
    ctx.run(&["pause", &id])
        .assert_fail()
        .assert_stderr_contains("container not running");
    ctx.run(&["resume", &id]).assert_ok();
    assert_eq!(ctx.status(&id).as_deref(), Some("running"));
    assert!(!is_frozen(pid), "the container's cgroup is still frozen");
    ctx.run(&["resume", &id])
        .assert_fail()
        .assert_stderr_contains("container not paused");
}

#[test]
fn exec_in_a_paused_container_is_refused() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("pauseexec");
    ctx.run(&["pause", &id]).assert_ok();
    let out = ctx.run(&["exec", &id, "true"]);
    assert_eq!(out.code(), Some(255), "{out}");
    out.assert_stderr_contains("cannot exec in a paused container");
    ctx.run(&["resume", &id]).assert_ok();
}

#[test]
fn delete_force_removes_a_paused_container() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("pausedel");
    ctx.run(&["pause", &id]).assert_ok();
    ctx.delete(&id)
        .assert_fail()
        .assert_stderr_contains("that is not stopped: paused");
    ctx.delete_force(&id).assert_ok();
    ctx.run(&["state", &id])
        .assert_fail()
        .assert_stderr_contains("does not exist");
}

#[test]
fn pause_of_missing_container_fails() {
    let ctx = Ctx::new();
    ctx.run(&["pause", "ghost"])
        .assert_fail()
        .assert_stderr_contains("container does not exist");
    ctx.run(&["resume", "ghost"])
        .assert_fail()
        .assert_stderr_contains("container does not exist");
}

#[test]
fn ps_json_lists_host_pids() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("ps");
    let pid = state_pid(&ctx.state(&id));
    let out = ctx.run(&["ps", "--format", "json", &id]);
    out.assert_ok();
    assert_eq!(out.json(), json!([pid]));
}

#[test]
fn ps_table_shows_the_processes() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("pstable");
    let pid = state_pid(&ctx.state(&id));
    let out = ctx.run(&["ps", &id]);
    out.assert_ok();
    let mut lines = out.stdout.lines();
    let header = lines.next().expect("header");
    assert!(header.contains("PID") && header.contains("CMD"), "{out}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(
        rows[0].contains(&pid.to_string()) && rows[0].contains("sleep"),
        "{out}"
    );
}

#[test]
fn ps_of_stopped_container_lists_nothing() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("psstopped");
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
    let out = ctx.run(&["ps", "--format", "json", &id]);
    out.assert_ok();
    let value = out.json();
    assert!(value.is_null() || value == json!([]), "{value}");
}
