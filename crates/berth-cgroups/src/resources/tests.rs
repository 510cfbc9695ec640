//! The translation table, spec JSON in, (target, file, value) out, per dialect.

use berth_spec::LinuxResources;

use super::*;

fn v1() -> HostFacts {
    HostFacts {
        dialect: Dialect::V1,
        current_memory_limit: Some(u64::MAX / 2),
        memsw_available: true,
        blkio_bfq_only: false,
        io_bfq: false,
        hugetlb_unified: false,
    }
}

fn v2() -> HostFacts {
    HostFacts {
        dialect: Dialect::V2,
        current_memory_limit: None,
        memsw_available: false,
        ..v1()
    }
}

fn spec(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// (target, file, value) triples of the writes for `json` on `facts`.
fn writes(json: &str, facts: &HostFacts) -> Result<Vec<(Target, String, String)>, CgroupError> {
    let settings = settings_from_spec(&spec(json))?;
    Ok(translate(&settings, facts)?
        .writes
        .into_iter()
        .map(|w| (w.target, w.file, w.value))
        .collect())
}

fn w(target: Target, file: &str, value: &str) -> (Target, String, String) {
    (target, file.to_string(), value.to_string())
}

const MEM: Target = Target::V1("memory");
const U: Target = Target::Unified;

#[test]
fn zeros_and_absent_fields_change_nothing() {
    // what `docker update` sends for fields the user did not give
    let json = r#"{"memory":{"limit":0,"reservation":0,"kernel":0,"swap":0},
        "cpu":{"shares":0,"quota":0,"period":0,"cpus":"","mems":""},
        "pids":{"limit":0},"blockIO":{"weight":0},"devices":[]}"#;
    assert_eq!(writes(json, &v1()).unwrap(), []);
    assert_eq!(writes(json, &v2()).unwrap(), []);
    assert_eq!(writes("{}", &v2()).unwrap(), []);
}

#[test]
fn docker_update_example() {
    let json = r#"{"memory":{"limit":100663296,"reservation":0,"kernel":0},
        "cpu":{"shares":0,"quota":25000,"period":100000},"pids":{"limit":77},"blockIO":{"weight":0}}"#;
    let cpu = Target::V1("cpu");
    assert_eq!(
        writes(json, &v1()).unwrap(),
        [
            w(MEM, "memory.limit_in_bytes", "100663296"),
            w(Target::V1("pids"), "pids.max", "77"),
            w(cpu, "cpu.cfs_period_us", "100000"),
            w(cpu, "cpu.cfs_quota_us", "25000"),
        ]
    );
    assert_eq!(
        writes(json, &v2()).unwrap(),
        [
            w(U, "memory.max", "100663296"),
            w(U, "pids.max", "77"),
            w(U, "cpu.max", "25000 100000"),
        ]
    );
}

#[test]
fn memory_and_swap_v1_order_keeps_memsw_above_memory() {
    let json = r#"{"memory":{"limit":67108864,"swap":134217728}}"#;
    let lowering = HostFacts {
        current_memory_limit: Some(u64::MAX / 2),
        ..v1()
    };
    assert_eq!(
        writes(json, &lowering).unwrap(),
        [
            w(MEM, "memory.limit_in_bytes", "67108864"),
            w(MEM, "memory.memsw.limit_in_bytes", "134217728"),
        ]
    );
    let raising = HostFacts {
        current_memory_limit: Some(1 << 20),
        ..v1()
    };
    assert_eq!(
        writes(json, &raising).unwrap(),
        [
            w(MEM, "memory.memsw.limit_in_bytes", "134217728"),
            w(MEM, "memory.limit_in_bytes", "67108864"),
        ]
    );
}

#[test]
fn unlimited_memory_lifts_swap_too() {
    let json = r#"{"memory":{"limit":-1}}"#;
    assert_eq!(
        writes(json, &v1()).unwrap(),
        [
            w(MEM, "memory.memsw.limit_in_bytes", "-1"),
            w(MEM, "memory.limit_in_bytes", "-1"),
        ]
    );
    let no_swap_accounting = HostFacts {
        memsw_available: false,
        ..v1()
    };
    assert_eq!(
        writes(json, &no_swap_accounting).unwrap(),
        [w(MEM, "memory.limit_in_bytes", "-1")]
    );
    assert_eq!(
        writes(json, &v2()).unwrap(),
        [w(U, "memory.swap.max", "max"), w(U, "memory.max", "max")]
    );
}

#[test]
fn v2_swap_is_memsw_minus_memory() {
    // podman --memory 64m
    let json = r#"{"memory":{"limit":67108864,"swap":134217728,"reservation":33554432}}"#;
    assert_eq!(
        writes(json, &v2()).unwrap(),
        [
            w(U, "memory.swap.max", "67108864"),
            w(U, "memory.max", "67108864"),
            w(U, "memory.low", "33554432"),
        ]
    );
    let no_swap = r#"{"memory":{"limit":1000,"swap":1000}}"#;
    assert_eq!(
        writes(no_swap, &v2()).unwrap()[0],
        w(U, "memory.swap.max", "0")
    );
    let swap_only = r#"{"memory":{"swap":1000}}"#;
    let err = writes(swap_only, &v2()).unwrap_err();
    assert!(
        err.to_string().contains("linux.resources.memory.swap"),
        "{err}"
    );
    assert_eq!(
        writes(swap_only, &v1()).unwrap(),
        [w(MEM, "memory.memsw.limit_in_bytes", "1000")]
    );
}

#[test]
fn memory_values_are_validated() {
    let below = r#"{"memory":{"limit":2000,"swap":1000}}"#;
    assert!(writes(below, &v1())
        .unwrap_err()
        .to_string()
        .contains("memory.swap"));
    assert!(writes(r#"{"memory":{"limit":-2}}"#, &v1()).is_err());
    let err = writes(r#"{"memory":{"swappiness":101}}"#, &v1()).unwrap_err();
    assert!(err.to_string().contains("swappiness"), "{err}");
}

#[test]
fn memory_extras_are_v1_only() {
    let json = r#"{"memory":{"reservation":-1,"swappiness":10,"disableOOMKiller":true}}"#;
    assert_eq!(
        writes(json, &v1()).unwrap(),
        [
            w(MEM, "memory.soft_limit_in_bytes", "-1"),
            w(MEM, "memory.swappiness", "10"),
            w(MEM, "memory.oom_control", "1"),
        ]
    );
    let err = writes(r#"{"memory":{"swappiness":10}}"#, &v2()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "linux.resources.memory.swappiness is not supported on cgroup v2"
    );
    assert!(writes(r#"{"memory":{"disableOOMKiller":true}}"#, &v2()).is_err());
    assert_eq!(
        writes(r#"{"memory":{"disableOOMKiller":false}}"#, &v2()).unwrap(),
        []
    );
}

#[test]
fn kernel_memory_is_ignored_with_a_warning_by_name() {
    let json = r#"{"memory":{"kernel":1048576,"kernelTCP":0}}"#;
    assert_eq!(writes(json, &v1()).unwrap(), []);
    let plan = ResourcePlan::from_spec(&spec(json)).unwrap();
    let warnings = plan.ignored();
    assert_eq!(warnings.len(), 2);
    assert!(warnings[1].ends_with("(linux.resources.memory.kernelTCP)"));
    assert!(super::ignored_settings(&LinuxResources::default()).is_empty());
}

#[test]
fn pids_unlimited_is_max() {
    assert_eq!(
        writes(r#"{"pids":{"limit":-1}}"#, &v2()).unwrap(),
        [w(U, "pids.max", "max")]
    );
}

#[test]
fn cpu_shares_become_v2_weight_as_in_runc() {
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(1024), 39);
    assert_eq!(shares_to_weight(262_144), 10_000);
    assert_eq!(
        writes(r#"{"cpu":{"shares":512}}"#, &v1()).unwrap(),
        [w(Target::V1("cpu"), "cpu.shares", "512")]
    );
    assert_eq!(
        writes(r#"{"cpu":{"shares":1024}}"#, &v2()).unwrap(),
        [w(U, "cpu.weight", "39")]
    );
    assert!(writes(r#"{"cpu":{"shares":1}}"#, &v1()).is_err());
    assert!(writes(r#"{"cpu":{"shares":262145}}"#, &v2()).is_err());
}

#[test]
fn cpu_quota_and_period() {
    assert_eq!(
        writes(r#"{"cpu":{"quota":-1}}"#, &v2()).unwrap(),
        [w(U, "cpu.max", "max 100000")]
    );
    assert_eq!(
        writes(r#"{"cpu":{"period":50000}}"#, &v2()).unwrap(),
        [w(U, "cpu.max", "max 50000")]
    );
    assert_eq!(
        writes(r#"{"cpu":{"quota":-1}}"#, &v1()).unwrap(),
        [w(Target::V1("cpu"), "cpu.cfs_quota_us", "-1")]
    );
}

#[test]
fn cpuset_and_realtime() {
    let json = r#"{"cpu":{"cpus":"0-1","mems":"0"}}"#;
    let cpuset = Target::V1("cpuset");
    assert_eq!(
        writes(json, &v1()).unwrap(),
        [
            w(cpuset, "cpuset.cpus", "0-1"),
            w(cpuset, "cpuset.mems", "0")
        ]
    );
    assert_eq!(
        writes(json, &v2()).unwrap(),
        [w(U, "cpuset.cpus", "0-1"), w(U, "cpuset.mems", "0")]
    );
    let rt = r#"{"cpu":{"realtimeRuntime":950000,"realtimePeriod":1000000}}"#;
    assert_eq!(
        writes(rt, &v1()).unwrap(),
        [
            w(Target::V1("cpu"), "cpu.rt_period_us", "1000000"),
            w(Target::V1("cpu"), "cpu.rt_runtime_us", "950000"),
        ]
    );
    assert!(writes(rt, &v2())
        .unwrap_err()
        .to_string()
        .contains("realtime"));
    let err = writes(r#"{"cpu":{"idle":1}}"#, &v2()).unwrap_err();
    assert!(
        err.to_string().contains("linux.resources.cpu.idle"),
        "{err}"
    );
}

#[test]
fn block_io_weight_picks_the_file_the_host_has() {
    let json = r#"{"blockIO":{"weight":500}}"#;
    let blkio = Target::V1("blkio");
    assert_eq!(
        writes(json, &v1()).unwrap(),
        [w(blkio, "blkio.weight", "500")]
    );
    let bfq = HostFacts {
        blkio_bfq_only: true,
        io_bfq: true,
        ..v1()
    };
    assert_eq!(
        writes(json, &bfq).unwrap(),
        [w(blkio, "blkio.bfq.weight", "500")]
    );
    assert_eq!(blkio_weight_to_io_weight(10), 1);
    assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    assert_eq!(writes(json, &v2()).unwrap(), [w(U, "io.weight", "4950")]);
    let v2_bfq = HostFacts {
        io_bfq: true,
        ..v2()
    };
    assert_eq!(
        writes(json, &v2_bfq).unwrap(),
        [w(U, "io.bfq.weight", "500")]
    );
    let leaf = r#"{"blockIO":{"leafWeight":300}}"#;
    assert!(writes(leaf, &v1())
        .unwrap_err()
        .to_string()
        .contains("leafWeight"));
}

#[test]
fn block_io_devices() {
    let json = r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":300}],
        "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
        "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":100}]}}"#;
    let blkio = Target::V1("blkio");
    assert_eq!(
        writes(json, &v1()).unwrap(),
        [
            w(blkio, "blkio.weight_device", "8:0 300"),
            w(blkio, "blkio.throttle.read_bps_device", "8:0 1048576"),
            w(blkio, "blkio.throttle.write_iops_device", "8:16 100"),
        ]
    );
    let v2_bfq = HostFacts {
        io_bfq: true,
        ..v2()
    };
    assert_eq!(
        writes(json, &v2_bfq).unwrap(),
        [
            w(U, "io.bfq.weight", "8:0 300"),
            w(U, "io.max", "8:0 rbps=1048576"),
            w(U, "io.max", "8:16 wiops=100"),
        ]
    );
    assert!(writes(json, &v2())
        .unwrap_err()
        .to_string()
        .contains("weightDevice"));
}

#[test]
fn hugepages_per_dialect_and_hybrid_unified() {
    let json =
        r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304},{"pageSize":"1GB","limit":-1}]}"#;
    let hugetlb = Target::V1("hugetlb");
    assert_eq!(
        writes(json, &v1()).unwrap(),
        [
            w(hugetlb, "hugetlb.2MB.limit_in_bytes", "4194304"),
            w(hugetlb, "hugetlb.1GB.limit_in_bytes", "-1"),
        ]
    );
    let expected_v2 = [
        w(U, "hugetlb.2MB.max", "4194304"),
        w(U, "hugetlb.1GB.max", "max"),
    ];
    assert_eq!(writes(json, &v2()).unwrap(), expected_v2);
    let hybrid = HostFacts {
        hugetlb_unified: true,
        ..v1()
    };
    assert_eq!(writes(json, &hybrid).unwrap(), expected_v2);
    assert!(writes(r#"{"hugepageLimits":[{"pageSize":"2M","limit":1}]}"#, &v1()).is_err());
}

#[test]
fn devices_v1_reset_then_rules_in_order() {
    let json = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
        {"allow":false,"type":"b","major":8,"access":"w"}]}"#;
    let devices = Target::V1("devices");
    assert_eq!(
        writes(json, &v1()).unwrap(),
        [
            w(devices, "devices.deny", "a"),
            w(devices, "devices.deny", "a *:* rwm"),
            w(devices, "devices.allow", "c 1:3 rwm"),
            w(devices, "devices.deny", "b 8:* w"),
        ]
    );
    // v2: no files; the rules go to an eBPF device program instead
    let settings = settings_from_spec(&spec(json)).unwrap();
    let on_v2 = translate(&settings, &v2()).unwrap();
    assert_eq!(on_v2.writes, []);
    let rules = on_v2.device_program.unwrap();
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[2].v1_line(), "b 8:* w");
}

#[test]
fn unified_is_v2_only_and_checked() {
    let json = r#"{"unified":{"memory.high":"50000000","io.weight":"default 50"}}"#;
    assert_eq!(
        writes(json, &v2()).unwrap(),
        [
            w(U, "io.weight", "default 50"),
            w(U, "memory.high", "50000000")
        ]
    );
    assert!(writes(json, &v1())
        .unwrap_err()
        .to_string()
        .contains("linux.resources.unified"));
    assert!(writes(r#"{"unified":{"../x.y":"1"}}"#, &v2()).is_err());
}

#[test]
fn network_is_v1_only() {
    let json = r#"{"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]}}"#;
    assert_eq!(
        writes(json, &v1()).unwrap(),
        [
            w(Target::V1("net_cls"), "net_cls.classid", "1048577"),
            w(Target::V1("net_prio"), "net_prio.ifpriomap", "eth0 5"),
        ]
    );
    let err = writes(json, &v2()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("linux.resources.network.classID is not supported on cgroup v2"),
        "{err}"
    );
    assert_eq!(writes(r#"{"network":{"classID":0}}"#, &v2()).unwrap(), []);
}

#[test]
fn rdma_lines_per_device() {
    let json = r#"{"rdma":{"mlx5_1":{"hcaHandles":3,"hcaObjects":10000},"hfi1":{"hcaObjects":5},"none":{}}}"#;
    assert_eq!(
        writes(json, &v2()).unwrap(),
        [
            w(U, "rdma.max", "hfi1 hca_object=5"),
            w(U, "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"),
        ]
    );
    assert_eq!(
        writes(json, &v1()).unwrap()[0],
        w(Target::V1("rdma"), "rdma.max", "hfi1 hca_object=5")
    );
    assert_eq!(writes(r#"{"network":{},"rdma":{}}"#, &v2()).unwrap(), []);
}

#[test]
fn the_plan_refuses_before_any_cgroup_and_keeps_the_memory_check() {
    let err = ResourcePlan::from_spec(&spec(
        r#"{"pids":{"limit":55},"memory":{"useHierarchy":true}}"#,
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("linux.resources.memory.useHierarchy"),
        "{err}"
    );
    let plan = ResourcePlan::from_spec(&spec(
        r#"{"memory":{"limit":1048576,"swap":0,"checkBeforeUpdate":true}}"#,
    ))
    .unwrap();
    assert!(plan.check_memory_before_update);
    assert!(plan.ignored().is_empty());
    assert_eq!(
        plan.memory_limits(),
        [("memory+swap", None), ("memory", Some(1048576))]
    );
    assert!(ResourcePlan::from_spec(&spec("{}"))
        .unwrap()
        .settings()
        .is_empty());
}
