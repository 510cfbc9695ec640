//! The config's `mounts`, parsed once: the runtime's planner turns each
//! entry into a [`PlannedMount`] (options as flags, propagation changes,
//! recursive attributes and data; the bind source absolute; the idmapping
//! it gets) before anything is created, and refuses what cannot be done
//! with the entry's JSON path. Everything after reads these values: the
//! bind sources and idmapped trees the runtime opens, init's mounts (init
//! is a clone of the runtime and inherits the plan in memory), /dev and
//! the read-only remounts.

use std::path::{Path, PathBuf};

use berth_spec::{LinuxIdMapping, Mount};
use nix::mount::MsFlags;

use crate::error::RootfsError;
use crate::options::MountOptions;
use crate::path;

/// Whose id mapping an idmapped mount gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdmapUserns {
    /// These maps (the mount's own, or the container's new user namespace's).
    Mappings {
        uid: Vec<LinuxIdMapping>,
        gid: Vec<LinuxIdMapping>,
    },
    /// The user namespace the container joins (`linux.namespaces[].path`).
    Path(PathBuf),
}

/// The container's user namespace, which gives the mapping of an `idmap`
/// mount without mappings of its own (runc 1.2).
#[derive(Debug, Clone, Copy)]
pub enum ContainerUserns<'a> {
    /// No user namespace.
    None,
    /// A new one with these maps.
    New {
        uid: &'a [LinuxIdMapping],
        gid: &'a [LinuxIdMapping],
    },
    /// An existing one, joined by path.
    Path(&'a Path),
}

/// How a mount is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// `bind`/`rbind` in the options (the type is then ignored, as in runc),
    /// or type "bind".
    Bind,
    /// procfs or sysfs: only on a real directory.
    ProcOrSys,
    /// tmpfs: read-only deferred, mode kept, optional copy-up.
    Tmpfs,
    /// cgroup: what CgroupMountSource says.
    Cgroup,
    /// Anything else (mqueue, devpts, overlay...).
    Other,
}

/// One entry of `mounts`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMount {
    /// Its position in `mounts` (the idmapped tree and the opened bind
    /// source of this mount are found by it).
    pub index: usize,
    /// `destination` as written (runc's error messages show it).
    pub destination: PathBuf,
    /// `destination`, cleaned.
    pub dest: PathBuf,
    /// `source`; a relative bind source made absolute against the bundle,
    /// as runc does. Always set for a bind mount.
    pub source: Option<PathBuf>,
    /// `type` ("" when absent).
    pub fstype: String,
    /// How it is carried out.
    pub kind: MountKind,
    /// `options`, parsed.
    pub options: MountOptions,
    /// An idmapped mount: whose mapping it gets.
    pub idmap: Option<IdmapUserns>,
}

/// The config's mounts, parsed, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountPlan(Vec<PlannedMount>);

impl MountPlan {
    /// Parses `mounts` (of the bundle `bundle`; `container` gives the
    /// mapping of an `idmap` mount without its own). The only place the
    /// config's mounts are parsed.
    pub fn parse(
        mounts: &[Mount],
        bundle: &Path,
        container: ContainerUserns<'_>,
    ) -> Result<MountPlan, RootfsError> {
        let planned = mounts.iter().enumerate();
        planned
            .map(|(index, spec)| plan_mount(index, spec, bundle, container))
            .collect::<Result<_, _>>()
            .map(MountPlan)
    }

    /// The mounts, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, PlannedMount> {
        self.0.iter()
    }

    /// The runtime populates /dev unless /dev is a bind mount.
    pub fn sets_up_dev(&self) -> bool {
        !self.iter().any(PlannedMount::is_dev_bind)
    }

    /// /dev is a tmpfs: device nodes are made with mknod.
    pub fn dev_is_tmpfs(&self) -> bool {
        self.iter().any(PlannedMount::is_dev_tmpfs)
    }

    /// The idmapped mounts and the mapping each gets.
    pub fn idmapped(&self) -> impl Iterator<Item = (&PlannedMount, &IdmapUserns)> {
        self.iter().filter_map(|m| Some((m, m.idmap.as_ref()?)))
    }

    /// The bind mounts and their (absolute) sources.
    pub fn binds(&self) -> impl Iterator<Item = (&PlannedMount, &Path)> {
        self.iter()
            .filter(|m| m.kind == MountKind::Bind)
            .filter_map(|m| Some((m, m.source.as_deref()?)))
    }

    /// runc's check for a runtime that is not root: a `uid=`/`gid=` option
    /// must name an id the container's maps cover.
    pub fn check_rootless_ids(
        &self,
        uid_map: &[LinuxIdMapping],
        gid_map: &[LinuxIdMapping],
    ) -> Result<(), RootfsError> {
        for m in self.iter() {
            for (kind, map) in [("uid", uid_map), ("gid", gid_map)] {
                let unmapped = |id: &u32| !map.iter().any(|r| maps_id(r, *id));
                if m.options.numeric_data(kind).any(|id| unmapped(&id)) {
                    return Err(m.refuse(
                        "options",
                        format!("cannot specify {kind}= mount options for unmapped {kind} in rootless containers"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `id` lies in the container side of `range`.
fn maps_id(range: &LinuxIdMapping, id: u32) -> bool {
    id >= range.container_id && id - range.container_id < range.size
}

impl<'a> IntoIterator for &'a MountPlan {
    type Item = &'a PlannedMount;
    type IntoIter = std::slice::Iter<'a, PlannedMount>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Parses entry `index` of `mounts`.
fn plan_mount(
    index: usize,
    spec: &Mount,
    bundle: &Path,
    container: ContainerUserns<'_>,
) -> Result<PlannedMount, RootfsError> {
    let options = MountOptions::parse(&spec.options);
    // A "bind" type without a bind option is a plain (non-recursive)
    // bind, as crun treats it.
    let kind = if options.is_bind() || spec.typ == "bind" {
        MountKind::Bind
    } else {
        match spec.typ.as_str() {
            "proc" | "sysfs" => MountKind::ProcOrSys,
            "tmpfs" => MountKind::Tmpfs,
            "cgroup" => MountKind::Cgroup,
            _ => MountKind::Other,
        }
    };
    let mut planned = PlannedMount {
        index,
        destination: spec.destination.clone(),
        dest: path::clean(&spec.destination),
        source: spec.source.clone(),
        fstype: spec.typ.clone(),
        kind,
        options,
        idmap: None,
    };
    if planned.dest == Path::new("/") {
        let reason = "mountpoint \"/\" is on the top of rootfs".to_string();
        return Err(planned_refusal(index, "destination", reason));
    }
    if kind == MountKind::Bind {
        let source = planned.source.as_mut().ok_or_else(|| {
            planned_refusal(index, "source", "a bind mount needs a source".into())
        })?;
        if source.is_relative() {
            *source = bundle.join(&*source);
        }
    }
    let own_maps = (&spec.uid_mappings, &spec.gid_mappings);
    if planned.options.idmap.is_some() || own_maps.0.is_some() || own_maps.1.is_some() {
        planned.idmap = Some(idmap_userns(&planned, own_maps, container)?);
    }
    Ok(planned)
}

/// The mapping of an idmapped mount, checked as runc 1.2 checks it: only
/// bind mounts, both maps or none (then the container's user namespace
/// gives them).
fn idmap_userns(
    m: &PlannedMount,
    (uid, gid): (&Option<Vec<LinuxIdMapping>>, &Option<Vec<LinuxIdMapping>>),
    container: ContainerUserns<'_>,
) -> Result<IdmapUserns, RootfsError> {
    let refuse = |reason: &str| m.refuse("", reason.to_string());
    if m.kind != MountKind::Bind {
        return Err(refuse(
            "id-mapped mounts are only supported for bind-mounts",
        ));
    }
    match (uid, gid, container) {
        (None, None, ContainerUserns::New { uid, gid }) => Ok(IdmapUserns::Mappings {
            uid: uid.to_vec(),
            gid: gid.to_vec(),
        }),
        (None, None, ContainerUserns::Path(path)) => Ok(IdmapUserns::Path(path.to_path_buf())),
        (Some(uid), Some(gid), _) if !uid.is_empty() && !gid.is_empty() => {
            Ok(IdmapUserns::Mappings {
                uid: uid.clone(),
                gid: gid.clone(),
            })
        }
        _ => Err(refuse(
            "id-mapped mounts must have both uid and gid mappings specified",
        )),
    }
}

/// A refusal of `mounts[index]` (or of its `field`).
fn planned_refusal(index: usize, field: &str, reason: String) -> RootfsError {
    let field = match field {
        "" => format!("mounts[{index}]"),
        field => format!("mounts[{index}].{field}"),
    };
    RootfsError::Config { field, reason }
}

impl PlannedMount {
    /// The source string: the config's, or the type when absent.
    pub(crate) fn source_string(&self) -> String {
        match &self.source {
            Some(s) => s.to_string_lossy().into_owned(),
            None => self.fstype.clone(),
        }
    }

    /// Mounted read-write first and made read-only in `finish_rootfs`
    /// (files are created in /dev; tmpfs gets chmod/copy-up), as runc does.
    pub fn defers_readonly(&self) -> bool {
        self.kind != MountKind::Bind
            && (self.kind == MountKind::Tmpfs || self.dest == Path::new("/dev"))
    }

    /// The mount(2) flags of the first mount call.
    pub(crate) fn initial_flags(&self) -> MsFlags {
        let mut flags = self.options.flags;
        if self.defers_readonly() {
            flags.remove(MsFlags::MS_RDONLY);
        }
        flags
    }

    /// A bind mount of /dev means the runtime does not populate /dev.
    pub fn is_dev_bind(&self) -> bool {
        self.kind == MountKind::Bind && self.dest == Path::new("/dev")
    }

    /// A tmpfs on /dev: devices can be created with mknod.
    pub fn is_dev_tmpfs(&self) -> bool {
        self.kind == MountKind::Tmpfs && self.dest == Path::new("/dev")
    }

    /// A refusal of this mount (or of its `field`: "options", "source").
    pub(crate) fn refuse(&self, field: &str, reason: String) -> RootfsError {
        planned_refusal(self.index, field, reason)
    }

    /// Wraps an error in runc's "error mounting ... to rootfs at ..." line.
    pub(crate) fn wrap(&self, cause: RootfsError) -> RootfsError {
        RootfsError::SpecMount {
            source_spec: self.source_string(),
            dest: self.destination.clone(),
            cause: Box::new(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RecursiveAttr;
    use berth_sys::mount::{MountAttr, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};

    fn plan(list: serde_json::Value) -> Result<MountPlan, RootfsError> {
        let mounts: Vec<Mount> = serde_json::from_value(list).unwrap();
        MountPlan::parse(&mounts, Path::new("/bundles/x"), ContainerUserns::None)
    }

    fn refusal(list: serde_json::Value) -> String {
        plan(list).unwrap_err().to_string()
    }

    fn map(host: u32) -> Vec<LinuxIdMapping> {
        vec![LinuxIdMapping {
            container_id: 0,
            host_id: host,
            size: 65536,
        }]
    }

    #[test]
    fn each_mount_is_parsed_into_typed_values() {
        let p = plan(serde_json::json!([
            {"destination": "/data/../srv//", "type": "bind", "source": "data",
             "options": ["rbind", "ro", "rprivate", "rnosuid", "rro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "size=1m", "mode=1777", "tmpcopyup"]},
            {"destination": "/proc", "type": "proc"}
        ]))
        .unwrap();
        let all: Vec<&PlannedMount> = p.iter().collect();
        let bind = all[0];
        assert_eq!(bind.kind, MountKind::Bind);
        assert_eq!(bind.dest, Path::new("/srv"));
        assert_eq!(bind.destination, Path::new("/data/../srv//"));
        assert_eq!(bind.source.as_deref(), Some(Path::new("/bundles/x/data")));
        assert_eq!(
            bind.options.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
        );
        assert_eq!(
            bind.options.propagation,
            [MsFlags::MS_PRIVATE | MsFlags::MS_REC]
        );
        assert_eq!(
            bind.options.recursive,
            Some(RecursiveAttr {
                attr: MountAttr {
                    attr_set: MOUNT_ATTR_NOSUID | MOUNT_ATTR_RDONLY,
                    attr_clr: 0,
                    propagation: 0,
                },
                first_option: "rnosuid".into(),
            })
        );
        let tmp = all[1];
        assert_eq!(tmp.kind, MountKind::Tmpfs);
        assert_eq!(tmp.options.data_string(), "size=1m,mode=1777");
        assert!(tmp.options.tmpcopyup && tmp.defers_readonly());
        assert_eq!(all[2].source_string(), "proc");
        assert_eq!(all[2].kind, MountKind::ProcOrSys);
        assert!(p.sets_up_dev() && !p.dev_is_tmpfs());
        assert_eq!(p.binds().count(), 1);
    }

    #[test]
    fn relative_bind_sources_are_joined_to_the_bundle() {
        let p = plan(serde_json::json!([
            {"destination": "/a", "type": "bind", "source": "data", "options": ["rbind"]},
            {"destination": "/b", "type": "none", "source": "sub/file", "options": ["bind", "ro"]},
            {"destination": "/c", "type": "bind", "source": "/abs", "options": ["bind"]},
            {"destination": "/d", "type": "tmpfs", "source": "tmpfs"}
        ]))
        .unwrap();
        let sources: Vec<_> = p.iter().map(|m| m.source.clone().unwrap()).collect();
        assert_eq!(
            sources,
            ["/bundles/x/data", "/bundles/x/sub/file", "/abs", "tmpfs"].map(PathBuf::from)
        );
    }

    #[test]
    fn a_bind_mount_without_source_is_refused_by_its_path() {
        assert_eq!(
            refusal(serde_json::json!([
                {"destination": "/proc", "type": "proc"},
                {"destination": "/a", "options": ["rbind"]}
            ])),
            "mounts[1].source: a bind mount needs a source"
        );
    }

    #[test]
    fn a_mount_on_the_root_itself_is_refused_by_its_path() {
        assert_eq!(
            refusal(serde_json::json!([
                {"destination": "/proc", "type": "proc"},
                {"destination": "/mnt/..", "type": "tmpfs", "source": "tmpfs"}
            ])),
            "mounts[1].destination: mountpoint \"/\" is on the top of rootfs"
        );
    }

    #[test]
    fn idmap_without_mappings_takes_the_containers() {
        let mounts: Vec<Mount> = serde_json::from_value(serde_json::json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/a", "type": "bind", "source": "/a", "options": ["rbind", "ridmap"]}
        ]))
        .unwrap();
        let (uid, gid) = (map(100000), map(200000));
        let container = ContainerUserns::New {
            uid: &uid,
            gid: &gid,
        };
        let p = MountPlan::parse(&mounts, Path::new("/b"), container).unwrap();
        let idmapped: Vec<_> = p.idmapped().collect();
        assert_eq!(idmapped.len(), 1);
        assert_eq!(idmapped[0].0.index, 1);
        assert_eq!(idmapped[0].0.options.idmap.as_deref(), Some("ridmap"));
        assert_eq!(
            idmapped[0].1,
            &IdmapUserns::Mappings {
                uid: uid.clone(),
                gid: gid.clone()
            }
        );
        let joined = ContainerUserns::Path(Path::new("/proc/9/ns/user"));
        let p = MountPlan::parse(&mounts, Path::new("/b"), joined).unwrap();
        assert_eq!(
            p.idmapped().next().unwrap().1,
            &IdmapUserns::Path("/proc/9/ns/user".into())
        );
    }

    #[test]
    fn a_mounts_own_mappings_make_it_idmapped() {
        let p = plan(serde_json::json!([{
            "destination": "/a", "type": "bind", "source": "/a", "options": ["bind"],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]
        }]))
        .unwrap();
        let (m, _) = p.idmapped().next().unwrap();
        assert!(!m.options.is_recursive_bind() && m.options.idmap.is_none());
    }

    #[test]
    fn runcs_idmap_refusals() {
        assert_eq!(
            refusal(
                serde_json::json!([{"destination": "/t", "type": "tmpfs", "options": ["idmap"]}])
            ),
            "mounts[0]: id-mapped mounts are only supported for bind-mounts"
        );
        assert_eq!(
            refusal(
                serde_json::json!([{"destination": "/a", "source": "/a", "options": ["bind", "idmap"]}])
            ),
            "mounts[0]: id-mapped mounts must have both uid and gid mappings specified"
        );
        assert!(refusal(
            serde_json::json!([{"destination": "/a", "source": "/a", "options": ["bind"],
            "uidMappings": [], "gidMappings": []}])
        )
        .contains("both uid and gid"));
    }

    #[test]
    fn rootless_mount_ids_must_be_mapped() {
        let devpts = |opt: &str| {
            plan(
                serde_json::json!([{"destination": "/dev/pts", "type": "devpts",
                "options": ["nosuid", opt]}]),
            )
            .unwrap()
        };
        let (uid, gid) = (
            [LinuxIdMapping {
                container_id: 0,
                host_id: 1000,
                size: 1,
            }],
            [LinuxIdMapping {
                container_id: 0,
                host_id: 1000,
                size: 6,
            }],
        );
        let check = |opt: &str| match devpts(opt).check_rootless_ids(&uid, &gid) {
            Ok(()) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        assert_eq!(check("gid=5"), "ok");
        assert_eq!(
            check("gid=6"),
            "mounts[0].options: cannot specify gid= mount options for unmapped gid in rootless containers"
        );
        assert!(check("uid=1").contains("cannot specify uid= mount options for unmapped uid"));
        assert_eq!(check("uid=x"), "ok");
    }
}
