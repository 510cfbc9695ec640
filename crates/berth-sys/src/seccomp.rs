//! Loading a raw seccomp BPF program with seccomp(2) (libseccomp builds
//! the filter; berth prepends runc's -ENOSYS stub and loads the result).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// One classic BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const SECCOMP_SET_MODE_FILTER: libc::c_long = 1;

/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: the kernel returns a notify fd.
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, program) for the calling
/// thread. With [`FLAG_NEW_LISTENER`] the listener fd is returned.
pub fn set_mode_filter(flags: u32, program: &[SockFilter]) -> io::Result<Option<OwnedFd>> {
    let len =
        u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points to `len` instructions of the layout of struct
    // sock_filter, alive for the call; the kernel copies them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_long::from(flags),
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    // SAFETY: with NEW_LISTENER the return value is a new fd that nothing
    // else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }))
}

/// Does the kernel know these filter flags? Asked the way libseccomp does:
/// with no program, known flags fail with EFAULT, unknown ones with EINVAL.
pub fn filter_flags_supported(flags: u32) -> bool {
    // SAFETY: a null program pointer; the kernel checks the flags first
    // and then fails to copy from it (EFAULT) without touching our memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_long::from(flags),
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sock_filter_is_the_kernels() {
        assert_eq!(std::mem::size_of::<SockFilter>(), 8);
        assert_eq!(
            std::mem::size_of::<SockFilter>(),
            std::mem::size_of::<libc::sock_filter>()
        );
    }

    #[test]
    fn flag_probe_tells_known_from_unknown() {
        assert!(filter_flags_supported(1 << 1)); // LOG, Linux 4.14
        assert!(!filter_flags_supported(1 << 30));
    }
}
