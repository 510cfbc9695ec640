//! What berth remembers of a container, and what `state`/`list` show.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::liveness::is_alive;
use crate::status::Status;

/// The OCI runtime-spec version berth implements (state's `ociVersion`).
pub const OCI_VERSION: &str = "1.2.0";

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
    /// The container has its own pid namespace (killing init kills all).
    pub own_pid_namespace: bool,
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

impl ContainerState {
    /// Is init alive and ours?
    pub fn init_alive(&self) -> bool {
        is_alive(self.pid, self.start_time)
    }

    /// The public view; a stopped container shows pid 0, as runc.
    pub fn view<'a>(&'a self, status: Status, owner: &'a str) -> StateView<'a> {
        StateView {
            oci_version: OCI_VERSION,
            id: &self.id,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: self.annotations.as_ref().filter(|a| !a.is_empty()),
            owner,
        }
    }
}
