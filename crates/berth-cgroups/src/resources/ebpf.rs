//! cgroup v2 device control: device rules compiled to a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program. The LAST rule that matches decides,
//! as with v1 and runc; no matching rule denies. A rule matches a device by
//! type, major and minor, and an access when it is an allow rule granting ALL
//! of the access asked for, or a deny rule denying ANY of it (so a `rw` open
//! is refused by a deny of `w`, as v1 does).

use std::os::fd::AsFd;
use std::path::Path;

use berth_sys::cgroup::{
    attach_cgroup_device_program, cgroup_device_programs, detach_cgroup_device_program,
    load_cgroup_device_program, BpfInsn,
};

use super::devices::DeviceRule;
use crate::{fsutil, CgroupError};

// The few eBPF opcodes the program needs.
const LDX_MEM_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const ALU32_MOV_X: u8 = 0xbc; // w_dst = w_src
const ALU32_AND_K: u8 = 0x54; // w_dst &= imm
const ALU32_RSH_K: u8 = 0x74; // w_dst >>= imm
const JMP_JNE_K: u8 = 0x55; // if dst != imm goto +off
const JMP_JEQ_K: u8 = 0x15; // if dst == imm goto +off
const ALU64_MOV_K: u8 = 0xb7; // dst = imm
const JMP_EXIT: u8 = 0x95; // return r0

// Registers: r1 holds the context (struct bpf_cgroup_dev_ctx); the prologue
// loads the device type, access, major and minor into these.
const R_TYPE: u8 = 3;
const R_ACCESS: u8 = 4;
const R_MAJOR: u8 = 5;
const R_MINOR: u8 = 6;
const R_SCRATCH: u8 = 7;

// struct bpf_cgroup_dev_ctx: access_type = (access << 16) | type, major, minor.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    let mut bytes = [0u8; 8];
    bytes[0] = code;
    bytes[1] = (src << 4) | dst;
    bytes[2..4].copy_from_slice(&off.to_le_bytes());
    bytes[4..8].copy_from_slice(&imm.to_le_bytes());
    bytes
}

/// Compiles device rules into a device program (see the module docs).
pub fn device_program(rules: &[DeviceRule]) -> Vec<BpfInsn> {
    let mut program = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_MOV_X, R_TYPE, 2, 0, 0),
        insn(ALU32_AND_K, R_TYPE, 0, 0, 0xffff),
        insn(ALU32_MOV_X, R_ACCESS, 2, 0, 0),
        insn(ALU32_RSH_K, R_ACCESS, 0, 0, 16),
        insn(LDX_MEM_W, R_MAJOR, 1, 4, 0),
        insn(LDX_MEM_W, R_MINOR, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let block = rule_block(rule);
        let unconditional = !block.iter().any(is_jump);
        program.extend(block);
        if unconditional {
            // matches everything: earlier rules would be unreachable, which the
            // verifier refuses
            return program;
        }
    }
    program.extend(verdict(false));
    program
}

fn verdict(allow: bool) -> [BpfInsn; 2] {
    [
        insn(ALU64_MOV_K, 0, 0, 0, i32::from(allow)),
        insn(JMP_EXIT, 0, 0, 0, 0),
    ]
}

fn is_jump(ins: &BpfInsn) -> bool {
    matches!(ins[0], JMP_JNE_K | JMP_JEQ_K)
}

/// A jump to the next rule when `register != value`; the offset is set by
/// [`rule_block`] once the block's length is known.
fn skip_unless(register: u8, value: i32) -> BpfInsn {
    insn(JMP_JNE_K, register, 0, 0, value)
}

/// One rule: checks that skip to the next rule on a mismatch, then its verdict.
fn rule_block(rule: &DeviceRule) -> Vec<BpfInsn> {
    let mut block = Vec::new();
    match rule.kind {
        'b' => block.push(skip_unless(R_TYPE, DEV_BLOCK)),
        'c' => block.push(skip_unless(R_TYPE, DEV_CHAR)),
        _ => {}
    }
    let access = access_bits(&rule.access);
    if access != ACC_ALL {
        block.push(insn(ALU32_MOV_X, R_SCRATCH, R_ACCESS, 0, 0));
        if rule.allow {
            // allow: every access asked for is granted by the rule
            block.push(insn(ALU32_AND_K, R_SCRATCH, 0, 0, !access & ACC_ALL));
            block.push(skip_unless(R_SCRATCH, 0));
        } else {
            // deny: any access asked for is denied by the rule (as v1 does)
            block.push(insn(ALU32_AND_K, R_SCRATCH, 0, 0, access));
            block.push(insn(JMP_JEQ_K, R_SCRATCH, 0, 0, 0));
        }
    }
    if let Some(major) = rule.major {
        block.push(skip_unless(R_MAJOR, device_number(major)));
    }
    if let Some(minor) = rule.minor {
        block.push(skip_unless(R_MINOR, device_number(minor)));
    }
    block.extend(verdict(rule.allow));
    let len = block.len();
    for (i, ins) in block.iter_mut().enumerate() {
        if is_jump(ins) {
            let to_next_rule = (len - i - 1) as i16;
            ins[2..4].copy_from_slice(&to_next_rule.to_le_bytes());
        }
    }
    block
}

/// Device numbers fit an i32 immediate (majors are 12 bits, minors 20).
fn device_number(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn access_bits(access: &str) -> i32 {
    access
        .chars()
        .map(|c| match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        })
        .fold(0, |bits, bit| bits | bit)
}

fn bpf_error(step: &'static str, dir: &Path, source: std::io::Error, log: String) -> CgroupError {
    CgroupError::DeviceProgram {
        step,
        path: dir.to_path_buf(),
        source,
        verifier_log: log,
    }
}

/// Loads the program for `rules`, attaches it to the cgroup `dir`, then detaches
/// the device programs that were there before (so there is no moment without one).
pub(crate) fn install_device_program(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    let cgroup = fsutil::open_dir(dir)
        .map_err(|e| bpf_error("opening the cgroup", dir, e, String::new()))?;
    let program = load_cgroup_device_program(&device_program(rules), c"Apache")
        .map_err(|e| bpf_error("loading the device program", dir, e.error, e.verifier_log))?;
    let previous = cgroup_device_programs(cgroup.as_fd()).map_err(|e| {
        bpf_error(
            "listing the attached device programs",
            dir,
            e,
            String::new(),
        )
    })?;
    attach_cgroup_device_program(cgroup.as_fd(), program.as_fd())
        .map_err(|e| bpf_error("attaching the device program", dir, e, String::new()))?;
    for old in &previous {
        detach_cgroup_device_program(cgroup.as_fd(), old.as_fd()).map_err(|e| {
            bpf_error(
                "detaching the previous device program",
                dir,
                e,
                String::new(),
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::devices::device_rule;

    /// Runs a device program on one access, interpreting the opcodes above.
    fn run(program: &[BpfInsn], dev_type: i32, major: u32, minor: u32, access: i32) -> u64 {
        let ctx = [((access << 16) | dev_type) as u32, major, minor];
        let mut regs = [0u64; 11];
        let mut pc = 0;
        loop {
            let ins = program[pc];
            let (dst, src) = ((ins[1] & 0xf) as usize, (ins[1] >> 4) as usize);
            let off = i16::from_le_bytes([ins[2], ins[3]]);
            let imm = i32::from_le_bytes([ins[4], ins[5], ins[6], ins[7]]);
            pc += 1;
            match ins[0] {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "loads only from the context");
                    regs[dst] = u64::from(ctx[off as usize / 4]);
                }
                ALU32_MOV_X => regs[dst] = regs[src] & 0xffff_ffff,
                ALU32_AND_K => regs[dst] = (regs[dst] as u32 & imm as u32) as u64,
                ALU32_RSH_K => regs[dst] = ((regs[dst] as u32) >> imm) as u64,
                ALU64_MOV_K => regs[dst] = imm as i64 as u64,
                JMP_JNE_K if regs[dst] != imm as i64 as u64 => pc += off as usize,
                JMP_JNE_K => {}
                JMP_JEQ_K if regs[dst] == imm as i64 as u64 => pc += off as usize,
                JMP_JEQ_K => {}
                JMP_EXIT => return regs[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    /// The verifier refuses programs with instructions no path reaches.
    fn assert_all_reachable(program: &[BpfInsn]) {
        let mut reached = vec![false; program.len()];
        let mut todo = vec![0usize];
        while let Some(pc) = todo.pop() {
            if pc >= program.len() || std::mem::replace(&mut reached[pc], true) {
                continue;
            }
            match program[pc][0] {
                JMP_EXIT => {}
                JMP_JNE_K | JMP_JEQ_K => {
                    let off = i16::from_le_bytes([program[pc][2], program[pc][3]]);
                    todo.extend([pc + 1, pc + 1 + off as usize]);
                }
                _ => todo.push(pc + 1),
            }
        }
        assert!(
            reached.iter().all(|r| *r),
            "unreachable instructions: {reached:?}"
        );
    }

    fn rules(json: &str) -> Vec<DeviceRule> {
        let spec: Vec<berth_spec::LinuxDeviceCgroup> = serde_json::from_str(json).unwrap();
        spec.iter()
            .enumerate()
            .map(|(i, r)| device_rule(i, r).unwrap())
            .collect()
    }

    const RW: i32 = ACC_READ | ACC_WRITE;

    #[test]
    fn deny_all_then_allow_list() {
        let p = device_program(&rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":true,"type":"c","major":136,"access":"rw"},
                {"allow":true,"type":"c","access":"m"}]"#,
        ));
        assert_all_reachable(&p);
        assert_eq!(run(&p, DEV_CHAR, 1, 3, RW), 1, "/dev/null");
        assert_eq!(
            run(&p, DEV_CHAR, 1, 5, ACC_READ),
            0,
            "/dev/zero is not listed"
        );
        assert_eq!(run(&p, DEV_BLOCK, 1, 3, ACC_READ), 0, "type matters");
        assert_eq!(
            run(&p, DEV_CHAR, 136, 7, ACC_WRITE),
            1,
            "pts wildcard minor"
        );
        assert_eq!(
            run(&p, DEV_BLOCK, 8, 0, ACC_MKNOD),
            0,
            "mknod is granted for char devices only"
        );
        assert_eq!(
            run(&p, DEV_CHAR, 42, 1, ACC_MKNOD),
            1,
            "mknod of any char device"
        );
        assert_eq!(
            run(&p, DEV_CHAR, 42, 1, ACC_MKNOD | ACC_READ),
            0,
            "asked access must be covered"
        );
    }

    #[test]
    fn the_last_matching_rule_wins() {
        let p = device_program(&rules(
            r#"[{"allow":true,"access":"rwm"},
                {"allow":false,"type":"b","major":8,"access":"w"}]"#,
        ));
        assert_all_reachable(&p);
        assert_eq!(run(&p, DEV_BLOCK, 8, 1, ACC_WRITE), 0);
        assert_eq!(
            run(&p, DEV_BLOCK, 8, 1, ACC_READ | ACC_WRITE),
            0,
            "a partly denied access is denied"
        );
        assert_eq!(run(&p, DEV_BLOCK, 8, 1, ACC_READ), 1);
        assert_eq!(run(&p, DEV_CHAR, 8, 1, ACC_WRITE), 1);
        assert_eq!(
            run(&device_program(&[]), DEV_CHAR, 1, 3, ACC_READ),
            0,
            "no rules deny"
        );
    }
}
