//! `spec`: write the default config.json (the same config `runc spec`
//! writes), or its rootless variant.

use std::path::Path;

use serde_json::{json, Value};

use crate::Failure;

const CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The default config, for a container run as root.
pub fn default_spec() -> Value {
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

/// The rootless variant: a user namespace mapping the caller to root, no
/// network namespace, /sys bound from the host, no devpts gid, no
/// resources.
pub fn rootless_spec() -> Value {
    let mut spec = default_spec();
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    if let Some(linux) = spec["linux"].as_object_mut() {
        linux.shift_remove("resources");
        // runc's order: the maps come first.
        linux.shift_insert(
            0,
            "uidMappings".into(),
            json!([{"containerID": 0, "hostID": uid, "size": 1}]),
        );
        linux.shift_insert(
            1,
            "gidMappings".into(),
            json!([{"containerID": 0, "hostID": gid, "size": 1}]),
        );
    }
    let linux = &mut spec["linux"];
    linux["namespaces"] = json!([
        {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}
    ]);
    for mount in spec["mounts"].as_array_mut().into_iter().flatten() {
        match mount["destination"].as_str() {
            Some("/dev/pts") => {
                if let Some(opts) = mount["options"].as_array_mut() {
                    opts.retain(|o| o != "gid=5");
                }
            }
            Some("/sys") => {
                *mount = json!({"destination": "/sys", "type": "none", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            _ => {}
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
        return Err(Failure("File config.json exists. Remove it first".into()));
    }
    let spec = if rootless {
        rootless_spec()
    } else {
        default_spec()
    };
    std::fs::write(&path, to_tabbed_json(&spec)?)
        .map_err(|e| Failure(format!("write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_as_a_valid_spec() {
        let spec: berth_spec::Spec = serde_json::from_value(default_spec()).unwrap();
        berth_container::config::validate(&spec).unwrap();
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
