//! Kernel attributes of a container's process beyond its privileges
//! (runtime-spec 1.1-1.3, runc 1.2-1.3): `process.scheduler`,
//! `process.ioPriority`, `linux.personality`, `linux.memoryPolicy` and the
//! CPU affinity (`process.execCPUAffinity`, or all CPUs of the cgroup).
//!
//! Each is checked and translated to the kernel's values by the runtime
//! before anything is created (`from_spec`, errors name the field); init
//! only applies them, while it is still root with all its capabilities
//! (raising a policy or a class needs CAP_SYS_NICE / CAP_SYS_ADMIN).

use berth_spec::{
    CpuAffinity as SpecCpuAffinity, LinuxIoPriority, LinuxMemoryPolicy, LinuxPersonality, Scheduler,
};
use berth_sys::sched::SchedAttr;

/// A config value refused, or a syscall that failed.
#[derive(Debug, thiserror::Error)]
pub enum AttrError {
    /// A config field (its JSON path) the runtime refuses, and why.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{what}")]
    Syscall {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, AttrError>;

fn invalid(field: impl Into<String>, reason: String) -> AttrError {
    AttrError::Invalid {
        field: field.into(),
        reason,
    }
}

fn syscall(what: &'static str) -> impl FnOnce(std::io::Error) -> AttrError {
    move |source| AttrError::Syscall { what, source }
}

/// The highest CPU or NUMA node number a list may name (runc's limit).
const MAX_ID: u32 = 64 * 1024;

/// Parse a list like `"0-3,7"` (spaces around items and empty items are
/// allowed, as runc does) into a bit mask: bit `n` of word `n / 64`.
pub fn parse_id_list(list: &str) -> std::result::Result<Vec<u64>, String> {
    let mut mask: Vec<u64> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (start, end) = match item.split_once('-') {
            Some((a, b)) => (parse_id(a)?, parse_id(b)?),
            None => (parse_id(item)?, parse_id(item)?),
        };
        if start > end {
            return Err(format!("invalid range {item:?}"));
        }
        let words = end as usize / 64 + 1;
        if mask.len() < words {
            mask.resize(words, 0);
        }
        for id in start..=end {
            mask[id as usize / 64] |= 1 << (id % 64);
        }
    }
    if mask.is_empty() {
        return Err(format!("no members found in set {list:?}"));
    }
    Ok(mask)
}

fn parse_id(text: &str) -> std::result::Result<u32, String> {
    let id: u32 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if id > MAX_ID {
        return Err(format!("values larger than {MAX_ID} are not supported"));
    }
    Ok(id)
}

/// The scheduler, I/O priority, personality and memory policy of a
/// process, as the kernel takes them. `None`: left as inherited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessAttrs {
    pub scheduler: Option<SchedAttr>,
    /// Class and level for ioprio_set.
    pub io_priority: Option<(u16, u16)>,
    pub personality: Option<u64>,
    /// Mode with its flags, and the node mask.
    pub memory_policy: Option<(i32, Vec<u64>)>,
}

impl ProcessAttrs {
    /// Check and translate the config's fields.
    pub fn from_spec(
        scheduler: Option<&Scheduler>,
        io_priority: Option<&LinuxIoPriority>,
        personality: Option<&LinuxPersonality>,
        memory_policy: Option<&LinuxMemoryPolicy>,
    ) -> Result<ProcessAttrs> {
        Ok(ProcessAttrs {
            scheduler: scheduler.map(sched_attr).transpose()?,
            io_priority: io_priority.map(io_class_and_level).transpose()?,
            personality: personality.map(persona).transpose()?,
            memory_policy: memory_policy.map(mempolicy).transpose()?,
        })
    }

    /// sched_setattr, when `process.scheduler` is set.
    pub fn apply_scheduler(&self) -> Result<()> {
        match &self.scheduler {
            Some(attr) => berth_sys::sched::set_sched_attr(attr).map_err(syscall("sched_setattr")),
            None => Ok(()),
        }
    }

    /// ioprio_set, when `process.ioPriority` is set.
    pub fn apply_io_priority(&self) -> Result<()> {
        match self.io_priority {
            Some((class, level)) => {
                berth_sys::sched::set_io_priority(class, level).map_err(syscall("ioprio_set"))
            }
            None => Ok(()),
        }
    }

    /// personality, when `linux.personality` is set.
    pub fn apply_personality(&self) -> Result<()> {
        match self.personality {
            Some(persona) => {
                berth_sys::sched::set_personality(persona).map_err(syscall("personality"))
            }
            None => Ok(()),
        }
    }

    /// set_mempolicy, when `linux.memoryPolicy` is set.
    pub fn apply_memory_policy(&self) -> Result<()> {
        match &self.memory_policy {
            Some((mode, nodes)) => {
                berth_sys::sched::set_memory_policy(*mode, nodes).map_err(syscall("set_mempolicy"))
            }
            None => Ok(()),
        }
    }
}

/// The scheduling policies of sched(7), by their spec names.
const POLICIES: [(&str, u32); 7] = [
    ("SCHED_OTHER", 0),
    ("SCHED_FIFO", 1),
    ("SCHED_RR", 2),
    ("SCHED_BATCH", 3),
    ("SCHED_ISO", 4),
    ("SCHED_IDLE", 5),
    ("SCHED_DEADLINE", 6),
];

/// The `SCHED_FLAG_*` of sched_setattr(2).
const SCHED_FLAGS: [(&str, u64); 7] = [
    ("SCHED_FLAG_RESET_ON_FORK", 0x01),
    ("SCHED_FLAG_RECLAIM", 0x02),
    ("SCHED_FLAG_DL_OVERRUN", 0x04),
    ("SCHED_FLAG_KEEP_POLICY", 0x08),
    ("SCHED_FLAG_KEEP_PARAMS", 0x10),
    ("SCHED_FLAG_UTIL_CLAMP_MIN", 0x20),
    ("SCHED_FLAG_UTIL_CLAMP_MAX", 0x40),
];

fn lookup<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// runc's rules: a policy is required; nice only -20..19 with
/// SCHED_OTHER/BATCH; priority only with FIFO/RR; runtime, deadline and
/// period only with SCHED_DEADLINE.
fn sched_attr(s: &Scheduler) -> Result<SchedAttr> {
    let field = "process.scheduler";
    if s.policy.is_empty() {
        return Err(invalid(
            format!("{field}.policy"),
            "scheduler policy is required".to_string(),
        ));
    }
    let policy = lookup(&POLICIES, &s.policy).ok_or_else(|| {
        invalid(
            format!("{field}.policy"),
            format!("unknown policy {:?}", s.policy),
        )
    })?;
    let normal = matches!(s.policy.as_str(), "SCHED_OTHER" | "SCHED_BATCH");
    if normal && !(-20..=19).contains(&s.nice) {
        return Err(invalid(
            format!("{field}.nice"),
            format!(
                "invalid nice {} when policy is {} (-20 to 19)",
                s.nice, s.policy
            ),
        ));
    }
    let realtime = matches!(s.policy.as_str(), "SCHED_FIFO" | "SCHED_RR");
    if s.priority != 0 && !realtime {
        return Err(invalid(
            format!("{field}.priority"),
            "can only be specified for SCHED_FIFO or SCHED_RR policy".to_string(),
        ));
    }
    let deadline = s.runtime != 0 || s.deadline != 0 || s.period != 0;
    if deadline && s.policy != "SCHED_DEADLINE" {
        return Err(invalid(
            field,
            "runtime/deadline/period can only be specified for SCHED_DEADLINE policy".to_string(),
        ));
    }
    let mut flags = 0;
    for name in &s.flags {
        flags |= lookup(&SCHED_FLAGS, name)
            .ok_or_else(|| invalid(format!("{field}.flags"), format!("unknown flag {name:?}")))?;
    }
    Ok(SchedAttr {
        size: 0,
        policy,
        flags,
        nice: s.nice,
        priority: s.priority as u32,
        runtime: s.runtime,
        deadline: s.deadline,
        period: s.period,
    })
}

/// The I/O classes of ioprio_set(2).
const IO_CLASSES: [(&str, u16); 3] = [
    ("IOPRIO_CLASS_RT", 1),
    ("IOPRIO_CLASS_BE", 2),
    ("IOPRIO_CLASS_IDLE", 3),
];

fn io_class_and_level(io: &LinuxIoPriority) -> Result<(u16, u16)> {
    let class = lookup(&IO_CLASSES, &io.class).ok_or_else(|| {
        invalid(
            "process.ioPriority.class",
            format!("unknown class {:?}", io.class),
        )
    })?;
    let level = u16::try_from(io.priority)
        .ok()
        .filter(|l| *l <= 7)
        .ok_or_else(|| {
            invalid(
                "process.ioPriority.priority",
                format!("{} is not 0-7", io.priority),
            )
        })?;
    Ok((class, level))
}

/// The execution domains of personality(2) the spec names.
const DOMAINS: [(&str, u64); 2] = [("LINUX", 0x0000), ("LINUX32", 0x0008)];

fn persona(p: &LinuxPersonality) -> Result<u64> {
    if let Some(flag) = p.flags.first() {
        // The spec defines none; runc ignores them with a warning.
        return Err(invalid(
            "linux.personality.flags",
            format!("unknown flag {flag:?} (the runtime-spec defines none)"),
        ));
    }
    lookup(&DOMAINS, &p.domain).ok_or_else(|| {
        invalid(
            "linux.personality.domain",
            format!("unknown domain {:?}", p.domain),
        )
    })
}

/// The memory policy modes of set_mempolicy(2), by their spec names.
pub const MEMORY_POLICY_MODES: [(&str, i32); 7] = [
    ("MPOL_DEFAULT", 0),
    ("MPOL_PREFERRED", 1),
    ("MPOL_BIND", 2),
    ("MPOL_INTERLEAVE", 3),
    ("MPOL_LOCAL", 4),
    ("MPOL_PREFERRED_MANY", 5),
    ("MPOL_WEIGHTED_INTERLEAVE", 6),
];

/// The mode flags of set_mempolicy(2).
pub const MEMORY_POLICY_FLAGS: [(&str, i32); 3] = [
    ("MPOL_F_NUMA_BALANCING", 1 << 13),
    ("MPOL_F_RELATIVE_NODES", 1 << 14),
    ("MPOL_F_STATIC_NODES", 1 << 15),
];

/// runc's rules: DEFAULT and LOCAL take no nodes; BIND, INTERLEAVE,
/// PREFERRED_MANY and WEIGHTED_INTERLEAVE need at least one; PREFERRED
/// takes any.
fn mempolicy(m: &LinuxMemoryPolicy) -> Result<(i32, Vec<u64>)> {
    let field = "linux.memoryPolicy";
    let mode = lookup(&MEMORY_POLICY_MODES, &m.mode).ok_or_else(|| {
        invalid(
            format!("{field}.mode"),
            format!("unknown mode {:?}", m.mode),
        )
    })?;
    let nodes = if m.nodes.trim().is_empty() {
        Vec::new()
    } else {
        parse_id_list(&m.nodes)
            .map_err(|e| invalid(format!("{field}.nodes"), format!("{:?}: {e}", m.nodes)))?
    };
    match (m.mode.as_str(), nodes.is_empty()) {
        ("MPOL_DEFAULT" | "MPOL_LOCAL", false) => {
            return Err(invalid(
                format!("{field}.nodes"),
                format!("mode {} takes no nodes", m.mode),
            ))
        }
        ("MPOL_PREFERRED" | "MPOL_DEFAULT" | "MPOL_LOCAL", _) | (_, false) => {}
        (_, true) => {
            return Err(invalid(
                format!("{field}.nodes"),
                format!("mode {} needs at least one node", m.mode),
            ))
        }
    }
    let mut flags = 0;
    for name in &m.flags {
        flags |= lookup(&MEMORY_POLICY_FLAGS, name)
            .ok_or_else(|| invalid(format!("{field}.flags"), format!("unknown flag {name:?}")))?;
    }
    Ok((mode | flags, nodes))
}

/// Enough bits for every CPU a kernel can have (runc uses the same size):
/// sched_setaffinity keeps those that exist and are in the task's cpuset.
const ALL_CPUS_WORDS: usize = (MAX_ID as usize) / 64;

/// The CPU affinity of a process: `initial` applies from its start,
/// `final` once it is in the container's cgroup. Without either, the
/// process gets every CPU its cgroup allows instead of the runtime's own
/// affinity (runc 1.4: a runtime run under `taskset` must not pin the
/// container).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuAffinity {
    pub initial: Option<Vec<u64>>,
    pub final_: Option<Vec<u64>>,
}

impl CpuAffinity {
    /// Check and parse `process.execCPUAffinity`.
    pub fn from_spec(spec: Option<&SpecCpuAffinity>) -> Result<CpuAffinity> {
        let Some(spec) = spec else {
            return Ok(CpuAffinity::default());
        };
        let parse = |name: &str, list: &str| -> Result<Option<Vec<u64>>> {
            if list.is_empty() {
                return Ok(None);
            }
            parse_id_list(list).map(Some).map_err(|e| {
                invalid(
                    format!("process.execCPUAffinity.{name}"),
                    format!("{list:?}: {e}"),
                )
            })
        };
        Ok(CpuAffinity {
            initial: parse("initial", &spec.initial)?,
            final_: parse("final", &spec.final_)?,
        })
    }

    /// Before the process joins the container's cgroup.
    pub fn apply_initial(&self) -> Result<()> {
        match &self.initial {
            Some(mask) => set_affinity(mask),
            None => Ok(()),
        }
    }

    /// Once the process is in the container's cgroup: `final`, else (with
    /// no `initial` either) every CPU the cgroup allows.
    pub fn apply_final(&self) -> Result<()> {
        match (&self.initial, &self.final_) {
            (_, Some(mask)) => set_affinity(mask),
            (Some(_), None) => Ok(()),
            (None, None) => set_affinity(&[u64::MAX; ALL_CPUS_WORDS]),
        }
    }
}

fn set_affinity(mask: &[u64]) -> Result<()> {
    berth_sys::sched::set_cpu_affinity(0, mask).map_err(syscall("sched_setaffinity"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn id_lists_parse_like_runc() {
        assert_eq!(parse_id_list("0-3,7").unwrap(), [0b1000_1111]);
        assert_eq!(parse_id_list(" 1 ,, 65").unwrap(), [0b10, 0b10]);
        assert!(parse_id_list("3-1").unwrap_err().contains("invalid range"));
        assert!(parse_id_list("x").unwrap_err().contains("not a number"));
        assert!(parse_id_list(",").unwrap_err().contains("no members"));
        assert!(parse_id_list("70000").unwrap_err().contains("larger"));
    }

    fn sched(v: serde_json::Value) -> Result<SchedAttr> {
        sched_attr(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn scheduler_rules_are_runcs() {
        let attr = sched(serde_json::json!({"policy": "SCHED_FIFO", "priority": 10,
            "flags": ["SCHED_FLAG_RESET_ON_FORK"]}))
        .unwrap();
        assert_eq!((attr.policy, attr.priority, attr.flags), (1, 10, 1));
        assert_eq!(
            err(sched(serde_json::json!({"policy": "X"}))),
            "process.scheduler.policy: unknown policy \"X\""
        );
        assert!(err(sched(serde_json::json!({}))).contains("policy is required"));
        assert!(err(sched(
            serde_json::json!({"policy": "SCHED_BATCH", "nice": 20})
        ))
        .starts_with("process.scheduler.nice"));
        assert!(err(sched(
            serde_json::json!({"policy": "SCHED_OTHER", "priority": 1})
        ))
        .starts_with("process.scheduler.priority"));
        assert!(err(sched(
            serde_json::json!({"policy": "SCHED_RR", "runtime": 1})
        ))
        .contains("SCHED_DEADLINE"));
        assert!(err(sched(
            serde_json::json!({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_X"]})
        ))
        .starts_with("process.scheduler.flags"));
    }

    #[test]
    fn io_priority_is_class_and_level() {
        let io = |class: &str, priority: i64| {
            io_class_and_level(&LinuxIoPriority {
                class: class.into(),
                priority,
            })
        };
        assert_eq!(io("IOPRIO_CLASS_IDLE", 7).unwrap(), (3, 7));
        assert!(err(io("IOPRIO_CLASS_X", 0)).starts_with("process.ioPriority.class"));
        assert!(err(io("IOPRIO_CLASS_BE", 8)).starts_with("process.ioPriority.priority"));
        assert!(err(io("IOPRIO_CLASS_BE", -1)).starts_with("process.ioPriority.priority"));
    }

    #[test]
    fn personality_domains_and_no_flags() {
        let p = |domain: &str, flags: &[&str]| {
            persona(&LinuxPersonality {
                domain: domain.into(),
                flags: flags.iter().map(|f| f.to_string()).collect(),
            })
        };
        assert_eq!(p("LINUX32", &[]).unwrap(), 8);
        assert_eq!(p("LINUX", &[]).unwrap(), 0);
        assert!(err(p("LINUX64", &[])).starts_with("linux.personality.domain"));
        assert!(err(p("LINUX", &["X"])).starts_with("linux.personality.flags"));
    }

    #[test]
    fn memory_policy_rules_are_runcs() {
        let m = |mode: &str, nodes: &str, flags: &[&str]| {
            mempolicy(&LinuxMemoryPolicy {
                mode: mode.into(),
                nodes: nodes.into(),
                flags: flags.iter().map(|f| f.to_string()).collect(),
            })
        };
        assert_eq!(
            m("MPOL_BIND", "0", &["MPOL_F_STATIC_NODES"]).unwrap(),
            (2 | 1 << 15, vec![1])
        );
        assert_eq!(m("MPOL_PREFERRED", "", &[]).unwrap(), (1, vec![]));
        assert!(err(m("MPOL_X", "", &[])).starts_with("linux.memoryPolicy.mode"));
        assert!(err(m("MPOL_DEFAULT", "0", &[])).contains("takes no nodes"));
        assert!(err(m("MPOL_INTERLEAVE", "", &[])).contains("at least one node"));
        assert!(err(m("MPOL_BIND", "0", &["MPOL_F_X"])).starts_with("linux.memoryPolicy.flags"));
        assert!(err(m("MPOL_BIND", "1-0", &[])).starts_with("linux.memoryPolicy.nodes"));
    }

    #[test]
    fn exec_cpu_affinity_parses_both_lists() {
        let spec = SpecCpuAffinity {
            initial: "0".into(),
            final_: String::new(),
        };
        let a = CpuAffinity::from_spec(Some(&spec)).unwrap();
        assert_eq!((a.initial, a.final_), (Some(vec![1]), None));
        let bad = SpecCpuAffinity {
            initial: String::new(),
            final_: "a".into(),
        };
        assert!(
            err(CpuAffinity::from_spec(Some(&bad))).starts_with("process.execCPUAffinity.final")
        );
    }
}
