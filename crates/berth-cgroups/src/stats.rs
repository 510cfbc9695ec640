//! Usage statistics of a container's cgroup, in the JSON shape of runc's
//! `events` (the `data` of a `stats` event, as go-runc parses it), read from
//! the v1 hierarchies or the cgroup2 tree. Counters and limits only: the
//! runtime reads, never writes, here.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::{fsutil, CgroupError, Layout};

/// The `data` of a `stats` event.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: BlkioStats,
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuStats {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// CPU time in nanoseconds.
#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    /// Memory plus swap, as v1's memsw counts it (also on v2).
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// Every counter of `memory.stat`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// Bytes; an unlimited limit reads as the largest value the kernel has.
#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// `limit` 0 (left out) means no limit.
#[derive(Debug, Default, Serialize)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlkioStats {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct HugetlbStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// USER_HZ: the unit of v1's `cpuacct.stat`, fixed at 100 on Linux.
const NANOS_PER_USER_HZ_TICK: u64 = 10_000_000;

impl crate::Cgroup {
    /// The container's usage now. Controllers the host does not have are
    /// left at zero; a file that is missing (the cgroup is gone) is an error.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        match (self.layout(), self.unified_dir()) {
            (Layout::V2, Some(dir)) => v2::stats(dir),
            _ => v1::stats(self),
        }
    }

    /// How many times the kernel's OOM killer killed a process of the
    /// container (v1: `memory.oom_control`, v2: `memory.events`); 0 without
    /// a memory controller.
    pub fn oom_kills(&self) -> Result<u64, CgroupError> {
        let counters = match (self.layout(), self.unified_dir()) {
            (Layout::V2, Some(dir)) => flat_keyed(dir, "memory.events")?,
            _ => match self.v1_dir("memory") {
                Some(dir) => flat_keyed(dir, "memory.oom_control")?,
                None => BTreeMap::new(),
            },
        };
        Ok(counters.get("oom_kill").copied().unwrap_or(0))
    }
}

/// A file holding one number; `max` reads as `u64::MAX`; `None` if the file
/// does not exist (a controller feature the kernel lacks).
fn number(dir: &Path, file: &str) -> Result<Option<u64>, CgroupError> {
    let Some(text) = fsutil::read_if_exists(dir, file)? else {
        return Ok(None);
    };
    let text = text.trim();
    parse_number(text)
        .map(Some)
        .ok_or_else(|| unexpected(dir, file, text))
}

fn parse_number(text: &str) -> Option<u64> {
    match text {
        "max" => Some(u64::MAX),
        _ => text.parse().ok(),
    }
}

/// A `key value` per line file (`memory.stat`, `cpu.stat`); missing: empty.
fn flat_keyed(dir: &Path, file: &str) -> Result<BTreeMap<String, u64>, CgroupError> {
    let text = fsutil::read_if_exists(dir, file)?.unwrap_or_default();
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (key, value) = line
                .split_once(' ')
                .ok_or_else(|| unexpected(dir, file, line))?;
            let value = parse_number(value.trim()).ok_or_else(|| unexpected(dir, file, line))?;
            Ok((key.to_string(), value))
        })
        .collect()
}

/// Space-separated numbers on one line (`cpuacct.usage_percpu`).
fn number_list(dir: &Path, file: &str) -> Result<Vec<u64>, CgroupError> {
    let text = fsutil::read_if_exists(dir, file)?.unwrap_or_default();
    text.split_whitespace()
        .map(|n| n.parse().map_err(|_| unexpected(dir, file, n)))
        .collect()
}

fn unexpected(dir: &Path, file: &str, text: &str) -> CgroupError {
    CgroupError::Parse {
        path: dir.join(file),
        detail: format!("unexpected value {text:?}"),
    }
}

/// The hugetlb page sizes (`2MB`, `1GB`) that have files called
/// `hugetlb.<size>.<suffix>` in `dir`.
fn hugetlb_sizes(dir: &Path, suffix: &str) -> Result<Vec<String>, CgroupError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CgroupError::ReadDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut sizes: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            Some(size.to_string())
        })
        .collect();
    sizes.sort();
    Ok(sizes)
}

mod v1 {
    use super::*;

    pub(super) fn stats(cg: &crate::Cgroup) -> Result<Stats, CgroupError> {
        let mut stats = Stats::default();
        if let Some(dir) = cg.v1_dir("cpuacct") {
            stats.cpu.usage = cpu_usage(dir)?;
        }
        if let Some(dir) = cg.v1_dir("cpu") {
            stats.cpu.throttling = throttling(dir)?;
        }
        if let Some(dir) = cg.v1_dir("memory") {
            stats.memory = memory(dir)?;
        }
        if let Some(dir) = cg.v1_dir("pids") {
            stats.pids = pids(dir)?;
        }
        if let Some(dir) = cg.v1_dir("blkio") {
            stats.blkio = blkio(dir)?;
        }
        if let Some(dir) = cg.v1_dir("hugetlb") {
            stats.hugetlb = hugetlb(dir)?;
        }
        Ok(stats)
    }

    fn cpu_usage(dir: &Path) -> Result<CpuUsage, CgroupError> {
        let ticks = flat_keyed(dir, "cpuacct.stat")?;
        let nanos = |key| ticks.get(key).copied().unwrap_or(0) * NANOS_PER_USER_HZ_TICK;
        Ok(CpuUsage {
            total: number(dir, "cpuacct.usage")?.unwrap_or(0),
            percpu: number_list(dir, "cpuacct.usage_percpu")?,
            percpu_kernel: number_list(dir, "cpuacct.usage_percpu_sys")?,
            percpu_user: number_list(dir, "cpuacct.usage_percpu_user")?,
            kernel: nanos("system"),
            user: nanos("user"),
        })
    }

    fn throttling(dir: &Path) -> Result<Throttling, CgroupError> {
        let stat = flat_keyed(dir, "cpu.stat")?;
        let get = |key| stat.get(key).copied().unwrap_or(0);
        Ok(Throttling {
            periods: get("nr_periods"),
            throttled_periods: get("nr_throttled"),
            throttled_time: get("throttled_time"),
        })
    }

    fn memory(dir: &Path) -> Result<MemoryStats, CgroupError> {
        let raw = flat_keyed(dir, "memory.stat")?;
        Ok(MemoryStats {
            cache: raw.get("cache").copied().unwrap_or(0),
            usage: entry(dir, "memory")?,
            swap: entry(dir, "memory.memsw")?,
            kernel: entry(dir, "memory.kmem")?,
            kernel_tcp: entry(dir, "memory.kmem.tcp")?,
            raw,
        })
    }

    /// `<prefix>.usage_in_bytes` and its siblings; zeros where the kernel
    /// has no such files (swap accounting off, no kmem).
    fn entry(dir: &Path, prefix: &str) -> Result<MemoryEntry, CgroupError> {
        let read = |name: &str| number(dir, &format!("{prefix}.{name}"));
        Ok(MemoryEntry {
            limit: read("limit_in_bytes")?.unwrap_or(0),
            usage: read("usage_in_bytes")?.unwrap_or(0),
            max: read("max_usage_in_bytes")?.unwrap_or(0),
            failcnt: read("failcnt")?.unwrap_or(0),
        })
    }

    fn blkio(dir: &Path) -> Result<BlkioStats, CgroupError> {
        Ok(BlkioStats {
            io_service_bytes_recursive: blkio_entries(
                dir,
                "blkio.throttle.io_service_bytes_recursive",
            )?,
            io_serviced_recursive: blkio_entries(dir, "blkio.throttle.io_serviced_recursive")?,
        })
    }

    /// `MAJ:MIN Op value` lines; the `Total` line is left out.
    fn blkio_entries(dir: &Path, file: &str) -> Result<Vec<BlkioEntry>, CgroupError> {
        let text = fsutil::read_if_exists(dir, file)?.unwrap_or_default();
        text.lines()
            .filter(|line| line.split_whitespace().count() == 3)
            .map(|line| parse_blkio_line(line).ok_or_else(|| unexpected(dir, file, line)))
            .collect()
    }

    pub(super) fn parse_blkio_line(line: &str) -> Option<BlkioEntry> {
        let mut fields = line.split_whitespace();
        let (major, minor) = fields.next()?.split_once(':')?;
        Some(BlkioEntry {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
            op: fields.next()?.to_string(),
            value: fields.next()?.parse().ok()?,
        })
    }

    fn hugetlb(dir: &Path) -> Result<BTreeMap<String, HugetlbStats>, CgroupError> {
        hugetlb_sizes(dir, ".usage_in_bytes")?
            .into_iter()
            .map(|size| {
                let read = |name: &str| number(dir, &format!("hugetlb.{size}.{name}"));
                let stats = HugetlbStats {
                    usage: read("usage_in_bytes")?.unwrap_or(0),
                    max: read("max_usage_in_bytes")?.unwrap_or(0),
                    failcnt: read("failcnt")?.unwrap_or(0),
                };
                Ok((size, stats))
            })
            .collect()
    }
}

mod v2 {
    use super::*;

    pub(super) fn stats(dir: &Path) -> Result<Stats, CgroupError> {
        Ok(Stats {
            cpu: cpu(dir)?,
            memory: memory(dir)?,
            pids: pids(dir)?,
            blkio: blkio(dir)?,
            hugetlb: hugetlb(dir)?,
        })
    }

    /// `cpu.stat` counts microseconds.
    fn cpu(dir: &Path) -> Result<CpuStats, CgroupError> {
        let stat = flat_keyed(dir, "cpu.stat")?;
        let get = |key| stat.get(key).copied().unwrap_or(0);
        Ok(CpuStats {
            usage: CpuUsage {
                total: get("usage_usec") * 1000,
                kernel: get("system_usec") * 1000,
                user: get("user_usec") * 1000,
                ..CpuUsage::default()
            },
            throttling: Throttling {
                periods: get("nr_periods"),
                throttled_periods: get("nr_throttled"),
                throttled_time: get("throttled_usec") * 1000,
            },
        })
    }

    /// `swap` reports memory plus swap, as v1's memsw does, so that readers
    /// see the same meaning on both.
    fn memory(dir: &Path) -> Result<MemoryStats, CgroupError> {
        let raw = flat_keyed(dir, "memory.stat")?;
        let events = flat_keyed(dir, "memory.events")?;
        let usage = MemoryEntry {
            limit: number(dir, "memory.max")?.unwrap_or(u64::MAX),
            usage: number(dir, "memory.current")?.unwrap_or(0),
            max: number(dir, "memory.peak")?.unwrap_or(0),
            failcnt: events.get("max").copied().unwrap_or(0),
        };
        let swap_limit = number(dir, "memory.swap.max")?.unwrap_or(u64::MAX);
        let swap = MemoryEntry {
            limit: match (swap_limit, usage.limit) {
                (u64::MAX, _) | (_, u64::MAX) => u64::MAX,
                (swap, memory) => swap.saturating_add(memory),
            },
            usage: number(dir, "memory.swap.current")?.unwrap_or(0) + usage.usage,
            max: 0,
            failcnt: 0,
        };
        Ok(MemoryStats {
            cache: raw.get("file").copied().unwrap_or(0),
            usage,
            swap,
            kernel: MemoryEntry::default(),
            kernel_tcp: MemoryEntry::default(),
            raw,
        })
    }

    /// `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...` per device.
    fn blkio(dir: &Path) -> Result<BlkioStats, CgroupError> {
        let text = fsutil::read_if_exists(dir, "io.stat")?.unwrap_or_default();
        let mut stats = BlkioStats::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let device =
                parse_io_stat_line(line).ok_or_else(|| unexpected(dir, "io.stat", line))?;
            stats.io_service_bytes_recursive.extend(device.bytes);
            stats.io_serviced_recursive.extend(device.ios);
        }
        Ok(stats)
    }

    pub(super) struct IoStatLine {
        pub bytes: Vec<BlkioEntry>,
        pub ios: Vec<BlkioEntry>,
    }

    pub(super) fn parse_io_stat_line(line: &str) -> Option<IoStatLine> {
        let mut fields = line.split_whitespace();
        let (major, minor) = fields.next()?.split_once(':')?;
        let (major, minor): (u64, u64) = (major.parse().ok()?, minor.parse().ok()?);
        let mut out = IoStatLine {
            bytes: Vec::new(),
            ios: Vec::new(),
        };
        for field in fields {
            let (key, value) = field.split_once('=')?;
            let value = value.parse().ok()?;
            let (list, op) = match key {
                "rbytes" => (&mut out.bytes, "Read"),
                "wbytes" => (&mut out.bytes, "Write"),
                "rios" => (&mut out.ios, "Read"),
                "wios" => (&mut out.ios, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
        Some(out)
    }

    fn hugetlb(dir: &Path) -> Result<BTreeMap<String, HugetlbStats>, CgroupError> {
        hugetlb_sizes(dir, ".current")?
            .into_iter()
            .map(|size| {
                let events = flat_keyed(dir, &format!("hugetlb.{size}.events"))?;
                let stats = HugetlbStats {
                    usage: number(dir, &format!("hugetlb.{size}.current"))?.unwrap_or(0),
                    max: 0,
                    failcnt: events.get("max").copied().unwrap_or(0),
                };
                Ok((size, stats))
            })
            .collect()
    }
}

/// The pids controller's files are the same on v1 and v2.
fn pids(dir: &Path) -> Result<PidsStats, CgroupError> {
    Ok(PidsStats {
        current: number(dir, "pids.current")?.unwrap_or(0),
        limit: limit_or_zero(number(dir, "pids.max")?),
    })
}

/// `pids.max`: "max" (no limit) reads as 0, runc's "no limit".
fn limit_or_zero(limit: Option<u64>) -> u64 {
    match limit {
        Some(u64::MAX) | None => 0,
        Some(n) => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkio_lines_parse_and_totals_are_skipped_by_shape() {
        assert_eq!(
            v1::parse_blkio_line("8:0 Read 4096"),
            Some(BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            })
        );
        assert_eq!(v1::parse_blkio_line("8:0 Read x"), None);
    }

    #[test]
    fn io_stat_lines_become_read_and_write_entries() {
        let line =
            v2::parse_io_stat_line("259:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0")
                .unwrap();
        let ops: Vec<_> = line
            .bytes
            .iter()
            .map(|e| (e.op.as_str(), e.value))
            .collect();
        assert_eq!(ops, [("Read", 10), ("Write", 20)]);
        let ops: Vec<_> = line.ios.iter().map(|e| (e.op.as_str(), e.value)).collect();
        assert_eq!(ops, [("Read", 1), ("Write", 2)]);
        assert!(line.bytes.iter().all(|e| e.major == 259 && e.minor == 0));
        assert!(v2::parse_io_stat_line("garbage").is_none());
    }

    #[test]
    fn numbers_read_max_as_unlimited() {
        assert_eq!(parse_number("max"), Some(u64::MAX));
        assert_eq!(parse_number("42"), Some(42));
        assert_eq!(parse_number("-1"), None);
        assert_eq!(limit_or_zero(Some(u64::MAX)), 0);
        assert_eq!(limit_or_zero(Some(50)), 50);
    }

    #[test]
    fn empty_fields_are_left_out_as_runc_does() {
        let json = serde_json::to_value(Stats::default()).unwrap();
        assert_eq!(json["pids"], serde_json::json!({}));
        assert_eq!(json["blkio"], serde_json::json!({}));
        assert_eq!(json["cpu"]["throttling"], serde_json::json!({}));
        assert_eq!(
            json["cpu"]["usage"],
            serde_json::json!({"kernel": 0, "user": 0})
        );
        assert_eq!(
            json["memory"]["usage"],
            serde_json::json!({"limit": 0, "failcnt": 0})
        );
    }
}
