//! The container's status and the table of what each status allows.

use serde::{Deserialize, Serialize};

use crate::ContainerError;

/// A container's status as `state` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a command wants to do to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Start,
    Kill,
    /// `delete` without `--force`.
    Delete,
    /// `delete --force`.
    ForceDelete,
    Pause,
    Resume,
    /// `update` of resources.
    Update,
    /// `events`: statistics of the cgroup.
    Events,
}

/// May `op` act on a container in `status`? The refusals are runc's texts.
pub fn check(status: Status, op: Operation, id: &str) -> Result<(), ContainerError> {
    use Operation as O;
    use Status as S;
    let refuse = |msg: String| Err(ContainerError::State(msg));
    match (op, status) {
        (O::Start, S::Created) => Ok(()),
        (O::Start, S::Stopped) => refuse("cannot start a container that has stopped".into()),
        (O::Start, S::Running) => refuse("cannot start an already running container".into()),
        (O::Start, s) => refuse(format!("cannot start a container in the {s} state")),
        (O::Kill, S::Stopped) => refuse("container not running".into()),
        (O::Kill, _) => Ok(()),
        (O::Delete, S::Stopped | S::Created) | (O::ForceDelete, _) => Ok(()),
        (O::Delete, s) => refuse(format!(
            "cannot delete container {id} that is not stopped: {s}"
        )),
        (O::Pause, S::Running | S::Created) => Ok(()),
        (O::Pause, _) => refuse("container not running".into()),
        (O::Update, S::Stopped) => refuse("container not running".into()),
        (O::Update, _) => Ok(()),
        (O::Events, S::Stopped) => refuse(format!("container with id {id} is not running")),
        (O::Events, _) => Ok(()),
        (O::Resume, S::Paused) => Ok(()),
        (O::Resume, _) => refuse("container not paused".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Operation as O;
    use Status as S;

    #[test]
    fn start_only_from_created() {
        assert!(check(S::Created, O::Start, "c").is_ok());
        for s in [S::Running, S::Paused, S::Stopped, S::Creating] {
            assert!(check(s, O::Start, "c").is_err(), "{s}");
        }
    }

    #[test]
    fn kill_refuses_only_stopped_containers() {
        assert_eq!(
            check(S::Stopped, O::Kill, "c").unwrap_err().to_string(),
            "container not running"
        );
        assert!(check(S::Created, O::Kill, "c").is_ok());
        assert!(check(S::Running, O::Kill, "c").is_ok());
    }

    #[test]
    fn delete_needs_force_for_live_containers() {
        assert!(check(S::Stopped, O::Delete, "c").is_ok());
        assert!(check(S::Created, O::Delete, "c").is_ok());
        let err = check(S::Running, O::Delete, "c1").unwrap_err().to_string();
        assert_eq!(
            err,
            "cannot delete container c1 that is not stopped: running"
        );
        assert!(check(S::Running, O::ForceDelete, "c").is_ok());
        assert!(check(S::Paused, O::ForceDelete, "c").is_ok());
    }

    #[test]
    fn pause_and_resume_follow_runc() {
        assert!(check(S::Running, O::Pause, "c").is_ok());
        assert!(check(S::Created, O::Pause, "c").is_ok());
        assert!(check(S::Paused, O::Resume, "c").is_ok());
        let err = check(S::Paused, O::Pause, "c").unwrap_err().to_string();
        assert_eq!(err, "container not running");
        assert!(check(S::Stopped, O::Pause, "c").is_err());
        assert!(check(S::Stopped, O::Update, "c").is_err());
        assert!(check(S::Paused, O::Update, "c").is_ok());
        assert!(check(S::Running, O::Resume, "c").is_err());
    }
}
