//! `delete`: remove a stopped (or created) container; with `--force`, kill
//! a live one first.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::query::{load, Loaded};
use crate::state::ContainerState;
use crate::status::{check, Operation, Status};
use crate::store::Store;
use crate::ContainerError;

/// How long a SIGKILLed container may take to die before delete gives up.
const DEATH_TIMEOUT: Duration = Duration::from_secs(10);

/// Delete container `id`; poststop hook failures come back as warnings.
pub fn delete(store: &Store, id: &str, force: bool) -> Result<Vec<String>, ContainerError> {
    let loaded = match load(store, id, true) {
        Err(ContainerError::NotExist) if force => {
            return store.remove_unfinished(id).map(|()| Vec::new())
        }
        other => other?,
    };
    let op = if force {
        Operation::ForceDelete
    } else {
        Operation::Delete
    };
    check(loaded.status, op, id)?;
    if loaded.status != Status::Stopped {
        kill_and_wait(&loaded)?;
    }
    destroy(loaded)
}

fn kill_and_wait(loaded: &Loaded) -> Result<(), ContainerError> {
    let state = &loaded.state;
    if loaded.status == Status::Paused {
        state.cgroup.thaw()?;
    }
    let _ = nix::sys::signal::kill(Pid::from_raw(state.pid), Signal::SIGKILL);
    wait_for_death(state)
}

fn wait_for_death(state: &ContainerState) -> Result<(), ContainerError> {
    let deadline = Instant::now() + DEATH_TIMEOUT;
    while state.init_alive() {
        if Instant::now() > deadline {
            return Err(ContainerError::State(format!(
                "container init (pid {}) did not die within {}s of SIGKILL",
                state.pid,
                DEATH_TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Remove what the container left: stray processes (no new pid
/// namespace), the cgroup, the resctrl group, its mounts in the host's
/// table (no own mount namespace); run the poststop hooks; remove the state
/// directory. A cgroup that others' processes keep busy stays, with a
/// warning (runc).
fn destroy(loaded: Loaded) -> Result<Vec<String>, ContainerError> {
    let state = &loaded.state;
    let cgroup = &state.cgroup;
    let mut warnings = Vec::new();
    if !state.new_pid_ns && !cgroup.processes().unwrap_or_default().is_empty() {
        let _ = cgroup.kill_all(Signal::SIGKILL as i32);
    }
    if let Err(e) = cgroup.destroy() {
        if !state.new_pid_ns || cgroup.processes().unwrap_or_default().is_empty() {
            return Err(e.into());
        }
        warnings.push(format!(
            "container's cgroup still has processes, left in place: {}",
            berth_process::error_chain(&e)
        ));
    }
    if let Some(group) = &state.intel_rdt {
        group.destroy()?;
    }
    if let Some(keep) = state.host_rootfs_mounts {
        berth_rootfs::detach_mounts_above(&state.rootfs, keep)
            .map_err(berth_process::ProcessError::from)?;
    }
    warnings.extend(state.run_hooks_as_warnings("poststop", |h| &h.poststop, Status::Stopped));
    loaded.dir.remove()?;
    Ok(warnings)
}
