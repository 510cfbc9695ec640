//! `--log FILE --log-format json`: what containerd and podman read.

use std::path::Path;

use integration_tests::{Bundle, Ctx, Output};
use serde_json::Value;

/// Parses every non-empty line of the log file as a JSON object.
fn log_lines(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l:?} is not JSON: {e}"))
        })
        .collect()
}

fn assert_log_shape(line: &Value) {
    assert!(line.is_object(), "{line}");
    for key in ["level", "msg", "time"] {
        assert!(line[key].is_string(), "log line lacks string {key}: {line}");
    }
}

/// `--log LOG --log-format json create --bundle B id`.
fn create_logging_json(ctx: &Ctx, bundle: &Bundle, id: &str, log: &Path) -> Output {
    ctx.run(&[
        "--log".as_ref(),
        log.as_os_str(),
        "--log-format".as_ref(),
        "json".as_ref(),
        "create".as_ref(),
        "--bundle".as_ref(),
        bundle.path().as_os_str(),
        id.as_ref(),
    ])
}

#[test]
fn failed_create_writes_exactly_one_error_line_with_the_root_cause() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["/no/such/program"]);
    let log = ctx.work().join("log.json");
    let id = ctx.id("logfail");
    let out = create_logging_json(&ctx, &bundle, &id, &log);
    out.assert_fail();
    let lines = log_lines(&log);
    lines.iter().for_each(assert_log_shape);
    // podman decodes the whole file as ONE JSON object: nothing but the error.
    assert_eq!(lines.len(), 1, "exactly one log line: {lines:?}");
    let errors: Vec<&Value> = lines.iter().filter(|l| l["level"] == "error").collect();
    assert_eq!(errors.len(), 1, "exactly one error line: {lines:?}");
    let msg = errors[0]["msg"].as_str().expect("msg");
    assert!(msg.contains("/no/such/program"), "{msg}");
    assert!(msg.contains("no such file or directory"), "{msg}");
}

#[test]
fn log_format_equals_form_is_accepted() {
    let ctx = Ctx::new();
    let log = ctx.work().join("log.json");
    let out = ctx.run(&[
        format!("--log={}", log.display()).as_str(),
        "--log-format=json",
        "state",
        "ghost",
    ]);
    out.assert_fail();
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_log_shape(&lines[0]);
    assert_eq!(lines[0]["level"], "error");
    assert!(lines[0]["msg"]
        .as_str()
        .is_some_and(|m| m.contains("does not exist")));
}

#[test]
fn successful_create_logs_no_error() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    let log = ctx.work().join("log.json");
    let id = ctx.id("logok");
    create_logging_json(&ctx, &bundle, &id, &log).assert_ok();
    let lines = log_lines(&log);
    lines.iter().for_each(assert_log_shape);
    assert!(
        lines.iter().all(|l| l["level"] != "error"),
        "errors logged on success: {lines:?}"
    );
}

#[test]
fn text_log_names_level_and_message() {
    let ctx = Ctx::new();
    let log = ctx.work().join("log.txt");
    ctx.run(&[
        "--log".as_ref(),
        log.as_os_str(),
        "state".as_ref(),
        "ghost".as_ref(),
    ])
    .assert_fail();
    let text = std::fs::read_to_string(&log).expect("log written");
    assert!(text.contains("level=error"), "{text}");
    assert!(text.contains("container does not exist"), "{text}");
}

#[test]
fn unknown_log_format_is_refused() {
    let ctx = Ctx::new();
    ctx.run(&["--log-format", "yaml", "list"])
        .assert_fail()
        .assert_stderr_contains("invalid log-format: yaml");
}
