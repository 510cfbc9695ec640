//! Isolation: namespaces, hostname, pid 1, own mount table, joining a namespace.

use std::process::Command;

use integration_tests::{namespace_of, state_pid, Ctx};
use serde_json::json;

#[test]
fn container_runs_as_pid_1() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    assert_eq!(ctx.run_in(&bundle, &["sh", "-c", "echo $$"]), "1\n");
}

#[test]
fn container_sees_only_its_own_processes() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let out = ctx.run_in(&bundle, &["sh", "-c", "ls -d /proc/[0-9]*"]);
    let pids: Vec<&str> = out.split_whitespace().collect();
    // sh (1) and ls itself.
    assert!(pids.len() <= 2, "sees foreign processes: {pids:?}");
    assert!(pids.contains(&"/proc/1"), "{pids:?}");
}

#[test]
fn hostname_is_set_and_host_keeps_its_own() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/hostname", json!("berth-test-host"));
    let before = nix::unistd::gethostname().expect("gethostname");
    assert_eq!(ctx.run_in(&bundle, &["hostname"]), "berth-test-host\n");
    assert_eq!(nix::unistd::gethostname().expect("gethostname"), before);
}

#[test]
fn configured_namespaces_differ_from_the_host() {
    let ctx = Ctx::new();
    let id = ctx.start_sleeper("ns");
    let pid = state_pid(&ctx.state(&id));
    let me = std::process::id();
    for kind in ["pid", "net", "ipc", "uts", "mnt"] {
        assert_ne!(
            namespace_of(pid, kind),
            namespace_of(me, kind),
            "{kind} namespace"
        );
    }
    // Not configured in the default spec: shared with the host.
    assert_eq!(namespace_of(pid, "user"), namespace_of(me, "user"));
}

#[test]
fn unconfigured_namespaces_are_shared_with_the_host() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    bundle.set(
        "/linux/namespaces",
        json!([{"type": "pid"}, {"type": "mount"}]),
    );
    bundle.remove("/hostname");
    let id = ctx.id("fewns");
    ctx.create(&bundle, &id).assert_ok();
    let pid = state_pid(&ctx.state(&id));
    let me = std::process::id();
    for kind in ["net", "ipc", "uts"] {
        assert_eq!(
            namespace_of(pid, kind),
            namespace_of(me, kind),
            "{kind} namespace"
        );
    }
    assert_ne!(namespace_of(pid, "pid"), namespace_of(me, "pid"));
}

/// A UTS namespace joined by path is the container's own for `hostname`
/// (runc sets the hostname in it). The joined one belongs to a first
/// container here, so the host's is never touched.
#[test]
fn hostname_is_set_in_a_uts_namespace_joined_by_path() {
    let ctx = Ctx::new();
    let first = ctx.start_sleeper("utsowner");
    let owner = state_pid(&ctx.state(&first));
    let bundle = ctx.bundle();
    bundle.set("/hostname", json!("joined-uts"));
    bundle.set(
        "/linux/namespaces",
        json!([{"type": "pid"}, {"type": "mount"},
               {"type": "uts", "path": format!("/proc/{owner}/ns/uts")}]),
    );
    assert_eq!(ctx.run_in(&bundle, &["hostname"]), "joined-uts\n");
    let seen = ctx.run(&["exec", &first, "hostname"]);
    assert_eq!(seen.assert_ok().stdout, "joined-uts\n");
}

#[test]
fn hostname_without_uts_namespace_is_refused() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/namespaces",
        json!([{"type": "pid"}, {"type": "mount"}]),
    );
    let id = ctx.id("nouts");
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("unable to set hostname without a private UTS namespace");
    assert!(ctx.root_entries().is_empty());
}

#[test]
fn new_network_namespace_has_only_loopback() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let out = ctx.run_in(&bundle, &["ls", "/sys/class/net"]);
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["lo"]);
}

/// A named network namespace (`ip netns add`), removed on drop.
struct NetNs {
    name: String,
}

impl NetNs {
    fn add(name: &str) -> NetNs {
        let status = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .expect("run ip netns add");
        assert!(status.success(), "ip netns add {name} failed");
        NetNs {
            name: name.to_string(),
        }
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn joins_an_existing_network_namespace_by_path() {
    use std::os::unix::fs::MetadataExt;
    let ctx = Ctx::new();
    let netns = NetNs::add(&integration_tests::unique_id("berth-it"));
    let bundle = ctx.bundle();
    bundle.set_args(integration_tests::LONG_RUNNING);
    bundle.set(
        "/linux/namespaces",
        json!([{"type": "pid"}, {"type": "network", "path": netns.path()},
               {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]),
    );
    let id = ctx.id("joinns");
    ctx.create(&bundle, &id).assert_ok();
    let pid = state_pid(&ctx.state(&id));
    let inode = std::fs::metadata(netns.path()).expect("stat netns").ino();
    assert_eq!(namespace_of(pid, "net"), format!("net:[{inode}]"));
    ctx.delete_force(&id).assert_ok();
}

#[test]
fn joining_a_missing_namespace_path_fails_cleanly() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/namespaces",
        json!([{"type": "pid"}, {"type": "network", "path": "/run/netns/berth-it-does-not-exist"},
               {"type": "uts"}, {"type": "mount"}]),
    );
    let id = ctx.id("badns");
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("no such file or directory");
    assert!(ctx.root_entries().is_empty());
}

/// Mount points of a /proc/self/mounts text.
fn mount_points(mounts: &str) -> Vec<String> {
    mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
        .collect()
}

#[test]
fn container_has_its_own_mount_table() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    // A host mount the container must not see.
    let host_only = ctx.work().join("host-only");
    std::fs::create_dir(&host_only).expect("mkdir");
    nix::mount::mount(
        Some("tmpfs"),
        &host_only,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .expect("mount tmpfs on the host");
    let mounts = ctx.run_in(&bundle, &["cat", "/proc/self/mounts"]);
    let points = mount_points(&mounts);
    assert!(
        !mounts.contains(host_only.to_str().expect("utf-8")),
        "{mounts}"
    );
    assert_eq!(points[0], "/", "the rootfs comes first: {mounts}");
    let config = bundle.config();
    let mut allowed: Vec<String> = vec!["/".into()];
    for key in ["maskedPaths", "readonlyPaths"] {
        allowed.extend(
            config["linux"][key]
                .as_array()
                .expect("paths")
                .iter()
                .filter_map(|p| p.as_str().map(str::to_string)),
        );
    }
    allowed.extend(
        config["mounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .filter_map(|m| m["destination"].as_str().map(str::to_string)),
    );
    for point in &points {
        let known = allowed.contains(point) || point.starts_with("/sys/fs/cgroup/");
        assert!(
            known,
            "unexpected mount {point} in the container:\n{mounts}"
        );
    }
    for want in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
    ] {
        assert!(
            points.iter().any(|p| p == want),
            "{want} not mounted:\n{mounts}"
        );
    }
}

#[test]
fn readonly_rootfs_refuses_writes() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&[
        "sh",
        "-c",
        "touch /newfile 2>/dev/null && echo wrote || echo refused",
    ]);
    let id = ctx.id("ro");
    assert_eq!(
        ctx.run_container(&bundle, &id).assert_ok().stdout,
        "refused\n"
    );
    bundle.writable();
    let id = ctx.id("rw");
    assert_eq!(
        ctx.run_container(&bundle, &id).assert_ok().stdout,
        "wrote\n"
    );
    assert!(bundle.rootfs().join("newfile").exists());
}

/// Without a mount namespace runc runs the container chroot-like: its
/// mounts go into the host's mount table under the rootfs, / is the rootfs.
/// runc leaves those mounts behind after delete (the test's cleanup
/// unmounts them); berth detaches them at delete.
#[test]
fn no_mount_namespace_runs_chrooted_in_the_host_mount_table() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/namespaces",
        json!([{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}]),
    );
    bundle.remove("/linux/maskedPaths");
    bundle.remove("/linux/readonlyPaths");
    std::fs::write(bundle.rootfs().join("marker"), "in the rootfs\n").expect("marker");
    bundle.set_args(integration_tests::LONG_RUNNING);
    let id = ctx.id("nomntns");
    ctx.create(&bundle, &id).assert_ok();
    let pid = state_pid(&ctx.state(&id));
    let me = std::process::id();
    assert_eq!(namespace_of(pid, "mnt"), namespace_of(me, "mnt"));
    let on_host = integration_tests::mounts_under(&bundle.rootfs());
    assert!(
        on_host.iter().any(|m| m.ends_with("proc")),
        "the container's /proc is in the host's table: {on_host:?}"
    );
    let root = std::fs::read_link(format!("/proc/{pid}/root")).expect("root link");
    assert_eq!(root, bundle.rootfs());
    ctx.kill(&id, "KILL").assert_ok();
    ctx.wait_status(&id, "stopped", std::time::Duration::from_secs(10));
    ctx.delete(&id).assert_ok();
    if !integration_tests::runtime_is_runc() {
        let left = integration_tests::mounts_under(&bundle.rootfs());
        assert!(left.is_empty(), "mounts left on the host: {left:?}");
    }
}

/// Masked and read-only paths need a mount namespace (runc's words).
#[test]
fn masked_paths_without_a_mount_namespace_are_refused() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/namespaces",
        json!([{"type": "pid"}, {"type": "uts"}]),
    );
    let id = ctx.id("nomntmask");
    ctx.create(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("unable to restrict sys entries without a private MNT namespace");
    assert!(integration_tests::mounts_under(&bundle.rootfs()).is_empty());
}
