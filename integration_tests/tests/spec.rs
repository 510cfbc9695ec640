//! `spec`, `features` and `--version`.

use integration_tests::{runtime, Ctx};
use serde_json::{json, Value};

fn spec_in(ctx: &Ctx, dir: &std::path::Path, extra: &[&str]) -> integration_tests::Output {
    let mut args = vec!["spec"];
    args.extend_from_slice(extra);
    let mut cmd = ctx.cmd(&args);
    cmd.current_dir(dir);
    ctx.output(cmd)
}

fn read_config(dir: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(dir.join("config.json")).expect("config.json written");
    serde_json::from_str(&text).expect("config.json parses")
}

/// The `type` of each entry of `linux.namespaces`, in order.
fn namespace_types(config: &Value) -> Vec<&str> {
    config["linux"]["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .filter_map(|ns| ns["type"].as_str())
        .collect()
}

#[test]
fn spec_writes_the_default_config() {
    let ctx = Ctx::new();
    let dir = ctx.work().join("spec");
    std::fs::create_dir(&dir).expect("mkdir");
    spec_in(&ctx, &dir, &[]).assert_ok();
    let config = read_config(&dir);
    assert!(config["ociVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("1.")));
    assert_eq!(config["process"]["terminal"], json!(true));
    assert_eq!(config["process"]["args"], json!(["sh"]));
    assert_eq!(config["root"], json!({"path": "rootfs", "readonly": true}));
    let namespaces = namespace_types(&config);
    assert_eq!(namespaces, ["pid", "network", "ipc", "uts", "mount"]);
    assert_eq!(
        config["process"]["capabilities"]["bounding"],
        json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
    );
}

#[test]
fn spec_refuses_to_overwrite_an_existing_config() {
    let ctx = Ctx::new();
    let dir = ctx.work().join("spec");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("config.json"), "keep me").expect("write");
    spec_in(&ctx, &dir, &[])
        .assert_fail()
        .assert_stderr_contains("File config.json exists. Remove it first");
    assert_eq!(
        std::fs::read_to_string(dir.join("config.json")).expect("read"),
        "keep me"
    );
}

#[test]
fn spec_bundle_writes_into_that_directory() {
    let ctx = Ctx::new();
    let dir = ctx.work().join("target-bundle");
    std::fs::create_dir(&dir).expect("mkdir");
    spec_in(
        &ctx,
        ctx.work(),
        &["--bundle", dir.to_str().expect("utf-8")],
    )
    .assert_ok();
    read_config(&dir);
    assert!(!ctx.work().join("config.json").exists());
}

#[test]
fn spec_rootless_uses_a_user_namespace_without_network() {
    let ctx = Ctx::new();
    let dir = ctx.work().join("rootless");
    std::fs::create_dir(&dir).expect("mkdir");
    spec_in(&ctx, &dir, &["--rootless"]).assert_ok();
    let config = read_config(&dir);
    let namespaces = namespace_types(&config);
    assert_eq!(namespaces, ["pid", "ipc", "uts", "mount", "user"]);
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    assert_eq!(
        config["linux"]["uidMappings"],
        json!([{"containerID": 0, "hostID": euid, "size": 1}])
    );
    assert_eq!(
        config["linux"]["gidMappings"],
        json!([{"containerID": 0, "hostID": egid, "size": 1}])
    );
    assert!(config["linux"].get("resources").is_none_or(Value::is_null));
    let sys = config["mounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["destination"] == json!("/sys"))
        .expect("a /sys mount");
    assert_eq!(sys["source"], json!("/sys"));
    assert!(sys["options"]
        .as_array()
        .expect("options")
        .contains(&json!("rbind")));
}

#[test]
fn features_describes_the_runtime() {
    let ctx = Ctx::new();
    let out = ctx.run(&["features"]);
    out.assert_ok();
    let features = out.json();
    assert!(features["ociVersionMin"]
        .as_str()
        .is_some_and(|v| v.starts_with("1.")));
    assert!(features["ociVersionMax"]
        .as_str()
        .is_some_and(|v| v.starts_with("1.")));
    // Features are honest: a runtime lists only what it implements (runc 1.1.5
    // lists all six hooks and all seven namespaces), so check names, not counts.
    let hooks = features["hooks"].as_array().expect("hooks list");
    let known_hooks = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    for hook in hooks {
        assert!(
            hook.as_str().is_some_and(|h| known_hooks.contains(&h)),
            "unknown hook {hook}"
        );
    }
    let mount_options = features["mountOptions"]
        .as_array()
        .expect("mountOptions list");
    for option in ["bind", "rbind", "ro", "nosuid", "nodev", "noexec"] {
        assert!(
            mount_options.contains(&json!(option)),
            "mountOptions lacks {option}"
        );
    }
    let namespaces = features["linux"]["namespaces"]
        .as_array()
        .expect("linux.namespaces");
    let known_namespaces = [
        "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time",
    ];
    for ns in namespaces {
        assert!(
            ns.as_str().is_some_and(|n| known_namespaces.contains(&n)),
            "unknown namespace {ns}"
        );
    }
    // The namespaces of the default spec must be supported.
    for ns in ["ipc", "mount", "network", "pid", "uts"] {
        assert!(namespaces.contains(&json!(ns)), "namespaces lacks {ns}");
    }
    let capabilities = features["linux"]["capabilities"]
        .as_array()
        .expect("linux.capabilities");
    assert!(capabilities.contains(&json!("CAP_SYS_ADMIN")));
    assert!(features["linux"]["cgroup"].is_object());
    assert!(features["linux"]["seccomp"]["enabled"].is_boolean());
}

#[test]
fn version_names_version_and_commit() {
    let out = std::process::Command::new(runtime())
        .arg("--version")
        .output()
        .expect("run --version");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().next().is_some_and(|l| l.contains("version")),
        "first line names the version: {text}"
    );
    assert!(text.lines().any(|l| l.starts_with("commit:")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("spec:")), "{text}");
}
