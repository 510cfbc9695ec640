//! Global flags that callers pass (go-runc, containerd, podman) are accepted.

use integration_tests::Ctx;

/// `--rootless true` is left out: it asks for a feature (runc accepts it
/// here), and a runtime without it may refuse it clearly.
#[test]
fn global_flags_from_go_runc_are_accepted() {
    let ctx = Ctx::new();
    let criu = ["--criu", "/usr/sbin/criu"];
    for flags in [
        &["--debug"][..],
        &["--rootless=false"],
        &["--rootless=auto"],
        &["--systemd-cgroup"],
        &["--log-format=text"],
        &["--log-format", "json"],
        &criu,
    ] {
        let mut args = flags.to_vec();
        args.extend(["list", "-q"]);
        ctx.run(&args).assert_ok();
    }
}

#[test]
fn help_succeeds() {
    let ctx = Ctx::new();
    let out = ctx.run(&["--help"]);
    out.assert_ok();
    assert!(out.stdout.contains("create"), "{out}");
    ctx.run(&["create", "--help"]).assert_ok();
}

#[test]
fn debug_does_not_change_command_output() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("debug");
    let plain = ctx.run(&["state", &id]);
    let debug = ctx.run(&["--debug", "state", &id]);
    debug.assert_ok();
    assert_eq!(plain.json(), debug.json());
}

/// Force-deletes a container kept under a root the [`Ctx`] does not manage.
struct DeleteOnDrop {
    root: std::path::PathBuf,
    id: String,
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new(integration_tests::runtime())
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "--force", &self.id])
            .status();
    }
}

/// containerd passes a `--root` that may not exist yet: it is created, with its
/// parents, private to root (mode 0700).
#[test]
fn missing_root_directory_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    let root = ctx.work().join("deep/state/root");
    let id = ctx.id("deeproot");
    let _cleanup = DeleteOnDrop {
        root: root.clone(),
        id: id.clone(),
    };
    let mut cmd = std::process::Command::new(integration_tests::runtime());
    cmd.arg("--root")
        .arg(&root)
        .arg("create")
        .arg("--bundle")
        .arg(bundle.path())
        .arg(&id);
    ctx.output(cmd).assert_ok();
    let mode = std::fs::metadata(&root)
        .expect("root created")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "root mode {mode:o}");
}

/// runc's CLI library accepts one or two dashes and `=value` or a separate
/// value, and flags after the container id (except for exec and ps).
#[test]
fn flags_take_go_spellings_and_may_follow_the_id() {
    let ctx = Ctx::new();
    ctx.run(&["-log-format", "json", "list", "-q"]).assert_ok();
    ctx.run(&["-log-format=text", "list", "-format=json"])
        .assert_ok();
    let id = ctx.create_sleeper("flagsafter");
    ctx.run(&["delete", &id, "--force"]).assert_ok();
    assert!(!ctx.listed_ids().contains(&id), "{id} still listed");
}

#[test]
fn unknown_command_exits_3_and_bad_usage_exits_1() {
    let ctx = Ctx::new();
    let out = ctx.run(&["no-such-command"]);
    assert_eq!(out.code(), Some(3), "{out}");
    assert!(out.stderr.contains("no-such-command"), "{out}");
    let out = ctx.run(&["state"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("requires exactly 1 argument"), "{out}");
    let out = ctx.run(&["list", "--no-such-flag"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr
            .contains("flag provided but not defined: -no-such-flag"),
        "{out}"
    );
    ctx.run(&["help", "create"]).assert_ok();
}

/// `checkpoint` and `restore` exist with runc's flags (`-h` lists them); an
/// unknown container is refused first. berth then refuses to checkpoint a
/// running container by name (CRIU is not integrated).
#[test]
fn checkpoint_and_restore_take_runcs_flags() {
    let ctx = Ctx::new();
    for command in ["checkpoint", "restore"] {
        let help = ctx.run(&[command, "-h"]);
        help.assert_ok();
        let text = format!("{}{}", help.stdout, help.stderr);
        for flag in [
            "--image-path",
            "--work-path",
            "--tcp-established",
            "--manage-cgroups-mode",
        ] {
            assert!(text.contains(flag), "{command} -h lacks {flag}: {help}");
        }
    }
    ctx.run(&[
        "checkpoint",
        "--image-path",
        "/nonexistent",
        "--leave-running",
        "no-such-ctr",
    ])
    .assert_fail()
    .assert_stderr_contains("container does not exist");
    if integration_tests::runtime_is_runc() {
        return; // runc has CRIU: checkpointing a container is not refused
    }
    let id = ctx.start_sleeper("ckpt");
    ctx.run(&["checkpoint", "--image-path", "/nonexistent", &id])
        .assert_fail()
        .assert_stderr_contains("checkpoint: berth does not support checkpoint/restore");
    let bundle = ctx.bundle();
    let path = bundle.path().to_str().unwrap().to_string();
    ctx.run(&[
        "restore",
        "-d",
        "--bundle",
        &path,
        "--image-path",
        "/nonexistent",
        &ctx.id("rst"),
    ])
    .assert_fail()
    .assert_stderr_contains("restore: berth does not support checkpoint/restore");
    assert_eq!(ctx.status(&id).as_deref(), Some("running"));
}

/// A reader that went away (`runc list | head -1`) ends the runtime by
/// SIGPIPE, silently, as it ends any Go program: no panic, no message.
#[test]
fn writing_to_a_closed_pipe_ends_silently_by_sigpipe() {
    use std::os::unix::process::ExitStatusExt;
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("pipe");
    let commands: [&[&str]; 6] = [
        &["features"],
        &["list"],
        &["state", &id],
        &["ps", "--format", "json", &id],
        &["--version"],
        &["spec", "--help"],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = ctx
            .cmd(args)
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .output()
            .expect("run the runtime");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?}, stderr: {stderr}",
            out.status
        );
        assert!(stderr.is_empty(), "{args:?}: stderr: {stderr}");
    }
    ctx.delete_force(&id);
}
