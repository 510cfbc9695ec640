//! Idmapped mounts (runc 1.2+, runtime-spec 1.1): whose id mapping one gets
//! (the planner decides it, `mountplan.rs`, by runc's rules), and the
//! detached, idmapped copy of a bind source that the runtime makes in the
//! host user namespace (`MOUNT_ATTR_IDMAP` needs `CAP_SYS_ADMIN` over the
//! source filesystem's user namespace, which a container's init in its own
//! user namespace lacks) and init then attaches with `move_mount`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use berth_sys::mount::{mount_setattr_idmap, open_tree, AT_RECURSIVE, OPEN_TREE_CLONE};
use nix::fcntl::AT_FDCWD;

use crate::error::RootfsError;
use crate::mountplan::PlannedMount;

/// A detached copy of the source of the idmapped mount `m`
/// (`open_tree(OPEN_TREE_CLONE)`, the whole tree with `rbind`) with the
/// mapping of the user namespace `userns` applied (to every mount of it
/// with `ridmap`).
pub fn open_idmapped(m: &PlannedMount, userns: BorrowedFd<'_>) -> Result<OwnedFd, RootfsError> {
    let source = m.source.as_deref().unwrap_or(Path::new(""));
    let mut flags = OPEN_TREE_CLONE;
    if m.options.is_recursive_bind() {
        flags |= AT_RECURSIVE as u32;
    }
    let fail = |step| {
        move |errno| RootfsError::Idmap {
            step,
            source_path: source.to_path_buf(),
            errno,
        }
    };
    let tree = open_tree(AT_FDCWD, source, flags).map_err(fail("open_tree(OPEN_TREE_CLONE)"))?;
    let recursive = m.options.idmap.as_deref() == Some("ridmap");
    mount_setattr_idmap(tree.as_fd(), userns, recursive)
        .map_err(fail("failed to set MOUNT_ATTR_IDMAP on"))?;
    Ok(tree)
}
