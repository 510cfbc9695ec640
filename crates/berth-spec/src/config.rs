//! The top level of `config.json` and its platform-neutral parts: root,
//! mounts and hooks (runtime-spec `config.md`).

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::linux::{Linux, LinuxIdMapping};
use crate::process::Process;
use crate::serde_util::{is_false, null_as_default};

/// A whole `config.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    /// `ociVersion`: the spec version the bundle follows ("1.0.2-dev").
    /// Absent reads as empty, which validation refuses by name.
    #[serde(rename = "ociVersion", default, deserialize_with = "null_as_default")]
    pub oci_version: String,
    /// The container's root filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<Root>,
    /// Extra mounts, in order.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mounts: Vec<Mount>,
    /// The container's process (required by `create`, not by the format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    /// The UTS hostname; `Some("")` differs from absent (it is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The UTS domain name; `Some("")` differs from absent (it is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    /// Lifecycle hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
    /// Arbitrary metadata; kept as given (state.json shows `{}` when the
    /// config had `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<HashMap<String, String>>,
    /// The Linux-specific configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux: Option<Linux>,
}

/// `root`: where the container's root filesystem is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    /// The rootfs directory, absolute or relative to the bundle.
    #[serde(default, deserialize_with = "null_as_default")]
    pub path: PathBuf,
    /// Make the root filesystem read-only in the container.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub readonly: bool,
}

/// One entry of `mounts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    /// Absolute path in the container.
    pub destination: PathBuf,
    /// Filesystem type (`proc`, `tmpfs`, `bind`...); empty when absent.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub typ: String,
    /// Device, file or directory mounted; absent differs from empty (the
    /// mount then shows its type as source, a bind mount is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PathBuf>,
    /// mount(8) options (`nosuid`, `ro`, `rbind`, `mode=755`...).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub options: Vec<String>,
    /// Idmapped mount: user ids (present even when empty: berth refuses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid_mappings: Option<Vec<LinuxIdMapping>>,
    /// Idmapped mount: group ids (present even when empty: berth refuses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid_mappings: Option<Vec<LinuxIdMapping>>,
}

/// `hooks`: commands run at points of the container's lifecycle. Every list
/// stays `Option` so that state.json keeps the config's hooks as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hooks {
    /// Deprecated by the spec (createRuntime replaces it); still run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prestart: Option<Vec<Hook>>,
    /// In the runtime's namespaces, after the namespaces are made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_runtime: Option<Vec<Hook>>,
    /// In the container, before pivot_root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_container: Option<Vec<Hook>>,
    /// In the container, at `start`, before the user's program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_container: Option<Vec<Hook>>,
    /// After the user's program started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poststart: Option<Vec<Hook>>,
    /// After the container was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poststop: Option<Vec<Hook>>,
}

/// One hook command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    /// Absolute path of the executable.
    pub path: PathBuf,
    /// argv, including argv[0].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// The hook's whole environment (`KEY=value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Seconds before the hook is killed; absent or not positive: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
}
