//! `list`: the table, `-q` and `--format json`.

use integration_tests::{state_pid, Ctx};
use serde_json::json;

/// The header alone: every column padded to tabwriter's minimum width of 12.
const EMPTY_HEADER: &str = "ID          PID         STATUS      BUNDLE      CREATED     OWNER";

#[test]
fn empty_list_prints_only_the_header() {
    let ctx = Ctx::new();
    let out = ctx.run(&["list"]);
    out.assert_ok();
    assert_eq!(out.stdout, format!("{EMPTY_HEADER}\n"));
    let quiet = ctx.run(&["list", "-q"]);
    quiet.assert_ok();
    assert_eq!(quiet.stdout, "");
}

#[test]
/// runc prints `null`; `[]` means the same to every JSON client.
fn list_json_of_nothing_is_null_or_empty() {
    let ctx = Ctx::new();
    let out = ctx.run(&["list", "--format", "json"]);
    out.assert_ok();
    let value = out.json();
    assert!(
        value.is_null() || value == json!([]),
        "expected null or [], got {value}"
    );
}

#[test]
fn list_table_has_aligned_columns() {
    let ctx = Ctx::new();
    let id = ctx.create_sleeper("ls");
    let state = ctx.state(&id);
    let out = ctx.run(&["list"]);
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let header = lines[0];
    // Each column starts where its header starts (Go tabwriter: min width 12,
    // padding 3).
    let row = lines[1];
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(fields.len(), 6, "{out}");
    assert_eq!(fields[0], id);
    assert_eq!(fields[1], state_pid(&state).to_string());
    assert_eq!(fields[2], "created");
    assert_eq!(fields[3], state["bundle"].as_str().expect("bundle"));
    assert_eq!(fields[4], state["created"].as_str().expect("created"));
    assert_eq!(fields[5], "root");
    for name in ["PID", "STATUS", "BUNDLE", "CREATED", "OWNER"] {
        let col = header.find(name).expect("header column");
        let value_at = &row[col..];
        assert!(
            !value_at.starts_with(' ') && row.as_bytes()[col - 1] == b' ',
            "column {name} misaligned:\n{header}\n{row}"
        );
    }
    let expected = format!(
        "{:<w0$}{:<w1$}{:<12}{:<w3$}{:<w4$}root",
        id,
        fields[1],
        "created",
        fields[3],
        fields[4],
        w0 = (id.len() + 3).max(12),
        w1 = (fields[1].len() + 3).max(12),
        w3 = (fields[3].len() + 3).max(12),
        w4 = (fields[4].len() + 3).max(12),
    );
    assert_eq!(row, expected);
}

#[test]
fn list_quiet_prints_ids_one_per_line() {
    let ctx = Ctx::new();
    let a = ctx.create_sleeper("lsq");
    let b = ctx.start_sleeper("lsq");
    let out = ctx.run(&["list", "-q"]);
    out.assert_ok();
    let mut ids: Vec<&str> = out.stdout.lines().collect();
    ids.sort();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert!(out.stdout.ends_with('\n'));
}

#[test]
fn list_json_holds_state_documents() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("lsjson");
    let out = ctx.run(&["list", "--format", "json"]);
    out.assert_ok();
    let list = out.json();
    let items = list.as_array().expect("a JSON array");
    assert_eq!(items.len(), 1);
    let item = &items[0];
    let state = ctx.state(&id);
    for key in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
    ] {
        assert_eq!(item[key], state[key], "field {key}");
    }
    assert_eq!(item["status"], json!("running"));
    assert_eq!(item["owner"], json!("root"));
}
