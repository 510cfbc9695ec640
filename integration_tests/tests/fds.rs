//! `--pid-file` and `--preserve-fds`.

use integration_tests::{state_pid, Ctx};

#[test]
fn pid_file_holds_the_init_pid_without_newline() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    let pid_file = ctx.work().join("init.pid");
    let id = ctx.id("pidfile");
    ctx.track(&id);
    ctx.run(&[
        "create".as_ref(),
        "--bundle".as_ref(),
        bundle.path().as_os_str(),
        "--pid-file".as_ref(),
        pid_file.as_os_str(),
        id.as_ref(),
    ])
    .assert_ok();
    let text = std::fs::read_to_string(&pid_file).expect("pid file written");
    assert!(
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
        "pid file must be digits only: {text:?}"
    );
    assert_eq!(text, state_pid(&ctx.state(&id)).to_string());
}

#[test]
fn relative_pid_file_is_resolved_against_the_working_directory() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    let cwd = ctx.work().join("cwd");
    std::fs::create_dir(&cwd).expect("mkdir");
    let id = ctx.id("relpid");
    ctx.track(&id);
    let mut cmd = ctx.cmd(&[
        "create".as_ref(),
        "--bundle".as_ref(),
        bundle.path().as_os_str(),
        "--pid-file".as_ref(),
        "rel.pid".as_ref(),
        id.as_ref(),
    ]);
    cmd.current_dir(&cwd);
    ctx.output(cmd).assert_ok();
    let text = std::fs::read_to_string(cwd.join("rel.pid")).expect("pid file in cwd");
    assert_eq!(text, state_pid(&ctx.state(&id)).to_string());
    assert!(!bundle.path().join("rel.pid").exists());
}

#[test]
fn preserve_fds_passes_extra_descriptors() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["sh", "-c", "cat <&3; cat <&4"]);
    let f3 = ctx.work().join("f3");
    let f4 = ctx.work().join("f4");
    std::fs::write(&f3, "hello-fd3\n").expect("write");
    std::fs::write(&f4, "hello-fd4\n").expect("write");
    let id = ctx.id("fds");
    let out = ctx.sh(&format!(
        "exec 3<'{}' 4<'{}'; exec \"$RUNTIME\" --root \"$ROOT\" run --preserve-fds 2 --bundle '{}' {id}",
        f3.display(),
        f4.display(),
        bundle.path().display()
    ));
    out.assert_ok();
    assert_eq!(out.stdout, "hello-fd3\nhello-fd4\n");
}

#[test]
fn descriptors_beyond_preserve_fds_are_closed() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&[
        "sh",
        "-c",
        "cat <&3; if cat <&4; then echo fd4-open; else echo fd4-closed; fi",
    ]);
    let f3 = ctx.work().join("f3");
    std::fs::write(&f3, "hello-fd3\n").expect("write");
    let id = ctx.id("fdsclosed");
    let out = ctx.sh(&format!(
        "exec 3<'{0}' 4<'{0}'; exec \"$RUNTIME\" --root \"$ROOT\" run --preserve-fds 1 --bundle '{1}' {id}",
        f3.display(),
        bundle.path().display()
    ));
    assert!(out.stdout.contains("hello-fd3\n"), "{out}");
    assert!(out.stdout.contains("fd4-closed"), "{out}");
}

#[test]
fn no_descriptors_leak_without_preserve_fds() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["sh", "-c", "ls /proc/self/fd"]);
    let f3 = ctx.work().join("f3");
    std::fs::write(&f3, "x").expect("write");
    let id = ctx.id("noleak");
    let out = ctx.sh(&format!(
        "exec 3<'{}' 7<'{}'; exec \"$RUNTIME\" --root \"$ROOT\" run --bundle '{}' {id}",
        f3.display(),
        f3.display(),
        bundle.path().display()
    ));
    out.assert_ok();
    let fds: Vec<u32> = out
        .stdout
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // 0, 1, 2 and the directory fd `ls` itself opened to read /proc/self/fd.
    assert!(
        fds.iter().filter(|&&fd| fd > 2).count() <= 1,
        "leaked fds: {fds:?}"
    );
    assert!(!fds.contains(&7), "fd 7 leaked: {fds:?}");
}
