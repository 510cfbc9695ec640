//! `update`: resources from a JSON file or stdin, overridden by runc's
//! flags, applied to the container's cgroup.

use std::io::Read;

use berth_container::Store;
use berth_spec::LinuxResources;
use serde_json::{json, Value};

use crate::cli::UpdateArgs;
use crate::commands::read_file;
use crate::Failure;

pub fn update(store: &Store, args: &UpdateArgs) -> Result<(), Failure> {
    if args.l3_cache_schema.is_some() || args.mem_bw_schema.is_some() {
        berth_container::update_schemata(
            store,
            &args.id,
            args.l3_cache_schema.as_deref().unwrap_or_default(),
            args.mem_bw_schema.as_deref().unwrap_or_default(),
        )?;
    }
    let mut value = match &args.resources {
        Some(source) => read_resources(source)?,
        None => json!({}),
    };
    apply_flags(&mut value, args)?;
    let resources: LinuxResources = serde_json::from_value(value)
        .map_err(|e| Failure::new(format!("decoding resources: {e}")))?;
    for warning in berth_container::update(store, &args.id, &resources)? {
        tracing::warn!("{warning}");
    }
    Ok(())
}

fn read_resources(source: &str) -> Result<Value, Failure> {
    let bytes = if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::os("read resources from stdin".into(), &e))?;
        bytes
    } else {
        read_file(std::path::Path::new(source))?
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| Failure::new(format!("decoding resources {source}: {e}")))
}

/// Set `value[section][key]`, creating the section.
fn set(value: &mut Value, section: &str, key: &str, v: Value) {
    if !value[section].is_object() {
        value[section] = json!({});
    }
    value[section][key] = v;
}

fn apply_flags(value: &mut Value, a: &UpdateArgs) -> Result<(), Failure> {
    let numbers = [
        ("blockIO", "weight", a.blkio_weight.map(|v| json!(v))),
        ("cpu", "period", a.cpu_period.map(|v| json!(v))),
        ("cpu", "quota", a.cpu_quota.map(|v| json!(v))),
        ("cpu", "shares", a.cpu_share.map(|v| json!(v))),
        ("cpu", "realtimePeriod", a.cpu_rt_period.map(|v| json!(v))),
        ("cpu", "realtimeRuntime", a.cpu_rt_runtime.map(|v| json!(v))),
        ("cpu", "cpus", a.cpuset_cpus.as_ref().map(|v| json!(v))),
        ("cpu", "mems", a.cpuset_mems.as_ref().map(|v| json!(v))),
        ("pids", "limit", a.pids_limit.map(|v| json!(v))),
    ];
    for (section, key, v) in numbers {
        if let Some(v) = v {
            set(value, section, key, v);
        }
    }
    let sizes = [
        ("limit", "--memory", &a.memory),
        ("reservation", "--memory-reservation", &a.memory_reservation),
        ("swap", "--memory-swap", &a.memory_swap),
    ];
    for (key, flag, text) in sizes {
        if let Some(text) = text {
            let bytes = parse_size(text)
                .ok_or_else(|| Failure::new(format!("invalid value for {flag}: {text:?}")))?;
            set(value, "memory", key, json!(bytes));
        }
    }
    Ok(())
}

/// A memory size: bytes, or a number with a binary unit suffix (k, m, g,
/// t, p; optional trailing "b"/"ib"), or -1 for unlimited.
pub fn parse_size(text: &str) -> Option<i64> {
    if text == "-1" {
        return Some(-1);
    }
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let number: f64 = number.parse().ok()?;
    let shift = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return None,
    };
    Some((number * (1u64 << shift) as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("50331648"), Some(50_331_648));
        assert_eq!(parse_size("50M"), Some(50 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_size("-1"), Some(-1));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("5x"), None);
    }

    #[test]
    fn flags_override_the_file_and_create_sections() {
        let mut value = json!({"pids": {"limit": 5}, "memory": {"limit": 1}});
        let args = UpdateArgs {
            resources: None,
            blkio_weight: None,
            cpu_period: None,
            cpu_quota: Some(25000),
            cpu_share: None,
            cpu_rt_period: None,
            cpu_rt_runtime: None,
            cpuset_cpus: None,
            cpuset_mems: None,
            memory: Some("2M".into()),
            memory_reservation: None,
            memory_swap: None,
            pids_limit: Some(30),
            l3_cache_schema: None,
            mem_bw_schema: None,
            id: "c".into(),
        };
        apply_flags(&mut value, &args).ok().unwrap();
        assert_eq!(value["pids"]["limit"], json!(30));
        assert_eq!(value["memory"]["limit"], json!(2 << 20));
        assert_eq!(value["cpu"]["quota"], json!(25000));
    }
}
