//! Bad input: invalid ids, broken bundles, unusable process settings. After every
//! failed create the runtime must exit non-zero, list nothing and leave no state.

use integration_tests::{Bundle, Ctx, Output};
use serde_json::json;

/// Runs `create` for `id` and checks the failure left nothing behind.
#[track_caller]
fn create_fails_cleanly(ctx: &Ctx, bundle: &Bundle, id: &str) -> Output {
    let out = ctx.create(bundle, id);
    out.assert_fail();
    assert!(ctx.listed_ids().is_empty(), "list shows a container: {out}");
    assert!(!ctx.has_state_dir(id), "state dir left for {id:?}: {out}");
    assert!(
        ctx.root_entries().is_empty(),
        "root not empty after failed create: {:?}",
        ctx.root_entries()
    );
    out
}

#[test]
fn empty_id_is_rejected() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    create_fails_cleanly(&ctx, &bundle, "").assert_stderr_contains("container id cannot be empty");
}

#[test]
fn ids_with_bad_characters_are_rejected() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    for id in [
        "/",
        ".",
        "..",
        "a/b",
        "../escape",
        "a b",
        "a$b",
        "a:b",
        "a@b",
        "ééé",
    ] {
        create_fails_cleanly(&ctx, &bundle, id)
            .assert_stderr_contains("invalid container ID format");
    }
}

#[test]
fn overlong_id_is_rejected() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    create_fails_cleanly(&ctx, &bundle, &"a".repeat(1025));
}

#[test]
fn ids_with_allowed_punctuation_work() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    let id = format!("{}_A.b-c+d", ctx.id("Punct"));
    ctx.create(&bundle, &id).assert_ok();
    assert_eq!(ctx.status(&id).as_deref(), Some("created"));
}

#[test]
fn bundle_without_config_is_rejected() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.remove_config();
    let id = ctx.id("noconfig");
    create_fails_cleanly(&ctx, &bundle, &id).assert_stderr_contains("config.json");
}

#[test]
fn malformed_json_is_rejected() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    for text in ["{\"ociVersion\": ", "[]", "not json at all", ""] {
        bundle.write_raw_config(text);
        let id = ctx.id("badjson");
        create_fails_cleanly(&ctx, &bundle, &id);
    }
}

#[test]
fn missing_rootfs_is_rejected() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/root/path", json!("no-such-rootfs"));
    let id = ctx.id("norootfs");
    create_fails_cleanly(&ctx, &bundle, &id)
        .assert_stderr_contains("no-such-rootfs")
        .assert_stderr_contains("no such file or directory");
}

#[test]
fn missing_root_is_rejected() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.remove("/root");
    let id = ctx.id("noroot");
    create_fails_cleanly(&ctx, &bundle, &id).assert_stderr_contains("root");
}

#[test]
fn empty_args_are_rejected() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&[]);
    let id = ctx.id("noargs");
    create_fails_cleanly(&ctx, &bundle, &id).assert_stderr_contains("args must not be empty");
}

#[test]
fn missing_process_is_rejected() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.remove("/process");
    let id = ctx.id("noprocess");
    create_fails_cleanly(&ctx, &bundle, &id).assert_stderr_contains("process");
}

#[test]
fn relative_cwd_is_rejected() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/cwd", json!("relative/dir"));
    let id = ctx.id("relcwd");
    create_fails_cleanly(&ctx, &bundle, &id).assert_stderr_contains("bsolute");
}

#[test]
fn missing_absolute_executable_names_the_cause() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["/no/such/program"]);
    let id = ctx.id("noexe");
    create_fails_cleanly(&ctx, &bundle, &id)
        .assert_stderr_contains("/no/such/program")
        .assert_stderr_contains("no such file or directory");
}

#[test]
fn executable_not_in_path_names_the_cause() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["no-such-program"]);
    let id = ctx.id("nopath");
    create_fails_cleanly(&ctx, &bundle, &id)
        .assert_stderr_contains("no-such-program")
        .assert_stderr_contains("executable file not found in $PATH");
}

#[test]
fn non_executable_file_is_refused() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["/etc/passwd"]);
    let id = ctx.id("noexec");
    create_fails_cleanly(&ctx, &bundle, &id).assert_stderr_contains("permission denied");
}

/// runc 1.1.5 does not check `ociVersion` at all (it accepts "2.0.0", "banana" and
/// none). A runtime may be stricter; if it refuses, it must say why and leave no
/// state behind.
#[test]
fn unsupported_oci_version_is_accepted_or_refused_cleanly() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    bundle.set("/ociVersion", json!("2.0.0"));
    let id = ctx.id("ociv2");
    let out = ctx.create(&bundle, &id);
    if out.success() {
        assert_eq!(ctx.status(&id).as_deref(), Some("created"));
    } else {
        assert!(
            out.stderr.contains("ociVersion") || out.stderr.contains("2.0.0"),
            "{out}"
        );
        assert!(ctx.root_entries().is_empty(), "state left: {out}");
    }
}

#[test]
fn unknown_subcommand_and_missing_arguments_fail() {
    let ctx = Ctx::new();
    ctx.run(&["no-such-command"]).assert_fail();
    ctx.run(&["kill"]).assert_fail();
    ctx.run(&["kill", "a", "b", "c"]).assert_fail();
    ctx.run(&["state"]).assert_fail();
    ctx.run(&["delete"]).assert_fail();
    ctx.run(&["start"]).assert_fail();
}
