//! `features`: what berth supports, derived from the code (the mount option
//! parser, the capability table, the namespace plan, the seccomp name
//! tables), never a copied list of wishes.

use serde_json::{json, Value};

use crate::Failure;

/// The mount options the option parser implements, sorted.
pub fn supported_mount_options() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = berth_rootfs::options::supported_option_names().collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The names a seccomp profile may use, from the tables the profile
/// parser reads; supportedFlags are those this libseccomp and kernel can
/// set.
fn seccomp() -> Value {
    use berth_security::seccomp;
    json!({
        "enabled": true,
        "actions": seccomp::action_names(),
        "operators": seccomp::operator_names(),
        "archs": seccomp::arch_names(),
        "knownFlags": seccomp::known_flags(),
        "supportedFlags": seccomp::supported_flags(),
    })
}

/// runc's annotations that hold for berth too.
fn annotations() -> Value {
    let mut annotations = json!({
        "org.opencontainers.berth.version": env!("CARGO_PKG_VERSION")
    });
    if let Some(version) = berth_security::seccomp::library_version() {
        annotations["io.github.seccomp.libseccomp.version"] = version.into();
    }
    annotations
}

fn capabilities() -> Vec<String> {
    let mut caps: Vec<caps::Capability> = caps::all().into_iter().collect();
    caps.sort_by_key(|c| c.index());
    caps.iter().map(|c| c.to_string()).collect()
}

/// `linux.memoryPolicy` (runtime-spec 1.3): the modes and flags berth
/// passes to set_mempolicy, sorted as runc prints them.
fn memory_policy() -> Value {
    use berth_security::attrs::{MEMORY_POLICY_FLAGS, MEMORY_POLICY_MODES};
    let sorted = |table: &[(&'static str, i32)]| {
        let mut names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names
    };
    json!({"modes": sorted(&MEMORY_POLICY_MODES), "flags": sorted(&MEMORY_POLICY_FLAGS)})
}

/// The namespace types `linux.namespaces` may name (the namespace plan's
/// own list: a type it learns appears here).
fn namespaces() -> Vec<&'static str> {
    berth_process::namespaces::supported_kinds().collect()
}

/// runtime-spec 1.1's `mountExtensions`: idmapped mounts are there when
/// the mount option parser takes `idmap`.
fn mount_extensions() -> Value {
    let idmap = berth_rootfs::options::supported_option_names().any(|name| name == "idmap");
    json!({"idmap": {"enabled": idmap}})
}

/// Whether `create`'s planner takes a config whose `linux` section has
/// `field` set to `value` (with mount and network namespaces), on the
/// config alone: what `features` reports is what the planner accepts.
fn linux_field_accepted(field: &str, value: Value) -> bool {
    let mut config = json!({
        "ociVersion": "1.0.0",
        "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"},
        "root": {"path": "rootfs"},
        "linux": {"namespaces": [{"type": "mount"}, {"type": "network"}]}
    });
    config["linux"][field] = value;
    serde_json::from_value::<berth_spec::Spec>(config)
        .is_ok_and(|spec| berth_container::accepts(&spec).is_ok())
}

/// runtime-spec 1.3's `intelRdt`: the config field, its `schemata` lines
/// and `enableMonitoring`.
fn intel_rdt() -> Value {
    json!({
        "enabled": linux_field_accepted("intelRdt", json!({"closID": "c"})),
        "schemata": linux_field_accepted("intelRdt", json!({"schemata": ["L3:0=f"]})),
        "monitoring": linux_field_accepted("intelRdt", json!({"enableMonitoring": true}))
    })
}

/// runc 1.2+'s layout (runtime-spec `features.md`), each part derived
/// from the code that implements it.
pub fn features() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": berth_container::OCI_VERSION,
        "hooks": [
            "prestart", "createRuntime", "createContainer",
            "startContainer", "poststart", "poststop"
        ],
        "mountOptions": supported_mount_options(),
        "linux": {
            "namespaces": namespaces(),
            "capabilities": capabilities(),
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": true},
            "seccomp": seccomp(),
            "apparmor": {"enabled": true},
            "selinux": {"enabled": false},
            "memoryPolicy": memory_policy(),
            "intelRdt": intel_rdt(),
            "mountExtensions": mount_extensions(),
            "netDevices": {"enabled": linux_field_accepted("netDevices", json!({"eth1": {"name": "eth0"}}))}
        },
        "annotations": annotations(),
        "potentiallyUnsafeConfigAnnotations": berth_container::INTERPRETED_ANNOTATIONS
    })
}

pub fn print() -> Result<(), Failure> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&features(), &mut ser)?;
    out.push(b'\n');
    crate::stdout::write(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognised_options_are_reported_and_fs_data_is_not() {
        let opts = supported_mount_options();
        for expected in [
            "ro",
            "nosuid",
            "rbind",
            "rprivate",
            "rro",
            "tmpcopyup",
            "idmap",
        ] {
            assert!(opts.contains(&expected), "{expected}");
        }
        for refused in ["size=1m", "mode=755"] {
            assert!(!opts.contains(&refused), "{refused}");
        }
    }

    #[test]
    fn every_reported_mount_option_is_taken_by_the_planner() {
        for name in supported_mount_options() {
            let mount: berth_spec::Mount = serde_json::from_value(serde_json::json!(
                {"destination": "/a", "source": "/a", "type": "bind", "options": [name]}
            ))
            .unwrap();
            let userns = berth_rootfs::mountplan::ContainerUserns::Path(std::path::Path::new("/u"));
            let planned = berth_rootfs::MountPlan::parse(&[mount], "/b".as_ref(), userns).unwrap();
            let m = planned.iter().next().unwrap();
            assert!(m.options.data.is_empty(), "{name} would be passed as data");
        }
        assert_eq!(
            features()["linux"]["mountExtensions"]["idmap"]["enabled"],
            true
        );
    }

    #[test]
    fn linux_sections_follow_the_planner() {
        let value = features();
        let linux = &value["linux"];
        assert_eq!(linux["netDevices"]["enabled"], true);
        assert_eq!(linux["intelRdt"]["enabled"], true);
        assert_eq!(linux["intelRdt"]["monitoring"], true);
        // A field the validator refuses is reported as not supported.
        assert!(!linux_field_accepted(
            "mountLabel",
            json!("system_u:object_r:x")
        ));
        // So is one that only the plan's checks refuse.
        assert!(!linux_field_accepted(
            "sysctl",
            json!({"kernel.panic": "1"})
        ));
        assert!(linux_field_accepted(
            "sysctl",
            json!({"net.ipv4.ip_forward": "1"})
        ));
    }

    #[test]
    fn namespaces_are_the_ones_the_plan_accepts() {
        let value = features();
        let kinds = value["linux"]["namespaces"].as_array().unwrap();
        assert!(kinds.contains(&json!("user")));
        assert!(kinds.contains(&json!("time")));
    }

    #[test]
    fn seccomp_lists_what_the_profile_parser_accepts() {
        let section = seccomp();
        assert_eq!(section["enabled"], true);
        for (key, name) in [
            ("actions", "SCMP_ACT_KILL_PROCESS"),
            ("operators", "SCMP_CMP_MASKED_EQ"),
            ("archs", "SCMP_ARCH_X86_64"),
            ("knownFlags", "SECCOMP_FILTER_FLAG_LOG"),
            ("supportedFlags", "SECCOMP_FILTER_FLAG_TSYNC"),
        ] {
            let list = section[key].as_array().expect(key);
            assert!(list.contains(&json!(name)), "{key} lacks {name}");
        }
    }

    #[test]
    fn capabilities_are_kernel_names_in_kernel_order() {
        let caps = capabilities();
        assert_eq!(caps[0], "CAP_CHOWN");
        assert!(caps.contains(&"CAP_SYS_ADMIN".to_string()));
    }
}
