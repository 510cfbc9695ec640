//! Unit properties for systemd, read off the cgroup file writes of the one
//! resource translation ([`crate::resources::translate`]): each file systemd
//! manages itself has a property (runc 1.1's names per cgroup version), so
//! that systemd keeps the values the runtime writes. Files without a
//! property (swappiness, throttles, hugetlb, rdma, ...) are only written.

use super::dbus::Value;
use super::devices::device_properties;
use crate::resources::Translation;
use crate::CgroupError;

/// systemd's "no limit" (`infinity`) for limits and quotas.
const INFINITY: u64 = u64::MAX;

/// The systemd version that brought a property, for those runc checks:
/// `CPUQuotaPeriodUSec` 242, `AllowedCPUs`/`AllowedMemoryNodes` 244.
fn introduced_in(name: &str) -> Option<u32> {
    match name {
        "CPUQuotaPeriodUSec" => Some(242),
        "AllowedCPUs" | "AllowedMemoryNodes" => Some(244),
        _ => None,
    }
}

/// Leaves out the properties systemd `version` is too old for (their
/// cgroup files are still written, as runc does). `version` is called
/// only when such a property is there.
pub(crate) fn for_version(
    mut props: Vec<(&'static str, Value)>,
    version: impl FnOnce() -> u32,
) -> Vec<(&'static str, Value)> {
    if props.iter().all(|(name, _)| introduced_in(name).is_none()) {
        return props;
    }
    let version = version();
    props.retain(|(name, _)| introduced_in(name).is_none_or(|since| version >= since));
    props
}

/// The unit properties for a translation: its device rules, then its
/// writes in order.
pub(crate) fn resource_properties(
    translation: &Translation,
) -> Result<Vec<(&'static str, Value)>, CgroupError> {
    let mut props = translation
        .device_rules
        .as_deref()
        .map(device_properties)
        .unwrap_or_default();
    let writes = &translation.writes;
    let (mut quota, mut period) = (None, None);
    for w in writes {
        let value = w.value.trim();
        let limit = || limit(w.field, value);
        let prop = match w.file.as_str() {
            // v2
            "memory.max" => Some(("MemoryMax", limit()?)),
            "memory.low" => Some(("MemoryLow", limit()?)),
            "memory.high" => Some(("MemoryHigh", limit()?)),
            "memory.min" => Some(("MemoryMin", limit()?)),
            "memory.swap.max" => Some(("MemorySwapMax", limit()?)),
            "cpu.weight" => Some(("CPUWeight", limit()?)),
            "io.weight" => Some(("IOWeight", limit()?)),
            "cpu.max" => {
                let mut parts = value.split_whitespace();
                quota = parts.next().map(str::to_string);
                period = parts.next().map(str::to_string);
                None
            }
            // v1
            "memory.limit_in_bytes" => Some(("MemoryLimit", limit()?)),
            "cpu.shares" => Some(("CPUShares", limit()?)),
            "blkio.weight" => Some(("BlockIOWeight", limit()?)),
            "cpu.cfs_quota_us" => {
                quota = Some(value.to_string());
                None
            }
            "cpu.cfs_period_us" => {
                period = Some(value.to_string());
                None
            }
            // both
            "pids.max" => Some(("TasksMax", limit()?)),
            "cpuset.cpus" => Some(("AllowedCPUs", Value::Bytes(cpu_bits(w.field, value)?))),
            "cpuset.mems" => Some((
                "AllowedMemoryNodes",
                Value::Bytes(cpu_bits(w.field, value)?),
            )),
            _ => None,
        };
        props.extend(prop);
    }
    props.extend(cpu_quota_properties(quota.as_deref(), period.as_deref())?);
    Ok(props)
}

/// A cgroup limit as a property value: `max` and negative numbers are
/// systemd's infinity.
fn limit(field: &str, value: &str) -> Result<Value, CgroupError> {
    if value == "max" || value.starts_with('-') {
        return Ok(Value::U64(INFINITY));
    }
    value
        .parse()
        .map(Value::U64)
        .map_err(|_| CgroupError::invalid(field, format!("{value:?} is not a number for systemd")))
}

/// `CPUQuotaPeriodUSec` (when a period is set) and `CPUQuotaPerSecUSec`:
/// quota per second of CPU time, rounded up to whole 10 ms as runc does
/// (systemd keeps a percentage, so the cgroup's own quota stays exact).
fn cpu_quota_properties(
    quota: Option<&str>,
    period: Option<&str>,
) -> Result<Vec<(&'static str, Value)>, CgroupError> {
    const FIELD: &str = "linux.resources.cpu.quota";
    let period_us =
        match period {
            Some(p) => Some(p.parse::<u64>().map_err(|_| {
                CgroupError::invalid("linux.resources.cpu.period", format!("{p:?}"))
            })?),
            None => None,
        };
    let mut props = Vec::new();
    if let Some(p) = period_us {
        props.push(("CPUQuotaPeriodUSec", Value::U64(p)));
    }
    if quota.is_none() && period.is_none() {
        return Ok(props);
    }
    let quota_us = match quota {
        Some(q) if q != "max" => q
            .parse::<i64>()
            .map_err(|_| CgroupError::invalid(FIELD, format!("{q:?}")))?,
        _ => -1,
    };
    let per_sec = match u64::try_from(quota_us) {
        Ok(q) if q > 0 => {
            let period = period_us.filter(|p| *p > 0).unwrap_or(100_000);
            (q * 1_000_000 / period).div_ceil(10_000) * 10_000
        }
        _ => INFINITY,
    };
    props.push(("CPUQuotaPerSecUSec", Value::U64(per_sec)));
    Ok(props)
}

/// A cpuset list (`0-3,8`) as systemd's bitmask: byte `i` holds CPUs (or
/// memory nodes) `8i..8i+7`, lowest bit first.
fn cpu_bits(field: &str, list: &str) -> Result<Vec<u8>, CgroupError> {
    let bad = || CgroupError::invalid(field, format!("{list:?} is not a list of ranges"));
    let mut bits: Vec<u8> = Vec::new();
    for range in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let first: usize = first.trim().parse().map_err(|_| bad())?;
        let last: usize = last.trim().parse().map_err(|_| bad())?;
        if first > last || last >= 1 << 16 {
            return Err(bad());
        }
        for n in first..=last {
            if bits.len() <= n / 8 {
                bits.resize(n / 8 + 1, 0);
            }
            bits[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{settings_from_spec, translate, Dialect, HostFacts};

    fn facts(dialect: Dialect) -> HostFacts {
        HostFacts {
            dialect,
            current_memory_limit: None,
            memsw_available: true,
            blkio_bfq_only: false,
            io_bfq: false,
            hugetlb_unified: false,
        }
    }

    fn props(json: &str, dialect: Dialect) -> Vec<(&'static str, Value)> {
        let resources = serde_json::from_str(json).unwrap();
        let settings = settings_from_spec(&resources).unwrap();
        let translation = translate(&settings, &facts(dialect)).unwrap();
        resource_properties(&translation).unwrap()
    }

    fn get<'a>(props: &'a [(&'static str, Value)], name: &str) -> Option<&'a Value> {
        props.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    const LIMITS: &str = r#"{"memory":{"limit":67108864,"reservation":1048576,"swap":134217728},
        "cpu":{"shares":512,"quota":25000,"period":100000,"cpus":"0-1,3","mems":"0"},
        "pids":{"limit":42},"blockIO":{"weight":500}}"#;

    #[test]
    fn v2_names_as_runc() {
        let p = props(LIMITS, Dialect::V2);
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(67_108_864)));
        assert_eq!(get(&p, "MemoryLow"), Some(&Value::U64(1_048_576)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(67_108_864)));
        // shares 512 → cpu.weight 20, runc's conversion
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::U64(20)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(250_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100_000)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(42)));
        assert_eq!(get(&p, "AllowedCPUs"), Some(&Value::Bytes(vec![0b1011])));
        assert_eq!(get(&p, "AllowedMemoryNodes"), Some(&Value::Bytes(vec![1])));
        assert!(get(&p, "IOWeight").is_some());
        assert!(get(&p, "MemoryLimit").is_none() && get(&p, "CPUShares").is_none());
    }

    #[test]
    fn v1_names_as_runc() {
        let p = props(LIMITS, Dialect::V1);
        assert_eq!(get(&p, "MemoryLimit"), Some(&Value::U64(67_108_864)));
        assert_eq!(get(&p, "CPUShares"), Some(&Value::U64(512)));
        assert_eq!(get(&p, "BlockIOWeight"), Some(&Value::U64(500)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(250_000)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(42)));
        assert!(get(&p, "MemoryMax").is_none() && get(&p, "CPUWeight").is_none());
    }

    #[test]
    fn unlimited_is_infinity() {
        let p = props(
            r#"{"memory":{"limit":-1},"pids":{"limit":-1}}"#,
            Dialect::V2,
        );
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(INFINITY)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(INFINITY)));
        let p = props(r#"{"cpu":{"quota":-1}}"#, Dialect::V2);
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(INFINITY)));
    }

    #[test]
    fn quota_rounds_up_to_whole_10ms_per_second() {
        let p = props(r#"{"cpu":{"quota":12345,"period":100000}}"#, Dialect::V1);
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(130_000)));
        let p = props(r#"{"cpu":{"quota":50000}}"#, Dialect::V1);
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), None);
    }

    #[test]
    fn unified_entries_become_properties_too() {
        let p = props(
            r#"{"unified":{"memory.high":"1048576","pids.max":"max"}}"#,
            Dialect::V2,
        );
        assert_eq!(get(&p, "MemoryHigh"), Some(&Value::U64(1_048_576)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(INFINITY)));
    }

    #[test]
    fn properties_newer_than_systemd_are_left_out() {
        let all = props(LIMITS, Dialect::V2);
        let names = |v: u32| -> Vec<&str> {
            for_version(all.clone(), || v)
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        };
        for v in [244, 252] {
            let p = names(v);
            for n in ["CPUQuotaPeriodUSec", "AllowedCPUs", "AllowedMemoryNodes"] {
                assert!(p.contains(&n), "{n} on {v}");
            }
        }
        let p = names(243);
        assert!(p.contains(&"CPUQuotaPeriodUSec"));
        assert!(!p.contains(&"AllowedCPUs") && !p.contains(&"AllowedMemoryNodes"));
        for v in [0, 241] {
            let p = names(v);
            for n in ["CPUQuotaPeriodUSec", "AllowedCPUs", "AllowedMemoryNodes"] {
                assert!(!p.contains(&n), "{n} on {v}");
            }
            assert!(p.contains(&"CPUQuotaPerSecUSec") && p.contains(&"MemoryMax"));
        }
    }

    #[test]
    fn the_version_is_not_asked_for_without_a_property_needing_it() {
        let p = props(
            r#"{"memory":{"limit":1048576},"cpu":{"quota":5000}}"#,
            Dialect::V1,
        );
        let kept = for_version(p.clone(), || panic!("version asked for"));
        assert_eq!(kept, p);
    }

    #[test]
    fn cpu_lists_become_bitmasks() {
        assert_eq!(cpu_bits("f", "0").unwrap(), [1]);
        assert_eq!(cpu_bits("f", "9").unwrap(), [0, 2]);
        assert_eq!(cpu_bits("f", "0-2, 8-9").unwrap(), [7, 3]);
        for bad in ["a", "3-1", "1-", "-"] {
            assert!(cpu_bits("f", bad).is_err(), "{bad}");
        }
    }
}
