//! runc's rootless cgroup manager (`--rootless`, or `auto` for a caller that
//! is not root or runs in a user namespace): a caller that may not create a
//! cgroup in a hierarchy goes without one there when it gave no
//! `linux.cgroupsPath` and asks for no limit that needs it. A writable
//! (delegated) directory is used like any other.

use nix::errno::Errno;
use nix::unistd::AccessFlags;

use crate::cgroup::{create_unified, create_v1};
use crate::resources::{translate, ResourcePlan, Target};
use crate::{Cgroup, CgroupError, Layout};

impl Cgroup {
    /// Creates the cgroup as [`Cgroup::create`] does, for a rootless
    /// caller; returns the cgroup that was made (persist that one). With
    /// `path_given` (a `linux.cgroupsPath`) every failure is an error;
    /// without it a hierarchy whose directory the caller may not create or
    /// join is left out (init stays in the caller's cgroup there), except
    /// the cgroup2 tree of a pure v2 host when `resources` need it, as
    /// runc 1.1 does.
    pub fn create_rootless(
        &self,
        path_given: bool,
        resources: &ResourcePlan,
    ) -> Result<Cgroup, CgroupError> {
        let mut made = Cgroup::from_parts(self.layout(), Vec::new(), None);
        made.rootless = true;
        let mut view = made.clone();
        // Where init stays in a v1 hierarchy it cannot join.
        let own = Cgroup::runtime_own()?;
        for h in self.v1_hierarchies() {
            match create_v1(h).and_then(|()| check_writable(&h.dir.join("tasks"))) {
                Ok(()) => {
                    made.v1.push(h.clone());
                    view.v1.push(h.clone());
                }
                Err(e) if !path_given && is_permission_error(&e) => {
                    let stays = own.v1.iter().find(|o| o.controllers == h.controllers);
                    view.v1.extend(stays.cloned());
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(u) = self.unified() {
            match create_unified(u, self.layout()) {
                Ok(()) => {
                    made.unified = Some(u.clone());
                    view.unified = Some(u.clone());
                }
                // Left out; on pure v2 the container's /sys/fs/cgroup is
                // then masked (runc), on hybrid it shows only v1.
                Err(e) if !path_given && is_permission_error(&e) => {
                    if self.layout() == Layout::V2 && self.needs_unified(resources)? {
                        return Err(CgroupError::RootlessNeedsPermission(Box::new(e)));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if view != made {
            made.mount_view = Some(Box::new(view));
        }
        Ok(made)
    }

    /// Whether `resources` hold a limit (not device rules, which are an
    /// eBPF program there) for the cgroup2 tree: runc's `needAnyControllers`.
    fn needs_unified(&self, resources: &ResourcePlan) -> Result<bool, CgroupError> {
        let translation = translate(resources.settings(), &self.host_facts())?;
        Ok(translation
            .writes
            .iter()
            .any(|w| w.target == Target::Unified))
    }
}

/// A permission error in the loose sense runc's rootless manager ignores:
/// EPERM, EACCES, EROFS.
fn is_permission_error(e: &CgroupError) -> bool {
    matches!(e.errno(), Some(Errno::EPERM | Errno::EACCES | Errno::EROFS))
}

/// The caller may write `path` (a v1 `tasks` file: init joins through it).
fn check_writable(path: &std::path::Path) -> Result<(), CgroupError> {
    nix::unistd::access(path, AccessFlags::W_OK).map_err(|e| CgroupError::Open {
        path: path.to_path_buf(),
        source: e.into(),
    })
}
