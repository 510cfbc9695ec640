//! cgroup syscalls nix lacks: `bpf(2)` for cgroup v2 device control
//! (`BPF_PROG_TYPE_CGROUP_DEVICE` programs attached to a cgroup directory).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// One eBPF instruction as the kernel reads it: code, dst/src registers,
/// 16-bit offset, 32-bit immediate (`struct bpf_insn`, 8 bytes).
pub type BpfInsn = [u8; 8];

// bpf(2) commands, program type, attach type and flag (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// `union bpf_attr`, zero-filled and large enough for every field the kernel
/// may write back for the commands used here (it only copies what we pass).
#[repr(C, align(8))]
struct BpfAttr([u8; 128]);

impl BpfAttr {
    fn new() -> Self {
        Self([0; 128])
    }

    fn put_u32(&mut self, offset: usize, value: u32) -> &mut Self {
        self.0[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
        self
    }

    fn put_u64(&mut self, offset: usize, value: u64) -> &mut Self {
        self.0[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
        self
    }

    fn get_u32(&self, offset: usize) -> u32 {
        u32::from_ne_bytes(self.0[offset..offset + 4].try_into().expect("4 bytes"))
    }
}

/// Calls `bpf(cmd, attr, sizeof attr)`; a non-negative result is returned as is.
fn bpf(cmd: libc::c_long, attr: &mut BpfAttr) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a valid, writable, 8-aligned buffer of the size passed;
    // every pointer stored in it (by the callers) outlives this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut BpfAttr,
            std::mem::size_of::<BpfAttr>(),
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn owned_fd(raw: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel just returned this new fd to us; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(raw as i32) }
}

/// A program the verifier refused, with its log.
#[derive(Debug)]
pub struct BpfLoadError {
    pub error: io::Error,
    pub verifier_log: String,
}

/// Size of the verifier log asked for when a load fails.
const VERIFIER_LOG_SIZE: usize = 64 * 1024;

/// Loads a `BPF_PROG_TYPE_CGROUP_DEVICE` program. On failure it loads again
/// with the verifier's log, which the error carries.
pub fn load_cgroup_device_program(
    insns: &[BpfInsn],
    license: &CStr,
) -> Result<OwnedFd, BpfLoadError> {
    load_program(insns, license, None).or_else(|_| {
        let mut log = vec![0u8; VERIFIER_LOG_SIZE];
        let error = match load_program(insns, license, Some(&mut log)) {
            Ok(fd) => return Ok(fd),
            Err(e) => e,
        };
        let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
        Err(BpfLoadError {
            error,
            verifier_log: String::from_utf8_lossy(&log[..end]).into_owned(),
        })
    })
}

fn load_program(insns: &[BpfInsn], license: &CStr, log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let mut attr = BpfAttr::new();
    attr.put_u32(0, BPF_PROG_TYPE_CGROUP_DEVICE) // prog_type
        .put_u32(4, insns.len() as u32) // insn_cnt
        .put_u64(8, insns.as_ptr() as u64) // insns
        .put_u64(16, license.as_ptr() as u64); // license
    if let Some(log) = log {
        attr.put_u32(24, 1) // log_level
            .put_u32(28, log.len() as u32) // log_size
            .put_u64(32, log.as_mut_ptr() as u64); // log_buf
    }
    bpf(BPF_PROG_LOAD, &mut attr).map(owned_fd)
}

/// `attach` / `detach` attr: target_fd, attach_bpf_fd, attach_type, attach_flags.
fn attach_attr(cgroup: BorrowedFd<'_>, program: BorrowedFd<'_>, flags: u32) -> BpfAttr {
    let mut attr = BpfAttr::new();
    attr.put_u32(0, cgroup.as_raw_fd() as u32)
        .put_u32(4, program.as_raw_fd() as u32)
        .put_u32(8, BPF_CGROUP_DEVICE)
        .put_u32(12, flags);
    attr
}

/// Attaches a device program to the cgroup directory `cgroup` (multi mode, so
/// that it can be swapped later without a window with no program at all).
pub fn attach_cgroup_device_program(
    cgroup: BorrowedFd<'_>,
    program: BorrowedFd<'_>,
) -> io::Result<()> {
    bpf(
        BPF_PROG_ATTACH,
        &mut attach_attr(cgroup, program, BPF_F_ALLOW_MULTI),
    )
    .map(drop)
}

/// Detaches one device program from the cgroup directory `cgroup`.
pub fn detach_cgroup_device_program(
    cgroup: BorrowedFd<'_>,
    program: BorrowedFd<'_>,
) -> io::Result<()> {
    bpf(BPF_PROG_DETACH, &mut attach_attr(cgroup, program, 0)).map(drop)
}

/// The most program ids asked for by one query.
const MAX_QUERIED_PROGRAMS: usize = 64;

/// The device programs attached directly to the cgroup directory `cgroup`,
/// opened (needs `CAP_SYS_ADMIN`).
pub fn cgroup_device_programs(cgroup: BorrowedFd<'_>) -> io::Result<Vec<OwnedFd>> {
    let mut ids = [0u32; MAX_QUERIED_PROGRAMS];
    let mut attr = BpfAttr::new();
    attr.put_u32(0, cgroup.as_raw_fd() as u32) // target_fd
        .put_u32(4, BPF_CGROUP_DEVICE) // attach_type
        .put_u64(16, ids.as_mut_ptr() as u64) // prog_ids
        .put_u32(24, ids.len() as u32); // prog_cnt
    bpf(BPF_PROG_QUERY, &mut attr)?;
    let count = (attr.get_u32(24) as usize).min(ids.len());
    ids[..count].iter().map(|id| program_by_id(*id)).collect()
}

fn program_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = BpfAttr::new();
    attr.put_u32(0, id);
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned_fd)
}
