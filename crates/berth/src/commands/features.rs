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
            "namespaces": berth_process::namespaces::supported_kinds().collect::<Vec<_>>(),
            "capabilities": capabilities(),
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false},
            "seccomp": seccomp(),
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": annotations()
    })
}

pub fn print() -> Result<(), Failure> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&features(), &mut ser)?;
    println!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognised_options_are_reported_and_fs_data_is_not() {
        let opts = supported_mount_options();
        for expected in ["ro", "nosuid", "rbind", "rprivate", "rro", "tmpcopyup"] {
            assert!(opts.contains(&expected), "{expected}");
        }
        for refused in ["idmap", "ridmap", "size=1m"] {
            assert!(!opts.contains(&refused), "{refused}");
        }
    }

    #[test]
    fn namespaces_are_the_ones_the_plan_accepts() {
        let value = features();
        let kinds = value["linux"]["namespaces"].as_array().unwrap();
        assert!(kinds.contains(&json!("user")));
        assert!(!kinds.contains(&json!("time")));
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
