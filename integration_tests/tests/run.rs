//! `run`: foreground exit codes, detached runs, `--keep`.

use std::time::Duration;

use integration_tests::{Ctx, LONG_RUNNING};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn foreground_run_passes_the_exit_code_through() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["sh", "-c", "exit 3"]);
    let id = ctx.id("exit3");
    let out = ctx.run_container(&bundle, &id);
    assert_eq!(out.code(), Some(3), "{out}");
}

#[test]
fn foreground_run_exit_zero() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["true"]);
    let id = ctx.id("exit0");
    ctx.run_container(&bundle, &id).assert_ok();
}

#[test]
fn foreground_run_passes_stdout_and_stderr_through() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["sh", "-c", "echo to-out; echo to-err >&2"]);
    let id = ctx.id("stdio");
    let out = ctx.run_container(&bundle, &id);
    out.assert_ok();
    assert_eq!(out.stdout, "to-out\n");
    assert!(out.stderr.contains("to-err\n"), "{out}");
}

#[test]
fn foreground_run_removes_the_container_afterwards() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["true"]);
    let id = ctx.id("gone");
    ctx.run_container(&bundle, &id).assert_ok();
    ctx.run(&["state", &id])
        .assert_fail()
        .assert_stderr_contains("does not exist");
    assert!(!ctx.has_state_dir(&id));
}

#[test]
fn killed_container_exits_with_128_plus_signal() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(LONG_RUNNING);
    let id = ctx.id("sig");
    ctx.track(&id);
    let running = ctx.spawn(&[
        "run".as_ref(),
        "--bundle".as_ref(),
        bundle.path().as_os_str(),
        id.as_ref(),
    ]);
    ctx.wait_status(&id, "running", WAIT);
    ctx.kill(&id, "KILL").assert_ok();
    let out = running.wait(WAIT);
    assert_eq!(out.code(), Some(128 + 9), "{out}");
}

#[test]
fn detached_run_leaves_a_running_container() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(LONG_RUNNING);
    let id = ctx.id("detach");
    ctx.track(&id);
    let out = ctx.run(&[
        "run".as_ref(),
        "-d".as_ref(),
        "--bundle".as_ref(),
        bundle.path().as_os_str(),
        id.as_ref(),
    ]);
    out.assert_ok();
    assert_eq!(ctx.status(&id).as_deref(), Some("running"));
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
    ctx.delete(&id).assert_ok();
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["true"]);
    let id = ctx.id("keep");
    ctx.track(&id);
    let out = ctx.run(&[
        "run".as_ref(),
        "--keep".as_ref(),
        "--bundle".as_ref(),
        bundle.path().as_os_str(),
        id.as_ref(),
    ]);
    out.assert_ok();
    assert_eq!(ctx.status(&id).as_deref(), Some("stopped"));
    ctx.delete(&id).assert_ok();
}

#[test]
fn failed_run_leaves_nothing() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["/no/such/program"]);
    let id = ctx.id("runfail");
    ctx.run_container(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("no such file or directory");
    assert!(ctx.listed_ids().is_empty());
    assert!(ctx.root_entries().is_empty());
}

#[test]
fn foreground_run_passes_stdin_through() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["cat"]);
    let id = ctx.id("stdin");
    let out = ctx.sh(&format!(
        "echo hello-stdin | \"$RUNTIME\" --root \"$ROOT\" run --bundle '{}' {id}",
        bundle.path().display()
    ));
    out.assert_ok();
    assert_eq!(out.stdout, "hello-stdin\n");
}
