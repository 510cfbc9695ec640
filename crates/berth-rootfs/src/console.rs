//! /dev/console for terminal:true: a bind of the pty slave.

use std::os::fd::AsFd;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, SFlag};

use crate::devices::empty_file_target;
use crate::error::RootfsError;
use crate::root::RootDir;

/// Binds the pty slave at container path `slave` (e.g. /dev/pts/0) onto
/// /dev/console, created as an empty file if needed (a symlink there is
/// replaced, never followed). Runs after pivot_root.
pub fn bind_console(slave: &Path) -> Result<(), RootfsError> {
    let root = RootDir::open(Path::new("/"))?;
    let slave_fd = root
        .resolve(slave, OFlag::O_PATH)
        .map_err(RootfsError::at_dest("open pty slave", slave))?;
    let st = fstat(slave_fd.as_fd()).map_err(RootfsError::at_dest("stat", slave))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFCHR {
        return Err(RootfsError::InvalidValue {
            field: "console slave",
            value: slave.to_string_lossy().into_owned(),
            reason: "not a character device",
        });
    }
    let console = Path::new("/dev/console");
    let dev = root.mkdir_all(Path::new("/dev"))?;
    let target = empty_file_target(dev.as_fd(), "console".as_ref(), console)?;
    let tree = crate::finish::clone_tree(root.sys(), slave_fd.as_fd(), false, console)?;
    crate::finish::attach(root.sys(), tree.as_fd(), target.as_fd(), console)
}
