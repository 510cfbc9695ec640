//! `spec`: write the default config.json (the same config `runc spec`
//! writes), or its rootless variant.

use std::path::Path;

use serde_json::{json, Value};

use crate::Failure;

const CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The default config, for a container run as root; on a pure cgroup v2
/// host with a cgroup namespace, as runc's.
pub fn default_spec() -> Value {
    let mut spec = base_spec();
    if berth_cgroups::detect_layout().is_ok_and(|l| l == berth_cgroups::Layout::V2) {
        if let Some(list) = spec["linux"]["namespaces"].as_array_mut() {
            list.push(json!({"type": "cgroup"}));
        }
    }
    spec
}

fn base_spec() -> Value {
    json!({
        "ociVersion": berth_container::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": CAPS, "effective": CAPS, "permitted": CAPS, "ambient": CAPS
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// The rootless variant, made from the default as runc's `ToRootless`:
/// the network namespace goes and a user namespace mapping the caller to
/// root comes last, `/sys` is an rbind of the host's, no mount keeps a
/// `uid=`/`gid=` option, no resources.
pub fn rootless_spec() -> Value {
    let mut spec = default_spec();
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    if let Some(linux) = spec["linux"].as_object_mut() {
        linux.shift_remove("resources");
        // runc's order: the maps come first.
        let own = |id: u32| json!([{"containerID": 0, "hostID": id, "size": 1}]);
        linux.shift_insert(0, "uidMappings".into(), own(uid));
        linux.shift_insert(1, "gidMappings".into(), own(gid));
    }
    if let Some(list) = spec["linux"]["namespaces"].as_array_mut() {
        list.retain(|ns| !matches!(ns["type"].as_str(), Some("network" | "user")));
        list.push(json!({"type": "user"}));
    }
    for mount in spec["mounts"].as_array_mut().into_iter().flatten() {
        if mount["destination"] == "/sys" {
            *mount = json!({"destination": "/sys", "type": "none", "source": "/sys",
                "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        } else if let Some(opts) = mount.get_mut("options").and_then(Value::as_array_mut) {
            opts.retain(|o| {
                let o = o.as_str().unwrap_or_default();
                !o.starts_with("uid=") && !o.starts_with("gid=")
            });
        }
    }
    spec
}

/// Tab-indented JSON, as runc writes config.json.
fn to_tabbed_json(value: &Value) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(value, &mut ser)?;
    Ok(out)
}

pub fn write(bundle: &Path, rootless: bool) -> Result<(), Failure> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Failure::new(
            "File config.json exists. Remove it first".into(),
        ));
    }
    let spec = if rootless {
        rootless_spec()
    } else {
        default_spec()
    };
    std::fs::write(&path, to_tabbed_json(&spec)?)
        .map_err(|e| Failure::os(format!("write {}", path.display()), &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_as_a_valid_spec() {
        let spec: berth_spec::Spec = serde_json::from_value(default_spec()).unwrap();
        berth_container::accepts(&spec).unwrap();
    }

    #[test]
    fn rootless_spec_maps_the_caller_and_drops_the_network_namespace() {
        let spec = rootless_spec();
        let namespaces = spec["linux"]["namespaces"].to_string();
        assert!(namespaces.contains("user") && !namespaces.contains("network"));
        assert!(spec["linux"].get("resources").is_none());
        let _: berth_spec::Spec = serde_json::from_value(spec).unwrap();
    }

    #[test]
    fn config_is_tab_indented() {
        let text = String::from_utf8(to_tabbed_json(&default_spec()).unwrap()).unwrap();
        assert!(text.starts_with("{\n\t\"ociVersion\""));
    }
}
