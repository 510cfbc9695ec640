//! The runtime's part of idmapped mounts: for each one, a user namespace
//! with its mapping (the container's own when the mapping is the
//! container's, the joined one by path, or one held by a short-lived helper
//! process), the detached idmapped tree made from it, sent to init before
//! `Continue` (init attaches it with `move_mount`).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use berth_rootfs::idmap::open_idmapped;
use berth_rootfs::mountplan::IdmapUserns;
use berth_rootfs::MountPlan;
use berth_sys::process::{fork_into, Forked};
use nix::sched::CloneFlags;

use crate::child::kill_and_reap;
use crate::namespaces::{write_id_maps, Namespaces};
use crate::sync::{Message, SyncChannel};
use crate::ProcessError;

/// Makes the tree of every idmapped mount of `mounts` and sends it to
/// init (child `pid`), one message per mount.
pub(crate) fn send_idmapped_mounts(
    mounts: &MountPlan,
    container: &Namespaces,
    pid: i32,
    chan: &SyncChannel,
) -> Result<(), ProcessError> {
    let mut made: Vec<(&IdmapUserns, File)> = Vec::new();
    for (mount, userns) in mounts.idmapped() {
        let index = match made.iter().position(|(u, _)| *u == userns) {
            Some(i) => i,
            None => {
                made.push((userns, userns_file(userns, container, pid)?));
                made.len() - 1
            }
        };
        let tree = open_idmapped(mount, made[index].1.as_fd())?;
        chan.send(
            &Message::IdmappedMount { index: mount.index },
            &[tree.as_raw_fd()],
        )?;
    }
    Ok(())
}

/// A user namespace with the mapping `userns` asks for.
fn userns_file(
    userns: &IdmapUserns,
    container: &Namespaces,
    pid: i32,
) -> Result<File, ProcessError> {
    let open = |path: &str| {
        File::open(path).map_err(|source| ProcessError::Io {
            what: format!("open user namespace {path} for an idmapped mount"),
            source,
        })
    };
    match userns {
        IdmapUserns::Path(path) => open(&path.to_string_lossy()),
        IdmapUserns::Mappings { uid, gid }
            if container.has_new(CloneFlags::CLONE_NEWUSER)
                && *uid == container.uid_mappings
                && *gid == container.gid_mappings =>
        {
            open(&format!("/proc/{pid}/ns/user"))
        }
        IdmapUserns::Mappings { uid, gid } => {
            let maps = Namespaces {
                uid_mappings: uid.clone(),
                gid_mappings: gid.clone(),
                ..Namespaces::default()
            };
            helper_userns(&maps)
        }
    }
}

/// A new user namespace with `maps`: a helper child made in it waits, the
/// runtime writes its maps, opens `/proc/<helper>/ns/user` and kills it
/// (the namespace lives on as long as the file is open).
fn helper_userns(maps: &Namespaces) -> Result<File, ProcessError> {
    let forked =
        fork_into(CloneFlags::CLONE_NEWUSER.bits(), None).map_err(|source| ProcessError::Io {
            what: "clone a user namespace for an idmapped mount".into(),
            source,
        })?;
    let pid = match forked {
        Forked::Child => loop {
            nix::unistd::pause();
        },
        Forked::Parent { pid } => pid,
    };
    let opened = write_id_maps(pid, maps).and_then(|()| {
        let path = format!("/proc/{pid}/ns/user");
        File::open(&path).map_err(|source| ProcessError::Io {
            what: format!("open {path}"),
            source,
        })
    });
    kill_and_reap(pid);
    opened
}

/// Init's side: the idmapped trees that arrive before `Continue`, by their
/// index in `mounts`.
pub(crate) fn receive_until_continue(
    chan: &SyncChannel,
) -> Result<Vec<(usize, OwnedFd)>, crate::sync::SyncError> {
    let mut trees = Vec::new();
    loop {
        match chan.recv()? {
            (Message::Continue, _) => return Ok(trees),
            (Message::IdmappedMount { index }, fds) if fds.len() == 1 => {
                trees.extend(fds.into_iter().map(|fd| (index, fd)));
            }
            (got, _) => {
                return Err(crate::sync::SyncError::Unexpected {
                    expected: "Continue",
                    got,
                })
            }
        }
    }
}
