//! Config fields that only make sense with a namespace of their own:
//! `linux.sysctl` keys (runc's rules and words) and
//! `linux.uidMappings`/`gidMappings`. Checked by the plan, before anything
//! is created (a sysctl outside the container's namespaces would be
//! written to the host's kernel).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use berth_process::Sysctl;
use berth_spec::{Linux, LinuxNamespaceType};

use crate::ConfigError;

/// The IPC namespace's sysctls outside `fs.mqueue.` (runc's list).
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// `linux.sysctl`, in key order, planned for init: every key names a file
/// under /proc/sys and belongs to a namespace the container has of its
/// own, as runc 1.1.5 checks (in its words; it finds a key such as
/// `net..core` only in init): IPC keys need an IPC namespace, `net.` keys
/// a network namespace that is not the runtime's, `kernel.domainname` a
/// UTS namespace (`kernel.hostname` is the `hostname` field's); any other
/// key is the host's.
pub(crate) fn plan_sysctls(linux: &Linux) -> Result<Vec<Sysctl>, ConfigError> {
    let mut keys: Vec<&String> = linux.sysctl.keys().collect();
    keys.sort();
    let refuse = |reason| ConfigError::new("linux.sysctl", reason);
    let plan = |key: &&String| {
        let sysctl = Sysctl::new(key, &linux.sysctl[*key])
            .ok_or_else(|| refuse(format!("invalid key {:?}", key.replace('/', "."))))?;
        match namespace_refusal(linux, &key.replace('/', ".")) {
            Some(reason) => Err(refuse(reason)),
            None => Ok(sysctl),
        }
    };
    keys.iter().map(plan).collect()
}

/// Why the (valid, dot-separated) `key` cannot be set in this container,
/// or None.
fn namespace_refusal(linux: &Linux, key: &str) -> Option<String> {
    let has = |typ| linux.namespaces.iter().find(|ns| ns.typ == typ);
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        return has(LinuxNamespaceType::Ipc)
            .is_none()
            .then(|| format!("sysctl {key:?} is not allowed in the hosts ipc namespace"));
    }
    if key.starts_with("net.") {
        let host_net = match has(LinuxNamespaceType::Network) {
            None => true,
            Some(ns) => ns.path.as_deref().is_some_and(is_runtime_netns),
        };
        return host_net.then(|| format!("sysctl {key:?} not allowed in host network namespace"));
    }
    if has(LinuxNamespaceType::Uts).is_some() {
        match key {
            "kernel.domainname" => return None,
            "kernel.hostname" => {
                return Some(format!(
                    "sysctl {key:?} is not allowed as it conflicts with the OCI \"hostname\" field"
                ))
            }
            _ => {}
        }
    }
    Some(format!(
        "sysctl {key:?} is not in a separate kernel namespace"
    ))
}

/// Is the network namespace at `path` the one the runtime runs in?
fn is_runtime_netns(path: &Path) -> bool {
    match (
        std::fs::metadata(path),
        std::fs::metadata("/proc/self/ns/net"),
    ) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// `linux.uidMappings`/`gidMappings` are the maps of a user namespace: a
/// config without one would have them silently dropped (runc 1.1.5 drops
/// them before its validator sees them), so they are refused in the words
/// of runc's validator (runc >= 1.2 spelling).
pub(crate) fn check_id_mappings(linux: &Linux) -> Result<(), ConfigError> {
    let userns = linux
        .namespaces
        .iter()
        .any(|ns| ns.typ == LinuxNamespaceType::User);
    let field = match (&linux.uid_mappings[..], &linux.gid_mappings[..]) {
        _ if userns => return Ok(()),
        ([], []) => return Ok(()),
        ([], _) => "linux.gidMappings",
        _ => "linux.uidMappings",
    };
    Err(ConfigError::new(
        field,
        "user namespace mappings specified, but user namespace isn't enabled in the config",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(v: serde_json::Value) -> Linux {
        serde_json::from_value(v).unwrap()
    }

    fn refusal(namespaces: &[&str], key: &str) -> Option<String> {
        let ns: Vec<_> = namespaces
            .iter()
            .map(|t| serde_json::json!({"type": t}))
            .collect();
        let l = linux(serde_json::json!({"namespaces": ns, "sysctl": {key: "1"}}));
        plan_sysctls(&l).err().map(|e| e.to_string())
    }

    #[test]
    fn sysctls_need_their_namespace_in_runcs_words() {
        assert_eq!(refusal(&["ipc"], "kernel.shmmax"), None);
        assert_eq!(refusal(&["ipc"], "fs.mqueue.msg_max"), None);
        assert_eq!(
            refusal(&["network"], "kernel.shmmax").unwrap(),
            "linux.sysctl: sysctl \"kernel.shmmax\" is not allowed in the hosts ipc namespace"
        );
        assert_eq!(refusal(&["network"], "net.ipv4.ip_forward"), None);
        assert_eq!(
            refusal(&["ipc"], "net.ipv4.ip_forward").unwrap(),
            "linux.sysctl: sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        );
        assert_eq!(refusal(&["uts"], "kernel.domainname"), None);
        assert!(refusal(&["uts"], "kernel.hostname")
            .unwrap()
            .contains("conflicts with the OCI \"hostname\" field"));
        assert_eq!(
            refusal(&["network"], "net..core").unwrap(),
            "linux.sysctl: invalid key \"net..core\""
        );
        assert_eq!(
            refusal(&["uts", "ipc", "network"], "kernel/panic").unwrap(),
            "linux.sysctl: sysctl \"kernel.panic\" is not in a separate kernel namespace"
        );
    }

    #[test]
    fn the_runtimes_own_network_namespace_is_the_host_one() {
        let l = linux(serde_json::json!({
            "namespaces": [{"type": "network", "path": "/proc/self/ns/net"}],
            "sysctl": {"net.core.somaxconn": "1"}
        }));
        assert!(plan_sysctls(&l).is_err());
    }

    #[test]
    fn id_mappings_need_a_user_namespace() {
        let map = serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        let without = linux(serde_json::json!({"gidMappings": map}));
        assert_eq!(
            check_id_mappings(&without).unwrap_err().field,
            "linux.gidMappings"
        );
        let with = linux(serde_json::json!({
            "namespaces": [{"type": "user"}], "uidMappings": map, "gidMappings": map
        }));
        assert!(check_id_mappings(&with).is_ok());
    }
}
