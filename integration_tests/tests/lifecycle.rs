//! create / start / state / kill / delete transitions and their errors.

use std::time::Duration;

use integration_tests::Ctx;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn create_start_kill_delete() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("life");
    assert_eq!(ctx.status(&id).as_deref(), Some("created"));
    ctx.start(&id).assert_ok();
    assert_eq!(ctx.status(&id).as_deref(), Some("running"));
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", WAIT);
    ctx.delete(&id).assert_ok();
    ctx.run(&["state", &id]).assert_fail();
    assert!(!ctx.has_state_dir(&id));
}
