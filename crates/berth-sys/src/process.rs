//! Process-level syscalls that nix lacks: `clone3` used like `fork` with
//! namespace flags (and `CLONE_INTO_CGROUP`), `setdomainname`, the controlling
//! terminal ioctl, marking every fd above a bound close-on-exec, and whether
//! the process runs in a user namespace.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `struct clone_args` of `clone3(2)` (size version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Which side of a fork-like clone the caller is on.
#[derive(Debug)]
pub enum Forked {
    /// The new process. It shares nothing with the parent but copies of memory
    /// and file descriptors (no `CLONE_VM`), exactly as after `fork(2)`.
    Child,
    /// The parent: the child's pid in the parent's pid namespace.
    Parent { pid: i32 },
}

/// A fork-like syscall's return value: 0 in the child, the pid in the
/// parent, -1 (errno set) on failure.
fn forked_from(ret: libc::c_long) -> io::Result<Forked> {
    match ret {
        0 => Ok(Forked::Child),
        pid if pid > 0 => Ok(Forked::Parent { pid: pid as i32 }),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Fork-like `clone3(2)`: a new process with a copy of the caller's memory,
/// created directly in the namespaces named by `namespace_flags`
/// (`CLONE_NEW*`) and, when `cgroup` is given, directly in that cgroup v2
/// directory (`CLONE_INTO_CGROUP`). `SIGCHLD` is delivered on its exit (to
/// the caller's parent with `CLONE_PARENT`).
///
/// The caller must be single-threaded (as after `fork`, only the calling
/// thread exists in the child). Falls back to the legacy `clone(2)` when the
/// kernel lacks `clone3` (then `cgroup` must be `None`; the error says so).
pub fn fork_into(namespace_flags: i32, cgroup: Option<BorrowedFd<'_>>) -> io::Result<Forked> {
    // With CLONE_PARENT clone3 takes no exit signal: the child gets the
    // caller's own (SIGCHLD, from its fork) for its new parent.
    let exit_signal = match namespace_flags & libc::CLONE_PARENT {
        0 => libc::SIGCHLD as u64,
        _ => 0,
    };
    let mut args = CloneArgs {
        flags: namespace_flags as u32 as u64,
        exit_signal,
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: `args` is a valid, fully initialised clone_args of the size we
    // pass; without CLONE_VM and with a null stack the kernel duplicates the
    // address space like fork(2), so both sides continue on their own copy
    // of this stack frame.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match forked_from(ret) {
        Err(err) if err.raw_os_error() == Some(libc::ENOSYS) && cgroup.is_none() => {
            legacy_fork_into(namespace_flags)
        }
        other => other,
    }
}

fn legacy_fork_into(namespace_flags: i32) -> io::Result<Forked> {
    // SAFETY: raw clone(2) with a null stack and without CLONE_VM behaves
    // like fork(2); the remaining pointer arguments are null and unused.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (namespace_flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    forked_from(ret)
}

/// `setdomainname(2)`: the NIS domain name of the caller's UTS namespace.
pub fn set_domainname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes, which the
    // kernel only reads.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `ioctl(fd, TIOCSCTTY, 0)`: make the terminal `fd` the caller's
/// controlling terminal (the caller must be a session leader).
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument and touches no memory.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Mark every fd numbered `first` and above close-on-exec, so they vanish at
/// `execve` while staying usable until then.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range only changes fd flags; no memory is involved.
    let ret = unsafe { libc::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    if ret == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::ENOSYS) && err.raw_os_error() != Some(libc::EINVAL) {
        return Err(err);
    }
    cloexec_from_by_listing(first)
}

fn cloexec_from_by_listing(first: u32) -> io::Result<()> {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd: &RawFd| *fd >= first as RawFd)
        .collect();
    for fd in fds {
        // Listing /proc/self/fd opened one more fd that is already closed
        // again: ignore EBADF for it.
        let _ = nix::fcntl::fcntl(
            // SAFETY: the fd number came from /proc/self/fd; fcntl on a
            // closed fd just fails with EBADF.
            unsafe { BorrowedFd::borrow_raw(fd) },
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
    Ok(())
}

/// Close every fd numbered 3 and above except those in `keep` (the
/// container's init drops whatever it inherited from the runtime and its
/// caller before it resolves any path of the container: an open directory
/// of the host would be a way out of the new root, CVE-2024-21626).
///
/// Only for a process that owns none of the fds it closes through Rust
/// objects it will still drop (init: it never returns, it execs or exits).
pub fn close_fds_except(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd > 2)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = 3u32;
    for fd in keep.into_iter().chain(std::iter::once(u32::MAX)) {
        if fd > first {
            close_range(first, fd - 1)?;
        }
        first = fd.saturating_add(1);
    }
    Ok(())
}

/// `close_range(first, last, 0)`, listing /proc/self/fd on kernels before
/// 5.9.
fn close_range(first: u32, last: u32) -> io::Result<()> {
    // SAFETY: close_range only closes fds; the caller guarantees that no
    // Rust object it will use or drop owns one of them.
    let ret = unsafe { libc::close_range(first, last, 0) };
    if ret == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::ENOSYS) {
        return Err(err);
    }
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd: &RawFd| (first as i64..=last as i64).contains(&(*fd as i64)))
        .collect();
    for fd in fds {
        // SAFETY: as above; the one fd the listing itself used is closed
        // already and gives EBADF, which is ignored.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// `prctl(PR_SET_PDEATHSIG, sig)`: the kernel sends `sig` to the caller
/// when its parent (the thread that cloned it) exits; 0 clears it. A
/// change of the effective ids clears it too, so init sets it again after
/// each.
pub fn set_parent_death_signal(sig: libc::c_int) -> io::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes an integer and touches no memory.
    let ret = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Borrow a raw fd number that the caller knows to be open for the
/// duration of the borrow (stdio, fds inherited by number from our caller).
pub fn borrow_fd(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: callers only pass fds they know are open for the rest of the
    // process' life (0, 1, 2, or --preserve-fds fds); a closed number makes
    // the following syscall fail with EBADF, never touches memory.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Take ownership of an fd number inherited from our caller (e.g. an fd
/// passed by number in the environment).
///
/// # Panics
/// Never; returns EBADF when `fd` is not open.
pub fn adopt_fd(fd: RawFd) -> io::Result<OwnedFd> {
    nix::fcntl::fcntl(borrow_fd(fd), nix::fcntl::FcntlArg::F_GETFD).map_err(io::Error::from)?;
    // SAFETY: the fd is open (F_GETFD succeeded) and the caller hands its
    // ownership to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pidfd_open(2)` (Linux 5.3): a file descriptor referring to process
/// `pid` (close-on-exec).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments; the kernel returns a new fd or -1.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned `ret` as a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// Reset `sig` to its default disposition (e.g. SIGPIPE, which the Rust
/// runtime ignores, before exec'ing a user's program).
pub fn default_signal(sig: nix::sys::signal::Signal) {
    // SAFETY: SIG_DFL installs no handler, so no code of ours can run in
    // signal context.
    let _ = unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) };
}

/// End the process as a write to a closed pipe ends a Go program (runc):
/// killed by SIGPIPE, without a message. Exits 141 (128 + SIGPIPE) should
/// the signal not end it.
pub fn die_of_sigpipe() -> ! {
    use nix::sys::signal::{raise, sigprocmask, SigSet, SigmaskHow, Signal};
    default_signal(Signal::SIGPIPE);
    let mut pipe = SigSet::empty();
    pipe.add(Signal::SIGPIPE);
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&pipe), None);
    let _ = raise(Signal::SIGPIPE);
    std::process::exit(128 + Signal::SIGPIPE as i32)
}

/// Give the heap's free pages back to the kernel (glibc's `malloc_trim(0)`:
/// the free chunks' whole pages are `MADV_DONTNEED`ed, the top of the heap
/// is shrunk). For a process about to sit idle, e.g. init blocked on
/// `exec.fifo` with the runtime's freed buffers in its heap. Elsewhere a no-op.
pub fn release_free_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only rearranges the allocator's own free memory;
    // no allocation of ours is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`: give the caller a new
/// session keyring named `name` (so containers do not share the host's).
/// Returns the keyring's serial.
pub fn join_session_keyring(name: &str) -> io::Result<i64> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name =
        std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: the name pointer is a valid NUL-terminated string that the
    // kernel only reads during the call.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A terminal's size in rows and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowSize {
    pub rows: u16,
    pub cols: u16,
}

/// `ioctl(fd, TIOCGWINSZ)`: the size of terminal `fd`, or None when `fd` is
/// not a terminal.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<WindowSize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one struct winsize into `ws`, which lives
    // for the duration of the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (ret == 0).then_some(WindowSize {
        rows: ws.ws_row,
        cols: ws.ws_col,
    })
}

/// `ioctl(fd, TIOCSWINSZ)`: set the size of terminal `fd`.
pub fn set_window_size(fd: BorrowedFd<'_>, size: WindowSize) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ only reads the struct winsize we pass.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether this process runs in a user namespace other than the host's:
/// its uid map is not the whole identity map `0 0 4294967295` (runc's test).
pub fn running_in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domainname_rejects_overlong_names() {
        let long = "x".repeat(70_000);
        assert!(set_domainname(&long).is_err());
    }
}
