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

/// `--debug` adds debug lines for run, exec and create: text lines on stderr
/// (`level=debug`), JSON lines in `--log` (`"level":"debug"`). berth's are a
/// startup phase trace: one line per init step with its duration.
#[test]
fn debug_writes_debug_lines_for_run_create_and_exec() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["true"]);
    let id = ctx.id("dbgrun");
    let bundle_arg = bundle.path().to_str().unwrap().to_string();
    let out = ctx.run(&["--debug", "run", "--bundle", &bundle_arg, &id]);
    out.assert_ok();
    assert!(out.stderr.contains("level=debug"), "{out}");
    if !integration_tests::runtime_is_runc() {
        for step in [
            "init: prepare rootfs: ",
            "init: set user: ",
            "runtime: spawn init",
        ] {
            assert!(out.stderr.contains(step), "{step} missing: {out}");
        }
        assert!(out.stderr.contains(" ms\""), "{out}");
    }

    let log = ctx.work().join("debug.json");
    let log_arg = log.to_str().unwrap().to_string();
    let debug_json = ["--debug", "--log", &log_arg, "--log-format", "json"];
    bundle.set_args(integration_tests::LONG_RUNNING);
    let id = ctx.id("dbgcreate");
    ctx.track(&id);
    let mut create = debug_json.to_vec();
    create.extend(["create", "--bundle", &bundle_arg, &id]);
    ctx.run(&create).assert_ok();
    let debug_lines = |lines: &[Value]| lines.iter().filter(|l| l["level"] == "debug").count();
    let after_create = log_lines(&log);
    after_create.iter().for_each(assert_log_shape);
    assert!(debug_lines(&after_create) > 0, "{after_create:?}");

    ctx.start(&id).assert_ok();
    let mut exec = debug_json.to_vec();
    exec.extend(["exec", &id, "true"]);
    ctx.run(&exec).assert_ok();
    let after_exec = log_lines(&log);
    assert!(
        debug_lines(&after_exec) > debug_lines(&after_create),
        "exec logged no debug line: {after_exec:?}"
    );
    if !integration_tests::runtime_is_runc() {
        let steps = after_exec[after_create.len()..]
            .iter()
            .filter(|l| l["msg"].as_str().is_some_and(|m| m.starts_with("init: ")))
            .count();
        assert!(steps > 3, "{after_exec:?}");
    }
}

/// berth: with `--debug` a failed init's steps are logged before the one
/// error line, the failed step last.
#[test]
fn debug_shows_the_steps_of_a_failed_init() {
    if integration_tests::runtime_is_runc() {
        return; // berth-only: the step trace is berth's (runc logs nsexec stages)
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["/no/such/program"]);
    let id = ctx.id("dbgfail");
    let out = ctx.run(&[
        "--debug",
        "run",
        "--bundle",
        bundle.path().to_str().unwrap(),
        &id,
    ]);
    out.assert_fail();
    let lines: Vec<&str> = out.stderr.lines().collect();
    let last_debug = lines
        .iter()
        .rev()
        .find(|l| l.contains("level=debug"))
        .unwrap_or_else(|| panic!("no debug line: {out}"));
    assert!(last_debug.contains("msg=\"init: exec: "), "{out}");
    let errors = lines.iter().filter(|l| l.contains("level=error")).count();
    assert_eq!(errors, 1, "{out}");
}

/// Without `--debug` nothing but errors and warnings is logged.
#[test]
fn without_debug_no_debug_lines() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["true"]);
    let id = ctx.id("nodebug");
    let out = ctx.run(&["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    out.assert_ok();
    assert!(!out.stderr.contains("level=debug"), "{out}");
}

/// The one error line of a failed create, from a JSON log.
fn the_error_line(ctx: &Ctx, bundle: &Bundle, prefix: &str) -> Value {
    let log = ctx.work().join(format!("{prefix}.json"));
    let id = ctx.id(prefix);
    create_logging_json(ctx, bundle, &id, &log).assert_fail();
    let lines = log_lines(&log);
    lines.iter().for_each(assert_log_shape);
    assert_eq!(lines.len(), 1, "exactly one log line: {lines:?}");
    assert_eq!(lines[0]["level"], "error", "{lines:?}");
    lines[0].clone()
}

#[test]
fn an_error_caused_by_an_os_error_carries_its_errno() {
    let ctx = Ctx::new();
    // Init's failure: the errno crosses the sync channel.
    let missing_source = ctx.bundle();
    missing_source.update(|v| {
        v["mounts"].as_array_mut().unwrap().push(serde_json::json!(
            {"destination": "/mnt", "type": "bind", "source": "/nonexistent-berth-src",
             "options": ["rbind"]}
        ))
    });
    // The runtime's own failure: a prestart hook it cannot execute.
    let hook = ctx.work().join("not-executable-hook");
    std::fs::write(&hook, "#!/bin/sh\n").unwrap();
    let not_executable = ctx.bundle();
    not_executable.update(|v| {
        v["hooks"] = serde_json::json!({"prestart": [{"path": hook}]});
    });
    // The program to exec is missing (podman and docker make that 127).
    let missing_program = ctx.bundle();
    missing_program.set_args(&["/no/such/program"]);
    let cases = [
        (
            missing_program,
            "nocmd",
            "no such file or directory",
            libc::ENOENT,
        ),
        (
            missing_source,
            "bindmiss",
            "no such file or directory",
            libc::ENOENT,
        ),
        (not_executable, "hooknx", "permission denied", libc::EACCES),
    ];
    for (bundle, prefix, text, errno) in cases {
        let line = the_error_line(&ctx, &bundle, prefix);
        let msg = line["msg"].as_str().unwrap();
        assert!(msg.ends_with(text), "{prefix}: {msg}");
        if integration_tests::runtime_is_runc() {
            // berth-only: runc 1.1.5 writes level/msg/time only (so does
            // crun 1.8.1, with strerror in msg); the errno key is berth's.
            continue;
        }
        assert_eq!(line["errno"], errno, "{prefix}: {line}");
    }
}

#[test]
fn an_error_without_an_os_error_has_no_errno() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.update(|v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "pid"}))
    });
    let line = the_error_line(&ctx, &bundle, "noerrno");
    assert!(line.get("errno").is_none(), "{line}");
}
