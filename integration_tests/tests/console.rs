//! `--console-socket` with `terminal: true`.

use std::time::Duration;

use integration_tests::{ConsoleSocket, Ctx};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn console_socket_receives_the_pty_master() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/terminal", json!(true));
    bundle.set_args(&["sh", "-c", "echo hello-from-tty; tty; sleep 3600"]);
    let socket = ConsoleSocket::bind(&ctx.work().join("console.sock"));
    let id = ctx.id("tty");
    let out = ctx.create_with_console(&bundle, &id, socket.path());
    out.assert_ok();
    let mut console = socket.receive(WAIT);
    let target = console.master_target();
    assert!(
        target.ends_with("ptmx"),
        "the fd is not a pty master: {target:?}"
    );
    ctx.start(&id).assert_ok();
    let text = console.read_until("/dev/pts/", WAIT);
    assert!(text.contains("hello-from-tty"), "terminal output: {text:?}");
    assert!(text.contains("/dev/pts/0"), "tty of the process: {text:?}");
    assert_eq!(out.stdout, "", "nothing goes to the runtime's stdout");
}

#[test]
fn terminal_without_console_socket_is_refused() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/terminal", json!(true));
    let id = ctx.id("nosock");
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("console socket");
    assert!(ctx.root_entries().is_empty());
}

#[test]
fn console_socket_without_terminal_is_refused() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let socket = ConsoleSocket::bind(&ctx.work().join("console.sock"));
    let id = ctx.id("noterm");
    ctx.create_with_console(&bundle, &id, socket.path())
        .assert_fail()
        .assert_stderr_contains("console socket");
    assert!(ctx.root_entries().is_empty());
}

#[test]
fn unreachable_console_socket_fails_cleanly() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/terminal", json!(true));
    let missing = ctx.work().join("missing.sock");
    let id = ctx.id("deadsock");
    ctx.create_with_console(&bundle, &id, &missing)
        .assert_fail()
        .assert_stderr_contains("no such file or directory");
    assert!(ctx.root_entries().is_empty());
}

#[test]
fn exec_with_tty_sends_its_own_pty_master() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("exectty");
    let socket = ConsoleSocket::bind(&ctx.work().join("exec.sock"));
    let pid_file = ctx.work().join("exec.pid");
    ctx.run(&[
        "exec".as_ref(),
        "--tty".as_ref(),
        "--console-socket".as_ref(),
        socket.path().as_os_str(),
        "--detach".as_ref(),
        "--pid-file".as_ref(),
        pid_file.as_os_str(),
        id.as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        "echo hello-exec-tty; tty; sleep 3600".as_ref(),
    ])
    .assert_ok();
    let mut console = socket.receive(WAIT);
    assert!(console.master_target().ends_with("ptmx"));
    let text = console.read_until("/dev/pts/", WAIT);
    assert!(text.contains("hello-exec-tty"), "terminal output: {text:?}");
    let pid = std::fs::read_to_string(&pid_file).expect("exec pid file");
    assert!(pid.bytes().all(|b| b.is_ascii_digit()), "{pid:?}");
}

/// `process.consoleSize` sets the pty's window size before the process runs.
#[test]
fn console_size_sets_the_terminal_size() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/terminal", json!(true));
    bundle.set("/process/consoleSize", json!({"height": 33, "width": 77}));
    bundle.set_args(&["sh", "-c", "echo size=$(stty size); sleep 3600"]);
    let socket = ConsoleSocket::bind(&ctx.work().join("console.sock"));
    let id = ctx.id("ttysize");
    ctx.create_with_console(&bundle, &id, socket.path())
        .assert_ok();
    let mut console = socket.receive(WAIT);
    ctx.start(&id).assert_ok();
    let text = console.read_until("size=", WAIT);
    let text = text + &console.read_until("\n", WAIT);
    assert!(text.contains("size=33 77"), "terminal output: {text:?}");
}

/// With a non-root `process.user` the pty slave belongs to that user and the
/// tty group (gid 5 in the default devpts mount), on run and on exec, so the
/// process can reopen its terminal (runc chowns it to the process' uid).
#[test]
fn pty_belongs_to_the_process_user() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/terminal", json!(true));
    bundle.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let show = "echo owner=$(stat -c %u:%g $(tty)); sleep 3600";
    bundle.set_args(&["sh", "-c", show]);
    let socket = ConsoleSocket::bind(&ctx.work().join("console.sock"));
    let id = ctx.id("ttyuser");
    ctx.create_with_console(&bundle, &id, socket.path())
        .assert_ok();
    let mut console = socket.receive(WAIT);
    ctx.start(&id).assert_ok();
    let text = console.read_until("owner=", WAIT) + &console.read_until("\n", WAIT);
    assert!(text.contains("owner=1000:5"), "terminal output: {text:?}");

    let exec_socket = ConsoleSocket::bind(&ctx.work().join("exec.sock"));
    let process = json!({"terminal": true, "user": {"uid": 1001, "gid": 1001}, "cwd": "/",
                         "args": ["sh", "-c", show],
                         "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]});
    let file = ctx.work().join("exec-tty.json");
    std::fs::write(&file, process.to_string()).expect("write process.json");
    ctx.run(&[
        "exec".as_ref(),
        "--process".as_ref(),
        file.as_os_str(),
        "--console-socket".as_ref(),
        exec_socket.path().as_os_str(),
        "--detach".as_ref(),
        id.as_ref(),
    ])
    .assert_ok();
    let mut console = exec_socket.receive(WAIT);
    let text = console.read_until("owner=", WAIT) + &console.read_until("\n", WAIT);
    assert!(text.contains("owner=1001:5"), "terminal output: {text:?}");
}
