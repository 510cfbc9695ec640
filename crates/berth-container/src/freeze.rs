//! What acts on a live container's cgroup: `pause`, `resume` (the
//! freezer), `update` (resources) and the processes `ps` shows.

use crate::query::load;
use crate::status::{check, Operation};
use crate::store::Store;
use crate::ContainerError;

pub fn pause(store: &Store, id: &str) -> Result<(), ContainerError> {
    let loaded = load(store, id, true)?;
    check(loaded.status, Operation::Pause, id)?;
    Ok(loaded.state.cgroup.freeze()?)
}

pub fn resume(store: &Store, id: &str) -> Result<(), ContainerError> {
    let loaded = load(store, id, true)?;
    check(loaded.status, Operation::Resume, id)?;
    Ok(loaded.state.cgroup.thaw()?)
}

/// Host pids of every process in the container's cgroup (none once it is
/// stopped and its cgroup is empty).
pub fn processes(store: &Store, id: &str) -> Result<Vec<i32>, ContainerError> {
    let loaded = load(store, id, false)?;
    Ok(loaded.state.cgroup.processes()?)
}

/// Apply new resources (from `update`'s flags or JSON), planned as
/// `create` plans `linux.resources`; zero values leave a setting unchanged.
/// Returns a warning for each field ignored (`memory.kernel`, `kernelTCP`).
pub fn update(
    store: &Store,
    id: &str,
    resources: &berth_spec::LinuxResources,
) -> Result<Vec<String>, ContainerError> {
    let loaded = load(store, id, true)?;
    check(loaded.status, Operation::Update, id)?;
    let plan = berth_cgroups::ResourcePlan::from_spec(resources)?;
    loaded.state.cgroup.apply_resources(&plan)?;
    Ok(plan.ignored().to_vec())
}
