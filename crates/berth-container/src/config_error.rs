//! The refusal of one config field, named by its JSON path: what the
//! planner and the checks it calls return.

/// A config field berth refuses: `field` is its JSON path
/// (`mounts[3].options`, `linux.namespaces[2].type`,
/// `process.scheduler.policy`), `reason` says why, in runc's words where
/// runc has them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
