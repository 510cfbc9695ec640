//! The container plan: `config.json` read, checked and parsed once, before
//! anything is created (no state directory, no cgroup, no clone). Every
//! refusal of a config field is a [`ConfigError`] naming the field by its
//! JSON path.

use std::path::Path;

use berth_cgroups::{Cgroup, ResourcePlan};
use berth_process::{Namespaces, ProcessPlan, Seccomp, Sysctl};
use berth_rootfs::devices::{devices_to_create, DeviceNode};
use berth_rootfs::mountplan::ContainerUserns;
use berth_rootfs::{MountPlan, RootfsError};
use berth_spec::{Linux, LinuxResources, Process};

use crate::config::{load_bundle, Bundle};
use crate::process_attrs::InheritedAttrs;
use crate::state::HookStateView;
use crate::status::Status;
use crate::{ConfigError, ContainerError};
use berth_cgroups::resctrl::RdtGroup;

/// What `create` (and `run`) was asked for.
#[derive(Debug)]
pub struct CreateOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub console_socket: Option<&'a Path>,
    /// `--pidfd-socket`: gets a pidfd of init (runc 1.2+).
    pub pidfd_socket: Option<&'a Path>,
    pub pid_file: Option<&'a Path>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// `--preserve-fds` plus socket-activation fds (LISTEN_FDS).
    pub preserve_fds: u32,
    /// Socket-activation fds passed on (adds LISTEN_FDS/LISTEN_PID=1).
    pub listen_fds: u32,
    /// `run` in the foreground: the runtime itself will hold the terminal.
    pub foreground: bool,
    /// `--systemd-cgroup`: the container's cgroup is a systemd unit.
    pub cgroup_driver: berth_cgroups::Driver,
    /// runc's rootless cgroup manager (`--rootless`): see
    /// [`Cgroup::create_rootless`].
    pub rootless_cgroups: bool,
    /// Time the runtime's phases and init's steps (`--debug`).
    pub trace: bool,
}

/// What `create` will do, decided before it does anything.
pub(crate) struct ContainerPlan {
    pub bundle: Bundle,
    /// The seccomp program (the profile parsed once, here).
    pub seccomp: Option<Seccomp>,
    pub namespaces: Namespaces,
    /// The config's scheduling attributes, kept for `exec`.
    pub inherited: InheritedAttrs,
    /// Init's process: user, capabilities, rlimits, scheduling attributes.
    pub process: ProcessPlan,
    /// The config's mounts, parsed once (relative bind sources made
    /// absolute, the idmapping of each idmapped mount decided).
    pub mounts: MountPlan,
    /// The device nodes init makes (runc's defaults, then `linux.devices`).
    pub devices: Vec<DeviceNode>,
    /// `linux.sysctl`, in key order.
    pub sysctls: Vec<Sysctl>,
    /// `linux.rootfsPropagation` as flags (None: unset).
    pub root_propagation: Option<nix::mount::MsFlags>,
    pub rdt_group: Option<RdtGroup>,
    /// The cgroup, planned (nothing made yet).
    pub cgroup: Cgroup,
    /// `linux.resources` as enforced (runc's default device rules added).
    pub resources: ResourcePlan,
    /// What runc would log as warnings.
    pub warnings: Vec<String>,
}

/// Reads and checks the bundle of `opts` and plans the container; nothing
/// on the host changes.
pub(crate) fn plan(opts: &CreateOptions<'_>) -> Result<ContainerPlan, ContainerError> {
    let bundle = load_bundle(opts.bundle)?;
    let linux = linux(&bundle);
    let sysctls = check_config(linux)?;
    let inherited = InheritedAttrs::of_config(process(&bundle), linux);
    let init_process = crate::process_plan::plan_process(process(&bundle), &inherited)?;
    let root_propagation = berth_rootfs::root_propagation(&linux.rootfs_propagation, opts.no_pivot)
        .map_err(rootfs_refusal)?;
    let seccomp =
        crate::seccomp::build(linux.seccomp.as_ref(), || creating_state(&bundle, opts.id))?;
    let namespaces =
        Namespaces::from_spec(&linux.namespaces, &linux.uid_mappings, &linux.gid_mappings)?
            .with_time_offsets(&linux.time_offsets)?;
    let mounts = plan_mounts(&bundle, linux)?;
    let devices = devices_to_create(&linux.devices).map_err(rootfs_refusal)?;
    let rdt_group = crate::intel_rdt::plan(linux, opts.id)?;
    let cgroup = Cgroup::plan_for(
        opts.cgroup_driver,
        opts.rootless_cgroups,
        Some(&linux.cgroups_path),
        opts.id,
    )?;
    let mut warnings = check_existing_cgroup(&cgroup)?;
    let resources = ResourcePlan::from_spec(&effective_resources(linux))?;
    warnings.extend_from_slice(resources.ignored());
    Ok(ContainerPlan {
        bundle,
        seccomp,
        namespaces,
        inherited,
        process: init_process,
        mounts,
        devices,
        sysctls,
        root_propagation,
        rdt_group,
        cgroup,
        resources,
        warnings,
    })
}

/// Whether the planner takes `spec`, judged on the config alone (no
/// bundle, cgroup or resctrl mount looked at): `features` reports what
/// this accepts.
pub fn accepts(spec: &berth_spec::Spec) -> Result<(), ContainerError> {
    crate::config::validate(spec)?;
    if let Some(linux) = &spec.linux {
        check_config(linux)?;
        if let Some(process) = &spec.process {
            let inherited = InheritedAttrs::of_config(process, linux);
            crate::process_plan::plan_process(process, &inherited)?;
        }
        ResourcePlan::from_spec(&effective_resources(linux))?;
    }
    Ok(())
}

/// The refusals of `linux` fields that init would only meet after the
/// clone, or that would change the host; the sysctls, planned.
fn check_config(linux: &Linux) -> Result<Vec<Sysctl>, ConfigError> {
    check_namespace_paths(linux)?;
    crate::namespace_rules::check_id_mappings(linux)?;
    crate::namespace_rules::plan_sysctls(linux)
}

/// `linux.resources` as enforced: the device rules get runc's default
/// allow list appended (null, zero, tty, ptmx, pts...), as runc does.
fn effective_resources(linux: &Linux) -> LinuxResources {
    let mut resources = linux.resources.clone().unwrap_or_default();
    resources.devices = berth_cgroups::runc_device_rules(&resources.devices, &linux.devices);
    resources
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

/// The config's mounts parsed (the only parse of them); for a runtime that
/// is not root, every `uid=`/`gid=` option checked against the
/// container's maps, as runc does.
fn plan_mounts(bundle: &Bundle, linux: &Linux) -> Result<MountPlan, ContainerError> {
    let userns = container_userns(linux);
    let mounts = MountPlan::parse(&bundle.spec.mounts, &bundle.dir, userns);
    let mounts = mounts.map_err(rootfs_refusal)?;
    if !nix::unistd::geteuid().is_root() {
        mounts
            .check_rootless_ids(&linux.uid_mappings, &linux.gid_mappings)
            .map_err(rootfs_refusal)?;
    }
    Ok(mounts)
}

/// A rootfs refusal of a config field as a [`ConfigError`].
fn rootfs_refusal(e: RootfsError) -> ContainerError {
    match e {
        RootfsError::Config { field, reason } => ConfigError::new(field, reason).into(),
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

/// The state the creation hooks get; the runtime fills in init's pid.
pub(crate) fn creating_state(bundle: &Bundle, id: &str) -> serde_json::Value {
    let view = HookStateView::new(
        id,
        Status::Creating,
        0,
        &bundle.dir,
        bundle.spec.annotations.as_ref(),
    );
    serde_json::to_value(view).unwrap_or_default()
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
    fn a_mount_refusal_keeps_its_json_path() {
        let refused = RootfsError::Config {
            field: "mounts[2].source".into(),
            reason: "a bind mount needs a source".into(),
        };
        match rootfs_refusal(refused) {
            ContainerError::Invalid(e) => {
                assert_eq!(e.field, "mounts[2].source");
                assert_eq!(e.reason, "a bind mount needs a source");
            }
            other => panic!("not a config refusal: {other}"),
        }
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
}
