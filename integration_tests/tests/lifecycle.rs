//! create / start / kill / delete transitions and the errors of illegal moves.

use std::time::Duration;

use integration_tests::{state_pid, Ctx};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn create_start_kill_delete() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("life");
    assert_eq!(ctx.status(&id).as_deref(), Some("created"));
    ctx.start(&id).assert_ok();
    assert_eq!(ctx.status(&id).as_deref(), Some("running"));
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
    ctx.delete(&id).assert_ok();
    ctx.run(&["state", &id])
        .assert_fail()
        .assert_stderr_contains("does not exist");
    assert!(!ctx.has_state_dir(&id));
    assert!(ctx.listed_ids().is_empty());
}

#[test]
fn created_container_init_is_alive_but_not_running_the_program() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("created");
    let pid = state_pid(&ctx.state(&id));
    assert!(pid > 0);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("init is alive");
    assert_ne!(comm.trim(), "sleep", "program must not run before start");
    ctx.start(&id).assert_ok();
    assert_eq!(state_pid(&ctx.state(&id)), pid, "start keeps the init pid");
}

#[test]
fn program_exit_makes_container_stopped() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["true"]);
    let id = ctx.id("exit");
    ctx.create(&bundle, &id).assert_ok();
    ctx.start(&id).assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
    ctx.delete(&id).assert_ok();
}

#[test]
fn create_with_duplicate_id_fails() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("dup");
    let bundle = ctx.bundle();
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("container with given ID already exists");
    assert_eq!(ctx.status(&id).as_deref(), Some("created"));
}

#[test]
fn start_twice_fails() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("start2");
    ctx.start(&id)
        .assert_fail()
        .assert_stderr_contains("cannot start an already running container");
}

#[test]
fn start_of_stopped_container_fails() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("startstopped");
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
    ctx.start(&id)
        .assert_fail()
        .assert_stderr_contains("cannot start a container that has stopped");
}

#[test]
fn delete_of_running_container_without_force_fails() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("delrun");
    ctx.delete(&id)
        .assert_fail()
        .assert_stderr_contains(&format!(
            "cannot delete container {id} that is not stopped: running"
        ));
    assert_eq!(ctx.status(&id).as_deref(), Some("running"));
}

#[test]
fn delete_force_kills_a_running_container() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("delforce");
    let pid = state_pid(&ctx.state(&id));
    ctx.delete_force(&id).assert_ok();
    ctx.run(&["state", &id])
        .assert_fail()
        .assert_stderr_contains("does not exist");
    assert!(!ctx.has_state_dir(&id));
    wait_gone(pid);
}

#[test]
fn delete_of_created_container_works() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("delcreated");
    let pid = state_pid(&ctx.state(&id));
    ctx.delete(&id).assert_ok();
    assert!(!ctx.has_state_dir(&id));
    assert!(ctx.listed_ids().is_empty());
    wait_gone(pid);
}

#[test]
fn delete_force_of_missing_container_succeeds_quietly() {
    let ctx = Ctx::new();
    let out = ctx.delete_force("never-created");
    out.assert_ok();
    assert_eq!(out.stdout, "");
}

#[test]
fn commands_on_missing_container_say_does_not_exist() {
    let ctx = Ctx::new();
    for args in [
        &["state", "ghost"][..],
        &["start", "ghost"],
        &["kill", "ghost", "KILL"],
        &["delete", "ghost"],
    ] {
        ctx.run(args)
            .assert_fail()
            .assert_stderr_contains("container does not exist");
    }
}

/// Waits until `pid` no longer exists (or is a zombie reaped by its parent).
fn wait_gone(pid: u32) {
    let deadline = std::time::Instant::now() + WAIT;
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.contains(") Z") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} still alive"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn init_killed_from_the_host_makes_the_container_stopped() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("hostkill");
    let pid = state_pid(&ctx.state(&id));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits i32"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill init");
    ctx.wait_status(&id, "stopped", WAIT);
    ctx.delete(&id).assert_ok();
}

#[test]
fn id_can_be_reused_after_delete() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("reuse");
    ctx.delete_force(&id).assert_ok();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    ctx.create(&bundle, &id).assert_ok();
    assert_eq!(ctx.status(&id).as_deref(), Some("created"));
    assert_eq!(ctx.state(&id)["bundle"], serde_json::json!(bundle.path()));
}

#[test]
fn created_timestamp_survives_start() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("created-ts");
    let created = ctx.state(&id)["created"].clone();
    ctx.start(&id).assert_ok();
    assert_eq!(ctx.state(&id)["created"], created);
}

/// The runtime's stdio at `create` become the container's (containerd and
/// conmon hand their pipes over this way).
#[test]
fn created_container_writes_to_the_stdio_create_had() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["sh", "-c", "echo to-stdout; echo to-stderr >&2"]);
    let id = ctx.id("stdio");
    let created = ctx.create(&bundle, &id);
    created.assert_ok();
    assert_eq!(created.stdout, "", "nothing before start");
    let started = ctx.start(&id);
    started.assert_ok();
    assert_eq!(started.stdout, "", "start prints nothing");
    ctx.wait_status(&id, "stopped", WAIT);
    assert_eq!(created.stdout_now(), "to-stdout\n");
    let stderr = std::fs::read_to_string(&created.stderr_path).expect("stderr file");
    assert!(stderr.ends_with("to-stderr\n"), "{stderr:?}");
}
