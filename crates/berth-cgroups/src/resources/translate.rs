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

/// The writes of one setting: each kind of setting has its function,
/// which knows both dialects.
fn translate_one(setting: &Setting, f: &HostFacts) -> Result<Vec<CgroupWrite>, CgroupError> {
    use Setting as S;
    let d = f.dialect;
    let one = |w: CgroupWrite| Ok(vec![w]);
    match setting {
        S::Memory { limit, swap } => match d {
            Dialect::V1 => Ok(memory_v1(*limit, *swap, f)),
            Dialect::V2 => memory_v2(*limit, *swap),
        },
        S::MemoryReservation(v) => one(memory_reservation(*v, d)),
        S::MemorySwappiness(v) => {
            let w = write(MEM, "memory.swappiness", v.to_string(), SWAPPINESS);
            v1_only(d, w, "on cgroup v2")
        }
        S::DisableOomKiller => v1_only(
            d,
            write(MEM, "memory.oom_control", "1", OOM),
            "on cgroup v2",
        ),
        S::PidsLimit(v) => one(write(
            in_dialect("pids", d),
            "pids.max",
            limit_or_max(*v),
            PIDS,
        )),
        S::CpuShares(v) => one(cpu_shares(*v, d)),
        S::CpuBandwidth { quota, period } => Ok(cpu_bandwidth(*quota, *period, d)),
        S::CpuRealtime { runtime, period } => cpu_realtime(*runtime, *period, d),
        S::CpusetCpus(v) => one(write(in_dialect("cpuset", d), "cpuset.cpus", v, CPUS)),
        S::CpusetMems(v) => one(write(in_dialect("cpuset", d), "cpuset.mems", v, MEMS)),
        S::BlkioWeight(v) => one(blkio_weight(*v, f)),
        S::BlkioWeightDevice {
            major,
            minor,
            weight,
        } => blkio_weight_device(format!("{major}:{minor} {weight}"), f),
        S::BlkioThrottle {
            kind,
            major,
            minor,
            rate,
        } => one(blkio_throttle(*kind, format!("{major}:{minor}"), *rate, d)),
        S::HugepageLimit { page_size, limit } => one(hugepage_limit(page_size, *limit, f)),
        S::Devices(rules) => devices_v1(rules, d),
        S::NetClassId(id) => {
            let w = write(V1("net_cls"), "net_cls.classid", id.to_string(), CLASS_ID);
            v1_only(d, w, "on cgroup v2 (no net_cls controller)")
        }
        S::NetPriority {
            interface,
            priority,
        } => {
            let line = format!("{interface} {priority}");
            let w = write(V1("net_prio"), "net_prio.ifpriomap", line, PRIORITIES);
            v1_only(d, w, "on cgroup v2 (no net_prio controller)")
        }
        S::RdmaLimit(line) => one(write(in_dialect("rdma", d), "rdma.max", line, RDMA)),
        S::Unified { file, value } => unified_file(file, value, d),
    }
}

use Target::{Unified, V1};
const MEM: Target = V1("memory");
const CPU: Target = V1("cpu");
const BLKIO: Target = V1("blkio");

/// A file with the same name in a v1 controller and in cgroup2.
fn in_dialect(controller: &'static str, d: Dialect) -> Target {
    match d {
        Dialect::V1 => V1(controller),
        Dialect::V2 => Unified,
    }
}

/// A setting only cgroup v1 has a file for; `why_not` says so on v2.
fn v1_only(
    d: Dialect,
    w: CgroupWrite,
    why_not: &'static str,
) -> Result<Vec<CgroupWrite>, CgroupError> {
    match d {
        Dialect::V1 => Ok(vec![w]),
        Dialect::V2 => Err(CgroupError::unsupported(w.field, why_not)),
    }
}

fn memory_reservation(v: i64, d: Dialect) -> CgroupWrite {
    match d {
        Dialect::V1 => write(
            MEM,
            "memory.soft_limit_in_bytes",
            v.to_string(),
            RESERVATION,
        ),
        Dialect::V2 => write(Unified, "memory.low", limit_or_max(v), RESERVATION),
    }
}

fn cpu_shares(v: u64, d: Dialect) -> CgroupWrite {
    match d {
        Dialect::V1 => write(CPU, "cpu.shares", v.to_string(), SHARES),
        Dialect::V2 => write(
            Unified,
            "cpu.weight",
            shares_to_weight(v).to_string(),
            SHARES,
        ),
    }
}

/// v1: the period first, retried after the quota when the kernel refuses
/// it against the current quota; v2: `cpu.max`.
fn cpu_bandwidth(quota: Option<i64>, period: Option<u64>, d: Dialect) -> Vec<CgroupWrite> {
    if d == Dialect::V2 {
        return vec![write(Unified, "cpu.max", cpu_max(quota, period), QUOTA)];
    }
    let period = period.map(|p| CgroupWrite {
        retry_after_next: quota.is_some(),
        ..write(CPU, "cpu.cfs_period_us", p.to_string(), PERIOD)
    });
    let quota = quota.map(|q| write(CPU, "cpu.cfs_quota_us", q.to_string(), QUOTA));
    period.into_iter().chain(quota).collect()
}

fn cpu_realtime(
    runtime: Option<i64>,
    period: Option<u64>,
    d: Dialect,
) -> Result<Vec<CgroupWrite>, CgroupError> {
    if d == Dialect::V2 {
        return Err(CgroupError::unsupported(
            "linux.resources.cpu.realtimeRuntime/realtimePeriod",
            "on cgroup v2",
        ));
    }
    let period = period.map(|p| write(CPU, "cpu.rt_period_us", p.to_string(), RT_PERIOD));
    let runtime = runtime.map(|r| write(CPU, "cpu.rt_runtime_us", r.to_string(), RT_RUNTIME));
    Ok(period.into_iter().chain(runtime).collect())
}

fn blkio_weight(v: u16, f: &HostFacts) -> CgroupWrite {
    match f.dialect {
        Dialect::V1 => write(BLKIO, blkio_file(f, "weight"), v.to_string(), WEIGHT),
        Dialect::V2 if f.io_bfq => write(Unified, "io.bfq.weight", v.to_string(), WEIGHT),
        Dialect::V2 => write(
            Unified,
            "io.weight",
            blkio_weight_to_io_weight(v).to_string(),
            WEIGHT,
        ),
    }
}

/// `major:minor weight`: v1's weight_device, v2's BFQ weight only.
fn blkio_weight_device(line: String, f: &HostFacts) -> Result<Vec<CgroupWrite>, CgroupError> {
    match f.dialect {
        Dialect::V1 => Ok(vec![write(
            BLKIO,
            blkio_file(f, "weight_device"),
            line,
            WEIGHT_DEVICE,
        )]),
        Dialect::V2 if f.io_bfq => Ok(vec![write(Unified, "io.bfq.weight", line, WEIGHT_DEVICE)]),
        Dialect::V2 => Err(CgroupError::unsupported(
            WEIGHT_DEVICE,
            "on cgroup v2 without the BFQ I/O scheduler",
        )),
    }
}

fn blkio_throttle(kind: Throttle, device: String, rate: u64, d: Dialect) -> CgroupWrite {
    let field = throttle_field(kind);
    match d {
        Dialect::V1 => write(
            BLKIO,
            throttle_v1_file(kind),
            format!("{device} {rate}"),
            field,
        ),
        Dialect::V2 => write(
            Unified,
            "io.max",
            format!("{device} {}={rate}", throttle_v2_key(kind)),
            field,
        ),
    }
}

/// v1's hugetlb controller, or cgroup2's (v2, and hybrid hosts whose
/// hugetlb is there).
fn hugepage_limit(page_size: &str, limit: i64, f: &HostFacts) -> CgroupWrite {
    match f.dialect {
        Dialect::V1 if !f.hugetlb_unified => write(
            V1("hugetlb"),
            format!("hugetlb.{page_size}.limit_in_bytes"),
            limit.to_string(),
            HUGEPAGES,
        ),
        _ => write(
            Unified,
            format!("hugetlb.{page_size}.max"),
            limit_or_max(limit),
            HUGEPAGES,
        ),
    }
}

/// v1: deny all, then each rule in order (v2 gets an eBPF program instead,
/// see [`translate`]).
fn devices_v1(rules: &[DeviceRule], d: Dialect) -> Result<Vec<CgroupWrite>, CgroupError> {
    if d == Dialect::V2 {
        return Err(CgroupError::unsupported(DEVICES, "on cgroup v2 yet"));
    }
    let reset = write(V1("devices"), "devices.deny", "a", DEVICES);
    let rules = rules
        .iter()
        .map(|r| write(V1("devices"), r.v1_file(), r.v1_line(), DEVICES));
    Ok(std::iter::once(reset).chain(rules).collect())
}

fn unified_file(file: &str, value: &str, d: Dialect) -> Result<Vec<CgroupWrite>, CgroupError> {
    match d {
        Dialect::V2 => Ok(vec![write(Unified, file, value, UNIFIED)]),
        Dialect::V1 => Err(CgroupError::InvalidConfig {
            field: UNIFIED.into(),
            reason: "cannot use unified on cgroup v1 (nor on a hybrid host)".into(),
        }),
    }
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
    let limit_write = limit.map(|v| write(MEM, "memory.limit_in_bytes", v.to_string(), MEMORY));
    let swap_write = swap.map(|v| write(MEM, "memory.memsw.limit_in_bytes", v.to_string(), SWAP));
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
