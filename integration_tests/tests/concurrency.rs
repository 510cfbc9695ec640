//! Concurrent callers (containerd runs state, kill and delete at once).
//!
//! Not tested: concurrent creates of ONE id. runc 1.1.5 gets them wrong (two
//! creates can both succeed, or a loser's cleanup removes the winner's state),
//! so no test of it can pass on runc.

use std::time::Duration;

use integration_tests::{Ctx, LONG_RUNNING};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn concurrent_creates_with_different_ids_all_succeed() {
    let ctx = Ctx::new();
    let ids: Vec<String> = (0..4).map(|_| ctx.id("many")).collect();
    let bundles: Vec<_> = ids
        .iter()
        .map(|_| {
            let bundle = ctx.bundle();
            bundle.set_args(LONG_RUNNING);
            bundle
        })
        .collect();
    let running: Vec<_> = ids
        .iter()
        .zip(&bundles)
        .map(|(id, bundle)| {
            ctx.spawn(&[
                "create".as_ref(),
                "--bundle".as_ref(),
                bundle.path().as_os_str(),
                id.as_ref(),
            ])
        })
        .collect();
    for out in running.into_iter().map(|r| r.wait(WAIT)) {
        out.assert_ok();
    }
    let mut listed = ctx.listed_ids();
    listed.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(listed, want);
}

#[test]
fn state_during_delete_is_whole_json_or_does_not_exist() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("statedel");
    let readers: Vec<_> = (0..6).map(|_| ctx.spawn(&["state", &id])).collect();
    let deleter = ctx.spawn(&["delete", "--force", &id]);
    let more: Vec<_> = (0..6).map(|_| ctx.spawn(&["state", &id])).collect();
    deleter.wait(WAIT).assert_ok();
    for out in readers.into_iter().chain(more).map(|r| r.wait(WAIT)) {
        if out.success() {
            let state: Value = out.json();
            assert_eq!(state["id"], Value::from(id.as_str()), "{out}");
        } else {
            out.assert_stderr_contains("does not exist");
        }
    }
    ctx.run(&["state", &id])
        .assert_fail()
        .assert_stderr_contains("does not exist");
}
