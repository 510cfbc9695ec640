//! `linux.seccomp`, applied as runc 1.1 applies it, through libseccomp.
//!
//! Three stages, each in the process that needs it:
//! 1. [`Profile::from_spec`] (the runtime, before anything is created)
//!    checks every name and translates the profile into libseccomp rules; a
//!    refusal names the field and the value;
//! 2. [`Profile::build`] (the runtime, before the clone) makes the
//!    libseccomp filter, exports it as BPF and puts runc's -ENOSYS stub
//!    (`stub`) before it; init inherits the program with the rest of its
//!    config;
//! 3. [`Filter::load`] (init) loads it with seccomp(2) and, when a rule is
//!    `SCMP_ACT_NOTIFY`, returns the listener fd for the seccomp agent.
//!
//! runc's rules, kept here:
//! - no default action and no rules: no filter at all;
//! - `SCMP_ACT_ERRNO` and `SCMP_ACT_TRACE` return EPERM unless
//!   `errnoRet` (`defaultErrnoRet` for the default) says otherwise;
//! - a rule whose action equals the default action is skipped;
//! - a syscall name libseccomp does not know is skipped (a profile may name
//!   syscalls newer than the library);
//! - the conditions of a rule on different arguments form one rule (all
//!   must hold); when two test the same argument, each becomes a rule of its
//!   own (any one is enough), as in runc;
//! - `SCMP_ACT_NOTIFY` may not be the default action, nor apply to `write`
//!   (runc's rule) or `sendmsg` (init passes the listener fd with it), and
//!   needs `listenerPath`;
//! - the filter does not set no_new_privs (init does, from
//!   `process.noNewPrivileges`);
//! - unless the default action is ALLOW, LOG or TRACE (or ERRNO(ENOSYS)),
//!   a syscall numbered above every syscall the profile names fails with
//!   ENOSYS (runc 1.0's -ENOSYS stub; glibc then falls back from clone3,
//!   faccessat2...).

mod names;
mod stub;
#[cfg(test)]
mod tests;

use std::io::{Read, Seek};
use std::os::fd::OwnedFd;

use berth_sys::seccomp::SockFilter;

use berth_spec::{LinuxSeccomp, LinuxSeccompArg, LinuxSyscall};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use nix::errno::Errno;

use names::{lookup, name_of, names_of, ActionKind, Flag, ACTIONS, ARCHES, FLAGS, OPERATORS};

/// The errno of ERRNO and TRACE when the profile gives none.
const DEFAULT_ERRNO: u16 = Errno::EPERM as u16;

/// Syscalls have at most six arguments.
const MAX_ARG_INDEX: u32 = 5;

/// A refused profile, a filter libseccomp would not build, or one the
/// kernel would not load.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("{field}: {problem}")]
    Profile { field: String, problem: String },
    /// libseccomp's error is shown, not chained: its text already holds
    /// its own source ("X caused by: Y").
    #[error("{what}: {cause}")]
    Library {
        what: String,
        cause: libseccomp::error::SeccompError,
    },
    #[error("{what}")]
    Kernel {
        what: &'static str,
        #[source]
        source: Errno,
    },
}

type Result<T> = std::result::Result<T, SeccompError>;

fn refuse(field: impl Into<String>, problem: impl Into<String>) -> SeccompError {
    SeccompError::Profile {
        field: field.into(),
        problem: problem.into(),
    }
}

fn library(
    what: impl Into<String>,
) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    let what = what.into();
    move |cause| SeccompError::Library { what, cause }
}

/// One libseccomp rule: a syscall by libseccomp's number for the native
/// architecture (negative for a syscall only other architectures have),
/// the action, and conditions that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    name: String,
    syscall: i32,
    action: ScmpAction,
    conditions: Vec<ScmpArgCompare>,
}

/// A checked profile, translated into libseccomp's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    default_action: ScmpAction,
    /// Besides the native one, which every filter has.
    arches: Vec<ScmpArch>,
    flags: Vec<(&'static str, Flag)>,
    rules: Vec<Rule>,
    /// runc's -ENOSYS stub, put before libseccomp's program.
    stub: Vec<SockFilter>,
}

impl Profile {
    /// Check and translate `linux.seccomp`; `None` when it asks for no
    /// filter (no default action and no rules).
    pub fn from_spec(spec: &LinuxSeccomp) -> Result<Option<Profile>> {
        if spec.default_action.is_empty() && spec.syscalls.is_empty() {
            return Ok(None);
        }
        let default_action = action(
            "linux.seccomp.defaultAction",
            &spec.default_action,
            spec.default_errno_ret,
        )?;
        if default_action == ScmpAction::Notify {
            return Err(refuse(
                "linux.seccomp.defaultAction",
                "SCMP_ACT_NOTIFY cannot be used as default action",
            ));
        }
        let mut rules = Vec::new();
        for (i, syscall) in spec.syscalls.iter().enumerate() {
            rules.extend(rules_of(i, syscall, default_action)?);
        }
        let arches = arches(&spec.architectures)?;
        let stub = enosys_stub(spec, default_action, &arches)?;
        let profile = Profile {
            default_action,
            arches,
            flags: flags(&spec.flags)?,
            rules,
            stub,
        };
        if profile.uses_notify() && spec.listener_path.is_empty() {
            return Err(refuse(
                "linux.seccomp.listenerPath",
                "must be set when a rule is SCMP_ACT_NOTIFY",
            ));
        }
        Ok(Some(profile))
    }

    /// Does a rule hand syscalls to the seccomp agent?
    pub fn uses_notify(&self) -> bool {
        self.rules.iter().any(|r| r.action == ScmpAction::Notify)
    }

    /// The program for init to load: the -ENOSYS stub, then libseccomp's
    /// filter exported as BPF.
    pub fn build(&self) -> Result<Filter> {
        let mut ctx = ScmpFilterContext::new(self.default_action)
            .map_err(library("linux.seccomp: create the filter"))?;
        for arch in &self.arches {
            let name = name_of(ARCHES, arch);
            ctx.add_arch(*arch)
                .map_err(library(format!("linux.seccomp: add architecture {name}")))?;
        }
        for rule in &self.rules {
            add_rule(&mut ctx, rule)?;
        }
        let mut program = self.stub.clone();
        program.extend(export_bpf(&ctx)?);
        Ok(Filter {
            program,
            flags: self.kernel_flags(),
        })
    }

    /// seccomp(2)'s flags: the profile's, and a listener for NOTIFY rules
    /// (WAIT_KILLABLE_RECV only with one, as libseccomp). TSYNC: init has
    /// one thread, nothing to synchronise.
    fn kernel_flags(&self) -> u32 {
        let notify = self.uses_notify();
        let mut bits = if notify {
            berth_sys::seccomp::FLAG_NEW_LISTENER
        } else {
            0
        };
        for (_, flag) in &self.flags {
            bits |= match flag {
                Flag::WaitKillableRecv if !notify => 0,
                flag => flag_bits(*flag),
            };
        }
        bits
    }
}

/// The bit of a flag in seccomp(2) (TSYNC: none, see `kernel_flags`).
fn flag_bits(flag: Flag) -> u32 {
    match flag {
        Flag::Tsync => 0,
        Flag::Log => 1 << 1,
        Flag::SpecAllow => 1 << 2,
        Flag::WaitKillableRecv => 1 << 5,
    }
}

/// The stub unless the default action lets unknown syscalls through
/// (ALLOW, LOG, TRACE: runc's rule) or already is ERRNO(ENOSYS).
fn enosys_stub(
    spec: &LinuxSeccomp,
    default: ScmpAction,
    arches: &[ScmpArch],
) -> Result<Vec<SockFilter>> {
    let lets_through = matches!(
        default,
        ScmpAction::Allow | ScmpAction::Log | ScmpAction::Trace(_)
    );
    if lets_through || default == ScmpAction::Errno(libc::ENOSYS) {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = spec
        .syscalls
        .iter()
        .flat_map(|s| s.names.iter().map(String::as_str))
        .collect();
    let mut all = vec![ScmpArch::native()];
    all.extend(arches.iter().filter(|a| **a != ScmpArch::native()));
    stub::enosys_stub(&names, &all).map_err(|e| refuse("linux.seccomp.architectures", e))
}

/// libseccomp's program as instructions (through a memfd: its export
/// writes to an fd).
fn export_bpf(ctx: &ScmpFilterContext) -> Result<Vec<SockFilter>> {
    let io = |e: std::io::Error| SeccompError::Kernel {
        what: "export the seccomp filter",
        source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    };
    let fd =
        nix::sys::memfd::memfd_create(c"berth-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| io(e.into()))?;
    ctx.export_bpf(&fd)
        .map_err(library("linux.seccomp: export the filter"))?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|()| file.read_to_end(&mut bytes))
        .map_err(io)?;
    Ok(bytes
        .chunks_exact(8)
        .map(|b| SockFilter {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect())
}

fn add_rule(ctx: &mut ScmpFilterContext, rule: &Rule) -> Result<()> {
    let syscall = ScmpSyscall::from(rule.syscall);
    ctx.add_rule_conditional(rule.action, syscall, &rule.conditions)
        .map(drop)
        .map_err(library(format!(
            "linux.seccomp: error adding seccomp rule for syscall {}",
            rule.name
        )))
}

/// A built filter: the BPF program and seccomp(2)'s flags. Init inherits
/// it (a copy of the runtime's memory) and loads it.
#[derive(Debug)]
pub struct Filter {
    program: Vec<SockFilter>,
    flags: u32,
}

impl Filter {
    /// Has the filter `SCMP_ACT_NOTIFY` rules (a listener for an agent)?
    pub fn uses_notify(&self) -> bool {
        self.flags & berth_sys::seccomp::FLAG_NEW_LISTENER != 0
    }

    /// Load the program into the calling process. With `SCMP_ACT_NOTIFY`
    /// rules the kernel makes a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER),
    /// returned here for the seccomp agent.
    pub fn load(&self) -> Result<Option<OwnedFd>> {
        berth_sys::seccomp::set_mode_filter(self.flags, &self.program).map_err(|e| {
            SeccompError::Kernel {
                what: "seccomp(SECCOMP_SET_MODE_FILTER)",
                source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            }
        })
    }

    /// The number of BPF instructions (the stub's and libseccomp's).
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// True for a program without instructions (never built so).
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }
}

/// The action a profile names; ERRNO and TRACE get `errno` or EPERM.
fn action(field: &str, name: &str, errno: Option<u32>) -> Result<ScmpAction> {
    let kind =
        lookup(ACTIONS, name).ok_or_else(|| refuse(field, format!("unknown action {name:?}")))?;
    // The kernel keeps 16 bits of it (runc converts to int16).
    let errno = errno.map_or(DEFAULT_ERRNO, |e| e as u16);
    Ok(match kind {
        ActionKind::KillThread => ScmpAction::KillThread,
        ActionKind::KillProcess => ScmpAction::KillProcess,
        ActionKind::Trap => ScmpAction::Trap,
        ActionKind::Errno => ScmpAction::Errno(i32::from(errno)),
        ActionKind::Trace => ScmpAction::Trace(errno),
        ActionKind::Allow => ScmpAction::Allow,
        ActionKind::Log => ScmpAction::Log,
        ActionKind::Notify => ScmpAction::Notify,
    })
}

fn arches(names: &[String]) -> Result<Vec<ScmpArch>> {
    let field = |i| format!("linux.seccomp.architectures[{i}]");
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            lookup(ARCHES, name)
                .ok_or_else(|| refuse(field(i), format!("unknown architecture {name:?}")))
        })
        .collect()
}

fn flags(names: &[String]) -> Result<Vec<(&'static str, Flag)>> {
    let field = |i| format!("linux.seccomp.flags[{i}]");
    let supported = supported_flags();
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let flag = FLAGS
                .iter()
                .find(|(known, _)| known == name)
                .copied()
                .ok_or_else(|| refuse(field(i), format!("unknown flag {name:?}")))?;
            if !supported.contains(&flag.0) {
                return Err(refuse(
                    field(i),
                    format!("{name} is not supported by this kernel"),
                ));
            }
            Ok(flag)
        })
        .collect()
}

/// The libseccomp rules of `syscalls[i]`: one per name libseccomp knows
/// (more when conditions share an argument), none when its action is the
/// default.
fn rules_of(i: usize, syscall: &LinuxSyscall, default: ScmpAction) -> Result<Vec<Rule>> {
    let field = format!("linux.seccomp.syscalls[{i}]");
    let action = action(
        &format!("{field}.action"),
        &syscall.action,
        syscall.errno_ret,
    )?;
    let ops = operators(&field, &syscall.args)?;
    check_names(&field, syscall, action)?;
    if action == default {
        return Ok(Vec::new());
    }
    let known: Vec<(&String, i32)> = syscall
        .names
        .iter()
        .filter_map(|name| syscall_number(name).map(|nr| (name, nr)))
        .collect();
    if known.is_empty() {
        return Ok(Vec::new());
    }
    let conditions = conditions(&field, &syscall.args, &ops)?;
    Ok(known
        .into_iter()
        .flat_map(|(name, nr)| {
            conditions.iter().map(move |set| Rule {
                name: name.clone(),
                syscall: nr,
                action,
                conditions: set.clone(),
            })
        })
        .collect())
}

/// Names must not be empty; NOTIFY may not catch what init needs to hand
/// the listener over.
fn check_names(field: &str, syscall: &LinuxSyscall, action: ScmpAction) -> Result<()> {
    for (j, name) in syscall.names.iter().enumerate() {
        let field = format!("{field}.names[{j}]");
        if name.is_empty() {
            return Err(refuse(field, "empty string is not a valid syscall"));
        }
        if action == ScmpAction::Notify && matches!(name.as_str(), "write" | "sendmsg") {
            return Err(refuse(
                field,
                format!("SCMP_ACT_NOTIFY cannot be used for the {name} syscall"),
            ));
        }
    }
    Ok(())
}

/// libseccomp's number of a syscall name, `None` when it does not know it.
fn syscall_number(name: &str) -> Option<i32> {
    ScmpSyscall::from_name(name)
        .ok()
        .map(ScmpSyscall::as_raw_syscall)
}

fn operators(field: &str, args: &[LinuxSeccompArg]) -> Result<Vec<ScmpCompareOp>> {
    args.iter()
        .enumerate()
        .map(|(k, arg)| {
            lookup(OPERATORS, &arg.op).ok_or_else(|| {
                refuse(
                    format!("{field}.args[{k}].op"),
                    format!("unknown operator {:?}", arg.op),
                )
            })
        })
        .collect()
}

/// The condition sets of a rule: one set with every condition, or, when
/// two conditions test the same argument, one set per condition (runc).
fn conditions(
    field: &str,
    args: &[LinuxSeccompArg],
    ops: &[ScmpCompareOp],
) -> Result<Vec<Vec<ScmpArgCompare>>> {
    let mut all = Vec::with_capacity(args.len());
    for (k, (arg, op)) in args.iter().zip(ops).enumerate() {
        if arg.index > MAX_ARG_INDEX {
            return Err(refuse(
                format!("{field}.args[{k}].index"),
                format!("{} is not an argument index (0 to 5)", arg.index),
            ));
        }
        all.push(condition(arg, *op));
    }
    let shares_an_argument = args
        .iter()
        .enumerate()
        .any(|(k, a)| args[..k].iter().any(|b| b.index == a.index));
    Ok(if shares_an_argument {
        all.into_iter().map(|c| vec![c]).collect()
    } else {
        vec![all]
    })
}

/// `SCMP_CMP_MASKED_EQ`: `(arg & value) == valueTwo`; the others compare
/// with `value`.
fn condition(arg: &LinuxSeccompArg, op: ScmpCompareOp) -> ScmpArgCompare {
    match op {
        ScmpCompareOp::MaskedEqual(_) => ScmpArgCompare::new(
            arg.index,
            ScmpCompareOp::MaskedEqual(arg.value),
            arg.value_two,
        ),
        op => ScmpArgCompare::new(arg.index, op, arg.value),
    }
}

/// Action names a profile may use (`features`).
pub fn action_names() -> Vec<&'static str> {
    names_of(ACTIONS)
}

/// Operator names a profile may use (`features`).
pub fn operator_names() -> Vec<&'static str> {
    names_of(OPERATORS)
}

/// Architecture names a profile may use (`features`).
pub fn arch_names() -> Vec<&'static str> {
    names_of(ARCHES)
}

/// Flag names berth knows (`features`' knownFlags).
pub fn known_flags() -> Vec<&'static str> {
    names_of(FLAGS)
}

/// Known flags that this kernel takes (`features`' supportedFlags), asked
/// of the kernel as libseccomp does (WAIT_KILLABLE_RECV goes with a
/// listener).
pub fn supported_flags() -> Vec<&'static str> {
    FLAGS
        .iter()
        .filter(|(_, flag)| {
            let bits = match flag {
                Flag::Tsync => 1,
                Flag::WaitKillableRecv => flag_bits(*flag) | berth_sys::seccomp::FLAG_NEW_LISTENER,
                flag => flag_bits(*flag),
            };
            berth_sys::seccomp::filter_flags_supported(bits)
        })
        .map(|(name, _)| *name)
        .collect()
}

/// The libseccomp version in use (`2.5.4`).
pub fn library_version() -> Option<String> {
    libseccomp::ScmpVersion::current()
        .ok()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
}
