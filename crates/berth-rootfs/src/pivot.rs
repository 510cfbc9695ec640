//! Entering the rootfs: pivot_root (old root detached) or, with --no-pivot,
//! MS_MOVE + chroot.

use std::os::fd::AsFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use crate::error::RootfsError;
use crate::mountinfo;

fn open_dir(path: &Path) -> Result<std::os::fd::OwnedFd, RootfsError> {
    nix::fcntl::open(
        path,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(RootfsError::at_host("open", path))
}

fn change_propagation(target: &Path, flags: MsFlags) -> Result<(), RootfsError> {
    nix::mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>).map_err(|errno| {
        RootfsError::Mount {
            source_spec: String::new(),
            dest: target.to_path_buf(),
            fstype: String::new(),
            flags: flags.bits(),
            data: String::new(),
            errno,
        }
    })
}

/// pivot_root(".", ".") in the rootfs, then detaches the old root, which
/// is stacked on the same directory (no directory is left behind).
pub fn pivot_into(rootfs: &Path) -> Result<(), RootfsError> {
    let old_root = open_dir(Path::new("/"))?;
    let new_root = open_dir(rootfs)?;
    fchdir(new_root.as_fd()).map_err(RootfsError::at_host("fchdir", rootfs))?;
    pivot_root(".", ".").map_err(RootfsError::at_host("pivot_root", rootfs))?;
    fchdir(old_root.as_fd()).map_err(RootfsError::at_host("fchdir to old root", "/"))?;
    // Unmounts below must not propagate to the host.
    change_propagation(Path::new("."), MsFlags::MS_SLAVE | MsFlags::MS_REC)?;
    umount2(".", MntFlags::MNT_DETACH).map_err(RootfsError::at_host("unmount old root", "/"))?;
    chdir("/").map_err(RootfsError::at_dest("chdir", "/"))
}

/// Without a mount namespace of its own (runc's chroot mode): chroot into
/// the rootfs; nothing is moved in the host's mount table.
pub fn chroot_into(rootfs: &Path) -> Result<(), RootfsError> {
    chdir(rootfs).map_err(RootfsError::at_host("chdir", rootfs))?;
    chroot(".").map_err(RootfsError::at_host("chroot", rootfs))?;
    chdir("/").map_err(RootfsError::at_dest("chdir", "/"))
}

/// --no-pivot: hides the host's full procfs/sysfs mounts (a later procfs
/// mount in the container would otherwise be allowed), moves the rootfs
/// onto / and chroots into it.
pub fn move_into(rootfs: &Path) -> Result<(), RootfsError> {
    chdir(rootfs).map_err(RootfsError::at_host("chdir", rootfs))?;
    detach_host_proc_and_sys(rootfs)?;
    nix::mount::mount(
        Some(rootfs),
        "/",
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .map_err(RootfsError::at_both("move rootfs onto /", rootfs, "/"))?;
    chroot(".").map_err(RootfsError::at_host("chroot", rootfs))?;
    chdir("/").map_err(RootfsError::at_dest("chdir", "/"))
}

fn detach_host_proc_and_sys(rootfs: &Path) -> Result<(), RootfsError> {
    let content =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|source| RootfsError::Io {
            step: "read",
            at: crate::error::Location::host("/proc/self/mountinfo"),
            source,
        })?;
    let full_host_mounts = mountinfo::parse(&content).into_iter().filter(|m| {
        m.root == Path::new("/")
            && (m.fstype == "proc" || m.fstype == "sysfs")
            && !m.mount_point.starts_with(rootfs)
    });
    for m in full_host_mounts {
        match change_propagation(&m.mount_point, MsFlags::MS_SLAVE | MsFlags::MS_REC) {
            Err(e) if e.errno() == Some(Errno::ENOENT) => continue,
            other => other?,
        }
        match umount2(&m.mount_point, MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
            Err(errno) => return Err(RootfsError::at_host("unmount", &m.mount_point)(errno)),
        }
    }
    Ok(())
}

/// linux.rootfsPropagation values that must be applied again to the new /
/// (shared and unbindable; private and slave already hold).
pub fn apply_root_propagation(flags: MsFlags) -> Result<(), RootfsError> {
    if flags.intersects(MsFlags::MS_PRIVATE | MsFlags::MS_SLAVE) {
        return Ok(());
    }
    change_propagation(Path::new("/"), flags)
}
