//! Command line of runc 1.2+: `--pidfd-socket` (create, run, exec),
//! `kill --all` through `cgroup.kill`, `update` refusing a memory limit
//! below the usage. Debian's runc 1.1.5 lacks them, so those tests are
//! berth-only.

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;

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
