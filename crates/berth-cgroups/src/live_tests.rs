//! Tests against the host's real cgroups (whatever its layout: hybrid on the build
//! host, pure v2 in `run-in-vm.sh`). They need root and are skipped without it.
//! Every test uses its own cgroup names and removes everything on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::{fsutil, Cgroup, Layout, ResourcePlan};

fn is_root() -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("skipped: needs root");
    }
    root
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// A cgroup under a unique top-level parent, plus its processes; all removed on drop.
struct Fixture {
    cg: Cgroup,
    parent: Option<String>,
    children: Vec<Child>,
}

impl Fixture {
    /// `/berth-cgtest-<pid>-<n>/ctr`, created.
    fn nested() -> Self {
        let parent = unique("berth-cgtest");
        let cg = Cgroup::plan(Some(&format!("/{parent}/ctr")), "ctr").unwrap();
        let fixture = Self {
            cg,
            parent: Some(parent),
            children: Vec::new(),
        };
        fixture.cg.create().unwrap();
        fixture
    }

    fn spawn_sleeper(&mut self) -> i32 {
        let child = Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        self.children.push(child);
        self.cg.add_process(pid).unwrap();
        pid
    }

    /// Every directory of the cgroup and its parent's, for checks.
    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .cg
            .v1_mount_sources()
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        dirs.extend(self.cg.unified_dir().map(Path::to_path_buf));
        dirs
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.cg.thaw();
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.cg.destroy();
        if let Some(parent) = &self.parent {
            for dir in self.dirs() {
                if let Some(p) = dir.parent().filter(|p| p.ends_with(parent)) {
                    let _ = fsutil::remove_cgroup_tree(p);
                }
            }
        }
    }
}

/// The cgroup paths of `pid` from `/proc/<pid>/cgroup`.
fn proc_cgroup(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
}

#[test]
fn layout_matches_the_host() {
    let layout = crate::detect_layout().unwrap();
    let unified = Path::new("/sys/fs/cgroup/unified").exists();
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    match layout {
        Layout::V2 => assert!(v2),
        Layout::Hybrid => assert!(unified && !v2),
        Layout::V1 => assert!(!unified && !v2),
    }
}

#[test]
fn create_join_freeze_kill_destroy() {
    if !is_root() {
        return;
    }
    let mut f = Fixture::nested();
    for dir in f.dirs() {
        assert!(dir.is_dir(), "{} not created", dir.display());
    }
    let pid = f.spawn_sleeper();
    assert_eq!(f.cg.processes().unwrap(), [pid]);
    let in_cgroup = proc_cgroup(pid);
    let parent = f.parent.clone().unwrap();
    let expected_lines = f.dirs().len();
    let lines_in_ctr = in_cgroup
        .lines()
        .filter(|l| l.ends_with(&format!("/{parent}/ctr")))
        .count();
    assert_eq!(lines_in_ctr, expected_lines, "{in_cgroup}");

    assert!(!f.cg.is_frozen().unwrap());
    f.cg.freeze().unwrap();
    assert!(f.cg.is_frozen().unwrap());
    f.cg.thaw().unwrap();
    assert!(!f.cg.is_frozen().unwrap());

    f.cg.kill_all(libc::SIGKILL).unwrap();
    let status = f.children[0].wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    f.cg.destroy().unwrap();
    for dir in f.dirs() {
        assert!(!dir.exists(), "{} left behind", dir.display());
        assert!(
            dir.parent().unwrap().is_dir(),
            "a parent it did not create was removed"
        );
    }
    f.cg.destroy().unwrap(); // idempotent
}

#[test]
fn kill_all_reaches_a_paused_container_and_child_cgroups() {
    if !is_root() {
        return;
    }
    let mut f = Fixture::nested();
    let first = f.spawn_sleeper();
    // a process in a cgroup the container made below its own
    let procs_dir = f.cg.procs_dir().unwrap().to_path_buf();
    let sub = procs_dir.join("sub");
    fsutil::mkdir(&sub).unwrap();
    let second = f.spawn_sleeper();
    fsutil::write(&sub, "cgroup.procs", &second.to_string()).unwrap();
    let mut pids = f.cg.processes().unwrap();
    pids.sort();
    assert_eq!(pids, {
        let mut v = vec![first, second];
        v.sort();
        v
    });

    f.cg.freeze().unwrap();
    f.cg.kill_all(libc::SIGTERM).unwrap();
    for child in &mut f.children {
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGTERM)
        );
    }
    assert!(!f.cg.is_frozen().unwrap(), "kill_all thaws, as runc does");
    f.cg.destroy().unwrap();
    assert!(!sub.exists() && !procs_dir.exists());
}

#[test]
fn default_path_nests_under_the_runtimes_own_cgroup() {
    if !is_root() {
        return;
    }
    let id = unique("berth-cgtest-default");
    let f = Fixture {
        cg: Cgroup::plan(None, &id).unwrap(),
        parent: None,
        children: Vec::new(),
    };
    f.cg.create().unwrap();
    let own = proc_cgroup(std::process::id() as i32);
    for dir in f.dirs() {
        assert!(dir.is_dir(), "{}", dir.display());
        assert!(dir.ends_with(&id));
    }
    if f.cg.layout() != Layout::V2 {
        let memory_own = own.lines().find(|l| l.contains(":memory:")).unwrap();
        let memory_own = memory_own
            .rsplit(':')
            .next()
            .unwrap()
            .trim_start_matches('/');
        let expected = Path::new("/sys/fs/cgroup/memory")
            .join(memory_own)
            .join(&id);
        assert_eq!(f.cg.v1_dir("memory"), Some(expected.as_path()));
    }
}

fn resources(json: &str) -> ResourcePlan {
    ResourcePlan::from_spec(&serde_json::from_str(json).unwrap()).unwrap()
}

fn read(dir: &Path, file: &str) -> String {
    fsutil::read_trimmed(dir, file).unwrap()
}

#[test]
fn resources_land_in_the_cgroup_files() {
    if !is_root() {
        return;
    }
    let f = Fixture::nested();
    let json = r#"{"memory":{"limit":67108864,"reservation":33554432},
        "cpu":{"shares":512,"quota":25000,"period":100000,"cpus":"0"},
        "pids":{"limit":77}}"#;
    f.cg.apply_resources(&resources(json)).unwrap();
    // zeros (docker update) leave everything as it was
    let zeros = r#"{"memory":{"limit":0,"reservation":0,"kernel":0},"cpu":{"shares":0,"quota":0,"period":0},
        "pids":{"limit":0},"blockIO":{"weight":0}}"#;
    f.cg.apply_resources(&resources(zeros)).unwrap();
    match f.cg.layout() {
        Layout::V2 => {
            let dir = f.cg.unified_dir().unwrap();
            assert_eq!(read(dir, "memory.max"), "67108864");
            assert_eq!(read(dir, "memory.low"), "33554432");
            assert_eq!(read(dir, "cpu.weight"), "20");
            assert_eq!(read(dir, "cpu.max"), "25000 100000");
            assert_eq!(read(dir, "cpuset.cpus"), "0");
            assert_eq!(read(dir, "pids.max"), "77");
        }
        Layout::V1 | Layout::Hybrid => {
            let dir = |c| f.cg.v1_dir(c).unwrap();
            assert_eq!(read(dir("memory"), "memory.limit_in_bytes"), "67108864");
            assert_eq!(
                read(dir("memory"), "memory.soft_limit_in_bytes"),
                "33554432"
            );
            assert_eq!(read(dir("cpu"), "cpu.shares"), "512");
            assert_eq!(read(dir("cpu"), "cpu.cfs_quota_us"), "25000");
            assert_eq!(read(dir("cpuset"), "cpuset.cpus"), "0");
            assert_eq!(read(dir("pids"), "pids.max"), "77");
        }
    }
}

#[test]
fn memory_swap_both_directions() {
    if !is_root() {
        return;
    }
    let f = Fixture::nested();
    let facts = f.cg.host_facts();
    if f.cg.layout() != Layout::V2 && !facts.memsw_available {
        eprintln!("skipped: no swap accounting");
        return;
    }
    let small = r#"{"memory":{"limit":33554432,"swap":67108864}}"#;
    let big = r#"{"memory":{"limit":134217728,"swap":268435456}}"#;
    for json in [small, big, small] {
        f.cg.apply_resources(&resources(json)).unwrap();
    }
    match f.cg.layout() {
        Layout::V2 => {
            let dir = f.cg.unified_dir().unwrap();
            if dir.join("memory.swap.max").exists() {
                assert_eq!(read(dir, "memory.swap.max"), "33554432");
            }
        }
        Layout::V1 | Layout::Hybrid => {
            let dir = f.cg.v1_dir("memory").unwrap();
            assert_eq!(read(dir, "memory.memsw.limit_in_bytes"), "67108864");
        }
    }
}

/// Runs a shell in the cgroup that reports which device opens succeed.
fn probe_devices(f: &mut Fixture) -> Vec<String> {
    let script = "read go; \
        head -c1 /dev/zero >/dev/null && echo zero-read; \
        (echo x >/dev/zero) 2>/dev/null && echo zero-write; \
        head -c1 /dev/urandom >/dev/null 2>&1 && echo urandom-read; \
        echo done";
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    f.cg.add_process(child.id() as i32).unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"go\n").unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn device_rules_are_enforced_and_replaced() {
    if !is_root() {
        return;
    }
    let mut f = Fixture::nested();
    let json = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"r"},
        {"allow":true,"type":"c","major":136,"access":"rw"}]}"#;
    f.cg.apply_resources(&resources(json)).unwrap();
    if f.cg.layout() != Layout::V2 {
        let list = read(f.cg.v1_dir("devices").unwrap(), "devices.list");
        assert_eq!(list, "c 1:3 rwm\nc 1:5 r\nc 136:* rw");
    }
    assert_eq!(probe_devices(&mut f), ["zero-read", "done"]);
    // an update replaces the rules (v2: the previous program is detached)
    let json = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"access":"rw"}]}"#;
    f.cg.apply_resources(&resources(json)).unwrap();
    assert_eq!(
        probe_devices(&mut f),
        ["zero-read", "zero-write", "urandom-read", "done"]
    );
}

#[test]
fn hugepage_limit_lands_in_the_hierarchy_that_has_hugetlb() {
    if !is_root() {
        return;
    }
    if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        eprintln!("skipped: no 2MB huge pages");
        return;
    }
    let f = Fixture::nested();
    let facts = f.cg.host_facts();
    let json = r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#;
    let unified_root = f.cg.unified().map(|u| u.mountpoint.clone());
    let before = unified_root
        .as_deref()
        .map(|r| read(r, "cgroup.subtree_control"));
    f.cg.apply_resources(&resources(json)).unwrap();
    let (dir, file) = match (f.cg.layout(), facts.hugetlb_unified) {
        (Layout::V2, _) | (_, true) => (f.cg.unified_dir().unwrap(), "hugetlb.2MB.max"),
        _ => (
            f.cg.v1_dir("hugetlb").unwrap(),
            "hugetlb.2MB.limit_in_bytes",
        ),
    };
    assert_eq!(read(dir, file), "4194304");
    drop(f);
    // hybrid: leave the host's unified root as it was
    if let (Some(root), Some(before)) = (unified_root, before) {
        if facts.hugetlb_unified && !before.split_whitespace().any(|c| c == "hugetlb") {
            let _ = fsutil::write(&root, "cgroup.subtree_control", "-hugetlb");
        }
    }
}

#[test]
fn entry_clones_into_cgroup2_wherever_there_is_one() {
    if !is_root() {
        return;
    }
    let f = Fixture::nested();
    let entry = f.cg.prepare_entry().unwrap();
    assert_eq!(entry.clone_into().is_some(), f.cg.layout() != Layout::V1);
}

#[test]
fn rdma_limit_for_a_missing_device_names_the_field() {
    if !is_root() {
        return;
    }
    let f = Fixture::nested();
    let json = r#"{"rdma":{"berth-no-such-hca":{"hcaHandles":3}}}"#;
    let err = f.cg.apply_resources(&resources(json)).unwrap_err();
    assert!(err.to_string().contains("linux.resources.rdma"), "{err}");
}

#[test]
fn network_classes_on_v1_hosts_that_have_them() {
    if !is_root() {
        return;
    }
    let f = Fixture::nested();
    let json = r#"{"network":{"classID":1048577,"priorities":[{"name":"lo","priority":5}]}}"#;
    let result = f.cg.apply_resources(&resources(json));
    let (Some(cls), Some(prio)) = (f.cg.v1_dir("net_cls"), f.cg.v1_dir("net_prio")) else {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("linux.resources.network"), "{err}");
        return;
    };
    result.unwrap();
    assert_eq!(read(cls, "net_cls.classid"), "1048577");
    assert!(read(prio, "net_prio.ifpriomap")
        .lines()
        .any(|l| l == "lo 5"));
}
