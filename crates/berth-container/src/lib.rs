//! Containers: ids, the status transition table, state on disk, config
//! validation and the lifecycle operations (one module each).

pub mod config;
mod config_error;
mod create;
mod delete;
mod events;
mod exec;
mod freeze;
pub mod id;
mod intel_rdt;
mod kill;
pub mod liveness;
mod namespace_rules;
mod plan;
mod process_attrs;
mod process_plan;
mod query;
mod seccomp;
pub mod signal;
mod start;
pub mod state;
pub mod status;
pub mod store;
pub mod timefmt;

use std::path::PathBuf;

pub use berth_cgroups::Driver as CgroupDriver;
pub use config_error::ConfigError;
pub use create::{create, Created};
pub use delete::delete;
pub use events::{stats, watch, Event};
pub use exec::{exec, ExecOptions, Execed};
pub use freeze::{pause, processes, resume, update};
pub use intel_rdt::update_schemata;
pub use kill::kill;
pub use plan::{accepts, CreateOptions};
pub use process_attrs::InheritedAttrs;
pub use query::{list, load, status_of, Listed, Loaded};
pub use start::start;
pub use state::{ContainerState, StateView, OCI_VERSION};
pub use status::{Operation, Status};
pub use store::Store;

/// Annotations (or, ending in ".", prefixes) whose value changes what berth
/// does with a container: `features` lists them as
/// `potentiallyUnsafeConfigAnnotations`. berth reads none today (runc
/// reads `bundle`, `org.systemd.property.` and `org.criu.config`); a
/// module that starts interpreting one adds it here.
pub const INTERPRETED_ANNOTATIONS: &[&str] = &[];

/// Errors of container operations. Texts follow runc where clients match
/// on them ("does not exist", "container not running", ...).
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("container id cannot be empty")]
    EmptyId,
    #[error("invalid container ID format")]
    InvalidId,
    #[error("container with given ID already exists")]
    Exists(String),
    #[error("container does not exist")]
    NotExist,
    #[error("{0}")]
    State(String),
    #[error("{0}")]
    Config(String),
    /// A config field refused before anything was created.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(transparent)]
    Process(#[from] berth_process::ProcessError),
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::CgroupError),
}

impl ContainerError {
    /// The errno at the root of the failure (0: none), init's included, for
    /// the log line; the message text does not change.
    pub fn errno(&self) -> i32 {
        match self {
            ContainerError::Process(e) => e.errno(),
            ContainerError::Io { source, .. } => source.raw_os_error().unwrap_or(0),
            ContainerError::Cgroup(e) => berth_process::root_errno(e),
            _ => 0,
        }
    }
}
