//! Loading a container with its live status, and listing them all.

use crate::state::ContainerState;
use crate::status::Status;
use crate::store::{ContainerDir, Store};
use crate::ContainerError;

/// A container's persisted state, its directory and its status now.
#[derive(Debug)]
pub struct Loaded {
    pub dir: ContainerDir,
    pub state: ContainerState,
    pub status: Status,
}

/// The status of a container right now: init dead (or not cloned yet) →
/// stopped; `create` not finished → creating; exec.fifo still there →
/// created; cgroup frozen → paused; else running.
pub fn status_of(dir: &ContainerDir, state: &ContainerState) -> Status {
    if !state.init_alive() {
        Status::Stopped
    } else if state.creating {
        Status::Creating
    } else if dir.fifo_path().exists() {
        Status::Created
    } else if state.cgroup.is_frozen().unwrap_or(false) {
        Status::Paused
    } else {
        Status::Running
    }
}

/// Load container `id`, optionally taking its lock first.
pub fn load(store: &Store, id: &str, lock: bool) -> Result<Loaded, ContainerError> {
    crate::id::validate_id(id).map_err(|_| ContainerError::NotExist)?;
    let mut dir = store.open(id)?;
    if lock {
        dir.lock()?;
    }
    let state = dir.load()?;
    let status = status_of(&dir, &state);
    Ok(Loaded { dir, state, status })
}

/// One row of `list`.
#[derive(Debug)]
pub struct Listed {
    pub state: ContainerState,
    pub status: Status,
    /// The owner of the container's state directory, by name.
    pub owner: String,
}

/// Every container under the root, sorted by id.
pub fn list(store: &Store) -> Result<Vec<Listed>, ContainerError> {
    let mut rows = Vec::new();
    let mut owners = Owners::default();
    for id in store.ids()? {
        let loaded = match load(store, &id, false) {
            Ok(l) => l,
            Err(ContainerError::NotExist) => continue,
            Err(e) => return Err(e),
        };
        let owner = owners.name_of(loaded.dir.path());
        rows.push(Listed {
            state: loaded.state,
            status: loaded.status,
            owner,
        });
    }
    Ok(rows)
}

/// User names by uid, looked up once per `list` (each lookup reads
/// /etc/passwd; the containers of one root mostly share an owner).
#[derive(Default)]
struct Owners(std::collections::HashMap<u32, String>);

impl Owners {
    /// The name of the owner of `path` (`#uid` when it has none).
    fn name_of(&mut self, path: &std::path::Path) -> String {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata(path).map(|m| m.uid()).unwrap_or(0);
        self.0.entry(uid).or_insert_with(|| user_name(uid)).clone()
    }
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("#{uid}"))
}
