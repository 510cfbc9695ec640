//! `linux.intelRdt`: checked before anything is created (runc's words),
//! the resctrl group made and init put in it once init exists, exec'd
//! processes added, the group removed on delete (berth-cgroups' resctrl).

use berth_cgroups::resctrl::{RdtGroup, Resctrl};
use berth_spec::{Linux, LinuxIntelRdt};

use crate::{ConfigError, ContainerError};

/// A refused config field (its JSON path) and why.
fn refuse(field: &str, reason: impl Into<String>) -> ContainerError {
    ConfigError::new(field, reason).into()
}

fn invalid(msg: impl Into<String>) -> ContainerError {
    ContainerError::Config(msg.into())
}

/// What can be checked without the host (runc's validator).
pub(crate) fn validate(rdt: &LinuxIntelRdt) -> Result<(), ContainerError> {
    let clos = rdt.clos_id.as_str();
    if clos == "." || clos == ".." || (clos.len() > 1 && clos.contains('/')) {
        return Err(refuse(
            "linux.intelRdt.closID",
            format!("invalid intelRdt.ClosID {clos:?}"),
        ));
    }
    for (field, value) in [("enableCMT", rdt.enable_cmt), ("enableMBM", rdt.enable_mbm)] {
        if value == Some(true) {
            return Err(refuse(
                &format!("linux.intelRdt.{field}"),
                "not supported by berth (runtime-spec 1.3 replaced it with enableMonitoring)",
            ));
        }
    }
    Ok(())
}

/// The group container `id` will get, checked against this host's resctrl;
/// None without `linux.intelRdt`.
pub(crate) fn plan(linux: &Linux, id: &str) -> Result<Option<RdtGroup>, ContainerError> {
    let Some(rdt) = &linux.intel_rdt else {
        return Ok(None);
    };
    let resctrl = Resctrl::find().ok_or_else(|| {
        refuse("linux.intelRdt","intelRdt is specified in config, but Intel RDT is not enabled (no resctrl filesystem is mounted)")
    })?;
    Ok(Some(resctrl.plan(rdt, id)?))
}

/// Makes the group and puts init (`pid`) in it.
pub(crate) fn apply(
    group: Option<&mut RdtGroup>,
    linux: &Linux,
    pid: i32,
) -> Result<(), ContainerError> {
    match (group, &linux.intel_rdt) {
        (Some(group), Some(rdt)) => Ok(group.apply(rdt, pid)?),
        _ => Ok(()),
    }
}

/// `update --l3-cache-schema/--mem-bw-schema`: new schemata for the
/// container's group, checked against the hardware in runc's words.
pub fn update_schemata(
    store: &crate::Store,
    id: &str,
    l3_cache_schema: &str,
    mem_bw_schema: &str,
) -> Result<(), ContainerError> {
    let resctrl = Resctrl::find();
    let cat = resctrl.as_ref().is_some_and(Resctrl::cat_enabled);
    let mba = resctrl.as_ref().is_some_and(Resctrl::mba_enabled);
    if !l3_cache_schema.is_empty() && !cat {
        return Err(invalid("Intel RDT/CAT: l3 cache schema is not enabled"));
    }
    if !mem_bw_schema.is_empty() && !mba {
        return Err(invalid(
            "Intel RDT/MBA: memory bandwidth schema is not enabled",
        ));
    }
    let loaded = crate::query::load(store, id, true)?;
    crate::status::check(loaded.status, crate::status::Operation::Update, id)?;
    let group = loaded.state.intel_rdt.as_ref().ok_or_else(|| {
        invalid(format!(
            "--l3-cache-schema/--mem-bw-schema: container {id} has no linux.intelRdt group"
        ))
    })?;
    let rdt = LinuxIntelRdt {
        l3_cache_schema: l3_cache_schema.to_string(),
        mem_bw_schema: mem_bw_schema.to_string(),
        ..LinuxIntelRdt::default()
    };
    Ok(group.write_schemata(&berth_cgroups::resctrl::schemata_text(&rdt))?)
}
