use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::*;

/// `runc spec` of runc 1.1.5, unchanged.
const RUNC_DEFAULT: &str = include_str!("../testdata/runc-default.json");
/// A config that sets every field berth-spec knows.
const FULL: &str = include_str!("../testdata/full.json");

fn parse(text: &str) -> Spec {
    serde_json::from_str(text).unwrap()
}

/// Serializes `spec` and compares it with `text` as JSON values.
fn assert_round_trip(text: &str) {
    let spec = parse(text);
    let written = serde_json::to_value(&spec).unwrap();
    let original: Value = serde_json::from_str(text).unwrap();
    assert_eq!(written, original);
    assert_eq!(parse(&written.to_string()), spec);
}

#[test]
fn runc_default_spec_parses() {
    let spec = parse(RUNC_DEFAULT);
    assert_eq!(spec.oci_version, "1.0.2-dev");
    let process = spec.process.as_ref().unwrap();
    assert!(process.terminal);
    assert_eq!(process.args, ["sh"]);
    assert_eq!(process.cwd, Path::new("/"));
    assert_eq!(
        process.capabilities.bounding,
        ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    );
    assert!(process.capabilities.inheritable.is_empty());
    assert_eq!(
        process.rlimits,
        [PosixRlimit {
            typ: PosixRlimitType::Nofile,
            hard: 1024,
            soft: 1024
        }]
    );
    assert!(process.no_new_privileges);
    let root = spec.root.as_ref().unwrap();
    assert_eq!(
        (root.path.as_path(), root.readonly),
        (Path::new("rootfs"), true)
    );
    assert_eq!(spec.hostname.as_deref(), Some("runc"));
    assert_eq!(spec.mounts.len(), 7);
    assert_eq!(spec.mounts[1].typ, "tmpfs");
    assert_eq!(spec.mounts[0].source, Some(PathBuf::from("proc")));
    assert!(spec.mounts[0].options.is_empty());
    let linux = spec.linux.as_ref().unwrap();
    let deny_all = &linux.resources.as_ref().unwrap().devices[0];
    assert_eq!((deny_all.allow, deny_all.access.as_str()), (false, "rwm"));
    assert_eq!(deny_all.typ, None);
    let kinds: Vec<_> = linux.namespaces.iter().map(|n| n.typ.as_str()).collect();
    assert_eq!(kinds, ["pid", "network", "ipc", "uts", "mount"]);
    assert_eq!(linux.masked_paths.len(), 10);
    assert_eq!(linux.readonly_paths.len(), 5);
    assert!(spec.hooks.is_none() && spec.annotations.is_none());
}

#[test]
fn runc_default_spec_round_trips_unchanged() {
    assert_round_trip(RUNC_DEFAULT);
}

#[test]
fn every_field_parses() {
    let spec = parse(FULL);
    let p = spec.process.as_ref().unwrap();
    assert_eq!(
        p.console_size,
        Some(crate::ConsoleSize {
            height: 25,
            width: 80
        })
    );
    assert_eq!(
        (p.user.uid, p.user.gid, p.user.umask),
        (1000, 1001, Some(0o22))
    );
    assert_eq!(p.user.additional_gids, [5, 6]);
    assert_eq!(p.user.username, "someone");
    assert_eq!(p.command_line, "sh -c true");
    assert_eq!(p.capabilities.ambient, ["CAP_NET_BIND_SERVICE"]);
    assert_eq!(p.rlimits[1].typ, PosixRlimitType::Core);
    assert_eq!(p.apparmor_profile, "berth-default");
    assert_eq!(p.oom_score_adj, Some(-500));
    assert!(!p.selinux_label.is_empty());
    let io = p.io_priority.as_ref().unwrap();
    assert_eq!((io.class.as_str(), io.priority), ("IOPRIO_CLASS_BE", 4));
    assert!(p.scheduler.is_some());
    let affinity = p.exec_cpu_affinity.as_ref().unwrap();
    assert_eq!(
        (affinity.initial.as_str(), affinity.final_.as_str()),
        ("0", "1-3")
    );
    assert_eq!(spec.domainname.as_deref(), Some("example.org"));

    let bind = &spec.mounts[1];
    assert_eq!(bind.options, ["rbind", "ro"]);
    let idmap = bind.uid_mappings.as_ref().unwrap()[0];
    assert_eq!(
        (idmap.container_id, idmap.host_id, idmap.size),
        (0, 100000, 65536)
    );
    assert!(bind.gid_mappings.is_some());

    let hooks = spec.hooks.as_ref().unwrap();
    let pre = &hooks.prestart.as_ref().unwrap()[0];
    assert_eq!(pre.path, Path::new("/bin/pre"));
    assert_eq!(
        pre.args.as_deref(),
        Some(&["pre".to_string(), "1".into()][..])
    );
    assert_eq!(pre.timeout, Some(5));
    for list in [
        &hooks.create_runtime,
        &hooks.create_container,
        &hooks.start_container,
        &hooks.poststart,
        &hooks.poststop,
    ] {
        assert_eq!(list.as_ref().map(Vec::len), Some(1));
    }
    assert_eq!(
        spec.annotations.as_ref().unwrap()["org.example.key"],
        "value"
    );
}

#[test]
fn every_linux_field_parses() {
    let spec = parse(FULL);
    let linux = spec.linux.as_ref().unwrap();
    assert_eq!(linux.uid_mappings[0].host_id, 1000);
    assert_eq!(linux.gid_mappings.len(), 1);
    assert_eq!(
        linux.time_offsets["monotonic"],
        LinuxTimeOffset {
            secs: 10,
            nanosecs: 5
        }
    );
    assert_eq!(linux.sysctl["net.ipv4.ip_forward"], "1");
    assert_eq!(linux.cgroups_path, "/berth/full");
    assert_eq!(linux.namespaces.len(), 8);
    assert_eq!(
        linux.namespaces[1],
        LinuxNamespace {
            typ: LinuxNamespaceType::Network,
            path: Some(PathBuf::from("/var/run/netns/full")),
        }
    );
    let kinds: Vec<_> = linux.devices.iter().map(|d| d.typ).collect();
    use LinuxDeviceType as D;
    assert_eq!(kinds, [D::Char, D::Block, D::Unbuffered, D::Fifo]);
    let fuse = &linux.devices[0];
    assert_eq!(
        (fuse.major, fuse.minor, fuse.file_mode, fuse.uid, fuse.gid),
        (10, 229, Some(0o666), Some(0), Some(0))
    );
    assert_eq!(linux.net_devices["eth1"].name, "eth0");
    let seccomp = linux.seccomp.as_ref().unwrap();
    assert_eq!(seccomp.default_action, "SCMP_ACT_ERRNO");
    assert_eq!(seccomp.default_errno_ret, Some(1));
    assert_eq!(seccomp.architectures.len(), 2);
    assert_eq!(seccomp.listener_path, "/run/seccomp.sock");
    let rule = &seccomp.syscalls[1];
    assert_eq!((rule.names.len(), rule.errno_ret), (1, Some(38)));
    assert_eq!(
        rule.args[0],
        LinuxSeccompArg {
            index: 0,
            value: 8,
            value_two: 255,
            op: "SCMP_CMP_MASKED_EQ".into()
        }
    );
    assert_eq!(linux.rootfs_propagation, "rslave");
    assert_eq!(linux.masked_paths, ["/proc/kcore"]);
    assert_eq!(linux.readonly_paths, ["/proc/sys"]);
    assert!(!linux.mount_label.is_empty());
    assert_eq!(linux.intel_rdt.as_ref().unwrap().clos_id, "guaranteed");
    let mpol = linux.memory_policy.as_ref().unwrap();
    assert_eq!(
        (mpol.mode.as_str(), mpol.nodes.as_str()),
        ("MPOL_INTERLEAVE", "0-1")
    );
    assert_eq!(linux.personality.as_ref().unwrap().domain, "LINUX32");
}

#[test]
fn every_resource_field_parses() {
    let spec = parse(FULL);
    let r = spec.linux.unwrap().resources.unwrap();
    let rule = &r.devices[1];
    assert_eq!(
        (rule.allow, rule.typ, rule.major, rule.minor),
        (true, Some(LinuxDeviceType::Char), Some(1), Some(3))
    );
    let m = r.memory.unwrap();
    assert_eq!(
        (m.limit, m.reservation, m.swap),
        (Some(512 << 20), Some(256 << 20), Some(1 << 30))
    );
    assert_eq!(
        (m.kernel, m.kernel_tcp, m.swappiness),
        (Some(-1), Some(-1), Some(0))
    );
    assert_eq!(
        (m.disable_oom_killer, m.use_hierarchy, m.check_before_update),
        (Some(false), Some(true), Some(true))
    );
    let cpu = r.cpu.unwrap();
    assert_eq!(
        (cpu.shares, cpu.quota, cpu.burst),
        (Some(1024), Some(50000), Some(10000))
    );
    assert_eq!(
        (cpu.period, cpu.realtime_runtime, cpu.realtime_period),
        (Some(100000), Some(950000), Some(1000000))
    );
    assert_eq!(
        (cpu.cpus.as_str(), cpu.mems.as_str(), cpu.idle),
        ("0-3", "0", Some(0))
    );
    assert_eq!(r.pids.unwrap().limit, 32);
    let b = r.block_io.unwrap();
    assert_eq!((b.weight, b.leaf_weight), (Some(500), Some(300)));
    assert_eq!(b.weight_device[0].leaf_weight, Some(200));
    let rates: Vec<u64> = [
        &b.throttle_read_bps_device,
        &b.throttle_write_bps_device,
        &b.throttle_read_iops_device,
        &b.throttle_write_iops_device,
    ]
    .iter()
    .map(|list| list[0].rate)
    .collect();
    assert_eq!(rates, [600, 700, 800, 900]);
    assert_eq!(r.hugepage_limits[0].page_size, "2MB");
    let net = r.network.unwrap();
    assert_eq!(net.class_id, Some(0x100001));
    assert_eq!(net.priorities[0].name, "eth0");
    assert_eq!(r.rdma["mlx5_1"].hca_objects, Some(10000));
    assert_eq!(r.unified["memory.high"], "1073741824");
}

#[test]
fn a_full_config_round_trips_unchanged() {
    assert_round_trip(FULL);
}

#[test]
fn a_minimal_config_round_trips_without_added_fields() {
    let minimal = r#"{"ociVersion":"1.2.0","process":{"user":{"uid":0,"gid":0},"cwd":"/"},"linux":{"resources":{"memory":{},"devices":[{"allow":true}]},"namespaces":[{"type":"mount"}]},"mounts":[{"destination":"/tmp"}]}"#;
    assert_round_trip(minimal);
    let written = serde_json::to_string(&parse(minimal)).unwrap();
    assert!(!written.contains("null"), "{written}");
}

#[test]
fn an_empty_object_is_a_spec_with_no_version() {
    let spec = parse("{}");
    assert_eq!(spec, Spec::default());
    assert_eq!(
        serde_json::to_string(&spec).unwrap(),
        r#"{"ociVersion":""}"#
    );
}

#[test]
fn null_reads_as_empty_as_in_go() {
    let spec = parse(
        r#"{"ociVersion":"1.2.0","mounts":null,
            "process":{"user":{"uid":0,"gid":0,"additionalGids":null},"cwd":"/","args":null,
                       "env":null,"terminal":null,"capabilities":null,"apparmorProfile":null},
            "linux":{"namespaces":null,"sysctl":null,"cgroupsPath":null,"seccomp":null,
                     "resources":{"devices":null,"unified":null}}}"#,
    );
    let process = spec.process.unwrap();
    assert!(process.args.is_empty() && process.env.is_empty() && !process.terminal);
    assert!(process.capabilities.is_empty());
    let linux = spec.linux.unwrap();
    assert!(linux.namespaces.is_empty() && linux.sysctl.is_empty());
    assert!(linux.seccomp.is_none());
    assert!(linux.resources.unwrap().devices.is_empty());
}

#[test]
fn unknown_names_are_parse_errors_naming_the_value() {
    let cases = [
        (
            r#"{"type":"RLIMIT_BOGUS","hard":1,"soft":1}"#,
            "RLIMIT_BOGUS",
        ),
        (r#"{"type":"bogus"}"#, "bogus"),
        (r#"{"path":"/dev/x","type":"z","major":1,"minor":1}"#, "`z`"),
    ];
    let errors = [
        serde_json::from_str::<PosixRlimit>(cases[0].0).map(drop),
        serde_json::from_str::<LinuxNamespace>(cases[1].0).map(drop),
        serde_json::from_str::<LinuxDevice>(cases[2].0).map(drop),
    ];
    for ((_, name), result) in cases.iter().zip(errors) {
        let err = result.unwrap_err().to_string();
        assert!(err.contains(name), "{name}: {err}");
    }
}

#[test]
fn required_fields_are_required() {
    // runc reads an absent process.user/cwd as Go's zero value; the
    // empty cwd is refused by validation, not by the parser.
    let p: Process = serde_json::from_str(r#"{"user":null}"#).unwrap();
    assert_eq!((p.user, p.cwd), (User::default(), PathBuf::new()));
    let p: Process = serde_json::from_str(r#"{"user":{"uid":null,"gid":null}}"#).unwrap();
    assert_eq!(p.user, User::default());
    let err = serde_json::from_str::<Mount>("{}").unwrap_err().to_string();
    assert!(err.contains("destination"), "{err}");
    let err = serde_json::from_str::<Hook>("{}").unwrap_err().to_string();
    assert!(err.contains("path"), "{err}");
}

#[test]
fn capabilities_are_kept_as_written() {
    let caps: LinuxCapabilities =
        serde_json::from_str(r#"{"bounding":["CAP_CHOWN","CAP_BOGUS"]}"#).unwrap();
    assert_eq!(caps.bounding, ["CAP_CHOWN", "CAP_BOGUS"]);
    assert!(!caps.is_empty());
    let names: Vec<_> = caps.sets().iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "bounding",
            "effective",
            "inheritable",
            "permitted",
            "ambient"
        ]
    );
}

#[test]
fn type_letters_and_names_match_the_json() {
    for kind in [
        LinuxDeviceType::All,
        LinuxDeviceType::Block,
        LinuxDeviceType::Char,
        LinuxDeviceType::Unbuffered,
        LinuxDeviceType::Fifo,
    ] {
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
    }
    for kind in [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::User,
        LinuxNamespaceType::Cgroup,
        LinuxNamespaceType::Time,
    ] {
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
    }
}
