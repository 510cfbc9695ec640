//! The container plan: `config.json` read, checked and parsed once, before
//! anything is created (no state directory, no cgroup, no clone). Every
//! refusal of a config field is a [`ConfigError`] naming the field by its
//! JSON path.

use berth_cgroups::Cgroup;
use berth_process::{Namespaces, Seccomp};
use berth_rootfs::idmap::{ContainerUserns, IdmapRequest};
use berth_rootfs::RootfsError;
use berth_security::attrs::ProcessAttrs;
use berth_spec::{Linux, Process};

use crate::config::{load_bundle, Bundle};
use crate::create::{creating_state, CreateOptions};
use crate::process_attrs::InheritedAttrs;
use crate::ContainerError;
use berth_cgroups::resctrl::RdtGroup;

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

/// What `create` will do, decided before it does anything.
pub(crate) struct ContainerPlan {
    pub bundle: Bundle,
    /// The seccomp program (the profile parsed once, here).
    pub seccomp: Option<Seccomp>,
    pub namespaces: Namespaces,
    /// The config's scheduling attributes, kept for `exec`.
    pub inherited: InheritedAttrs,
    /// Init's scheduling attributes.
    pub attrs: ProcessAttrs,
    /// The spec mounts, relative bind sources made absolute.
    pub mounts: Vec<berth_spec::Mount>,
    /// The idmapped mounts among them.
    pub idmapped: Vec<IdmapRequest>,
    pub rdt_group: Option<RdtGroup>,
    /// The cgroup, planned (nothing made yet).
    pub cgroup: Cgroup,
    /// What runc would log as warnings.
    pub warnings: Vec<String>,
}

/// Reads and checks the bundle of `opts` and plans the container; nothing
/// on the host changes.
pub(crate) fn plan(opts: &CreateOptions<'_>) -> Result<ContainerPlan, ContainerError> {
    let bundle = load_bundle(opts.bundle)?;
    let linux = linux(&bundle);
    let process = process(&bundle);
    check_process_limits(process)?;
    check_namespace_paths(linux)?;
    berth_rootfs::root_propagation(&linux.rootfs_propagation, opts.no_pivot)
        .map_err(rootfs_refusal)?;
    let seccomp =
        crate::seccomp::build(linux.seccomp.as_ref(), || creating_state(&bundle, opts.id))?;
    let namespaces =
        Namespaces::from_spec(&linux.namespaces, &linux.uid_mappings, &linux.gid_mappings)?
            .with_time_offsets(&linux.time_offsets)?;
    let inherited = InheritedAttrs::of_config(process, linux);
    let attrs = inherited.for_process(process)?;
    let mut mounts = bundle.spec.mounts.clone();
    berth_rootfs::absolutize_bind_sources(&mut mounts, &bundle.dir);
    let idmapped =
        berth_rootfs::idmap::requests(&mounts, container_userns(linux)).map_err(rootfs_refusal)?;
    let rdt_group = crate::intel_rdt::plan(linux, opts.id)?;
    let cgroup = Cgroup::plan_for(
        opts.cgroup_driver,
        opts.rootless_cgroups,
        Some(&linux.cgroups_path),
        opts.id,
    )?;
    let mut warnings = check_existing_cgroup(&cgroup)?;
    if let Some(resources) = &linux.resources {
        warnings.extend(berth_cgroups::ignored_settings(resources));
    }
    Ok(ContainerPlan {
        bundle,
        seccomp,
        namespaces,
        inherited,
        attrs,
        mounts,
        idmapped,
        rdt_group,
        cgroup,
        warnings,
    })
}

/// The checks of a process (`process` of config.json, or exec's
/// process.json), all before the clone.
pub(crate) fn check_process(process: &Process) -> Result<(), ContainerError> {
    crate::config::validate_process(process)?;
    Ok(check_process_limits(process)?)
}

/// What init would only find out after the clone: a soft rlimit above its
/// hard one (the kernel's EINVAL) and an `oomScoreAdj` the kernel refuses.
fn check_process_limits(process: &Process) -> Result<(), ConfigError> {
    berth_security::check_rlimits(&process.rlimits).map_err(|(i, e)| {
        ConfigError::new(
            format!("process.rlimits[{i}]"),
            berth_process::error_chain(&e),
        )
    })?;
    match process.oom_score_adj {
        Some(adj) if !(-1000..=1000).contains(&adj) => Err(ConfigError::new(
            "process.oomScoreAdj",
            format!("{adj} is outside the kernel's range -1000..1000"),
        )),
        _ => Ok(()),
    }
}

/// Every namespace to join exists, as runc checks before its clone (init
/// would find out after it), in runc's words.
fn check_namespace_paths(linux: &Linux) -> Result<(), ConfigError> {
    let paths = linux.namespaces.iter().enumerate();
    for (i, path) in paths.filter_map(|(i, ns)| Some((i, ns.path.as_ref()?))) {
        if path.as_os_str().is_empty() {
            continue;
        }
        if let Err(e) = std::fs::symlink_metadata(path) {
            return Err(ConfigError::new(
                format!("linux.namespaces[{i}].path"),
                format!(
                    "namespace path: lstat {}: {}",
                    path.display(),
                    berth_process::go_strerror_of(&e)
                ),
            ));
        }
    }
    Ok(())
}

/// A rootfs refusal of a config field as a [`ConfigError`].
fn rootfs_refusal(e: RootfsError) -> ContainerError {
    match e {
        RootfsError::IdmapConfig { index, reason } => {
            ConfigError::new(format!("mounts[{index}]"), reason).into()
        }
        RootfsError::InvalidValue {
            field,
            value,
            reason,
        } => ConfigError::new(field, format!("{value:?} is not supported: {reason}")).into(),
        other => ContainerError::Process(other.into()),
    }
}

/// runc's checks of a cgroup that exists before the container: processes
/// in it are a warning; a frozen one is refused (init would freeze in it).
/// Done before anything is created, so a refusal leaves the cgroup alone.
fn check_existing_cgroup(cgroup: &Cgroup) -> Result<Vec<String>, ContainerError> {
    let found = cgroup.processes()?.len();
    if cgroup.is_frozen()? {
        return Err(ContainerError::Config(
            "container's cgroup unexpectedly frozen".into(),
        ));
    }
    Ok(match found {
        0 => Vec::new(),
        n => vec![format!(
            "container's cgroup is not empty: {n} process(es) found"
        )],
    })
}

/// The container's user namespace, whose mapping an `idmap` mount without
/// its own gets (runc 1.2).
fn container_userns(linux: &Linux) -> ContainerUserns<'_> {
    let user = linux
        .namespaces
        .iter()
        .find(|ns| ns.typ == berth_spec::LinuxNamespaceType::User);
    match user.map(|ns| ns.path.as_deref()) {
        None => ContainerUserns::None,
        Some(Some(path)) => ContainerUserns::Path(path),
        Some(None) => ContainerUserns::New {
            uid: &linux.uid_mappings,
            gid: &linux.gid_mappings,
        },
    }
}

pub(crate) fn process(bundle: &Bundle) -> &Process {
    bundle.spec.process.as_ref().expect("validated")
}

pub(crate) fn linux(bundle: &Bundle) -> &Linux {
    bundle.spec.linux.as_ref().expect("validated")
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_process::{InitFailure, ProcessError};

    #[test]
    fn a_config_error_prints_field_then_reason() {
        let e = ContainerError::from(ConfigError::new("mounts[3].options", "no such option"));
        assert_eq!(e.to_string(), "mounts[3].options: no such option");
        assert_eq!(e.errno(), 0);
    }

    #[test]
    fn init_errno_reaches_the_runtime_error_and_the_text_stays() {
        let failure = InitFailure {
            step: "write oom_score_adj".into(),
            errno: nix::errno::Errno::EACCES as i32,
            message: "write oom_score_adj: permission denied".into(),
            steps: Vec::new(),
        };
        let e = ContainerError::Process(ProcessError::Init(failure));
        assert_eq!(e.errno(), nix::errno::Errno::EACCES as i32);
        assert_eq!(
            e.to_string(),
            "unable to start container process: write oom_score_adj: permission denied"
        );
    }

    #[test]
    fn limits_init_would_refuse_are_refused_here() {
        let mut process: Process = serde_json::from_value(serde_json::json!({
            "args": ["sh"], "cwd": "/",
            "rlimits": [{"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
                        {"type": "RLIMIT_NOFILE", "hard": 10, "soft": 20}]
        }))
        .unwrap();
        let err = check_process_limits(&process).unwrap_err();
        assert_eq!(err.field, "process.rlimits[1]");
        assert_eq!(err.reason, "error setting rlimit type 7: invalid argument");
        process.rlimits.clear();
        process.oom_score_adj = Some(1001);
        assert_eq!(
            check_process_limits(&process).unwrap_err().field,
            "process.oomScoreAdj"
        );
        process.oom_score_adj = Some(-1000);
        check_process_limits(&process).unwrap();
    }
}
