//! `linux.netDevices` (runtime-spec 1.3, runc 1.4+): a host interface moved
//! into the container's network namespace, optionally renamed, with its
//! addresses. Debian's runc 1.1.5 does not know the field (it ignores it),
//! so these tests are berth-only.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use integration_tests::{runtime_is_runc, Bundle, Ctx};
use serde_json::json;

/// A veth pair made for one test (this host's kernel has no dummy
/// driver), removed on drop if still there; `.0` is the end that moves.
struct Dummy(String);

impl Dummy {
    fn add() -> Dummy {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("bt{:x}", (std::process::id() << 12) ^ nanos);
        let name = name[..name.len().min(12)].to_string();
        let peer = format!("{name}p");
        ip(&["link", "add", &name, "type", "veth", "peer", "name", &peer]);
        Dummy(name)
    }

    fn exists(&self) -> bool {
        Command::new("ip")
            .args(["link", "show", &self.0])
            .output()
            .unwrap()
            .status
            .success()
    }
}

impl Drop for Dummy {
    fn drop(&mut self) {
        if self.exists() {
            let _ = Command::new("ip").args(["link", "del", &self.0]).status();
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {out:?}");
}

fn with_netns_and_devices(bundle: &Bundle, devices: serde_json::Value) {
    bundle.update(|c| {
        let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
        if !namespaces.iter().any(|ns| ns["type"] == "network") {
            namespaces.push(json!({"type": "network"}));
        }
        c["linux"]["netDevices"] = devices;
    });
}

#[test]
fn a_host_interface_moves_into_the_container_renamed_with_its_address() {
    // berth-only: runc >= 1.4 feature (linux.netDevices).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let dummy = Dummy::add();
    ip(&["addr", "add", "10.213.7.5/24", "dev", &dummy.0]);
    let bundle = ctx.bundle();
    with_netns_and_devices(&bundle, json!({ dummy.0.clone(): {"name": "ctr0"} }));
    let out = ctx.run_in(
        &bundle,
        &["sh", "-c", "ip link show ctr0; ip addr show ctr0"],
    );
    assert!(out.contains("ctr0"), "{out}");
    assert!(out.contains("UP"), "the link is up in the container: {out}");
    assert!(
        out.contains("10.213.7.5/24"),
        "the address came along: {out}"
    );
    // A virtual interface goes with the container's network namespace
    // (a physical one would come back to the host).
    assert!(!dummy.exists(), "the veth went with the namespace");
}

#[test]
fn a_device_keeps_its_name_without_one() {
    // berth-only: runc >= 1.4 feature (linux.netDevices).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let dummy = Dummy::add();
    let bundle = ctx.bundle();
    with_netns_and_devices(&bundle, json!({ dummy.0.clone(): {} }));
    let out = ctx.run_in(&bundle, &["ip", "link", "show", &dummy.0]);
    assert!(out.contains(&dummy.0), "{out}");
}

#[test]
fn net_device_refusals_name_the_field() {
    // berth-only: runc >= 1.4 feature (linux.netDevices; 1.1.5 ignores it).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.update(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|ns| ns["type"] != "network");
        c["linux"]["netDevices"] = json!({"eth9": {}});
    });
    let id = ctx.id("netdev-nons");
    ctx.run_container(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains(
            "linux.netDevices: unable to move network devices without a NET namespace",
        );

    let bundle = ctx.bundle();
    with_netns_and_devices(&bundle, json!({"nosuchlink0": {}}));
    let id = ctx.id("netdev-missing");
    ctx.run_container(&bundle, &id)
        .assert_fail()
        .assert_stderr_contains("link not found for interface nosuchlink0 on runtime namespace");
    assert!(ctx.listed_ids().is_empty());
}
