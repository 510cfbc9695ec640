//! Reading a bundle's config.json and checking it beyond what the spec types
//! check: every refusal names the config field.

use std::path::{Path, PathBuf};

use berth_security::attrs::CpuAffinity;
use berth_spec::{Linux, LinuxNamespaceType, Process, Spec};

use crate::{ConfigError, ContainerError};

/// A bundle's config, with the absolute paths derived from it.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    /// Absolute, canonical rootfs directory.
    pub rootfs: PathBuf,
    pub spec: Spec,
}

/// A refused config field (its JSON path) and why.
fn refuse(field: &str, reason: impl Into<String>) -> ContainerError {
    ConfigError::new(field, reason).into()
}

fn invalid(msg: impl Into<String>) -> ContainerError {
    ContainerError::Config(msg.into())
}

/// Load and validate `<bundle>/config.json`.
pub fn load_bundle(bundle: &Path) -> Result<Bundle, ContainerError> {
    let dir = std::path::absolute(bundle).map_err(|source| ContainerError::Io {
        what: format!("bundle {}", bundle.display()),
        source,
    })?;
    if !dir.is_dir() {
        return Err(invalid(format!(
            "bundle {}: not a directory or does not exist",
            dir.display()
        )));
    }
    let config_path = dir.join("config.json");
    let text = std::fs::read(&config_path).map_err(|source| ContainerError::Io {
        what: format!("open {}", config_path.display()),
        source,
    })?;
    let spec: Spec = serde_json::from_slice(&text).map_err(|e| {
        let error = berth_spec::describe_error(&e, &text);
        invalid(format!("{}: {error}", config_path.display()))
    })?;
    validate(&spec)?;
    if !nix::unistd::geteuid().is_root() {
        validate_rootless(&spec)?;
    }
    let rootfs = resolve_rootfs(&dir, &spec)?;
    Ok(Bundle { dir, rootfs, spec })
}

fn resolve_rootfs(dir: &Path, spec: &Spec) -> Result<PathBuf, ContainerError> {
    let root = spec
        .root
        .as_ref()
        .ok_or_else(|| refuse("root", "root must be set"))?;
    let path = dir.join(&root.path);
    let canonical = path.canonicalize().map_err(|e| {
        invalid(format!(
            "invalid rootfs: stat {}: {}",
            path.display(),
            berth_process::go_strerror_of(&e)
        ))
    })?;
    if !canonical.is_dir() {
        return Err(invalid(format!(
            "invalid rootfs: {} is not a directory",
            path.display()
        )));
    }
    Ok(canonical)
}

/// Checks of the whole spec but the seccomp profile, which the planner
/// parses once when it builds the filter (`crate::seccomp::build`).
pub fn validate(spec: &Spec) -> Result<(), ContainerError> {
    validate_version(&spec.oci_version)?;
    let process = spec
        .process
        .as_ref()
        .ok_or_else(|| refuse("process", "process must be set"))?;
    validate_process(process)?;
    // The config's execCPUAffinity is only exec's (kept in the state): it is
    // checked now, not when the first exec needs it.
    CpuAffinity::from_spec(process.exec_cpu_affinity.as_ref())
        .map_err(crate::process_attrs::invalid)?;
    let linux = spec
        .linux
        .as_ref()
        .ok_or_else(|| refuse("linux", "linux must be set"))?;
    validate_linux(linux)?;
    validate_names(spec, linux)?;
    validate_without_mount_namespace(linux)
}

/// Without a mount namespace the container's mounts are the host's (runc's
/// chroot mode): what would change the host is refused, masked and
/// read-only paths in runc's words.
fn validate_without_mount_namespace(linux: &Linux) -> Result<(), ContainerError> {
    if linux
        .namespaces
        .iter()
        .any(|ns| ns.typ == LinuxNamespaceType::Mount)
    {
        return Ok(());
    }
    if !linux.masked_paths.is_empty() || !linux.readonly_paths.is_empty() {
        return Err(refuse(
            "linux.maskedPaths/readonlyPaths",
            "unable to restrict sys entries without a private MNT namespace",
        ));
    }
    if !linux.rootfs_propagation.is_empty() {
        return Err(refuse(
            "linux.rootfsPropagation",
            "needs a mount namespace (it would change the host's mounts)",
        ));
    }
    Ok(())
}

fn validate_version(version: &str) -> Result<(), ContainerError> {
    let major = version.split('.').next().unwrap_or("");
    if major != "1" {
        return Err(refuse(
            "ociVersion",
            format!("unsupported spec version {version:?} (berth implements 1.x)"),
        ));
    }
    Ok(())
}

fn unsupported(field: &str) -> ContainerError {
    refuse(field, "not supported by berth yet")
}

pub(crate) fn validate_process(process: &Process) -> Result<(), ContainerError> {
    let args = &process.args;
    if args.is_empty() || args[0].is_empty() {
        return Err(refuse("process.args", "args must not be empty"));
    }
    if process.cwd.as_os_str().is_empty() {
        return Err(refuse("process.cwd", "Cwd property must not be empty"));
    }
    if !process.cwd.is_absolute() {
        return Err(refuse(
            "process.cwd",
            format!("cwd {:?} is not an absolute path", process.cwd),
        ));
    }
    let strings = args.iter().chain(&process.env);
    if strings.clone().any(|s| s.contains('\0')) {
        return Err(refuse(
            "process.args/env",
            "strings must not contain NUL bytes",
        ));
    }
    if process.env.iter().any(|e| !e.contains('=')) {
        return Err(refuse(
            "process.env",
            "every entry must have the form KEY=value",
        ));
    }
    let checks = [("process.selinuxLabel", !process.selinux_label.is_empty())];
    refuse_present(&checks)?;
    // scheduler and ioPriority are parsed (and refused) once, by the
    // process planner; execCPUAffinity once, where it is applied (exec).
    validate_console_size(process)
}

/// A terminal has at most 65535 rows and columns (`struct winsize`).
fn validate_console_size(process: &Process) -> Result<(), ContainerError> {
    let Some(size) = process.console_size else {
        return Ok(());
    };
    for (name, value) in [("height", size.height), ("width", size.width)] {
        if u16::try_from(value).is_err() {
            return Err(refuse(
                &format!("process.consoleSize.{name}"),
                format!("{value} is more than a terminal has (65535)"),
            ));
        }
    }
    Ok(())
}

fn refuse_present(checks: &[(&str, bool)]) -> Result<(), ContainerError> {
    match checks.iter().find(|(_, present)| *present) {
        Some((field, _)) => Err(unsupported(field)),
        None => Ok(()),
    }
}

fn validate_linux(linux: &Linux) -> Result<(), ContainerError> {
    // personality and memoryPolicy are parsed (and refused) once, by the
    // process planner.
    let checks = [("linux.mountLabel", !linux.mount_label.is_empty())];
    refuse_present(&checks)?;
    if let Some(rdt) = &linux.intel_rdt {
        crate::intel_rdt::validate(rdt)?;
    }
    validate_net_devices(linux)
}

/// `linux.netDevices` (runc 1.4's checks): a network namespace (new or
/// joined), and interface names the kernel takes.
fn validate_net_devices(linux: &Linux) -> Result<(), ContainerError> {
    if linux.net_devices.is_empty() {
        return Ok(());
    }
    let has_netns = linux
        .namespaces
        .iter()
        .any(|ns| ns.typ == LinuxNamespaceType::Network);
    if !has_netns {
        return Err(refuse(
            "linux.netDevices",
            "unable to move network devices without a NET namespace",
        ));
    }
    let names = linux
        .net_devices
        .iter()
        .flat_map(|(host, dev)| [host.as_str(), dev.name.as_str()]);
    for (i, name) in names.enumerate() {
        // Every second name is the optional container name.
        if (i % 2 == 1 && name.is_empty()) || valid_interface_name(name) {
            continue;
        }
        return Err(refuse(
            "linux.netDevices",
            format!("invalid network device name {name:?}"),
        ));
    }
    Ok(())
}

/// The kernel's `dev_valid_name`: 1 to 15 bytes, not `.` or `..`, no `/`,
/// `:` or white space.
fn valid_interface_name(name: &str) -> bool {
    const IFNAMSIZ: usize = 16;
    !name.is_empty()
        && name.len() < IFNAMSIZ
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0x0b)
}

/// runc's check for a runtime that is not root: the container needs a
/// user namespace (its mount options' `uid=`/`gid=` are checked by the
/// planner, which parses the mounts).
pub(crate) fn validate_rootless(spec: &Spec) -> Result<(), ContainerError> {
    let linux = spec.linux.as_ref().expect("validated");
    let has_user = linux
        .namespaces
        .iter()
        .any(|ns| ns.typ == LinuxNamespaceType::User);
    if !has_user {
        return Err(refuse(
            "linux.namespaces",
            "rootless container requires user namespaces",
        ));
    }
    Ok(())
}

/// A hostname or domainname needs a UTS namespace of the container's own,
/// new or joined by path (runc counts a joined one as private too).
fn validate_names(spec: &Spec, linux: &Linux) -> Result<(), ContainerError> {
    let own_uts = linux
        .namespaces
        .iter()
        .any(|ns| ns.typ == LinuxNamespaceType::Uts);
    if spec.hostname.as_ref().is_some_and(|h| !h.is_empty()) && !own_uts {
        return Err(refuse(
            "hostname",
            "unable to set hostname without a private UTS namespace",
        ));
    }
    if spec.domainname.as_ref().is_some_and(|h| !h.is_empty()) && !own_uts {
        return Err(refuse(
            "domainname",
            "unable to set domainname without a private UTS namespace",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(patch: impl FnOnce(&mut serde_json::Value)) -> Result<(), ContainerError> {
        let mut v = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"},
            "root": {"path": "rootfs"},
            "hostname": "h",
            "linux": {"namespaces": [{"type": "mount"}, {"type": "uts"}]}
        });
        patch(&mut v);
        let spec: Spec = serde_json::from_value(v).map_err(|e| invalid(e.to_string()))?;
        // What the planner refuses on the config alone (validation, then
        // the process and resources planned).
        crate::plan::accepts(&spec)?;
        let seccomp = spec.linux.as_ref().and_then(|l| l.seccomp.as_ref());
        crate::seccomp::build(seccomp, || serde_json::Value::Null).map(drop)
    }

    #[test]
    fn a_minimal_spec_is_valid() {
        spec_with(|_| {}).unwrap();
    }

    #[test]
    fn empty_values_of_unsupported_fields_are_not_refused() {
        spec_with(|v| {
            v["process"]["apparmorProfile"] = "".into();
            v["linux"]["timeOffsets"] = serde_json::json!({});
            v["linux"]["netDevices"] = serde_json::json!({});
            v["linux"]["uidMappings"] = serde_json::json!([]);
            v["linux"]["mountLabel"] = "".into();
            v["linux"]["seccomp"] = serde_json::Value::Null;
        })
        .unwrap();
    }

    #[test]
    fn refusals_carry_the_field_apart() {
        type Patch = fn(&mut serde_json::Value);
        let cases: [(Patch, &str); 6] = [
            (
                |v| v["process"]["scheduler"] = serde_json::json!({"policy": "SCHED_X"}),
                "process.scheduler.policy",
            ),
            (
                |v| v["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_X"}),
                "linux.seccomp.defaultAction",
            ),
            (|v| v["process"]["cwd"] = "rel".into(), "process.cwd"),
            (|v| v["ociVersion"] = "2.0.0".into(), "ociVersion"),
            (
                |v| v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]),
                "hostname",
            ),
            (
                |v| v["linux"]["intelRdt"] = serde_json::json!({"closID": "a/b"}),
                "linux.intelRdt.closID",
            ),
        ];
        for (patch, want) in cases {
            match spec_with(patch) {
                Err(ContainerError::Invalid(ConfigError { field, .. })) => assert_eq!(field, want),
                other => panic!("{want}: {other:?}"),
            }
        }
    }

    #[test]
    fn refusals_name_the_field() {
        type Patch = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(Patch, &str)> = vec![
            (Box::new(|v| v["ociVersion"] = "2.0.0".into()), "ociVersion"),
            (
                Box::new(|v| v["process"]["args"] = serde_json::json!([])),
                "process.args",
            ),
            (
                Box::new(|v| v["process"]["cwd"] = "rel".into()),
                "process.cwd",
            ),
            (
                Box::new(|v| {
                    v["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_BOGUS"})
                }),
                "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_BOGUS\"",
            ),
            (
                Box::new(|v| {
                    v["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
                        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})
                }),
                "linux.seccomp.listenerPath",
            ),
            (
                Box::new(|v| v["process"]["scheduler"] = serde_json::json!({"policy": "SCHED_X"})),
                "process.scheduler.policy: unknown policy \"SCHED_X\"",
            ),
            (
                Box::new(|v| {
                    v["process"]["execCPUAffinity"] = serde_json::json!({"initial": "1-0"})
                }),
                "process.execCPUAffinity.initial",
            ),
            (
                Box::new(|v| v["linux"]["personality"] = serde_json::json!({"domain": "X"})),
                "linux.personality.domain",
            ),
            (
                Box::new(|v| v["linux"]["memoryPolicy"] = serde_json::json!({"mode": "MPOL_BIND"})),
                "linux.memoryPolicy.nodes",
            ),
            (
                Box::new(|v| {
                    v["process"]["consoleSize"] = serde_json::json!({"height": 70000, "width": 80})
                }),
                "process.consoleSize.height: 70000 is more than a terminal has",
            ),
            (
                Box::new(|v| v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}])),
                "hostname",
            ),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("process");
                }),
                "process",
            ),
            (
                Box::new(|v| v["linux"]["intelRdt"] = serde_json::json!({"closID": "a/b"})),
                "linux.intelRdt.closID: invalid intelRdt.ClosID \"a/b\"",
            ),
            (
                Box::new(|v| v["linux"]["intelRdt"] = serde_json::json!({"enableCMT": true})),
                "linux.intelRdt.enableCMT",
            ),
            (
                Box::new(|v| v["linux"]["netDevices"] = serde_json::json!({"eth1": {}})),
                "linux.netDevices: unable to move network devices without a NET namespace",
            ),
            (
                Box::new(|v| {
                    v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"},
                        {"type": "uts"}, {"type": "network"}]);
                    v["linux"]["netDevices"] = serde_json::json!({"eth1": {"name": "a:b"}});
                }),
                "linux.netDevices: invalid network device name \"a:b\"",
            ),
            (
                Box::new(|v| {
                    v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"},
                        {"type": "uts"}, {"type": "network"}]);
                    v["linux"]["netDevices"] = serde_json::json!({"sixteen-chars-xx": {}});
                }),
                "linux.netDevices: invalid network device name",
            ),
        ];
        for (patch, field) in cases {
            let err = spec_with(patch).unwrap_err().to_string();
            assert!(err.starts_with(field), "{field}: {err}");
        }
    }
}

#[cfg(test)]
mod rootless_tests {
    use super::*;

    fn rootless_check(linux: serde_json::Value) -> String {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"},
            "root": {"path": "rootfs"},
            "linux": linux
        }))
        .unwrap();
        match validate_rootless(&spec) {
            Ok(()) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    /// The mount ids are checked by the planner (`MountPlan::check_rootless_ids`).
    #[test]
    fn an_unprivileged_runtime_needs_a_user_namespace() {
        let user = serde_json::json!({"namespaces": [{"type": "mount"}, {"type": "user"}]});
        assert_eq!(rootless_check(user), "ok");
        let no_user = serde_json::json!({"namespaces": [{"type": "mount"}]});
        assert!(rootless_check(no_user).contains("rootless container requires user namespaces"));
    }
}
