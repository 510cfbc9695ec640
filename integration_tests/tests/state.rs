//! The `state` JSON document.

use std::time::Duration;

use integration_tests::{state_pid, Ctx};
use serde_json::json;

#[test]
fn state_of_created_container_has_all_fields() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    let id = ctx.id("state");
    ctx.create(&bundle, &id).assert_ok();
    let state = ctx.state(&id);
    // The runtime's own spec version (runc 1.1.5: "1.0.2-dev"), not the config's.
    assert!(
        state["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{state}"
    );
    assert_eq!(state["id"], json!(id));
    assert_eq!(state["status"], json!("created"));
    assert!(state_pid(&state) > 1);
    assert_eq!(state["bundle"], json!(bundle.path()));
    assert_eq!(state["rootfs"], json!(bundle.rootfs()));
    assert!(
        is_rfc3339(state["created"].as_str().expect("created is a string")),
        "created is not RFC 3339: {}",
        state["created"]
    );
    assert!(state["owner"].is_string(), "owner is a string: {state}");
    assert!(
        state.get("annotations").is_none(),
        "no annotations configured: {state}"
    );
}

#[test]
fn state_carries_annotations() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    bundle.set("/annotations", json!({"org.example.key": "value"}));
    let id = ctx.id("annot");
    ctx.create(&bundle, &id).assert_ok();
    assert_eq!(
        ctx.state(&id)["annotations"],
        json!({"org.example.key": "value"})
    );
}

#[test]
fn relative_bundle_is_stored_absolute() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    let id = ctx.id("relbundle");
    let parent = bundle.path().parent().expect("bundle has a parent");
    let name = bundle.path().file_name().expect("bundle has a name");
    let mut cmd = ctx.cmd(&["create".as_ref(), "--bundle".as_ref(), name, id.as_ref()]);
    cmd.current_dir(parent);
    ctx.output(cmd).assert_ok();
    let state = ctx.state(&id);
    assert_eq!(state["bundle"], json!(bundle.path()));
    assert_eq!(state["rootfs"], json!(bundle.rootfs()));
}

#[test]
fn bundle_defaults_to_current_directory() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    let id = ctx.id("cwdbundle");
    let mut cmd = ctx.cmd(&["create", &id]);
    cmd.current_dir(bundle.path());
    ctx.output(cmd).assert_ok();
    assert_eq!(ctx.state(&id)["bundle"], json!(bundle.path()));
}

#[test]
fn status_goes_created_running_stopped_and_pid_becomes_zero() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("status");
    assert_eq!(ctx.state(&id)["status"], json!("created"));
    ctx.start(&id).assert_ok();
    let running = ctx.state(&id);
    assert_eq!(running["status"], json!("running"));
    let pid = state_pid(&running);
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", Duration::from_secs(10));
    assert_eq!(ctx.state(&id)["pid"], json!(0));
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    rest == "Z" || (rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')))
}

#[test]
fn rfc3339_checker_accepts_and_rejects() {
    assert!(is_rfc3339("2026-11-23T11:22:40.188454777Z"));
    assert!(is_rfc3339("2026-11-23T11:22:40+01:00"));
    assert!(!is_rfc3339("2026-11-23 11:22:40Z"));
    assert!(!is_rfc3339("1700000000"));
}
