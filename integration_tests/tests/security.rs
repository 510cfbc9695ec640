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
    bundle.with_user_namespace();
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

/// What root in the container creates belongs to the mapped host uid, and
/// `exec` joins the same user namespace.
#[test]
fn user_namespace_owns_what_it_creates_and_exec_joins_it() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.with_user_namespace();
    bundle.set_args(integration_tests::LONG_RUNNING);
    let id = ctx.id("userns");
    ctx.create(&bundle, &id).assert_ok();
    ctx.start(&id).assert_ok();
    let out = ctx.run(&[
        "exec",
        &id,
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; touch /dev/shm/made-inside",
    ]);
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    let pid = integration_tests::state_pid(&ctx.state(&id));
    let made = format!("/proc/{pid}/root/dev/shm/made-inside");
    let meta = std::fs::metadata(&made).expect("file made inside");
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.gid()), (100000, 100000));
    assert_ne!(
        integration_tests::namespace_of(pid, "user"),
        std::fs::read_link("/proc/self/ns/user")
            .unwrap()
            .to_string_lossy()
    );
}

#[test]
fn user_namespace_without_mappings_is_refused() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.with_user_namespace();
    bundle.remove("/linux/uidMappings");
    let id = ctx.id("usernomap");
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("User namespaces enabled, but no uid mappings found");
    assert!(ctx.root_entries().is_empty(), "state left behind");
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

/// A bind-mount source the container's root cannot reach on the host (under
/// a 0700 directory of host root) still mounts in a user namespace: the
/// runtime opens it before init enters the namespace (runc passes such fds
/// too). What is bound stays readable as its modes allow.
#[test]
fn user_namespace_binds_a_source_its_root_cannot_reach() {
    use std::os::unix::fs::PermissionsExt;
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.with_user_namespace();
    let private = ctx.work().join("private");
    let data = private.join("data");
    std::fs::create_dir_all(&data).expect("mkdir private/data");
    std::fs::write(data.join("hello"), "hello from the host\n").expect("write hello");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).expect("chmod 0700");
    // The mount point exists: the mapped root may not create it in a rootfs
    // owned by host root.
    std::fs::create_dir_all(bundle.rootfs().join("mnt/data")).expect("mkdir mnt/data");
    bundle.update(|config| {
        config["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(json!({
                "destination": "/mnt/data", "type": "bind",
                "source": data, "options": ["bind", "ro"]
            }));
    });
    let out = ctx.run_in(&bundle, &["cat", "/mnt/data/hello"]);
    assert_eq!(out, "hello from the host\n");
}

/// True when the host's kernel has AppArmor enabled.
fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|text| text.starts_with('Y'))
}

/// `process.apparmorProfile` is applied (AppArmor's change_onexec), not
/// refused: docker and podman set one on every container of an AppArmor
/// host. A profile the kernel does not have fails in runc's words, with
/// nothing left behind; on an AppArmor host `unconfined` is what the
/// program then runs under. (engines.rs checks docker's `docker-default`.)
#[test]
fn apparmor_profile_is_applied_on_exec() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/process/apparmorProfile",
        json!("berth-test-no-such-profile"),
    );
    let id = ctx.id("apparmor");
    ctx.run_container(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("apparmor failed to apply profile: write /proc/self/attr/");
    assert!(
        !ctx.listed_ids().contains(&id),
        "a failed run leaves nothing"
    );
    if !apparmor_enabled() {
        eprintln!(
            "apparmor_profile_is_applied_on_exec: AppArmor is not enabled here, no positive case"
        );
        return;
    }
    bundle.set("/process/apparmorProfile", json!("unconfined"));
    bundle.set_args(&["cat", "/proc/self/attr/current"]);
    let id = ctx.id("apparmor");
    let out = ctx.run_container(&bundle, &id);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "unconfined", "{out}");
}
