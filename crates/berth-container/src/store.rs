//! Container state on disk: one directory per container under `--root`,
//! holding `state.json` (written atomically) and, until `start`,
//! `exec.fifo`. Mutating commands hold an exclusive flock on the directory.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::state::ContainerState;
use crate::ContainerError;

const STATE_FILE: &str = "state.json";
const FIFO_FILE: &str = "exec.fifo";

/// The state root (`--root`, default /run/berth).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// One container's directory, possibly locked.
#[derive(Debug)]
pub struct ContainerDir {
    pub id: String,
    path: PathBuf,
    lock: Option<Flock<File>>,
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ContainerError {
    let what = what.into();
    move |source| ContainerError::Io { what, source }
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Make a new container directory; an existing one means the id is
    /// taken.
    pub fn create(&self, id: &str) -> Result<ContainerDir, ContainerError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(io_err(format!("create state root {}", self.root.display())))?;
        let path = self.root.join(id);
        match fs::DirBuilder::new().mode(0o711).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(ContainerError::Exists(id.to_string()))
            }
            Err(e) => return Err(io_err(format!("create {}", path.display()))(e)),
        }
        let mut dir = ContainerDir {
            id: id.to_string(),
            path,
            lock: None,
        };
        dir.lock()?;
        Ok(dir)
    }

    /// An existing container's directory (unlocked).
    pub fn open(&self, id: &str) -> Result<ContainerDir, ContainerError> {
        let path = self.root.join(id);
        if !path.join(STATE_FILE).exists() {
            return Err(ContainerError::NotExist);
        }
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            lock: None,
        })
    }

    /// `delete --force` of an id without `state.json`: a directory left by
    /// a runtime killed between making it and writing its first state.
    /// Waits for the lock (a live `create` holds it), then removes the
    /// directory if it still has no state.
    pub fn remove_unfinished(&self, id: &str) -> Result<(), ContainerError> {
        if crate::id::validate_id(id).is_err() || !self.root.join(id).is_dir() {
            return Ok(());
        }
        let mut dir = ContainerDir {
            id: id.to_string(),
            path: self.root.join(id),
            lock: None,
        };
        match dir.lock() {
            Err(ContainerError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(())
            }
            other => other?,
        }
        if dir.path.join(STATE_FILE).exists() {
            return Ok(());
        }
        dir.remove()
    }

    /// Ids of every container directory, sorted.
    pub fn ids(&self) -> Result<Vec<String>, ContainerError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(format!("read {}", self.root.display()))(e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(STATE_FILE).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

impl ContainerDir {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(FIFO_FILE)
    }

    /// Take the exclusive lock (waits for other mutating commands).
    pub fn lock(&mut self) -> Result<(), ContainerError> {
        if self.lock.is_some() {
            return Ok(());
        }
        let file =
            File::open(&self.path).map_err(io_err(format!("open {}", self.path.display())))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| io_err(format!("lock {}", self.path.display()))(e.into()))?;
        self.lock = Some(lock);
        Ok(())
    }

    pub fn load(&self) -> Result<ContainerState, ContainerError> {
        let path = self.path.join(STATE_FILE);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotExist)
            }
            Err(e) => return Err(io_err(format!("read {}", path.display()))(e)),
        };
        serde_json::from_slice(&text).map_err(|e| ContainerError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })
    }

    /// Write state.json atomically: temp file, fsync, rename.
    pub fn save(&self, state: &ContainerState) -> Result<(), ContainerError> {
        self.write_state(state, true)
    }

    /// Write state.json atomically without fsync: for the states of an
    /// unfinished `create`, which must survive a killed runtime (the page
    /// cache does) but not a crash of the machine (`/run` does not either).
    pub fn save_draft(&self, state: &ContainerState) -> Result<(), ContainerError> {
        self.write_state(state, false)
    }

    fn write_state(&self, state: &ContainerState, sync: bool) -> Result<(), ContainerError> {
        let path = self.path.join(STATE_FILE);
        let tmp = self.path.join(".state.json.tmp");
        let bytes = serde_json::to_vec(state).map_err(|e| ContainerError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(format!("create {}", tmp.display())))?;
        file.write_all(&bytes)
            .and_then(|_| if sync { file.sync_all() } else { Ok(()) })
            .map_err(io_err(format!("write {}", tmp.display())))?;
        fs::rename(&tmp, &path).map_err(io_err(format!("rename to {}", path.display())))
    }

    /// Remove the whole directory (the lock goes with it).
    pub fn remove(self) -> Result<(), ContainerError> {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(format!("remove {}", self.path.display()))(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("berth-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn create_twice_reports_the_id_as_taken() {
        let root = temp_root("twice");
        let store = Store::new(&root);
        let _first = store.create("c1").unwrap();
        let err = store.create("c1").unwrap_err();
        assert_eq!(err.to_string(), "container with given ID already exists");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_unfinished_directory_is_removed_and_a_finished_one_kept() {
        let root = temp_root("unfinished");
        let store = Store::new(&root);
        drop(store.create("half").unwrap());
        fs::write(root.join("half").join(FIFO_FILE), "").unwrap();
        store.remove_unfinished("half").unwrap();
        assert!(!root.join("half").exists());
        drop(store.create("whole").unwrap());
        fs::write(root.join("whole").join(STATE_FILE), "{}").unwrap();
        store.remove_unfinished("whole").unwrap();
        assert!(root.join("whole").exists());
        // Nothing outside the root is ever a candidate.
        store.remove_unfinished("../x").unwrap();
        store.remove_unfinished("absent").unwrap();
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn missing_containers_do_not_exist_and_root_may_be_absent() {
        let store = Store::new(temp_root("absent"));
        assert_eq!(
            store.open("nope").unwrap_err().to_string(),
            "container does not exist"
        );
        assert!(store.ids().unwrap().is_empty());
    }
}
