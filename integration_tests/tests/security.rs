//! seccomp, user namespaces and sysctls, seen from inside the container.

use integration_tests::Ctx;
use serde_json::json;

#[test]
fn seccomp_errno_rule_denies_the_syscall() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.writable();
    bundle.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        }),
    );
    bundle.set_args(&["sh", "-c", "mkdir /tmp/denied && echo made; echo after"]);
    let id = ctx.id("seccomp");
    let out = ctx.run_container(&bundle, &id);
    out.assert_ok();
    assert_eq!(out.stdout, "after\n");
    out.assert_stderr_contains("Operation not permitted");
    assert!(!bundle.rootfs().join("tmp/denied").exists());
}

#[test]
fn seccomp_kill_action_kills_with_sigsys() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_KILL"}]
        }),
    );
    bundle.set_args(&["uname"]);
    let id = ctx.id("seccompkill");
    let out = ctx.run_container(&bundle, &id);
    assert_eq!(out.code(), Some(128 + 31), "killed by SIGSYS: {out}");
}

#[test]
fn user_namespace_maps_root_to_an_unprivileged_host_uid() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.update(|config| {
        config["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(json!({"type": "user"}));
        let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        config["linux"]["uidMappings"] = map.clone();
        config["linux"]["gidMappings"] = map;
    });
    let out = ctx.run_in(
        &bundle,
        &[
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    // Host root's files show as the overflow uid.
    assert_eq!(lines[2], "65534");
}

#[test]
fn sysctls_are_applied() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/sysctl",
        json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"}),
    );
    let out = ctx.run_in(
        &bundle,
        &[
            "sh",
            "-c",
            "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax",
        ],
    );
    assert_eq!(out, "1\n123456789\n");
}
