//! A container's process planned before the clone: `process` of
//! config.json (`create`, `run`) or exec's `process.json` read once into
//! the types init applies ([`ProcessPlan`]): capabilities, rlimits, user,
//! AppArmor profile and scheduling attributes. Every refusal is a
//! [`ConfigError`] naming the field; init only applies what it gets.

use std::collections::HashSet;

use berth_process::ProcessPlan;
use berth_security::{Capabilities, Capability, Rlimit, User};
use berth_spec::{LinuxCapabilities, PosixRlimit, PosixRlimitType, Process};
use nix::sys::resource::Resource;
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

use crate::process_attrs::InheritedAttrs;
use crate::{ConfigError, ContainerError};

/// `process` of a container's config: already validated with the rest of
/// the config (`config::validate`), planned here.
pub(crate) fn plan_process(
    process: &Process,
    inherited: &InheritedAttrs,
) -> Result<ProcessPlan, ContainerError> {
    check_oom_score_adj(process.oom_score_adj)?;
    Ok(ProcessPlan {
        terminal: process.terminal,
        console_size: process.console_size.map(|size| berth_process::WindowSize {
            // Checked to fit by `config::validate_process`.
            rows: u16::try_from(size.height).unwrap_or(u16::MAX),
            cols: u16::try_from(size.width).unwrap_or(u16::MAX),
        }),
        rlimits: rlimits(&process.rlimits)?,
        capabilities: capabilities(&process.capabilities)?,
        no_new_privileges: process.no_new_privileges,
        apparmor_profile: Some(process.apparmor_profile.clone()).filter(|p| !p.is_empty()),
        user: user(&process.user),
        cwd: process.cwd.clone(),
        args: process.args.clone(),
        env: environment(&process.env),
        attrs: inherited.for_process(process)?,
    })
}

/// exec's `process.json` (or its flags): the checks of a config's
/// `process`, then the same plan.
pub(crate) fn plan_exec_process(
    process: &Process,
    inherited: &InheritedAttrs,
) -> Result<ProcessPlan, ContainerError> {
    crate::config::validate_process(process)?;
    plan_process(process, inherited)
}

/// The five sets, each name the kernel's; an unknown one is refused with
/// its place (`process.capabilities.bounding[2]`).
fn capabilities(caps: &LinuxCapabilities) -> Result<Capabilities, ConfigError> {
    // In the order of `sets()`.
    let [bounding, effective, inheritable, permitted, ambient] =
        caps.sets().map(|(set, names)| capability_set(set, names));
    Ok(Capabilities {
        bounding: bounding?,
        effective: effective?,
        inheritable: inheritable?,
        permitted: permitted?,
        ambient: ambient?,
    })
}

fn capability_set(set: &str, names: &[String]) -> Result<HashSet<Capability>, ConfigError> {
    let parse = |(i, name): (usize, &String)| {
        berth_security::parse_capability(name).map_err(|e| {
            ConfigError::new(format!("process.capabilities.{set}[{i}]"), e.to_string())
        })
    };
    names.iter().enumerate().map(parse).collect()
}

/// `process.rlimits`, in order; a soft limit above its hard one is the
/// kernel's EINVAL, which init would only meet after the clone (runc's
/// words: `error setting rlimit type 7: invalid argument`).
fn rlimits(limits: &[PosixRlimit]) -> Result<Vec<Rlimit>, ConfigError> {
    let plan = |(i, limit): (usize, &PosixRlimit)| {
        Rlimit::new(resource_of(limit.typ), limit.soft, limit.hard).map_err(|e| {
            ConfigError::new(
                format!("process.rlimits[{i}]"),
                berth_process::error_chain(&e),
            )
        })
    };
    limits.iter().enumerate().map(plan).collect()
}

/// The kernel resource of a spec rlimit type.
fn resource_of(kind: PosixRlimitType) -> Resource {
    use PosixRlimitType as T;
    match kind {
        T::Cpu => Resource::RLIMIT_CPU,
        T::Fsize => Resource::RLIMIT_FSIZE,
        T::Data => Resource::RLIMIT_DATA,
        T::Stack => Resource::RLIMIT_STACK,
        T::Core => Resource::RLIMIT_CORE,
        T::Rss => Resource::RLIMIT_RSS,
        T::Nproc => Resource::RLIMIT_NPROC,
        T::Nofile => Resource::RLIMIT_NOFILE,
        T::Memlock => Resource::RLIMIT_MEMLOCK,
        T::As => Resource::RLIMIT_AS,
        T::Locks => Resource::RLIMIT_LOCKS,
        T::Sigpending => Resource::RLIMIT_SIGPENDING,
        T::Msgqueue => Resource::RLIMIT_MSGQUEUE,
        T::Nice => Resource::RLIMIT_NICE,
        T::Rtprio => Resource::RLIMIT_RTPRIO,
        T::Rttime => Resource::RLIMIT_RTTIME,
    }
}

/// `process.user`; without a umask runc's 0022.
fn user(user: &berth_spec::User) -> User {
    User {
        uid: Uid::from_raw(user.uid),
        gid: Gid::from_raw(user.gid),
        additional_gids: user
            .additional_gids
            .iter()
            .map(|g| Gid::from_raw(*g))
            .collect(),
        umask: Mode::from_bits_truncate(user.umask.unwrap_or(0o022) as _),
    }
}

/// `process.env` with one entry per variable, as runc passes it on: a
/// variable set twice keeps its first place and its last value.
fn environment(env: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(env.len());
    for entry in env {
        set_variable(&mut out, entry.clone());
    }
    out
}

/// Sets `entry` (`KEY=value`) in `env`: replaces the variable's entry, or
/// appends it.
pub(crate) fn set_variable(env: &mut Vec<String>, entry: String) {
    let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
    let name = key(&entry);
    match env.iter_mut().find(|e| key(e) == name) {
        Some(slot) => *slot = entry,
        None => env.push(entry),
    }
}

/// An `oomScoreAdj` the kernel refuses, which init would only meet after
/// the clone.
fn check_oom_score_adj(adj: Option<i32>) -> Result<(), ConfigError> {
    match adj {
        Some(adj) if !(-1000..=1000).contains(&adj) => Err(ConfigError::new(
            "process.oomScoreAdj",
            format!("{adj} is outside the kernel's range -1000..1000"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: serde_json::Value) -> Process {
        let mut v = serde_json::json!({"args": ["sh"], "cwd": "/"});
        v.as_object_mut()
            .unwrap()
            .extend(json.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    fn refusal(json: serde_json::Value) -> ConfigError {
        match plan_process(&process(json), &InheritedAttrs::default()) {
            Err(ContainerError::Invalid(e)) => e,
            other => panic!("not a config error: {other:?}"),
        }
    }

    #[test]
    fn limits_init_would_refuse_are_refused_here() {
        let err = refusal(serde_json::json!({
            "rlimits": [{"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
                        {"type": "RLIMIT_NOFILE", "hard": 10, "soft": 20}]
        }));
        assert_eq!(err.field, "process.rlimits[1]");
        assert_eq!(err.reason, "error setting rlimit type 7: invalid argument");
        let err = refusal(serde_json::json!({"oomScoreAdj": 1001}));
        assert_eq!(err.field, "process.oomScoreAdj");
        let ok = process(serde_json::json!({"oomScoreAdj": -1000}));
        plan_process(&ok, &InheritedAttrs::default()).unwrap();
    }

    #[test]
    fn each_variable_once_in_its_first_place_with_its_last_value() {
        let env = |v: &[&str]| environment(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(env(&["A=1", "B=2", "A=3"]), ["A=3", "B=2"]);
        assert_eq!(env(&["A=", "A=x=y"]), ["A=x=y"]);
        assert_eq!(env(&["AB=1", "A=2"]), ["AB=1", "A=2"]);
    }

    #[test]
    fn an_unknown_capability_is_refused_at_its_place() {
        let err = refusal(serde_json::json!({"capabilities": {
            "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_BOGUS"],
        }}));
        assert_eq!(err.field, "process.capabilities.bounding[2]");
        assert_eq!(
            err.reason,
            "capability CAP_BOGUS is not known to this runtime"
        );
        let err = refusal(serde_json::json!({"capabilities": {"ambient": ["CAP_NOPE"]}}));
        assert_eq!(err.field, "process.capabilities.ambient[0]");
    }

    #[test]
    fn the_process_is_planned_in_the_kernels_types() {
        let p = process(serde_json::json!({
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_SYS_ADMIN"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 5}],
            "user": {"uid": 1000, "gid": 100, "additionalGids": [5]},
            "apparmorProfile": ""
        }));
        let plan = plan_process(&p, &InheritedAttrs::default()).unwrap();
        assert!(plan.capabilities.bounding.contains(&Capability::CAP_KILL));
        assert_eq!(plan.capabilities.bounding.len(), 1);
        assert!(berth_security::keeps_sys_admin(&plan.capabilities));
        assert!(plan.capabilities.ambient.is_empty());
        assert_eq!(
            plan.rlimits,
            vec![Rlimit::new(Resource::RLIMIT_NOFILE, 5, 10).unwrap()]
        );
        assert_eq!(plan.user.uid, Uid::from_raw(1000));
        assert_eq!(plan.user.additional_gids, vec![Gid::from_raw(5)]);
        assert_eq!(plan.user.umask, Mode::from_bits_truncate(0o022));
        assert_eq!(plan.apparmor_profile, None);
    }

    #[test]
    fn rlimit_types_map_to_kernel_numbers() {
        assert_eq!(resource_of(PosixRlimitType::Nofile) as i32, 7);
        assert_eq!(resource_of(PosixRlimitType::Nproc) as i32, 6);
        assert_eq!(resource_of(PosixRlimitType::Cpu) as i32, 0);
    }
}
