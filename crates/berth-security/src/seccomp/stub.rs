//! runc's -ENOSYS stub (runc 1.0.0-rc93 and later): a few BPF instructions
//! put before libseccomp's program so that a syscall newer than every
//! syscall the profile names fails with ENOSYS instead of the default
//! action. A program that meets a new syscall (clone3, faccessat2,
//! openat2...) under an old profile with an `SCMP_ACT_ERRNO` default then
//! sees "not implemented" and falls back (glibc does), instead of EPERM.
//!
//! Per architecture of the filter (the native one and `architectures`),
//! the limit is the highest number any named syscall has there; an
//! architecture with none gets no check. On x86_64 the x32 ABI (numbers
//! with bit 30 set) and amd64 share an audit architecture and are told
//! apart by that bit; s390's syscall 0 (the multiplexer) is also ENOSYS.
//! Everything else goes on to libseccomp's program unchanged.

use berth_sys::seccomp::SockFilter;
use libseccomp::{ScmpArch, ScmpSyscall};

/// The x32 ABI's bit in syscall numbers.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The kernel's action "fail with errno ENOSYS".
const RET_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;

// Classic BPF opcodes.
const LD_W_ABS: u16 = 0x20;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGT_K: u16 = 0x25;
const JMP_JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

// Offsets in struct seccomp_data.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;

/// The AUDIT_ARCH_* value the kernel puts in `seccomp_data.arch` (libseccomp
/// uses the same values for its arch tokens, except x32's).
fn audit_arch(arch: ScmpArch) -> Option<u32> {
    use ScmpArch as A;
    Some(match arch {
        A::X86 => 0x4000_0003,
        A::X8664 | A::X32 => AUDIT_ARCH_X86_64,
        A::Arm => 0x4000_0028,
        A::Aarch64 => 0xC000_00B7,
        A::Mips => 0x0000_0008,
        A::Mips64 => 0x8000_0008,
        A::Mips64N32 => 0xA000_0008,
        A::Mipsel => 0x4000_0008,
        A::Mipsel64 => 0xC000_0008,
        A::Mipsel64N32 => 0xE000_0008,
        A::Ppc => 0x0000_0014,
        A::Ppc64 => 0x8000_0015,
        A::Ppc64Le => 0xC000_0015,
        A::S390 => 0x0000_0016,
        A::S390X => 0x8000_0016,
        A::Riscv64 => 0xC000_00F3,
        _ => return None,
    })
}

/// The highest number a named syscall has on `arch` (None: it knows none
/// of them).
fn last_syscall(names: &[&str], arch: ScmpArch) -> Option<u32> {
    names
        .iter()
        .filter_map(|name| ScmpSyscall::from_name_by_arch(name, arch).ok())
        .filter_map(|nr| u32::try_from(nr.as_raw_syscall()).ok())
        .max()
}

/// Where a jump of a section goes.
#[derive(Debug, Clone, Copy)]
enum To {
    /// The next instruction.
    Next,
    /// Skip this many instructions.
    Skip(u8),
    /// The section's `ret ENOSYS`.
    Enosys,
    /// libseccomp's program.
    Filter,
}

#[derive(Debug, Clone, Copy)]
struct Insn {
    code: u16,
    k: u32,
    jt: To,
    jf: To,
}

fn jump(code: u16, k: u32, jt: To, jf: To) -> Insn {
    Insn { code, k, jt, jf }
}

/// The checks of one audit architecture, after `ld nr`: each ends in a
/// jump to ENOSYS or to the filter. `limits` are the ABIs that share it.
fn section_body(limits: &[(ScmpArch, u32)]) -> Vec<Insn> {
    use To::*;
    let limit_of = |arch| limits.iter().find(|(a, _)| *a == arch).map(|(_, n)| *n);
    let over = |max| jump(JMP_JGT_K, max, Enosys, Filter);
    match (limit_of(ScmpArch::X8664), limit_of(ScmpArch::X32)) {
        (Some(amd64), Some(x32)) => vec![
            jump(JMP_JSET_K, X32_SYSCALL_BIT, Skip(1), Next),
            over(amd64),
            over(x32),
        ],
        (Some(amd64), None) => vec![jump(JMP_JSET_K, X32_SYSCALL_BIT, Filter, Next), over(amd64)],
        (None, Some(x32)) => vec![jump(JMP_JSET_K, X32_SYSCALL_BIT, Next, Filter), over(x32)],
        (None, None) => {
            let (arch, max) = limits[0];
            let mut body = Vec::new();
            if matches!(arch, ScmpArch::S390 | ScmpArch::S390X) {
                body.push(jump(JMP_JEQ_K, 0, Enosys, Next));
            }
            body.push(over(max));
            body
        }
    }
}

/// The stub for a filter of `arches` (the native one first) whose profile
/// names `names`; empty when no architecture knows any of them.
pub(super) fn enosys_stub(names: &[&str], arches: &[ScmpArch]) -> Result<Vec<SockFilter>, String> {
    // Audit architecture -> the ABIs on it with their last syscall.
    let mut groups: Vec<(u32, Vec<(ScmpArch, u32)>)> = Vec::new();
    for &arch in arches {
        let (Some(audit), Some(max)) = (audit_arch(arch), last_syscall(names, arch)) else {
            continue;
        };
        match groups.iter_mut().find(|(a, _)| *a == audit) {
            Some((_, limits)) if !limits.iter().any(|(a, _)| *a == arch) => {
                limits.push((arch, max))
            }
            Some(_) => {}
            None => groups.push((audit, vec![(arch, max)])),
        }
    }
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let sections: Vec<Vec<Insn>> = groups.iter().map(|(_, l)| section_body(l)).collect();
    assemble(&groups, &sections)
}

/// Lay out `ld arch; jeq arch_i -> section_i...; ja filter; sections`,
/// each section `ld nr; body; ja filter; ret ENOSYS`, and resolve the
/// jumps.
fn assemble(
    groups: &[(u32, Vec<(ScmpArch, u32)>)],
    sections: &[Vec<Insn>],
) -> Result<Vec<SockFilter>, String> {
    let head = 1 + groups.len() + 1;
    let total = head + sections.iter().map(|b| b.len() + 3).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    let filter_from = |at: usize| (total - (at + 1)) as u32;
    out.push(raw(LD_W_ABS, OFFSET_ARCH, 0, 0));
    let mut start = head;
    for (i, ((audit, _), body)) in groups.iter().zip(sections).enumerate() {
        let offset = u8::try_from(start - (2 + i)).map_err(|_| "too many architectures")?;
        out.push(raw(JMP_JEQ_K, *audit, offset, 0));
        start += body.len() + 3;
    }
    out.push(raw(JMP_JA, filter_from(out.len()), 0, 0));
    for body in sections {
        out.push(raw(LD_W_ABS, OFFSET_NR, 0, 0));
        for (j, insn) in body.iter().enumerate() {
            let rel = |to| match to {
                To::Next => 0,
                To::Skip(n) => n,
                To::Filter => (body.len() - (j + 1)) as u8,
                To::Enosys => (body.len() - j) as u8,
            };
            out.push(raw(insn.code, insn.k, rel(insn.jt), rel(insn.jf)));
        }
        out.push(raw(JMP_JA, filter_from(out.len()), 0, 0));
        out.push(raw(RET_K, RET_ENOSYS, 0, 0));
    }
    Ok(out)
}

fn raw(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW: u32 = 0x7fff_0000;

    /// Run `program` + `ret ALLOW` (the "filter") on (arch, nr).
    fn run(program: &[SockFilter], arch: u32, nr: u32) -> u32 {
        let mut prog = program.to_vec();
        prog.push(raw(RET_K, ALLOW, 0, 0));
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => acc = if i.k == OFFSET_ARCH { arch } else { nr },
                JMP_JA => pc += i.k as usize,
                JMP_JEQ_K | JMP_JGT_K | JMP_JSET_K => {
                    let hit = match i.code {
                        JMP_JEQ_K => acc == i.k,
                        JMP_JGT_K => acc > i.k,
                        _ => acc & i.k != 0,
                    };
                    pc += usize::from(if hit { i.jt } else { i.jf });
                }
                RET_K => return i.k,
                other => panic!("opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn newer_syscalls_get_enosys_on_amd64() {
        // Highest on x86_64: openat (257).
        let stub = enosys_stub(&["read", "openat", "no_such_call"], &[ScmpArch::X8664]).unwrap();
        assert_eq!(run(&stub, AUDIT_ARCH_X86_64, 257), ALLOW);
        assert_eq!(run(&stub, AUDIT_ARCH_X86_64, 0), ALLOW);
        assert_eq!(run(&stub, AUDIT_ARCH_X86_64, 435), RET_ENOSYS); // clone3
                                                                    // x32 numbers and other architectures go to the filter.
        assert_eq!(run(&stub, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 500), ALLOW);
        assert_eq!(run(&stub, 0x4000_0003, 1000), ALLOW);
    }

    #[test]
    fn each_architecture_has_its_own_limit() {
        let arches = [
            ScmpArch::X8664,
            ScmpArch::X32,
            ScmpArch::X86,
            ScmpArch::S390X,
        ];
        let stub = enosys_stub(&["read", "openat"], &arches).unwrap();
        assert_eq!(run(&stub, AUDIT_ARCH_X86_64, 258), RET_ENOSYS);
        assert_eq!(run(&stub, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 257), ALLOW);
        assert_eq!(
            run(&stub, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 258),
            RET_ENOSYS
        );
        // i386: openat is 295.
        assert_eq!(run(&stub, 0x4000_0003, 295), ALLOW);
        assert_eq!(run(&stub, 0x4000_0003, 296), RET_ENOSYS);
        // s390x: openat is 288; 0 is the multiplexer.
        assert_eq!(run(&stub, 0x8000_0016, 0), RET_ENOSYS);
        assert_eq!(run(&stub, 0x8000_0016, 3), ALLOW);
        assert_eq!(run(&stub, 0x8000_0016, 289), RET_ENOSYS);
    }

    #[test]
    fn no_known_syscall_no_stub() {
        assert!(enosys_stub(&["no_such_call"], &[ScmpArch::X8664])
            .unwrap()
            .is_empty());
    }
}
