//! The names a seccomp profile may use, one table each. The parsers read
//! these tables and `features` lists them, so what berth accepts and what
//! it says it accepts cannot drift apart.

use libseccomp::{ScmpArch, ScmpCompareOp};

/// What a rule (or the default) does, before its errno is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ActionKind {
    KillThread,
    KillProcess,
    Trap,
    Errno,
    Trace,
    Allow,
    Log,
    Notify,
}

/// runc's actions. `SCMP_ACT_KILL` is libseccomp's old name of
/// `SCMP_ACT_KILL_THREAD`.
pub(super) const ACTIONS: &[(&str, ActionKind)] = &[
    ("SCMP_ACT_ALLOW", ActionKind::Allow),
    ("SCMP_ACT_ERRNO", ActionKind::Errno),
    ("SCMP_ACT_KILL", ActionKind::KillThread),
    ("SCMP_ACT_KILL_PROCESS", ActionKind::KillProcess),
    ("SCMP_ACT_KILL_THREAD", ActionKind::KillThread),
    ("SCMP_ACT_LOG", ActionKind::Log),
    ("SCMP_ACT_NOTIFY", ActionKind::Notify),
    ("SCMP_ACT_TRACE", ActionKind::Trace),
    ("SCMP_ACT_TRAP", ActionKind::Trap),
];

/// Argument comparisons. The mask of `SCMP_CMP_MASKED_EQ` is the rule's
/// `value` (filled in per argument).
pub(super) const OPERATORS: &[(&str, ScmpCompareOp)] = &[
    ("SCMP_CMP_EQ", ScmpCompareOp::Equal),
    ("SCMP_CMP_GE", ScmpCompareOp::GreaterEqual),
    ("SCMP_CMP_GT", ScmpCompareOp::Greater),
    ("SCMP_CMP_LE", ScmpCompareOp::LessOrEqual),
    ("SCMP_CMP_LT", ScmpCompareOp::Less),
    ("SCMP_CMP_MASKED_EQ", ScmpCompareOp::MaskedEqual(0)),
    ("SCMP_CMP_NE", ScmpCompareOp::NotEqual),
];

/// Architectures: runc 1.1's sixteen plus riscv64 (runc 1.2), all that
/// libseccomp 2.5 can add to a filter. `SCMP_ARCH_NATIVE` is not a
/// profile name (runc refuses it too); the native one is always in.
pub(super) const ARCHES: &[(&str, ScmpArch)] = &[
    ("SCMP_ARCH_AARCH64", ScmpArch::Aarch64),
    ("SCMP_ARCH_ARM", ScmpArch::Arm),
    ("SCMP_ARCH_MIPS", ScmpArch::Mips),
    ("SCMP_ARCH_MIPS64", ScmpArch::Mips64),
    ("SCMP_ARCH_MIPS64N32", ScmpArch::Mips64N32),
    ("SCMP_ARCH_MIPSEL", ScmpArch::Mipsel),
    ("SCMP_ARCH_MIPSEL64", ScmpArch::Mipsel64),
    ("SCMP_ARCH_MIPSEL64N32", ScmpArch::Mipsel64N32),
    ("SCMP_ARCH_PPC", ScmpArch::Ppc),
    ("SCMP_ARCH_PPC64", ScmpArch::Ppc64),
    ("SCMP_ARCH_PPC64LE", ScmpArch::Ppc64Le),
    ("SCMP_ARCH_RISCV64", ScmpArch::Riscv64),
    ("SCMP_ARCH_S390", ScmpArch::S390),
    ("SCMP_ARCH_S390X", ScmpArch::S390X),
    ("SCMP_ARCH_X32", ScmpArch::X32),
    ("SCMP_ARCH_X86", ScmpArch::X86),
    ("SCMP_ARCH_X86_64", ScmpArch::X8664),
];

/// seccomp(2) filter flags a profile may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flag {
    /// Synchronise all threads: init has one thread, nothing to do (as
    /// runc 1.2).
    Tsync,
    /// Let the process keep its speculative store bypass setting.
    SpecAllow,
    /// Log every action but ALLOW.
    Log,
    /// Wait killable for a notification's answer (Linux 5.19; only with
    /// a listener).
    WaitKillableRecv,
}

/// runc 1.2's known flags, in its order.
pub(super) const FLAGS: &[(&str, Flag)] = &[
    ("SECCOMP_FILTER_FLAG_TSYNC", Flag::Tsync),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", Flag::SpecAllow),
    ("SECCOMP_FILTER_FLAG_LOG", Flag::Log),
    (
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        Flag::WaitKillableRecv,
    ),
];

/// The value a table gives a name.
pub(super) fn lookup<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The name a table gives a value.
pub(super) fn name_of<T: PartialEq>(table: &[(&'static str, T)], value: &T) -> &'static str {
    table
        .iter()
        .find(|(_, v)| v == value)
        .map_or("?", |(name, _)| *name)
}

/// The names of a table, in its order.
pub(super) fn names_of<T>(table: &[(&'static str, T)]) -> Vec<&'static str> {
    table.iter().map(|(name, _)| *name).collect()
}
