//! What berth remembers of a container, and what `state`/`list` show.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::liveness::is_alive;
use crate::status::Status;

/// The OCI runtime-spec version berth implements (state's `ociVersion`).
pub const OCI_VERSION: &str = "1.3.0";

/// Persisted in `<root>/<id>/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    /// Init's pid in the runtime's pid namespace.
    pub pid: i32,
    /// Init's start time (clock ticks since boot), to tell a reused pid.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 with nanoseconds, UTC.
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<HashMap<String, String>>,
    pub cgroup: berth_cgroups::Cgroup,
    /// The config's hooks: poststart and poststop run from `start` and
    /// `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<berth_spec::Hooks>,
    /// The config's `linux.seccomp`, for `exec`; raw JSON that `state` and
    /// `list` skip over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<Box<serde_json::value::RawValue>>,
    /// `create` has not finished: written before the cgroup is made and
    /// again with init's pid, so that a runtime killed at any moment leaves
    /// a container `list` shows and `delete --force` removes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub creating: bool,
    /// The config's scheduler, I/O priority, execCPUAffinity, personality
    /// and memory policy, which `exec` inherits.
    #[serde(default, skip_serializing_if = "crate::InheritedAttrs::is_empty")]
    pub inherited: crate::InheritedAttrs,
    /// The resctrl group of `linux.intelRdt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_rdt: Option<berth_cgroups::resctrl::RdtGroup>,
    /// No mount namespace of its own: how many mounts the rootfs path had
    /// in the host's table before create; `delete` detaches those above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_rootfs_mounts: Option<usize>,
    /// Init got a new pid namespace: its death ends every process of the
    /// container, so what is left in the cgroup at `delete` is not the
    /// container's (processes put there by others) and is left alone, as
    /// runc does. Without one, `delete` kills what is left.
    #[serde(default)]
    pub new_pid_ns: bool,
}

/// The JSON `state` prints (runc's fields and order).
#[derive(Debug, Serialize)]
pub struct StateView<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a PathBuf,
    pub rootfs: &'a PathBuf,
    pub created: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<&'a HashMap<String, String>>,
    pub owner: &'a str,
}

/// The state hooks get on stdin (no `owner`).
#[derive(Debug, Serialize)]
pub struct HookStateView<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: Status,
    pub pid: i32,
    pub bundle: &'a PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<&'a HashMap<String, String>>,
}

/// Annotations as shown: left out when there are none, as runc.
fn non_empty(annotations: Option<&HashMap<String, String>>) -> Option<&HashMap<String, String>> {
    annotations.filter(|a| !a.is_empty())
}

impl<'a> HookStateView<'a> {
    /// The view of a container's state, annotations left out when empty.
    pub fn new(
        id: &'a str,
        status: Status,
        pid: i32,
        bundle: &'a PathBuf,
        annotations: Option<&'a HashMap<String, String>>,
    ) -> HookStateView<'a> {
        HookStateView {
            oci_version: OCI_VERSION,
            id,
            status,
            pid,
            bundle,
            annotations: non_empty(annotations),
        }
    }
}

impl ContainerState {
    /// The pid clients are shown: 0 once stopped, as runc.
    fn shown_pid(&self, status: Status) -> i32 {
        if status == Status::Stopped {
            0
        } else {
            self.pid
        }
    }

    fn shown_annotations(&self) -> Option<&HashMap<String, String>> {
        non_empty(self.annotations.as_ref())
    }

    /// The state JSON for a hook.
    pub fn hook_state(&self, status: Status) -> String {
        let view = HookStateView::new(
            &self.id,
            status,
            self.shown_pid(status),
            &self.bundle,
            self.annotations.as_ref(),
        );
        serde_json::to_string(&view).unwrap_or_default()
    }

    /// Run the hooks of one kind from the persisted config, with the bundle
    /// as working directory; the first failure stops the list.
    pub fn run_hooks(
        &self,
        kind: &'static str,
        pick: impl Fn(&berth_spec::Hooks) -> &Option<Vec<berth_spec::Hook>>,
        status: Status,
    ) -> Result<(), berth_process::hooks::HookError> {
        let Some(list) = self.hooks.as_ref().and_then(|h| pick(h).as_ref()) else {
            return Ok(());
        };
        let state = self.hook_state(status);
        berth_process::hooks::run_hooks(kind, list, &state, Some(&self.bundle))
    }

    /// [`Self::run_hooks`] with the failure returned as a warning (poststop
    /// does not stop the lifecycle, as the spec says).
    pub fn run_hooks_as_warnings(
        &self,
        kind: &'static str,
        pick: impl Fn(&berth_spec::Hooks) -> &Option<Vec<berth_spec::Hook>>,
        status: Status,
    ) -> Vec<String> {
        self.run_hooks(kind, pick, status)
            .err()
            .map(|e| berth_process::error_chain(&e))
            .into_iter()
            .collect()
    }

    /// Is init alive and ours?
    pub fn init_alive(&self) -> bool {
        is_alive(self.pid, self.start_time)
    }

    /// The public view; a stopped container shows pid 0, as runc.
    pub fn view<'a>(&'a self, status: Status, owner: &'a str) -> StateView<'a> {
        StateView {
            oci_version: OCI_VERSION,
            id: &self.id,
            pid: self.shown_pid(status),
            status,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: self.shown_annotations(),
            owner,
        }
    }
}
