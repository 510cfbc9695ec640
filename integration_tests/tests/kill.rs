//! `kill`: signal names and numbers, the SIGTERM default, `--all`, errors.

use std::time::Duration;

use integration_tests::{Bundle, Ctx};

const WAIT: Duration = Duration::from_secs(10);

/// A pid-1 shell that reports the signals it gets on stdout and exits 0 on TERM
/// (pid 1 ignores signals it has no handler for, so traps are needed).
const TRAPPER: &str = "trap 'echo got-USR1' USR1; trap 'echo got-TERM; exit 0' TERM; \
                       echo ready; while :; do sleep 0.05; done";

/// Creates and starts a [`TRAPPER`] container; returns its id and the path where
/// its stdout goes.
fn start_trapper(ctx: &Ctx) -> (String, std::path::PathBuf) {
    let bundle: Bundle = ctx.bundle();
    bundle.set_args(&["sh", "-c", TRAPPER]);
    let id = ctx.id("trap");
    let out = ctx.create(&bundle, &id);
    out.assert_ok();
    ctx.start(&id).assert_ok();
    wait_for_text(&out.stdout_path, "ready");
    (id, out.stdout_path.clone())
}

fn wait_for_text(path: &std::path::Path, text: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let now = std::fs::read_to_string(path).unwrap_or_default();
        if now.contains(text) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{text:?} never appeared; output so far: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn signal_names_with_and_without_sig_prefix_and_numbers_are_delivered() {
    let ctx = Ctx::new();
    let (id, stdout) = start_trapper(&ctx);
    for (n, signal) in ["USR1", "SIGUSR1", "10"].into_iter().enumerate() {
        ctx.kill(&id, signal).assert_ok();
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let seen = std::fs::read_to_string(&stdout)
                .unwrap_or_default()
                .matches("got-USR1")
                .count();
            if seen > n {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{signal} not delivered"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn kill_defaults_to_sigterm() {
    let ctx = Ctx::new();
    let (id, stdout) = start_trapper(&ctx);
    ctx.run(&["kill", &id]).assert_ok();
    wait_for_text(&stdout, "got-TERM");
    ctx.wait_status(&id, "stopped", WAIT);
}

#[test]
fn kill_by_number_nine_stops_the_container() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("kill9");
    ctx.kill(&id, "9").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
}

#[test]
fn kill_by_full_name_stops_the_container() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("killname");
    ctx.kill(&id, "SIGKILL").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
}

#[test]
fn kill_of_created_container_stops_it() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("killcreated");
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
    ctx.delete(&id).assert_ok();
}

#[test]
fn unknown_signal_is_refused() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("badsig");
    ctx.kill(&id, "BOGUS")
        .assert_fail()
        .assert_stderr_contains("unknown signal");
    ctx.kill(&id, "99").assert_fail();
    assert_eq!(ctx.status(&id).as_deref(), Some("running"));
}

#[test]
fn kill_of_stopped_container_says_not_running() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("killstopped");
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
    ctx.kill(&id, "KILL")
        .assert_fail()
        .assert_stderr_contains("container not running");
}

/// `kill --all` on a stopped container signals what is left in its cgroup
/// and succeeds (runc 1.1): containerd's shim calls it after init exited, to
/// kill init's children when the container has no pid namespace of its own.
#[test]
fn kill_all_of_stopped_container_succeeds() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("killallstopped");
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
    ctx.run(&["kill", "--all", &id, "KILL"]).assert_ok();
    ctx.run(&["kill", "--all", &id, "0"]).assert_ok();
    assert_eq!(ctx.status(&id).as_deref(), Some("stopped"));
    ctx.delete(&id).assert_ok();
}

/// `kill --all` signals every process of the container (runc does it through the
/// container's cgroup). TERM shows the difference: pid 1 (a shell without a
/// trap) ignores it, its `sleep` children die of it, and then the shell's
/// `wait` returns and it exits.
#[test]
fn kill_all_signals_every_process() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["sh", "-c", "sleep 3600 & sleep 3600 & echo ready; wait"]);
    let id = ctx.id("killall");
    let out = ctx.create(&bundle, &id);
    out.assert_ok();
    ctx.start(&id).assert_ok();
    wait_for_text(&out.stdout_path, "ready");
    ctx.kill(&id, "TERM").assert_ok();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        ctx.status(&id).as_deref(),
        Some("running"),
        "pid 1 ignores TERM"
    );
    ctx.run(&["kill", "--all", &id, "TERM"]).assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
}

/// Signal 0 only checks that the container can be signalled (runc accepts it,
/// with and without `--all`); the container keeps running. On a stopped
/// container it is refused like any other signal.
#[test]
fn signal_zero_checks_without_signalling() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("kill0");
    ctx.kill(&id, "0").assert_ok();
    ctx.run(&["kill", "--all", &id, "0"]).assert_ok();
    assert_eq!(ctx.status(&id).as_deref(), Some("running"));
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
    ctx.kill(&id, "0")
        .assert_fail()
        .assert_stderr_contains("container not running");
}
