//! `linux.seccomp`: allow lists, argument rules, errno values, names the
//! library does not know, refusals, `exec`, and the listener fd handed to a
//! seccomp agent (SCMP_ACT_NOTIFY). security.rs has the first two tests.

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use integration_tests::{runtime_is_runc, state_pid, Ctx, Output};
use serde_json::{json, Value};

use integration_tests::SHELL_SYSCALLS as ALLOWED;

/// `sh -c script` in a container with `seccomp`; returns what `run` did.
fn run_with(ctx: &Ctx, seccomp: Value, script: &str) -> Output {
    let bundle = ctx.bundle();
    bundle.set("/linux/seccomp", seccomp);
    bundle.set_args(&["sh", "-c", script]);
    let id = ctx.id("seccomp");
    ctx.run_container(&bundle, &id)
}

/// Allow everything but `mkdir`/`mkdirat`, which `rule` decides.
fn deny_mkdir(rule: Value) -> Value {
    let mut rule = rule;
    rule["names"] = json!(["mkdir", "mkdirat"]);
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]})
}

const MKDIR: &str = "mkdir /dev/shm/made; echo rc=$?";

#[test]
fn default_errno_denies_what_the_allow_list_lacks() {
    let ctx = Ctx::new();
    let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ALLOWED, "action": "SCMP_ACT_ALLOW"}]
    });
    let out = run_with(&ctx, profile, &format!("echo allowed; {MKDIR}"));
    out.assert_ok();
    assert_eq!(out.stdout, "allowed\nrc=1\n");
    out.assert_stderr_contains("Operation not permitted");
}

#[test]
fn default_errno_ret_is_returned_by_the_default_action() {
    let ctx = Ctx::new();
    let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::ENOMEDIUM,
        "syscalls": [{"names": ALLOWED, "action": "SCMP_ACT_ALLOW"}]
    });
    let out = run_with(&ctx, profile, MKDIR);
    out.assert_ok();
    assert_eq!(out.stdout, "rc=1\n");
    out.assert_stderr_contains("No medium found");
}

#[test]
fn errno_ret_of_a_rule_is_returned() {
    let ctx = Ctx::new();
    let profile = deny_mkdir(json!({"action": "SCMP_ACT_ERRNO", "errnoRet": libc::EROFS}));
    let out = run_with(&ctx, profile, MKDIR);
    assert_eq!(out.stdout, "rc=1\n", "{out}");
    out.assert_stderr_contains("Read-only file system");
}

/// busybox `linux32` calls personality(PER_LINUX32 = 8), `linux64`
/// personality(PER_LINUX = 0).
const PERSONALITIES: &str =
    "linux64 true && echo linux64 ok; linux32 true && echo linux32 ok; echo done";

#[test]
fn an_argument_rule_denies_only_the_matching_value() {
    let ctx = Ctx::new();
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{
        "names": ["personality"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]
    }]});
    let out = run_with(&ctx, profile, PERSONALITIES);
    out.assert_ok();
    assert_eq!(out.stdout, "linux64 ok\ndone\n");
    out.assert_stderr_contains("Operation not permitted");
}

#[test]
fn argument_conditions_on_one_index_each_match_alone() {
    // Both conditions test argument 0: runc makes a rule of each, so either
    // value is denied (one rule with both could never match).
    let ctx = Ctx::new();
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{
        "names": ["personality"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                 {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]
    }]});
    let out = run_with(&ctx, profile, PERSONALITIES);
    out.assert_ok();
    assert_eq!(out.stdout, "done\n");
}

#[test]
fn masked_eq_compares_the_masked_argument_with_value_two() {
    // (arg0 & 0xff) == 8 holds for PER_LINUX32 only.
    let ctx = Ctx::new();
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{
        "names": ["personality"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]
    }]});
    let out = run_with(&ctx, profile, PERSONALITIES);
    out.assert_ok();
    assert_eq!(out.stdout, "linux64 ok\ndone\n");
}

#[test]
fn unknown_syscall_names_are_ignored() {
    let ctx = Ctx::new();
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["berth_no_such_syscall"], "action": "SCMP_ACT_KILL"},
        {"names": ["berth_no_such_syscall", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
    ]});
    let out = run_with(&ctx, profile, MKDIR);
    out.assert_ok();
    assert_eq!(out.stdout, "rc=1\n");
    out.assert_stderr_contains("Operation not permitted");
}

#[test]
fn the_filter_is_loaded_before_capabilities_go_without_no_new_privileges() {
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which
    // this user does not keep: the runtime must load it before the switch.
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/noNewPrivileges", json!(false));
    bundle.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    bundle.set(
        "/linux/seccomp",
        deny_mkdir(json!({"action": "SCMP_ACT_ERRNO"})),
    );
    bundle.set_args(&[
        "sh",
        "-c",
        &format!("grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; {MKDIR}"),
    ]);
    let id = ctx.id("seccompnnp");
    let out = ctx.run_container(&bundle, &id);
    out.assert_ok();
    assert_eq!(out.stdout, "NoNewPrivs:\t0\nSeccomp:\t2\nrc=1\n");
}

#[test]
fn filter_flags_log_spec_allow_and_tsync_are_accepted() {
    let ctx = Ctx::new();
    let mut profile = deny_mkdir(json!({"action": "SCMP_ACT_ERRNO"}));
    profile["flags"] = json!([
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_TSYNC"
    ]);
    let out = run_with(&ctx, profile, MKDIR);
    if runtime_is_runc() {
        // runc 1.1.5 refuses every flag (runc 1.2 takes these three).
        out.assert_fail();
        out.assert_stderr_contains("seccomp flags are not yet supported by runc");
        assert!(ctx.root_entries().is_empty(), "{:?}", ctx.root_entries());
        return;
    }
    out.assert_ok();
    assert_eq!(out.stdout, "rc=1\n");
}

/// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs Linux 5.19 (berth loads
/// the filter itself, runc 1.2 needs libseccomp 2.6): taken where
/// `features` says the kernel has it, else refused by name before anything
/// is made. runc 1.1.5 refuses every flag.
#[test]
fn wait_killable_recv_is_taken_where_the_kernel_has_it() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}),
    );
    let id = ctx.id("seccompflag");
    let out = ctx.create(&bundle, &id);
    let features = ctx.run(&["features"]).assert_ok().json();
    let supported = features["linux"]["seccomp"]["supportedFlags"]
        .as_array()
        .is_some_and(|f| f.contains(&json!("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")));
    if supported && !runtime_is_runc() {
        out.assert_ok();
        return;
    }
    out.assert_fail();
    if !runtime_is_runc() {
        out.assert_stderr_contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
    }
    assert!(ctx.root_entries().is_empty(), "{:?}", ctx.root_entries());
}

/// The refusals of a profile, each before anything is created (runc
/// refuses NOTIFY on write from its init, and cleans up).
#[test]
fn invalid_profiles_are_refused_and_nothing_is_left() {
    let ctx = Ctx::new();
    let cases = [
        (json!({"defaultAction": "SCMP_ACT_BOGUS"}), "SCMP_ACT_BOGUS"),
        (
            deny_mkdir(json!({"action": "SCMP_ACT_DENY"})),
            "SCMP_ACT_DENY",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}),
            "SCMP_ARCH_Z80",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{
                "names": ["personality"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_SIMILAR"}]}]}),
            "SCMP_CMP_SIMILAR",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
                   "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]}),
            "SCMP_ACT_NOTIFY cannot be used for the write syscall",
        ),
    ];
    for (profile, named) in cases {
        let bundle = ctx.bundle();
        bundle.set("/linux/seccomp", profile);
        let id = ctx.id("seccompbad");
        let out = ctx.create(&bundle, &id);
        out.assert_fail();
        out.assert_stderr_contains(named);
        assert!(ctx.listed_ids().is_empty(), "list shows a container: {out}");
        assert!(ctx.root_entries().is_empty(), "{:?}", ctx.root_entries());
    }
}

#[test]
fn exec_runs_under_the_container_profile() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/seccomp",
        deny_mkdir(json!({"action": "SCMP_ACT_ERRNO"})),
    );
    bundle.set_args(&["sleep", "3600"]);
    let id = ctx.id("seccompexec");
    ctx.create(&bundle, &id).assert_ok();
    ctx.start(&id).assert_ok();
    let out = ctx.run(&[
        "exec",
        &id,
        "sh",
        "-c",
        &format!("grep -E '^Seccomp:' /proc/self/status; {MKDIR}"),
    ]);
    out.assert_ok();
    assert_eq!(out.stdout, "Seccomp:\t2\nrc=1\n");
    out.assert_stderr_contains("Operation not permitted");
    // ...also without no_new_privs (loaded before the capabilities go).
    let spec = json!({
        "args": ["sh", "-c", MKDIR], "cwd": "/", "user": {"uid": 1000, "gid": 1000},
        "env": ["PATH=/bin:/usr/bin"], "noNewPrivileges": false
    });
    let out = ctx.exec_process(&id, &spec);
    out.assert_ok();
    assert_eq!(out.stdout, "rc=1\n");
}

/// A seccomp agent: for each connection it receives the container
/// process state and the listener fd, and, where asked, answers one
/// notification with `errno`. It reports each state and the syscall it
/// answered.
struct Agent {
    path: PathBuf,
    thread: JoinHandle<Vec<(Value, Option<String>)>>,
}

impl Agent {
    /// `answer[i]`: wait for and answer one notification on the i-th
    /// listener.
    fn start(dir: &Path, errno: i32, answer: &[bool]) -> Agent {
        let path = dir.join("agent.sock");
        let listener = UnixListener::bind(&path).expect("bind the agent socket");
        let answer = answer.to_vec();
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for answer in answer {
                let stream = accept(&listener, Duration::from_secs(30));
                let (state, fd) = receive_state(stream.as_raw_fd());
                let syscall = answer.then(|| answer_one(fd, errno));
                seen.push((state, syscall));
            }
            seen
        });
        Agent { path, thread }
    }

    fn report(self) -> Vec<(Value, Option<String>)> {
        self.thread.join().expect("the agent thread")
    }
}

/// Fail the next notification with `errno`; the syscall's name.
fn answer_one(fd: RawFd, errno: i32) -> String {
    let req = libseccomp::ScmpNotifReq::receive(fd).expect("a notification");
    libseccomp::ScmpNotifResp::new_error(req.id, -errno, libseccomp::ScmpNotifRespFlags::empty())
        .respond(fd)
        .expect("answer the notification");
    req.data.syscall.get_name().unwrap_or_default()
}

fn accept(listener: &UnixListener, timeout: Duration) -> std::os::unix::net::UnixStream {
    listener.set_nonblocking(true).expect("set_nonblocking");
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                return stream;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the runtime never connected");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept on the agent socket: {e}"),
        }
    }
}

/// One message: the state as JSON, the listener fd attached.
fn receive_state(socket: RawFd) -> (Value, RawFd) {
    let (bytes, fd) = integration_tests::receive_with_fd(socket);
    let state = serde_json::from_slice(&bytes).expect("the state is JSON");
    (state, fd)
}

fn notify_mkdir(listener: &Path) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": listener,
        "listenerMetadata": "berth-test",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    })
}

#[test]
fn notify_hands_the_listener_and_the_state_to_the_agent() {
    let ctx = Ctx::new();
    let agent = Agent::start(ctx.work(), libc::ENOMEDIUM, &[true]);
    let bundle = ctx.bundle();
    bundle.set("/linux/seccomp", notify_mkdir(&agent.path));
    bundle.set("/annotations", json!({"org.example.test": "seccomp"}));
    bundle.set_args(&["sh", "-c", MKDIR]);
    let id = ctx.id("seccompnotify");
    let out = ctx.run_container(&bundle, &id);
    out.assert_ok();
    assert_eq!(out.stdout, "rc=1\n");
    out.assert_stderr_contains("No medium found");
    let (state, syscall) = agent.report().remove(0);
    assert!(syscall.is_some_and(|s| s.starts_with("mkdir")));
    assert_eq!(state["fds"], json!(["seccompFd"]), "{state}");
    assert_eq!(state["metadata"], "berth-test", "{state}");
    assert_eq!(state["state"]["id"], json!(id), "{state}");
    assert_eq!(state["state"]["status"], "creating", "{state}");
    assert_eq!(state["state"]["bundle"], json!(bundle.path()), "{state}");
    assert_eq!(state["state"]["annotations"]["org.example.test"], "seccomp");
    assert!(state["pid"].as_u64().is_some_and(|p| p > 0), "{state}");
    assert_eq!(state["pid"], state["state"]["pid"], "{state}");
}

#[test]
fn notify_in_exec_tells_the_agent_both_pids() {
    let ctx = Ctx::new();
    // The container's init hands over its listener (and never calls
    // mkdir); the exec'd process has a listener of its own.
    let agent = Agent::start(ctx.work(), libc::ENOMEDIUM, &[false, true]);
    let bundle = ctx.bundle();
    bundle.set("/linux/seccomp", notify_mkdir(&agent.path));
    bundle.set_args(&["sleep", "3600"]);
    let id = ctx.id("seccompnotifyexec");
    ctx.create(&bundle, &id).assert_ok();
    ctx.start(&id).assert_ok();
    let init = state_pid(&ctx.state(&id));
    let out = ctx.run(&["exec", &id, "sh", "-c", MKDIR]);
    out.assert_ok();
    assert_eq!(out.stdout, "rc=1\n");
    out.assert_stderr_contains("No medium found");
    let (state, _) = agent.report().remove(1);
    assert_eq!(state["state"]["status"], "running", "{state}");
    assert_eq!(state["state"]["pid"], json!(init), "{state}");
    assert!(state["pid"].as_u64().is_some_and(|p| p > 0), "{state}");
    assert_ne!(state["pid"], json!(init), "{state}");
}

#[test]
fn notify_without_an_agent_fails_clearly_and_leaves_nothing() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/seccomp",
        notify_mkdir(&ctx.work().join("nobody-listens.sock")),
    );
    bundle.set_args(&["true"]);
    let id = ctx.id("seccompnoagent");
    let out = ctx.create(&bundle, &id);
    out.assert_fail();
    out.assert_stderr_contains("failed to connect with seccomp agent");
    assert!(ctx.listed_ids().is_empty(), "list shows a container: {out}");
    assert!(ctx.root_entries().is_empty(), "{:?}", ctx.root_entries());
}
