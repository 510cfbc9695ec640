//! The container's seccomp filter, built in the runtime for its init
//! (`create`, from the bundle) and for every `exec` (from the profile kept
//! in state.json, as runc keeps its config), before anything is spawned.

use std::path::PathBuf;

use berth_process::{Seccomp, SeccompAgent};
use berth_security::seccomp::{Profile, SeccompError};
use berth_spec::LinuxSeccomp;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::{ConfigError, ContainerError};

/// A profile field libseccomp or the kernel cannot take is a
/// [`ConfigError`] naming it; a failure of the library itself is not.
fn refused(e: SeccompError) -> ContainerError {
    match e {
        SeccompError::Profile { field, problem } => ConfigError::new(field, problem).into(),
        other => ContainerError::Config(other.to_string()),
    }
}

/// The filter of `spec` (none when the profile asks for none) and, with
/// `SCMP_ACT_NOTIFY` rules, its agent, which will be told `state`.
pub(crate) fn build(
    spec: Option<&LinuxSeccomp>,
    state: impl FnOnce() -> Value,
) -> Result<Option<Seccomp>, ContainerError> {
    let Some(spec) = spec else { return Ok(None) };
    let Some(profile) = Profile::from_spec(spec).map_err(refused)? else {
        return Ok(None);
    };
    let filter = profile.build().map_err(refused)?;
    let agent = profile.uses_notify().then(|| SeccompAgent {
        listener_path: PathBuf::from(&spec.listener_path),
        metadata: spec.listener_metadata.clone(),
        state: state(),
    });
    Ok(Some(Seccomp { filter, agent }))
}

/// The profile as state.json keeps it: raw JSON, so that `state` and
/// `list` only skip over it.
pub(crate) fn to_raw(spec: Option<&LinuxSeccomp>) -> Option<Box<RawValue>> {
    spec.and_then(|s| serde_json::value::to_raw_value(s).ok())
}

/// The profile kept in state.json.
pub(crate) fn from_raw(raw: Option<&RawValue>) -> Result<Option<LinuxSeccomp>, ContainerError> {
    raw.map(|raw| serde_json::from_str(raw.get()))
        .transpose()
        .map_err(|e| ContainerError::Config(format!("state.json: linux.seccomp: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: Value) -> LinuxSeccomp {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_profile_survives_state_json() {
        let s = spec(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"}
        ]}));
        let raw = to_raw(Some(&s));
        assert_eq!(from_raw(raw.as_deref()).unwrap(), Some(s));
        assert_eq!(from_raw(None).unwrap(), None);
    }

    #[test]
    fn an_agent_only_with_notify_rules() {
        let plain = spec(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a.sock"}));
        let built = build(Some(&plain), || json!({})).unwrap().unwrap();
        assert!(built.agent.is_none());
        let notify = spec(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a.sock",
            "listenerMetadata": "m",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
        );
        let built = build(Some(&notify), || json!({"id": "c"}))
            .unwrap()
            .unwrap();
        let agent = built.agent.unwrap();
        assert_eq!(agent.listener_path, PathBuf::from("/a.sock"));
        assert_eq!(
            (agent.metadata.as_str(), &agent.state),
            ("m", &json!({"id": "c"}))
        );
        let none = spec(json!({"defaultAction": ""}));
        assert!(build(Some(&none), || json!({})).unwrap().is_none());
    }
}
