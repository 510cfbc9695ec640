//! `exec`: running extra processes in a container, as containerd's shim does.

use std::time::Duration;

use integration_tests::{namespace_of, runtime_is_runc, state_pid, Ctx};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn exec_runs_in_the_container_and_passes_the_exit_code() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("exec");
    let out = ctx.run(&["exec", &id, "sh", "-c", "echo in-exec; exit 5"]);
    assert_eq!(out.code(), Some(5), "{out}");
    assert_eq!(out.stdout, "in-exec\n");
}

#[test]
fn exec_joins_the_container_namespaces() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("execns");
    let init = state_pid(&ctx.state(&id));
    let pid_file = ctx.work().join("exec.pid");
    ctx.run(&[
        "exec".as_ref(),
        "--detach".as_ref(),
        "--pid-file".as_ref(),
        pid_file.as_os_str(),
        id.as_ref(),
        "sleep".as_ref(),
        "3600".as_ref(),
    ])
    .assert_ok();
    let text = std::fs::read_to_string(&pid_file).expect("exec pid file");
    assert!(text.bytes().all(|b| b.is_ascii_digit()), "{text:?}");
    let pid: u32 = text.parse().expect("pid");
    for kind in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        assert_eq!(namespace_of(pid, kind), namespace_of(init, kind), "{kind}");
    }
    // The same cgroup as init in every hierarchy (v1 ones and cgroup2).
    let cgroups_of = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(cgroups_of(pid), cgroups_of(init));
    let ps = ctx.run(&["ps", "--format", "json", &id]);
    ps.assert_ok();
    let pids = ps.json();
    assert!(
        pids.as_array().expect("array").contains(&json!(pid)),
        "{pids}"
    );
}

#[test]
fn exec_applies_user_env_and_cwd_flags() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("execflags");
    let out = ctx.run(&[
        "exec",
        "--user",
        "1000:1000",
        "--env",
        "FOO=bar",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        "id -u; id -g; echo $FOO; pwd",
    ]);
    out.assert_ok();
    assert_eq!(out.stdout, "1000\n1000\nbar\n/tmp\n");
}

#[test]
fn exec_env_set_twice_keeps_the_last_value() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("execenv2");
    // /bin/env itself (a shell would merge the entries when it imports them).
    let out = ctx.run(&["exec", "--env", "FOO=1", "--env", "FOO=2", &id, "/bin/env"]);
    out.assert_ok();
    let foo: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("FOO="))
        .collect();
    assert_eq!(foo, ["FOO=2"]);
}

#[test]
fn exec_process_json() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("execjson");
    let spec = json!({
        "args": ["sh", "-c", "echo from-process-json; id -u; pwd"],
        "cwd": "/tmp",
        "user": {"uid": 1000, "gid": 1000},
        "env": ["PATH=/bin"]
    });
    let out = ctx.exec_process(&id, &spec);
    out.assert_ok();
    assert_eq!(out.stdout, "from-process-json\n1000\n/tmp\n");
}

/// exec's process goes through the checks of a config's: a soft rlimit
/// above its hard one is refused in the kernel's words (berth: before the
/// clone, naming the field), and the program does not run.
#[test]
fn exec_refuses_a_soft_rlimit_above_the_hard_one() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("execrlimit");
    let spec = json!({
        "args": ["echo", "ran"],
        "cwd": "/",
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 20}]
    });
    let out = ctx.exec_process(&id, &spec);
    assert_eq!(out.code(), Some(255), "{out}");
    out.assert_stderr_contains("error setting rlimit type 7: invalid argument");
    assert_eq!(out.stdout, "");
    if !runtime_is_runc() {
        out.assert_stderr_contains("process.rlimits[0]");
    }
    assert_eq!(ctx.status(&id).as_deref(), Some("running"));
}

/// `--cap` names are checked as a config's capabilities are, at their
/// place in exec's process (after the container's own three).
#[test]
fn exec_refuses_an_unknown_added_capability() {
    // berth-only: runc 1.1.5 warns about an unknown capability and goes on.
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("execcap");
    let out = ctx.run(&["exec", "--cap", "CAP_BOGUS", &id, "echo", "ran"]);
    assert_eq!(out.code(), Some(255), "{out}");
    out.assert_stderr_contains(
        "process.capabilities.bounding[3]: capability CAP_BOGUS is not known to this runtime",
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn exec_of_missing_executable_fails_with_255() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("execmissing");
    let out = ctx.run(&["exec", &id, "/no/such/program"]);
    assert_eq!(out.code(), Some(255), "{out}");
    out.assert_stderr_contains("no such file or directory");
    assert_eq!(ctx.status(&id).as_deref(), Some("running"));
}

#[test]
fn exec_without_args_fails() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("execnoargs");
    ctx.run(&["exec", &id]).assert_fail();
}

#[test]
fn exec_in_a_created_container_works() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("execcreated");
    let out = ctx.run(&["exec", &id, "echo", "hi"]);
    out.assert_ok();
    assert_eq!(out.stdout, "hi\n");
}

#[test]
fn exec_in_a_stopped_container_fails() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("execstopped");
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
    let out = ctx.run(&["exec", &id, "true"]);
    assert_eq!(out.code(), Some(255), "{out}");
    out.assert_stderr_contains("cannot exec in a stopped container");
}

#[test]
fn exec_in_a_missing_container_fails() {
    let ctx = Ctx::new();
    let out = ctx.run(&["exec", "ghost", "true"]);
    assert_eq!(out.code(), Some(255), "{out}");
    out.assert_stderr_contains("container does not exist");
}

/// `exec --process` reads absent fields as Go's zero values, as runc: no
/// `user` is uid 0, gid 0 (null too), no `env` is not the bundle's;
/// absent `capabilities` are the container's (the default bundle's three,
/// 0x20000420), while an empty object means none. `cwd` and `args` are
/// required, with runc's words.
#[test]
fn exec_process_file_fields_are_optional_as_in_runc() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("execopt");
    let show = "id; echo term=[$TERM]; grep CapBnd /proc/self/status";
    let minimal = json!({"args": ["/bin/sh", "-c", show], "cwd": "/"});
    let out = ctx.exec_process(&id, &minimal);
    out.assert_ok();
    assert!(out.stdout.contains("uid=0(root) gid=0(root)"), "{out}");
    assert!(
        out.stdout.contains("term=[]"),
        "not the bundle's env: {out}"
    );
    assert!(out.stdout.contains("CapBnd:\t0000000020000420"), "{out}");
    let nulls = json!({"args": ["/bin/sh", "-c", show], "cwd": "/", "user": null,
                       "env": null, "rlimits": null, "capabilities": {}});
    let out = ctx.exec_process(&id, &nulls);
    out.assert_ok();
    assert!(out.stdout.contains("uid=0(root) gid=0(root)"), "{out}");
    assert!(out.stdout.contains("CapBnd:\t0000000000000000"), "{out}");
    ctx.exec_process(&id, &json!({"args": ["/bin/id"]}))
        .assert_fail()
        .assert_stderr_contains("Cwd property must not be empty");
    ctx.exec_process(&id, &json!({"cwd": "/"}))
        .assert_fail()
        .assert_stderr_contains("args must not be empty");
}
