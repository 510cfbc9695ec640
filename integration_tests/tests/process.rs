//! Process settings seen from inside the container: user, umask, env, cwd,
//! rlimits, capabilities, no_new_privs, oom_score_adj.

use integration_tests::Ctx;
use serde_json::json;

/// The value of a `Key:\tvalue` line of /proc/self/status output.
fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .trim()
}

const CAP_CHOWN: u64 = 1 << 0;
const CAP_KILL: u64 = 1 << 5;
const CAP_NET_BIND_SERVICE: u64 = 1 << 10;
const CAP_AUDIT_WRITE: u64 = 1 << 29;
const DEFAULT_CAPS: u64 = CAP_AUDIT_WRITE | CAP_KILL | CAP_NET_BIND_SERVICE;

fn cap_mask(status: &str, key: &str) -> u64 {
    u64::from_str_radix(status_field(status, key), 16).expect("hex capability mask")
}

#[test]
fn user_uid_gid_and_additional_gids() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/process/user",
        json!({"uid": 1000, "gid": 1000, "additionalGids": [100, 5]}),
    );
    let out = ctx.run_in(&bundle, &["sh", "-c", "id -u; id -g; id -G"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1000");
    let mut groups: Vec<u32> = lines[2]
        .split_whitespace()
        .map(|g| g.parse().expect("gid"))
        .collect();
    groups.sort_unstable();
    assert_eq!(groups, [5, 100, 1000]);
}

#[test]
fn root_user_has_no_supplementary_groups_by_default() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let out = ctx.run_in(&bundle, &["sh", "-c", "id -u; id -G"]);
    assert_eq!(out, "0\n0\n");
}

#[test]
fn umask_is_applied() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/user/umask", json!(0o027));
    assert_eq!(ctx.run_in(&bundle, &["sh", "-c", "umask"]), "0027\n");
}

#[test]
fn default_umask_is_0022() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    assert_eq!(ctx.run_in(&bundle, &["sh", "-c", "umask"]), "0022\n");
}

#[test]
fn environment_is_exactly_the_configured_one_plus_home() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/env", json!(["FOO=bar", "PATH=/bin:/usr/bin"]));
    let out = ctx.run_in(&bundle, &["/bin/env"]);
    let mut vars: Vec<&str> = out.lines().collect();
    vars.sort_unstable();
    // HOME comes from /etc/passwd when the config does not set it.
    assert_eq!(vars, ["FOO=bar", "HOME=/root", "PATH=/bin:/usr/bin"]);
}

#[test]
fn a_variable_set_twice_keeps_its_first_place_and_last_value() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/env", json!(["A=1", "PATH=/bin", "A=2"]));
    let out = ctx.run_in(&bundle, &["/bin/env"]);
    let vars: Vec<&str> = out.lines().collect();
    // As runc passes it on (Go's environment: one entry per name).
    assert_eq!(vars, ["A=2", "PATH=/bin", "HOME=/root"]);
}

#[test]
fn home_follows_the_user_unless_configured() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    assert_eq!(
        ctx.run_in(&bundle, &["sh", "-c", "echo $HOME"]),
        "/home/user\n"
    );
    bundle.set("/process/env", json!(["PATH=/bin", "HOME=/elsewhere"]));
    assert_eq!(
        ctx.run_in(&bundle, &["sh", "-c", "echo $HOME"]),
        "/elsewhere\n"
    );
}

#[test]
fn cwd_is_applied() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/cwd", json!("/tmp"));
    assert_eq!(ctx.run_in(&bundle, &["pwd"]), "/tmp\n");
}

#[test]
fn missing_cwd_is_created() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/cwd", json!("/does/not/exist/yet"));
    assert_eq!(ctx.run_in(&bundle, &["pwd"]), "/does/not/exist/yet\n");
}

#[test]
fn rlimits_are_applied() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/process/rlimits",
        json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}
        ]),
    );
    let out = ctx.run_in(
        &bundle,
        &["sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu"],
    );
    assert_eq!(out, "512\n1000\n300\n400\n");
}

#[test]
fn default_spec_capabilities_for_root() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let status = ctx.run_in(&bundle, &["cat", "/proc/self/status"]);
    assert_eq!(cap_mask(&status, "CapBnd"), DEFAULT_CAPS);
    assert_eq!(cap_mask(&status, "CapPrm"), DEFAULT_CAPS);
    assert_eq!(cap_mask(&status, "CapEff"), DEFAULT_CAPS);
    assert_eq!(cap_mask(&status, "CapInh"), 0);
    // The default spec lists ambient capabilities but no inheritable ones; the
    // kernel cannot raise those, and runc does not fail: the set stays empty.
    assert_eq!(cap_mask(&status, "CapAmb"), 0);
}

#[test]
fn all_five_capability_sets_as_configured_for_root() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let caps = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]);
    bundle.set(
        "/process/capabilities",
        json!({"bounding": caps, "effective": caps, "permitted": caps,
               "inheritable": caps, "ambient": caps}),
    );
    let status = ctx.run_in(&bundle, &["cat", "/proc/self/status"]);
    for key in ["CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"] {
        assert_eq!(cap_mask(&status, key), DEFAULT_CAPS, "{key}");
    }
}

#[test]
fn ambient_capabilities_reach_a_non_root_user() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    bundle.set("/process/noNewPrivileges", json!(false));
    bundle.set(
        "/process/capabilities",
        json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
            "effective": ["CAP_KILL", "CAP_CHOWN"],
            "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL"]
        }),
    );
    let status = ctx.run_in(&bundle, &["cat", "/proc/self/status"]);
    assert_eq!(
        cap_mask(&status, "CapBnd"),
        CAP_KILL | CAP_NET_BIND_SERVICE | CAP_CHOWN
    );
    // After execve a non-root process keeps only its ambient set.
    for key in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(cap_mask(&status, key), CAP_KILL, "{key}");
    }
}

/// The kernel raises an ambient capability only when it is permitted and
/// inheritable; one that is inheritable but not permitted stays out of the
/// ambient set and the container still starts.
#[test]
fn ambient_capability_that_is_not_permitted_is_not_raised() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/process/capabilities",
        json!({
            "bounding": ["CAP_KILL", "CAP_CHOWN"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL"],
            "inheritable": ["CAP_KILL", "CAP_CHOWN"],
            "ambient": ["CAP_KILL", "CAP_CHOWN"]
        }),
    );
    let status = ctx.run_in(&bundle, &["cat", "/proc/self/status"]);
    assert_eq!(cap_mask(&status, "CapInh"), CAP_KILL | CAP_CHOWN);
    assert_eq!(cap_mask(&status, "CapAmb"), CAP_KILL);
}

#[test]
fn no_capabilities_section_means_none() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.remove("/process/capabilities");
    let status = ctx.run_in(&bundle, &["cat", "/proc/self/status"]);
    for key in ["CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"] {
        assert_eq!(cap_mask(&status, key), 0, "{key}");
    }
}

#[test]
fn no_new_privileges_follows_the_config() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let on = ctx.run_in(&bundle, &["cat", "/proc/self/status"]);
    assert_eq!(status_field(&on, "NoNewPrivs"), "1");
    bundle.set("/process/noNewPrivileges", json!(false));
    let off = ctx.run_in(&bundle, &["cat", "/proc/self/status"]);
    assert_eq!(status_field(&off, "NoNewPrivs"), "0");
}

#[test]
fn oom_score_adj_is_applied() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/oomScoreAdj", json!(500));
    assert_eq!(
        ctx.run_in(&bundle, &["cat", "/proc/self/oom_score_adj"]),
        "500\n"
    );
}

#[test]
fn args_are_passed_verbatim() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let out = ctx.run_in(
        &bundle,
        &[
            "sh",
            "-c",
            "for a in \"$@\"; do echo \"[$a]\"; done",
            "sh",
            "a b",
            "",
            "*",
        ],
    );
    assert_eq!(out, "[a b]\n[]\n[*]\n");
}

#[test]
fn unknown_rlimit_type_is_refused() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
    );
    let id = ctx.id("badrlimit");
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("RLIMIT_BOGUS"); // runc: "wrong rlimit value: RLIMIT_BOGUS"
    assert!(ctx.root_entries().is_empty());
}

#[test]
fn soft_rlimit_above_hard_is_refused() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "soft": 2000, "hard": 1000}]),
    );
    let id = ctx.id("softhard");
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("error setting rlimit type 7: invalid argument");
    assert!(ctx.root_entries().is_empty());
}

#[test]
fn a_cwd_that_is_a_file_is_not_a_directory() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/cwd", json!("/etc/passwd"));
    let id = ctx.id("cwdfile");
    // Go's os.MkdirAll words (runc), not mkdir's EEXIST.
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("mkdir /etc/passwd: not a directory");
    assert!(ctx.root_entries().is_empty());
}

/// Raising a hard limit needs CAP_SYS_RESOURCE in the runtime's own bounding
/// set; this project's VM lacks it (podman's default NOFILE=1048576 fails here
/// for every runtime).
#[test]
fn raising_a_hard_rlimit_needs_cap_sys_resource() {
    const CAP_SYS_RESOURCE: u64 = 1 << 24;
    let ours = std::fs::read_to_string("/proc/self/status").expect("status");
    let host_can_raise = cap_mask(&ours, "CapBnd") & CAP_SYS_RESOURCE != 0;
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit")
        .1;
    let want = hard + 1;
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "soft": want, "hard": want}]),
    );
    bundle.set_args(&["sh", "-c", "ulimit -Hn"]);
    let id = ctx.id("raise");
    let out = ctx.run_container(&bundle, &id);
    if host_can_raise {
        out.assert_ok();
        assert_eq!(out.stdout, format!("{want}\n"));
    } else {
        out.assert_fail()
            .assert_stderr_contains("error setting rlimit type 7: operation not permitted");
    }
}
