//! Step 1 of applying resources, the same for every cgroup version: read
//! `linux.resources` into a list of [`Setting`]s. Zero or absent values mean
//! "leave unchanged" (what `docker update` sends); values are validated here;
//! fields that cannot be applied are a clear error naming the field.

use berth_spec::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxMemory, LinuxNetwork, LinuxResources,
};

use super::devices::{device_rule, DeviceRule};
use crate::CgroupError;

/// One block I/O throttle kind (`linux.resources.blockIO.throttle*Device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

/// One thing to set in the container's cgroup, as the OCI spec means it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `memory.limit` and `memory.swap` (memory+swap), together because their
    /// order and the v2 swap value depend on each other. -1 is unlimited.
    Memory {
        limit: Option<i64>,
        swap: Option<i64>,
    },
    MemoryReservation(i64),
    MemorySwappiness(u64),
    DisableOomKiller,
    /// -1 (any negative) is unlimited.
    PidsLimit(i64),
    CpuShares(u64),
    CpuBandwidth {
        quota: Option<i64>,
        period: Option<u64>,
    },
    CpuRealtime {
        runtime: Option<i64>,
        period: Option<u64>,
    },
    CpusetCpus(String),
    CpusetMems(String),
    BlkioWeight(u16),
    BlkioWeightDevice {
        major: i64,
        minor: i64,
        weight: u16,
    },
    BlkioThrottle {
        kind: Throttle,
        major: i64,
        minor: i64,
        rate: u64,
    },
    /// `page_size` as the spec and the kernel spell it (`2MB`, `1GB`).
    HugepageLimit {
        page_size: String,
        limit: i64,
    },
    /// `network.classID` (net_cls).
    NetClassId(u32),
    /// One `network.priorities` entry (net_prio).
    NetPriority {
        interface: String,
        priority: u32,
    },
    /// One `rdma.max` line: `<device> [hca_handle=N] [hca_object=N]`.
    RdmaLimit(String),
    /// The whole rule list, applied in order over "deny all".
    Devices(Vec<DeviceRule>),
    /// `linux.resources.unified`: a cgroup v2 file and its value.
    Unified {
        file: String,
        value: String,
    },
}

/// Reads `linux.resources` into settings (see the module docs).
pub fn settings_from_spec(r: &LinuxResources) -> Result<Vec<Setting>, CgroupError> {
    let mut settings = Vec::new();
    if !r.devices.is_empty() {
        settings.push(Setting::Devices(device_rules(&r.devices)?));
    }
    if let Some(memory) = &r.memory {
        memory_settings(memory, &mut settings)?;
    }
    if let Some(pids) = r.pids.filter(|p| p.limit != 0) {
        settings.push(Setting::PidsLimit(pids.limit));
    }
    if let Some(cpu) = &r.cpu {
        cpu_settings(cpu, &mut settings)?;
    }
    if let Some(block_io) = &r.block_io {
        block_io_settings(block_io, &mut settings)?;
    }
    for hugepage in &r.hugepage_limits {
        settings.push(hugepage_setting(&hugepage.page_size, hugepage.limit)?);
    }
    if let Some(network) = &r.network {
        network_settings(network, &mut settings);
    }
    rdma_settings(r, &mut settings);
    unified_settings(r, &mut settings)?;
    Ok(settings)
}

/// One `rdma.max` line per device (`mlx5_1 hca_handle=3 hca_object=100`), in
/// device name order; a device with neither limit is left alone.
fn rdma_settings(r: &LinuxResources, out: &mut Vec<Setting>) {
    let mut devices: Vec<_> = r.rdma.iter().collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    for (device, limits) in devices {
        let limits = [
            ("hca_handle", limits.hca_handles),
            ("hca_object", limits.hca_objects),
        ];
        let mut line = device.clone();
        for (key, value) in limits {
            if let Some(value) = value {
                line.push_str(&format!(" {key}={value}"));
            }
        }
        if line != *device {
            out.push(Setting::RdmaLimit(line));
        }
    }
}

fn network_settings(n: &LinuxNetwork, out: &mut Vec<Setting>) {
    if let Some(class_id) = set(n.class_id) {
        out.push(Setting::NetClassId(class_id));
    }
    for priority in &n.priorities {
        out.push(Setting::NetPriority {
            interface: priority.name.clone(),
            priority: priority.priority,
        });
    }
}

fn device_rules(rules: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>, CgroupError> {
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| device_rule(i, rule))
        .collect()
}

/// `Some(v)` unless the spec value is absent or 0 ("leave unchanged").
fn set<T: Default + PartialEq>(value: Option<T>) -> Option<T> {
    value.filter(|v| *v != T::default())
}

/// Fields the runtime-spec lets a runtime ignore and that berth ignores,
/// as runc does, with a warning for each present one (in runc's words):
/// `memory.kernel` and `memory.kernelTCP` (kernel memory accounting is
/// deprecated by Linux; configs made by older tools still carry them).
pub fn ignored_settings(r: &LinuxResources) -> Vec<String> {
    let Some(m) = &r.memory else {
        return Vec::new();
    };
    [
        ("linux.resources.memory.kernel", m.kernel.is_some()),
        ("linux.resources.memory.kernelTCP", m.kernel_tcp.is_some()),
    ]
    .into_iter()
    .filter(|(_, given)| *given)
    .map(|(field, _)| format!("Kernel memory settings are ignored and will be removed ({field})"))
    .collect()
}

fn memory_settings(m: &LinuxMemory, out: &mut Vec<Setting>) -> Result<(), CgroupError> {
    if m.use_hierarchy == Some(true) {
        return Err(CgroupError::unsupported(
            "linux.resources.memory.useHierarchy",
            "",
        ));
    }
    let (limit, swap) = (set(m.limit), set(m.swap));
    check_memory_values(limit, swap)?;
    if limit.is_some() || swap.is_some() {
        out.push(Setting::Memory { limit, swap });
    }
    if let Some(reservation) = set(m.reservation) {
        check_limit_value("linux.resources.memory.reservation", reservation)?;
        out.push(Setting::MemoryReservation(reservation));
    }
    // runc treats swappiness -1 (u64::MAX once parsed as unsigned) as unset
    if let Some(swappiness) = m.swappiness.filter(|s| *s != u64::MAX) {
        if swappiness > 100 {
            return Err(CgroupError::invalid(
                "linux.resources.memory.swappiness",
                format!("{swappiness} (valid range is 0-100)"),
            ));
        }
        out.push(Setting::MemorySwappiness(swappiness));
    }
    if m.disable_oom_killer == Some(true) {
        out.push(Setting::DisableOomKiller);
    }
    Ok(())
}

/// A byte limit: positive, or -1 for unlimited.
fn check_limit_value(field: &str, value: i64) -> Result<(), CgroupError> {
    if value < -1 {
        return Err(CgroupError::invalid(
            field,
            format!("{value} (use -1 for unlimited)"),
        ));
    }
    Ok(())
}

fn check_memory_values(limit: Option<i64>, swap: Option<i64>) -> Result<(), CgroupError> {
    if let Some(limit) = limit {
        check_limit_value("linux.resources.memory.limit", limit)?;
    }
    if let Some(swap) = swap {
        check_limit_value("linux.resources.memory.swap", swap)?;
    }
    match (limit, swap) {
        (Some(limit), Some(swap)) if limit > 0 && swap > 0 && swap < limit => {
            Err(CgroupError::invalid(
                "linux.resources.memory.swap",
                format!("the memory+swap limit {swap} is below the memory limit {limit}"),
            ))
        }
        _ => Ok(()),
    }
}

/// The kernel's bounds for cpu.shares (v1 silently clamps; runc reports it).
const MIN_CPU_SHARES: u64 = 2;
const MAX_CPU_SHARES: u64 = 262_144;

fn cpu_settings(cpu: &LinuxCpu, out: &mut Vec<Setting>) -> Result<(), CgroupError> {
    if set(cpu.idle).is_some() {
        return Err(CgroupError::unsupported("linux.resources.cpu.idle", ""));
    }
    if set(cpu.burst).is_some() {
        return Err(CgroupError::unsupported("linux.resources.cpu.burst", ""));
    }
    if let Some(shares) = set(cpu.shares) {
        if !(MIN_CPU_SHARES..=MAX_CPU_SHARES).contains(&shares) {
            return Err(CgroupError::invalid(
                "linux.resources.cpu.shares",
                format!("{shares} (the allowed range is {MIN_CPU_SHARES}-{MAX_CPU_SHARES})"),
            ));
        }
        out.push(Setting::CpuShares(shares));
    }
    let (quota, period) = (set(cpu.quota), set(cpu.period));
    if quota.is_some() || period.is_some() {
        out.push(Setting::CpuBandwidth { quota, period });
    }
    let (runtime, rt_period) = (set(cpu.realtime_runtime), set(cpu.realtime_period));
    if runtime.is_some() || rt_period.is_some() {
        out.push(Setting::CpuRealtime {
            runtime,
            period: rt_period,
        });
    }
    if !cpu.cpus.is_empty() {
        out.push(Setting::CpusetCpus(cpu.cpus.clone()));
    }
    if !cpu.mems.is_empty() {
        out.push(Setting::CpusetMems(cpu.mems.clone()));
    }
    Ok(())
}

fn block_io_settings(b: &LinuxBlockIo, out: &mut Vec<Setting>) -> Result<(), CgroupError> {
    let leaf_weight_set = set(b.leaf_weight).is_some()
        || b.weight_device.iter().any(|d| set(d.leaf_weight).is_some());
    if leaf_weight_set {
        return Err(CgroupError::unsupported(
            "linux.resources.blockIO.leafWeight",
            "(leaf weights went with the CFQ I/O scheduler in Linux 5.0)",
        ));
    }
    if let Some(weight) = set(b.weight) {
        out.push(Setting::BlkioWeight(weight));
    }
    for device in &b.weight_device {
        if let Some(weight) = set(device.weight) {
            out.push(Setting::BlkioWeightDevice {
                major: device.major,
                minor: device.minor,
                weight,
            });
        }
    }
    let throttles = [
        (Throttle::ReadBps, &b.throttle_read_bps_device),
        (Throttle::WriteBps, &b.throttle_write_bps_device),
        (Throttle::ReadIops, &b.throttle_read_iops_device),
        (Throttle::WriteIops, &b.throttle_write_iops_device),
    ];
    for (kind, devices) in throttles {
        for device in devices {
            out.push(Setting::BlkioThrottle {
                kind,
                major: device.major,
                minor: device.minor,
                rate: device.rate,
            });
        }
    }
    Ok(())
}

fn hugepage_setting(page_size: &str, limit: i64) -> Result<Setting, CgroupError> {
    let field = "linux.resources.hugepageLimits";
    let valid_size = page_size.len() > 2
        && page_size[..page_size.len() - 2]
            .bytes()
            .all(|b| b.is_ascii_digit())
        && ["KB", "MB", "GB"]
            .iter()
            .any(|unit| page_size.ends_with(unit));
    if !valid_size {
        return Err(CgroupError::invalid(
            field,
            format!("page size {page_size:?} (expected e.g. \"2MB\")"),
        ));
    }
    check_limit_value(field, limit)?;
    Ok(Setting::HugepageLimit {
        page_size: page_size.to_string(),
        limit,
    })
}

fn unified_settings(r: &LinuxResources, out: &mut Vec<Setting>) -> Result<(), CgroupError> {
    let mut files: Vec<_> = r.unified.iter().collect();
    files.sort();
    for (file, value) in files {
        if file.contains('/') || file.starts_with('.') || !file.contains('.') {
            return Err(CgroupError::invalid(
                "linux.resources.unified",
                format!("{file:?} is not a cgroup v2 file name"),
            ));
        }
        out.push(Setting::Unified {
            file: file.clone(),
            value: value.clone(),
        });
    }
    Ok(())
}
