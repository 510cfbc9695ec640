//! Global flags that callers pass (go-runc, containerd, podman) are accepted.

use integration_tests::Ctx;

/// `--rootless true` and `--systemd-cgroup` are left out: they ask for features
/// (runc accepts both here), and a runtime without them may refuse them clearly.
#[test]
fn global_flags_from_go_runc_are_accepted() {
    let ctx = Ctx::new();
    let criu = ["--criu", "/usr/sbin/criu"];
    for flags in [
        &["--debug"][..],
        &["--rootless=false"],
        &["--rootless=auto"],
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
