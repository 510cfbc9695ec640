//! Scheduling-related syscalls of a process (runtime-spec 1.1-1.3):
//! `sched_setattr`, `ioprio_set`, `sched_setaffinity` with a mask of any
//! size, `personality`, `set_mempolicy`.

use std::io;

/// `struct sched_attr` of sched_setattr(2), without the utilization clamps
/// (size version 0, 48 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// A syscall's return value: -1 sets errno.
fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// sched_setattr(2) for the calling thread.
pub fn set_sched_attr(attr: &SchedAttr) -> io::Result<()> {
    let mut attr = *attr;
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is a valid sched_attr whose `size` says how many bytes
    // the kernel may read; pid 0 is the caller; flags must be 0.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    check(ret).map(drop)
}

/// `IOPRIO_WHO_PROCESS`: `who` is a pid (0: the caller).
const IOPRIO_WHO_PROCESS: libc::c_long = 1;

/// ioprio_set(2) for the calling process: `class << 13 | level`.
pub fn set_io_priority(class: u16, level: u16) -> io::Result<()> {
    let value = (libc::c_long::from(class) << 13) | libc::c_long::from(level);
    // SAFETY: plain integer arguments; no memory is passed.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    check(ret).map(drop)
}

/// sched_setaffinity(2) of `pid` (0: the caller) to the CPUs whose bits are
/// set in `mask` (bit `n` of word `n / 64` is CPU `n`). A mask longer than
/// the kernel's is accepted; the kernel keeps only the CPUs of the task's
/// cpuset.
pub fn set_cpu_affinity(pid: i32, mask: &[u64]) -> io::Result<()> {
    // SAFETY: `mask` is valid for `size_of_val(mask)` bytes, which is the
    // length we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_sched_setaffinity,
            pid,
            std::mem::size_of_val(mask),
            mask.as_ptr(),
        )
    };
    check(ret).map(drop)
}

/// personality(2): set the execution domain (and its flags).
pub fn set_personality(persona: u64) -> io::Result<()> {
    // SAFETY: an integer argument; no memory is passed.
    let ret = unsafe { libc::personality(persona as libc::c_ulong) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// set_mempolicy(2): `mode` (with its `MPOL_F_*` flags) over the NUMA
/// nodes whose bits are set in `nodes` (empty: no node mask).
pub fn set_memory_policy(mode: i32, nodes: &[u64]) -> io::Result<()> {
    let (ptr, max_node) = if nodes.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads maxnode - 1 bits (libnuma passes bits + 1).
        (nodes.as_ptr(), nodes.len() * 64 + 1)
    };
    // SAFETY: `ptr` is null or valid for `nodes.len()` words, and the kernel
    // reads at most `max_node - 1` bits of it.
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, max_node) };
    check(ret).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_attr_is_the_kernels_size_0() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 48);
    }
}
