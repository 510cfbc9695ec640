//! Deliberately bad `config.json`s, in bulk: a seeded, bounded mutation of
//! the default config (wrong types, huge numbers, empty and 5,000-char
//! strings, `..` paths, NUL bytes). Whatever `create` makes of each: no
//! panic, no hang, exactly one error line with `--log-format json` when it
//! fails, a clean `delete` when it succeeds, and never anything left under
//! `--root`, in the mount table or in the cgroup trees.
//!
//! `BERTH_FUZZ_SEED` and `BERTH_FUZZ_CONFIGS` change the seed (default a
//! fixed one) and the number of configs (default 200).

use std::path::{Path, PathBuf};

use integration_tests::{mounts_under, Bundle, Ctx, Output};
use serde_json::{json, Value};

/// A small deterministic generator (xorshift64*): the same seed gives the
/// same configs on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fields that are not in the default config but that `create` reads.
const EXTRA_FIELDS: &[&str] = &[
    "/linux/cgroupsPath",
    "/linux/resources/memory/limit",
    "/linux/resources/memory/swap",
    "/linux/resources/pids/limit",
    "/linux/resources/cpu/shares",
    "/linux/resources/cpu/quota",
    "/linux/resources/cpu/cpus",
    "/linux/resources/blockIO/weight",
    "/linux/resources/hugepageLimits",
    "/linux/resources/devices/0/major",
    "/linux/resources/devices/0/type",
    "/linux/sysctl",
    "/linux/seccomp",
    "/linux/seccomp/defaultAction",
    "/linux/devices",
    "/linux/uidMappings",
    "/linux/gidMappings",
    "/linux/rootfsPropagation",
    "/linux/mountLabel",
    "/linux/intelRdt",
    "/linux/namespaces/0/path",
    "/process/oomScoreAdj",
    "/process/consoleSize",
    "/process/consoleSize/height",
    "/process/user/additionalGids",
    "/process/user/umask",
    "/process/user/username",
    "/process/apparmorProfile",
    "/process/selinuxLabel",
    "/process/capabilities/inheritable",
    "/process/rlimits/0/type",
    "/process/rlimits/1",
    "/mounts/7",
    "/mounts/0/options",
    "/annotations",
    "/domainname",
    "/hooks",
    "/hooks/prestart",
    "/root",
    "/process",
    "/linux",
];

/// Every node of `value` as a JSON pointer (the root excluded).
fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        let pointer = format!("{at}/{key}");
        out.push(pointer.clone());
        pointers(child, &pointer, out);
    }
}

/// A bad value: a wrong type, a number out of range, an empty, huge, `..`
/// or NUL-holding string, or a broken container.
fn bad_value(rng: &mut Rng) -> Value {
    let long = "x".repeat(5000);
    let long_path = format!("/{}", "a/".repeat(2500));
    let values = [
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1e308),
        json!(4_294_967_296u64),
        json!(""),
        json!(long),
        json!(long_path),
        json!(".."),
        json!("../../.."),
        json!("/../../../etc"),
        json!("a/../../b"),
        json!("a\u{0}b"),
        json!("/\u{0}"),
        json!([]),
        json!([null]),
        json!([".."]),
        json!(["a\u{0}b"]),
        json!([long]),
        json!({}),
        json!({"..": ".."}),
        json!({"a\u{0}": 1}),
    ];
    rng.pick(&values).clone()
}

/// A bad value of the same JSON type as `old`: strings that are empty,
/// huge, `..` paths or hold NUL; numbers at the edges of their range.
fn typed_bad_value(rng: &mut Rng, old: &Value) -> Value {
    match old {
        Value::String(_) => {
            let strings = [
                String::new(),
                "x".repeat(5000),
                "..".into(),
                "../../../../..".into(),
                "/../../etc/shadow".into(),
                "a\u{0}b".into(),
                "/proc/self/fd/3".into(),
                " ".into(),
            ];
            json!(rng.pick(&strings))
        }
        Value::Number(_) => {
            let numbers = [
                json!(0),
                json!(-1),
                json!(u32::MAX),
                json!(u64::MAX),
                json!(i64::MIN),
                json!(65536),
            ];
            rng.pick(&numbers).clone()
        }
        Value::Array(items) if !items.is_empty() => {
            let mut items = items.clone();
            let i = rng.below(items.len());
            items[i] = typed_bad_value(rng, &items[i].clone());
            json!(items)
        }
        Value::Bool(b) => json!(!b),
        _ => bad_value(rng),
    }
}

/// One mutated config: 1 to 3 fields replaced by bad values. A mutated
/// `linux.cgroupsPath` keeps `tag` as its last part, so that whatever cgroup
/// it makes can be found.
fn mutate(rng: &mut Rng, base: &Value, fields: &[String], tag: &str) -> Value {
    let mut config = base.clone();
    for _ in 0..=rng.below(3) {
        let field = rng.pick(fields).clone();
        let value = if field == "/linux/cgroupsPath" {
            let forms = [
                format!("../../{tag}"),
                format!("/{tag}/../{tag}"),
                format!("/./{tag}/"),
                format!("{tag}/../../../{tag}"),
                format!("/{tag}-{}/{tag}", long_parent_suffix()),
            ];
            json!(rng.pick(&forms))
        } else {
            match config.pointer(&field) {
                // Half the time a bad value of the right type, to get past
                // the parser into validation and init.
                Some(old) if rng.below(2) == 0 => typed_bad_value(rng, old),
                _ => bad_value(rng),
            }
        };
        set_field(&mut config, &field, value);
    }
    config
}

/// Set `pointer` to `value`, making objects on the way (a scalar on the
/// way becomes one); an array index past the end appends. Pointers here
/// never hold `~` escapes.
fn set_field(config: &mut Value, pointer: &str, value: Value) {
    let tokens: Vec<&str> = pointer.split('/').skip(1).collect();
    set_at(config, &tokens, value);
}

fn set_at(node: &mut Value, tokens: &[&str], value: Value) {
    let Some((token, rest)) = tokens.split_first() else {
        *node = value;
        return;
    };
    let child = match (node, token.parse::<usize>()) {
        (Value::Array(items), Ok(i)) => {
            if i >= items.len() {
                items.push(json!({}));
            }
            let last = items.len() - 1;
            &mut items[i.min(last)]
        }
        (node, _) => {
            if !node.is_object() {
                *node = json!({});
            }
            node.as_object_mut()
                .expect("made an object")
                .entry(token.to_string())
                .or_insert(json!({}))
        }
    };
    set_at(child, rest, value);
}

/// The base: the default config running `true` in cgroup `/<tag>`.
fn base_config(bundle: &Bundle, tag: &str) -> Value {
    let mut config = bundle.config();
    config["process"]["args"] = json!(["true"]);
    config["linux"]["cgroupsPath"] = json!(format!("/{tag}"));
    config
}

/// The log lines of a failed `create`: exactly one, JSON, level error.
#[track_caller]
fn assert_one_error_line(log: &Path, out: &Output, config: &str) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let errors: Vec<Value> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}\nconfig: {config}"))
        })
        .filter(|v| v["level"] == "error")
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "want one error line, got {lines:?}\n{out}\nconfig: {config}"
    );
    assert!(
        errors[0]["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "empty error: {lines:?}\nconfig: {config}"
    );
}

/// What ends the name of the long parent cgroup a mutated `cgroupsPath`
/// may ask for (`/<tag>-yyy.../<tag>`, over 255 bytes): the runtimes remove
/// the container's own cgroup, not the parents it had to make (runc
/// neither), so the test removes those itself.
fn long_parent_suffix() -> String {
    "y".repeat(280)
}

/// Cgroup directories whose name starts with `prefix`, anywhere in the
/// cgroup trees (six levels deep, enough for our own cgroup's children).
fn cgroups_named(prefix: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: u32, prefix: &str, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if !kind.is_dir() || kind.is_symlink() {
                continue;
            }
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                found.push(path.clone());
            }
            if depth > 0 {
                walk(&path, depth - 1, prefix, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), 7, prefix, &mut found);
    found
}

#[test]
fn bad_configs_never_panic_hang_or_leak() {
    let seed = env_number("BERTH_FUZZ_SEED", 0x6265_7274_685f_667a);
    let count = env_number("BERTH_FUZZ_CONFIGS", 200);
    let mut rng = Rng(seed | 1);
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let tag = format!("berth-fuzz-{}", std::process::id());
    let base = base_config(&bundle, &tag);
    let mut fields = Vec::new();
    pointers(&base, "", &mut fields);
    fields.extend(EXTRA_FIELDS.iter().map(|f| f.to_string()));
    let log = ctx.work().join("fuzz.log");
    let (mut created, mut refused) = (0, 0);
    for n in 0..count {
        let config = mutate(&mut rng, &base, &fields, &format!("{tag}-{n}"));
        let text = config.to_string();
        bundle.write_raw_config(&text);
        let _ = std::fs::remove_file(&log);
        let id = ctx.id("fuzz");
        let bundle_dir = bundle.path().display().to_string();
        let log_path = log.display().to_string();
        let out = ctx.run(&[
            "--log-format",
            "json",
            "--log",
            &log_path,
            "create",
            "--bundle",
            &bundle_dir,
            &id,
        ]);
        let short: String = text.chars().take(3000).collect();
        assert!(
            out.code() != Some(101) && !out.stderr.contains("panicked"),
            "config {n} (seed {seed}) panicked: {out}\nconfig: {short}"
        );
        if out.success() {
            created += 1;
            let deleted = ctx.delete(&id);
            assert!(
                deleted.success(),
                "config {n}: created but not deleted: {deleted}\nconfig: {short}"
            );
        } else {
            refused += 1;
            assert_one_error_line(&log, &out, &short);
        }
        assert!(
            ctx.root_entries().is_empty(),
            "config {n} left {:?} under --root\nconfig: {short}",
            ctx.root_entries()
        );
        let mounts = mounts_under(ctx.work());
        assert!(
            mounts.is_empty(),
            "config {n} left mounts {mounts:?}\nconfig: {short}"
        );
    }
    let left = cgroups_named(&tag);
    for dir in left.iter().rev() {
        let _ = std::fs::remove_dir(dir);
    }
    let made_parent = |dir: &&PathBuf| dir.to_string_lossy().ends_with(&long_parent_suffix());
    let leaked: Vec<&PathBuf> = left.iter().filter(|dir| !made_parent(dir)).collect();
    assert!(leaked.is_empty(), "cgroups left: {leaked:?}");
    eprintln!("seed {seed}: {created} created, {refused} refused");
    // The mutations must reach both outcomes, or the test tests little.
    assert!(
        created > 0 && refused > count / 2,
        "{created} created, {refused} refused"
    );
}
