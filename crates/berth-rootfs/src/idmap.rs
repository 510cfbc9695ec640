//! Idmapped mounts (runc 1.2+, runtime-spec 1.1): which spec mounts ask for
//! one and with which id mapping (runc's rules), and the detached, idmapped
//! copy of a bind source that the runtime makes in the host user namespace
//! (`MOUNT_ATTR_IDMAP` needs `CAP_SYS_ADMIN` over the source filesystem's
//! user namespace, which a container's init in its own user namespace lacks)
//! and init then attaches with `move_mount`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_spec::{LinuxIdMapping, Mount};
use berth_sys::mount::{mount_setattr_idmap, open_tree, AT_RECURSIVE, OPEN_TREE_CLONE};
use nix::fcntl::AT_FDCWD;

use crate::error::RootfsError;
use crate::mounts::{MountKind, SpecMount};

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

/// One idmapped mount to prepare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdmapRequest {
    /// Position in `mounts`.
    pub index: usize,
    /// The host source (absolute).
    pub source: PathBuf,
    /// `rbind`: the whole tree under the source is cloned.
    pub rbind: bool,
    /// `ridmap`: every mount of the tree gets the mapping, not only the top.
    pub recursive: bool,
    /// The mapping.
    pub userns: IdmapUserns,
}

/// The idmapped mounts of `mounts` (bind sources already absolute), checked
/// as runc 1.2 checks them: only bind mounts, both maps or none (then the
/// container's user namespace gives them).
pub fn requests(
    mounts: &[Mount],
    container: ContainerUserns<'_>,
) -> Result<Vec<IdmapRequest>, RootfsError> {
    let mut out = Vec::new();
    for (index, spec) in mounts.iter().enumerate() {
        let m = SpecMount::new(spec)?;
        if m.is_idmapped() {
            out.push(request(index, &m, container)?);
        }
    }
    Ok(out)
}

fn request(
    index: usize,
    m: &SpecMount<'_>,
    container: ContainerUserns<'_>,
) -> Result<IdmapRequest, RootfsError> {
    let refuse = |reason| RootfsError::IdmapConfig { index, reason };
    if m.kind != MountKind::Bind {
        return Err(refuse(
            "id-mapped mounts are only supported for bind-mounts",
        ));
    }
    let (uid, gid) = (&m.spec.uid_mappings, &m.spec.gid_mappings);
    let userns = match (uid, gid, container) {
        (None, None, ContainerUserns::New { uid, gid }) => IdmapUserns::Mappings {
            uid: uid.to_vec(),
            gid: gid.to_vec(),
        },
        (None, None, ContainerUserns::Path(path)) => IdmapUserns::Path(path.to_path_buf()),
        (Some(uid), Some(gid), _) if !uid.is_empty() && !gid.is_empty() => IdmapUserns::Mappings {
            uid: uid.clone(),
            gid: gid.clone(),
        },
        _ => {
            return Err(refuse(
                "id-mapped mounts must have both uid and gid mappings specified",
            ))
        }
    };
    let source = m.spec.source.clone().ok_or(RootfsError::IdmapConfig {
        index,
        reason: "a bind mount needs a source",
    })?;
    Ok(IdmapRequest {
        index,
        source,
        rbind: m.options.is_recursive_bind(),
        recursive: m.options.idmap.as_deref() == Some("ridmap"),
        userns,
    })
}

impl IdmapRequest {
    /// A detached copy of the source (`open_tree(OPEN_TREE_CLONE)`, the
    /// whole tree with `rbind`) with the mapping of the user namespace
    /// `userns` applied (to every mount of it with `ridmap`).
    pub fn open(&self, userns: BorrowedFd<'_>) -> Result<OwnedFd, RootfsError> {
        let mut flags = OPEN_TREE_CLONE;
        if self.rbind {
            flags |= AT_RECURSIVE as u32;
        }
        let fail = |step| {
            let source_path = self.source.clone();
            move |errno| RootfsError::Idmap {
                step,
                source_path,
                errno,
            }
        };
        let tree =
            open_tree(AT_FDCWD, &self.source, flags).map_err(fail("open_tree(OPEN_TREE_CLONE)"))?;
        mount_setattr_idmap(tree.as_fd(), userns, self.recursive)
            .map_err(fail("failed to set MOUNT_ATTR_IDMAP on"))?;
        Ok(tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts(list: serde_json::Value) -> Vec<Mount> {
        serde_json::from_value(list).unwrap()
    }

    fn map(host: u32) -> Vec<LinuxIdMapping> {
        vec![LinuxIdMapping {
            container_id: 0,
            host_id: host,
            size: 65536,
        }]
    }

    #[test]
    fn idmap_without_mappings_takes_the_containers() {
        let ms = mounts(serde_json::json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/a", "type": "bind", "source": "/a", "options": ["rbind", "ridmap"]}
        ]));
        let (uid, gid) = (map(100000), map(200000));
        let got = requests(
            &ms,
            ContainerUserns::New {
                uid: &uid,
                gid: &gid,
            },
        )
        .unwrap();
        assert_eq!(
            got,
            [IdmapRequest {
                index: 1,
                source: PathBuf::from("/a"),
                rbind: true,
                recursive: true,
                userns: IdmapUserns::Mappings { uid, gid },
            }]
        );
        let joined = requests(&ms, ContainerUserns::Path(Path::new("/proc/9/ns/user"))).unwrap();
        assert_eq!(
            joined[0].userns,
            IdmapUserns::Path("/proc/9/ns/user".into())
        );
    }

    #[test]
    fn a_mounts_own_mappings_make_it_idmapped() {
        let ms = mounts(serde_json::json!([{
            "destination": "/a", "type": "bind", "source": "/a", "options": ["bind"],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]
        }]));
        let got = requests(&ms, ContainerUserns::None).unwrap();
        assert!(!got[0].rbind && !got[0].recursive);
    }

    #[test]
    fn runcs_refusals() {
        let err = |list| {
            requests(&mounts(list), ContainerUserns::None)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(serde_json::json!([{"destination": "/t", "type": "tmpfs", "options": ["idmap"]}])),
            "mounts[0]: id-mapped mounts are only supported for bind-mounts"
        );
        assert_eq!(
            err(
                serde_json::json!([{"destination": "/a", "source": "/a", "options": ["bind", "idmap"]}])
            ),
            "mounts[0]: id-mapped mounts must have both uid and gid mappings specified"
        );
        assert!(err(
            serde_json::json!([{"destination": "/a", "source": "/a", "options": ["bind"],
            "uidMappings": [], "gidMappings": []}])
        )
        .contains("both uid and gid"));
    }
}
