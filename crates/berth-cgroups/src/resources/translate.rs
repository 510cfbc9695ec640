//! Step 2 of applying resources: each [`Setting`] becomes cgroup file writes for
//! one cgroup version. This is the only place where v1 and v2 differ, one `match`
//! arm per setting, so the translation table reads top to bottom.

use super::devices::DeviceRule;
use super::settings::{Setting, Throttle};
use crate::CgroupError;

/// Which set of cgroup files a host takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// v1 and hybrid hosts (hybrid's cgroup2 tree is used only for hugetlb).
    V1,
    V2,
}

/// Where a write goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The container's directory in the v1 hierarchy carrying this controller.
    V1(&'static str),
    /// The container's cgroup2 directory.
    Unified,
}

/// One write to a cgroup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupWrite {
    pub target: Target,
    pub file: String,
    pub value: String,
    /// The spec field this write comes from, for error messages.
    pub field: &'static str,
    /// When the kernel refuses it with EINVAL, perform the next write first
    /// and then retry this one (v1: a new `cpu.cfs_period_us` below the old
    /// quota's ratio is refused until the new quota is written, as in runc).
    pub retry_after_next: bool,
}

/// What the translation needs to know about the host besides the dialect; the
/// caller reads it from the cgroup files beforehand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    pub dialect: Dialect,
    /// v1: the current `memory.limit_in_bytes` (memory and memsw must be written
    /// in an order that keeps memsw >= memory at every step).
    pub current_memory_limit: Option<u64>,
    /// v1: `memory.memsw.limit_in_bytes` exists (swap accounting is on).
    pub memsw_available: bool,
    /// v1: only BFQ's `blkio.bfq.weight` exists, no `blkio.weight`.
    pub blkio_bfq_only: bool,
    /// v2: `io.bfq.weight` exists (takes the v1 weight as is, and device weights).
    pub io_bfq: bool,
    /// Hybrid: hugetlb is not a v1 hierarchy but a controller of the unified tree.
    pub hugetlb_unified: bool,
}

/// The v2 `cpu.max` period when the spec gives none (the kernel's default).
const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// What applying settings takes: file writes in order and, on cgroup v2, the
/// device rules to compile into an eBPF device program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translation {
    pub writes: Vec<CgroupWrite>,
    pub device_program: Option<Vec<DeviceRule>>,
    /// The device rules as given (both dialects), for a driver that also
    /// hands them to someone else (systemd's `DeviceAllow`).
    pub device_rules: Option<Vec<DeviceRule>>,
}

/// Translates settings for the host described by `facts`.
pub fn translate(settings: &[Setting], facts: &HostFacts) -> Result<Translation, CgroupError> {
    let mut translation = Translation::default();
    for setting in settings {
        if let Setting::Devices(rules) = setting {
            translation.device_rules = Some(rules.clone());
        }
        match (setting, facts.dialect) {
            (Setting::Devices(rules), Dialect::V2) => {
                translation.device_program = Some(rules.clone())
            }
            _ => translation.writes.extend(translate_one(setting, facts)?),
        }
    }
    Ok(translation)
}

fn write(
    target: Target,
    file: impl Into<String>,
    value: impl Into<String>,
    field: &'static str,
) -> CgroupWrite {
    CgroupWrite {
        target,
        file: file.into(),
        value: value.into(),
        field,
        retry_after_next: false,
    }
}

/// A limit where "unlimited" is spelled `max` (all v2 files, v1 `pids.max`).
fn limit_or_max(value: i64) -> String {
    if value < 0 {
        "max".to_string()
    } else {
        value.to_string()
    }
}

fn translate_one(setting: &Setting, facts: &HostFacts) -> Result<Vec<CgroupWrite>, CgroupError> {
    use Dialect::{V1, V2};
    use Target::Unified;
    const MEM: Target = Target::V1("memory");
    const CPU: Target = Target::V1("cpu");
    const CPUSET: Target = Target::V1("cpuset");
    const BLKIO: Target = Target::V1("blkio");
    let f = facts;
    Ok(match (setting, f.dialect) {
        (Setting::Memory { limit, swap }, V1) => memory_v1(*limit, *swap, f),
        (Setting::Memory { limit, swap }, V2) => memory_v2(*limit, *swap)?,
        (Setting::MemoryReservation(v), V1) => {
            vec![write(
                MEM,
                "memory.soft_limit_in_bytes",
                v.to_string(),
                RESERVATION,
            )]
        }
        (Setting::MemoryReservation(v), V2) => {
            vec![write(Unified, "memory.low", limit_or_max(*v), RESERVATION)]
        }
        (Setting::MemorySwappiness(v), V1) => {
            vec![write(MEM, "memory.swappiness", v.to_string(), SWAPPINESS)]
        }
        (Setting::DisableOomKiller, V1) => vec![write(MEM, "memory.oom_control", "1", OOM)],
        (Setting::PidsLimit(v), V1) => {
            vec![write(
                Target::V1("pids"),
                "pids.max",
                limit_or_max(*v),
                PIDS,
            )]
        }
        (Setting::PidsLimit(v), V2) => vec![write(Unified, "pids.max", limit_or_max(*v), PIDS)],
        (Setting::CpuShares(v), V1) => vec![write(CPU, "cpu.shares", v.to_string(), SHARES)],
        (Setting::CpuShares(v), V2) => vec![write(
            Unified,
            "cpu.weight",
            shares_to_weight(*v).to_string(),
            SHARES,
        )],
        (Setting::CpuBandwidth { quota, period }, V1) => {
            let period = period.map(|p| CgroupWrite {
                retry_after_next: quota.is_some(),
                ..write(CPU, "cpu.cfs_period_us", p.to_string(), PERIOD)
            });
            let quota = quota.map(|q| write(CPU, "cpu.cfs_quota_us", q.to_string(), QUOTA));
            period.into_iter().chain(quota).collect()
        }
        (Setting::CpuBandwidth { quota, period }, V2) => {
            vec![write(Unified, "cpu.max", cpu_max(*quota, *period), QUOTA)]
        }
        (Setting::CpuRealtime { runtime, period }, V1) => {
            let period = period.map(|p| write(CPU, "cpu.rt_period_us", p.to_string(), RT_PERIOD));
            let runtime =
                runtime.map(|r| write(CPU, "cpu.rt_runtime_us", r.to_string(), RT_RUNTIME));
            period.into_iter().chain(runtime).collect()
        }
        (Setting::CpusetCpus(v), V1) => vec![write(CPUSET, "cpuset.cpus", v, CPUS)],
        (Setting::CpusetCpus(v), V2) => vec![write(Unified, "cpuset.cpus", v, CPUS)],
        (Setting::CpusetMems(v), V1) => vec![write(CPUSET, "cpuset.mems", v, MEMS)],
        (Setting::CpusetMems(v), V2) => vec![write(Unified, "cpuset.mems", v, MEMS)],
        (Setting::BlkioWeight(v), V1) => {
            vec![write(BLKIO, blkio_file(f, "weight"), v.to_string(), WEIGHT)]
        }
        (Setting::BlkioWeight(v), V2) if f.io_bfq => {
            vec![write(Unified, "io.bfq.weight", v.to_string(), WEIGHT)]
        }
        (Setting::BlkioWeight(v), V2) => {
            vec![write(
                Unified,
                "io.weight",
                blkio_weight_to_io_weight(*v).to_string(),
                WEIGHT,
            )]
        }
        (
            Setting::BlkioWeightDevice {
                major,
                minor,
                weight,
            },
            V1,
        ) => {
            vec![write(
                BLKIO,
                blkio_file(f, "weight_device"),
                format!("{major}:{minor} {weight}"),
                WEIGHT_DEVICE,
            )]
        }
        (
            Setting::BlkioWeightDevice {
                major,
                minor,
                weight,
            },
            V2,
        ) if f.io_bfq => {
            vec![write(
                Unified,
                "io.bfq.weight",
                format!("{major}:{minor} {weight}"),
                WEIGHT_DEVICE,
            )]
        }
        (
            Setting::BlkioThrottle {
                kind,
                major,
                minor,
                rate,
            },
            V1,
        ) => {
            vec![write(
                BLKIO,
                throttle_v1_file(*kind),
                format!("{major}:{minor} {rate}"),
                throttle_field(*kind),
            )]
        }
        (
            Setting::BlkioThrottle {
                kind,
                major,
                minor,
                rate,
            },
            V2,
        ) => vec![write(
            Unified,
            "io.max",
            format!("{major}:{minor} {}={rate}", throttle_v2_key(*kind)),
            throttle_field(*kind),
        )],
        (Setting::HugepageLimit { page_size, limit }, V1) if !f.hugetlb_unified => vec![write(
            Target::V1("hugetlb"),
            format!("hugetlb.{page_size}.limit_in_bytes"),
            limit.to_string(),
            HUGEPAGES,
        )],
        (Setting::HugepageLimit { page_size, limit }, _) => {
            vec![write(
                Unified,
                format!("hugetlb.{page_size}.max"),
                limit_or_max(*limit),
                HUGEPAGES,
            )]
        }
        (Setting::Devices(rules), V1) => {
            let reset = write(Target::V1("devices"), "devices.deny", "a", DEVICES);
            let rules = rules
                .iter()
                .map(|r| write(Target::V1("devices"), r.v1_file(), r.v1_line(), DEVICES));
            std::iter::once(reset).chain(rules).collect()
        }
        (Setting::Devices(_), V2) => {
            return Err(CgroupError::unsupported(DEVICES, "on cgroup v2 yet"))
        }
        (Setting::NetClassId(id), V1) => {
            vec![write(
                Target::V1("net_cls"),
                "net_cls.classid",
                id.to_string(),
                CLASS_ID,
            )]
        }
        (
            Setting::NetPriority {
                interface,
                priority,
            },
            V1,
        ) => vec![write(
            Target::V1("net_prio"),
            "net_prio.ifpriomap",
            format!("{interface} {priority}"),
            PRIORITIES,
        )],
        (Setting::RdmaLimit(line), V1) => vec![write(Target::V1("rdma"), "rdma.max", line, RDMA)],
        (Setting::RdmaLimit(line), V2) => vec![write(Unified, "rdma.max", line, RDMA)],
        (Setting::NetClassId(_), V2) => {
            return Err(CgroupError::unsupported(
                CLASS_ID,
                "on cgroup v2 (no net_cls controller)",
            ));
        }
        (Setting::NetPriority { .. }, V2) => {
            return Err(CgroupError::unsupported(
                PRIORITIES,
                "on cgroup v2 (no net_prio controller)",
            ));
        }
        (Setting::Unified { file, value }, V2) => vec![write(Unified, file, value, UNIFIED)],
        (Setting::Unified { .. }, V1) => {
            return Err(CgroupError::InvalidConfig {
                field: UNIFIED.into(),
                reason: "cannot use unified on cgroup v1 (nor on a hybrid host)".into(),
            });
        }
        (Setting::MemorySwappiness(_), V2) => {
            return Err(CgroupError::unsupported(SWAPPINESS, "on cgroup v2"))
        }
        (Setting::DisableOomKiller, V2) => {
            return Err(CgroupError::unsupported(OOM, "on cgroup v2"))
        }
        (Setting::CpuRealtime { .. }, V2) => {
            return Err(CgroupError::unsupported(
                "linux.resources.cpu.realtimeRuntime/realtimePeriod",
                "on cgroup v2",
            ));
        }
        (Setting::BlkioWeightDevice { .. }, V2) => {
            return Err(CgroupError::unsupported(
                WEIGHT_DEVICE,
                "on cgroup v2 without the BFQ I/O scheduler",
            ));
        }
    })
}

const RESERVATION: &str = "linux.resources.memory.reservation";
const SWAPPINESS: &str = "linux.resources.memory.swappiness";
const OOM: &str = "linux.resources.memory.disableOOMKiller";
const MEMORY: &str = "linux.resources.memory.limit";
const SWAP: &str = "linux.resources.memory.swap";
const PIDS: &str = "linux.resources.pids.limit";
const SHARES: &str = "linux.resources.cpu.shares";
const QUOTA: &str = "linux.resources.cpu.quota";
const PERIOD: &str = "linux.resources.cpu.period";
const RT_PERIOD: &str = "linux.resources.cpu.realtimePeriod";
const RT_RUNTIME: &str = "linux.resources.cpu.realtimeRuntime";
const CPUS: &str = "linux.resources.cpu.cpus";
const MEMS: &str = "linux.resources.cpu.mems";
const WEIGHT: &str = "linux.resources.blockIO.weight";
const WEIGHT_DEVICE: &str = "linux.resources.blockIO.weightDevice";
const HUGEPAGES: &str = "linux.resources.hugepageLimits";
const DEVICES: &str = "linux.resources.devices";
const UNIFIED: &str = "linux.resources.unified";
const RDMA: &str = "linux.resources.rdma";
const CLASS_ID: &str = "linux.resources.network.classID";
const PRIORITIES: &str = "linux.resources.network.priorities";

/// v1 memory + memsw, in an order that keeps memsw >= memory at each step (as
/// runc): memsw first when it grows past the current limit or is unlimited.
/// An unlimited memory limit with no swap given also lifts memsw.
fn memory_v1(limit: Option<i64>, swap: Option<i64>, f: &HostFacts) -> Vec<CgroupWrite> {
    let swap = match (limit, swap) {
        (Some(-1), None) if f.memsw_available => Some(-1),
        _ => swap,
    };
    let limit_write = limit.map(|v| {
        write(
            Target::V1("memory"),
            "memory.limit_in_bytes",
            v.to_string(),
            MEMORY,
        )
    });
    let swap_write = swap.map(|v| {
        write(
            Target::V1("memory"),
            "memory.memsw.limit_in_bytes",
            v.to_string(),
            SWAP,
        )
    });
    let swap_first = match (limit, swap) {
        (Some(_), Some(swap)) => {
            swap == -1
                || f.current_memory_limit
                    .is_some_and(|cur| (cur as i128) < swap as i128)
        }
        _ => false,
    };
    if swap_first {
        swap_write.into_iter().chain(limit_write).collect()
    } else {
        limit_write.into_iter().chain(swap_write).collect()
    }
}

/// v2 `memory.swap.max` (swap alone = memory+swap - memory) then `memory.max`.
fn memory_v2(limit: Option<i64>, swap: Option<i64>) -> Result<Vec<CgroupWrite>, CgroupError> {
    let swap_max =
        match (limit, swap) {
            (Some(-1), None) => Some("max".to_string()),
            (_, None) => None,
            (_, Some(-1)) => Some("max".to_string()),
            (Some(limit), Some(swap)) if limit > 0 => Some((swap - limit).to_string()),
            (_, Some(_)) => return Err(CgroupError::invalid(
                SWAP,
                "a swap limit needs a memory limit on cgroup v2 (memory.swap.max = swap - limit)",
            )),
        };
    let swap_write = swap_max.map(|v| write(Target::Unified, "memory.swap.max", v, SWAP));
    let limit_write = limit.map(|v| write(Target::Unified, "memory.max", limit_or_max(v), MEMORY));
    Ok(swap_write.into_iter().chain(limit_write).collect())
}

/// runc's linear map of cpu shares [2, 262144] onto cpu.weight [1, 10000].
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// runc's linear map of blkio weight [10, 1000] onto io.weight [1, 10000].
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight).clamp(10, 1000) - 10) * 9999 / 990
}

/// `cpu.max`: "<quota|max> <period>", period defaulting to 100000 as in runc.
fn cpu_max(quota: Option<i64>, period: Option<u64>) -> String {
    let quota = quota
        .filter(|q| *q > 0)
        .map_or_else(|| "max".to_string(), |q| q.to_string());
    format!("{quota} {}", period.unwrap_or(DEFAULT_CPU_PERIOD))
}

/// `blkio.weight` or, where only BFQ is there, `blkio.bfq.weight` (and the same
/// for `weight_device`).
fn blkio_file(f: &HostFacts, name: &str) -> String {
    if f.blkio_bfq_only {
        format!("blkio.bfq.{name}")
    } else {
        format!("blkio.{name}")
    }
}

fn throttle_v1_file(kind: Throttle) -> &'static str {
    match kind {
        Throttle::ReadBps => "blkio.throttle.read_bps_device",
        Throttle::WriteBps => "blkio.throttle.write_bps_device",
        Throttle::ReadIops => "blkio.throttle.read_iops_device",
        Throttle::WriteIops => "blkio.throttle.write_iops_device",
    }
}

fn throttle_v2_key(kind: Throttle) -> &'static str {
    match kind {
        Throttle::ReadBps => "rbps",
        Throttle::WriteBps => "wbps",
        Throttle::ReadIops => "riops",
        Throttle::WriteIops => "wiops",
    }
}

fn throttle_field(kind: Throttle) -> &'static str {
    match kind {
        Throttle::ReadBps => "linux.resources.blockIO.throttleReadBpsDevice",
        Throttle::WriteBps => "linux.resources.blockIO.throttleWriteBpsDevice",
        Throttle::ReadIops => "linux.resources.blockIO.throttleReadIOPSDevice",
        Throttle::WriteIops => "linux.resources.blockIO.throttleWriteIOPSDevice",
    }
}
