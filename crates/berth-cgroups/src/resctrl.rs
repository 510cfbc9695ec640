//! `linux.intelRdt` against the resctrl filesystem (runc's rules): a
//! CLOS group directory (the container id, or `closID`), its `schemata`
//! (`l3CacheSchema`, `memBwSchema`, then each `schemata` line), the
//! container's processes in its `tasks`, and with `enableMonitoring` a
//! monitoring group `mon_groups/<id>`. A group berth made is removed on
//! `delete`; a `closID` group is the caller's and stays.
//!
//! Everything goes through [`Resctrl`], a resctrl mount point, so the file
//! writes are tested against a plain directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use berth_spec::LinuxIntelRdt;
use serde::{Deserialize, Serialize};

use crate::CgroupError;

/// A mounted resctrl filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resctrl {
    root: PathBuf,
}

/// The container's resctrl group, as `state.json` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdtGroup {
    /// The CLOS group directory.
    pub path: PathBuf,
    /// The monitoring group, with `enableMonitoring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mon_path: Option<PathBuf>,
    /// berth created `path` (and removes it on delete).
    #[serde(default)]
    pub created: bool,
}

fn io_error(what: &str, path: &Path) -> impl FnOnce(io::Error) -> CgroupError {
    let what = format!("{what} {}", path.display());
    move |source| CgroupError::Resctrl { what, source }
}

impl Resctrl {
    /// The resctrl filesystem of this host: the first `resctrl` mount in
    /// `/proc/self/mountinfo` (usually `/sys/fs/resctrl`), if any.
    pub fn find() -> Option<Resctrl> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
        mountinfo.lines().find_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let fstype = after.split_whitespace().next()?;
            let point = before.split_whitespace().nth(4)?;
            (fstype == "resctrl").then(|| Resctrl::at(Path::new(point)))
        })
    }

    /// resctrl mounted at `root`.
    pub fn at(root: &Path) -> Resctrl {
        Resctrl {
            root: root.to_path_buf(),
        }
    }

    /// Cache allocation (CAT, `info/L3`) is available.
    pub fn cat_enabled(&self) -> bool {
        self.root.join("info/L3").exists()
    }

    /// Memory bandwidth allocation (MBA, `info/MB`) is available.
    pub fn mba_enabled(&self) -> bool {
        self.root.join("info/MB").exists()
    }

    /// Checks `rdt` against what this resctrl offers (runc's words) and
    /// plans the group of container `id`; nothing is written.
    pub fn plan(&self, rdt: &LinuxIntelRdt, id: &str) -> Result<RdtGroup, CgroupError> {
        if !rdt.l3_cache_schema.is_empty() && !self.cat_enabled() {
            return Err(CgroupError::IntelRdt(
                "intelRdt.l3CacheSchema is specified in config, but Intel RDT/CAT is not enabled"
                    .into(),
            ));
        }
        if !rdt.mem_bw_schema.is_empty() && !self.mba_enabled() {
            return Err(CgroupError::IntelRdt(
                "intelRdt.memBwSchema is specified in config, but Intel RDT/MBA is not enabled"
                    .into(),
            ));
        }
        let clos = if rdt.clos_id.is_empty() {
            id
        } else {
            rdt.clos_id.as_str()
        };
        let path = self.root.join(clos.trim_start_matches('/'));
        let mon_path = rdt
            .enable_monitoring
            .then(|| path.join("mon_groups").join(id));
        Ok(RdtGroup {
            path,
            mon_path,
            created: false,
        })
    }
}

/// The `schemata` text: l3CacheSchema, memBwSchema, then the `schemata`
/// lines, one per line, empty ones left out.
pub fn schemata_text(rdt: &LinuxIntelRdt) -> String {
    [&rdt.l3_cache_schema, &rdt.mem_bw_schema]
        .into_iter()
        .chain(&rdt.schemata)
        .filter(|line| !line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect()
}

/// A `closID` without any schema names a group set up beforehand (the
/// runtime-spec): it must exist.
fn needs_existing_group(rdt: &LinuxIntelRdt) -> bool {
    !rdt.clos_id.is_empty() && schemata_text(rdt).is_empty()
}

impl RdtGroup {
    /// Creates the group (kept if it exists), writes its schemata and puts
    /// `pid` in it (and in the monitoring group).
    pub fn apply(&mut self, rdt: &LinuxIntelRdt, pid: i32) -> Result<(), CgroupError> {
        if needs_existing_group(rdt) && !self.path.is_dir() {
            return Err(CgroupError::IntelRdt(format!(
                "clos dir not accessible (must be pre-created when schemata, l3CacheSchema and memBwSchema are empty): {}",
                self.path.display()
            )));
        }
        match fs::create_dir(&self.path) {
            Ok(()) => self.created = true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error("mkdir", &self.path)(e)),
        }
        self.write_schemata(&schemata_text(rdt))?;
        self.add(pid)
    }

    /// Writes `text` to the group's `schemata` (nothing when empty).
    pub fn write_schemata(&self, text: &str) -> Result<(), CgroupError> {
        if text.is_empty() {
            return Ok(());
        }
        let file = self.path.join("schemata");
        fs::write(&file, text).map_err(io_error("intelrdt: unable to write schemata", &file))
    }

    /// Puts `pid` in the group's `tasks` (and its monitoring group's),
    /// making the monitoring group when missing.
    pub fn add(&self, pid: i32) -> Result<(), CgroupError> {
        let tasks = self.path.join("tasks");
        fs::write(&tasks, pid.to_string()).map_err(io_error("write", &tasks))?;
        if let Some(mon) = &self.mon_path {
            match fs::create_dir(mon) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error("mkdir", mon)(e)),
            }
            let tasks = mon.join("tasks");
            fs::write(&tasks, pid.to_string()).map_err(io_error("write", &tasks))?;
        }
        Ok(())
    }

    /// Removes what berth made: the group it created (its monitoring group
    /// goes with it), else only the monitoring group.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let dir = if self.created {
            Some(&self.path)
        } else {
            self.mon_path.as_ref()
        };
        let Some(dir) = dir else {
            return Ok(());
        };
        match fs::remove_dir(dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("remove", dir)(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rdt(json: serde_json::Value) -> LinuxIntelRdt {
        serde_json::from_value(json).unwrap()
    }

    fn fake_resctrl(cat: bool, mba: bool) -> (PathBuf, Resctrl) {
        let dir = std::env::temp_dir().join(format!(
            "berth-resctrl-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        fs::create_dir_all(dir.join("info")).unwrap();
        if cat {
            fs::create_dir_all(dir.join("info/L3")).unwrap();
        }
        if mba {
            fs::create_dir_all(dir.join("info/MB")).unwrap();
        }
        let resctrl = Resctrl::at(&dir);
        (dir, resctrl)
    }

    #[test]
    fn schemata_lines_in_runcs_order() {
        let r = rdt(serde_json::json!({
            "l3CacheSchema": "L3:0=7f0", "memBwSchema": "MB:0=20",
            "schemata": ["L2:0=3", ""]
        }));
        assert_eq!(schemata_text(&r), "L3:0=7f0\nMB:0=20\nL2:0=3\n");
        assert_eq!(schemata_text(&rdt(serde_json::json!({}))), "");
    }

    #[test]
    fn a_group_of_its_own_is_made_filled_and_removed() {
        let (dir, resctrl) = fake_resctrl(true, false);
        let config = rdt(serde_json::json!({"l3CacheSchema": "L3:0=f"}));
        let mut group = resctrl.plan(&config, "c1").unwrap();
        assert_eq!(
            (group.path.clone(), group.mon_path.clone()),
            (dir.join("c1"), None)
        );
        group.apply(&config, 42).unwrap();
        assert!(group.created);
        assert_eq!(
            fs::read_to_string(dir.join("c1/schemata")).unwrap(),
            "L3:0=f\n"
        );
        assert_eq!(fs::read_to_string(dir.join("c1/tasks")).unwrap(), "42");
        // A real resctrl removes the files with the directory.
        for f in ["c1/schemata", "c1/tasks"] {
            fs::remove_file(dir.join(f)).unwrap();
        }
        group.destroy().unwrap();
        assert!(!dir.join("c1").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn monitoring_gets_a_mon_group_removed_on_destroy() {
        let (dir, resctrl) = fake_resctrl(false, false);
        // resctrl makes mon_groups in every group; here the group exists.
        fs::create_dir_all(dir.join("c1/mon_groups")).unwrap();
        let config = rdt(serde_json::json!({"enableMonitoring": true}));
        let mut group = resctrl.plan(&config, "c1").unwrap();
        group.apply(&config, 9).unwrap();
        assert!(!group.created);
        let mon = dir.join("c1/mon_groups/c1");
        assert_eq!(fs::read_to_string(mon.join("tasks")).unwrap(), "9");
        fs::remove_file(mon.join("tasks")).unwrap();
        group.destroy().unwrap();
        assert!(!mon.exists() && dir.join("c1").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_clos_id_group_must_exist_without_schemata_and_stays() {
        let (dir, resctrl) = fake_resctrl(false, false);
        let config = rdt(serde_json::json!({"closID": "guaranteed"}));
        let mut group = resctrl.plan(&config, "c1").unwrap();
        let err = group.apply(&config, 1).unwrap_err().to_string();
        assert!(err.contains("clos dir not accessible"), "{err}");
        fs::create_dir(dir.join("guaranteed")).unwrap();
        group.apply(&config, 7).unwrap();
        assert!(!group.created);
        group.destroy().unwrap();
        assert!(dir.join("guaranteed").is_dir());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn schemas_need_the_hardware_feature_in_runcs_words() {
        let (dir, resctrl) = fake_resctrl(false, false);
        let l3 = rdt(serde_json::json!({"l3CacheSchema": "L3:0=f"}));
        let err = resctrl.plan(&l3, "c").unwrap_err().to_string();
        assert_eq!(
            err,
            "intelRdt.l3CacheSchema is specified in config, but Intel RDT/CAT is not enabled"
        );
        let mb = rdt(serde_json::json!({"memBwSchema": "MB:0=20"}));
        let err = resctrl.plan(&mb, "c").unwrap_err().to_string();
        assert!(err.contains("Intel RDT/MBA is not enabled"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
