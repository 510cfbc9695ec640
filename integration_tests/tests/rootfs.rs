//! Root filesystem: spec mounts and their options as /proc/self/mountinfo
//! shows them, propagation, devices, masked/readonly paths, root.readonly,
//! --no-pivot, an overlay root, and hostile rootfs layouts.
//!
//! Every test passes with runc 1.1.5 too, except those marked berth-only
//! (runc 1.1.5 behaves differently there; the reason is given).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use integration_tests::{runtime_is_runc, Bundle, ConsoleSocket, Ctx, TempDir};
use nix::mount::{mount, MsFlags};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone)]
struct MountLine {
    root: String,
    point: String,
    options: Vec<String>,
    optional: Vec<String>,
    fstype: String,
    source: String,
    super_options: Vec<String>,
}

impl MountLine {
    fn has(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }

    fn has_super(&self, option: &str) -> bool {
        self.super_options.iter().any(|o| o == option)
    }
}

fn parse_mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let fields: Vec<&str> = before.split(' ').collect();
            let after: Vec<&str> = after.split(' ').collect();
            let csv = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
            Some(MountLine {
                root: fields.get(3)?.to_string(),
                point: fields.get(4)?.to_string(),
                options: csv(fields.get(5)?),
                optional: fields[6..].iter().map(|s| s.to_string()).collect(),
                fstype: after.first()?.to_string(),
                source: after.get(1).unwrap_or(&"").to_string(),
                super_options: csv(after.get(2).unwrap_or(&"")),
            })
        })
        .collect()
}

/// The last (topmost) mount at `point`.
#[track_caller]
fn mount_at<'a>(mounts: &'a [MountLine], point: &str) -> &'a MountLine {
    mounts
        .iter()
        .rev()
        .find(|m| m.point == point)
        .unwrap_or_else(|| panic!("no mount at {point} in {mounts:#?}"))
}

fn container_mounts(ctx: &Ctx, bundle: &Bundle) -> Vec<MountLine> {
    parse_mountinfo(&ctx.run_in(bundle, &["cat", "/proc/self/mountinfo"]))
}

fn add_mount(bundle: &Bundle, m: Value) {
    bundle.update(|c| c["mounts"].as_array_mut().unwrap().push(m));
}

fn sh(ctx: &Ctx, bundle: &Bundle, script: &str) -> String {
    ctx.run_in(bundle, &["sh", "-c", script])
}

/// Runs the bundle and expects failure; returns stderr.
#[track_caller]
fn run_fails(ctx: &Ctx, bundle: &Bundle) -> String {
    let id = ctx.id("rootfs-fail");
    ctx.run_container(bundle, &id).assert_fail().stderr.clone()
}

fn host_mount(source: Option<&Path>, target: &Path, fstype: Option<&str>, flags: MsFlags) {
    mount(source, target, fstype, flags, None::<&str>)
        .unwrap_or_else(|e| panic!("mount {target:?}: {e}"));
}

/// A host directory under `tmp` that is a shared mount point.
fn shared_host_dir(tmp: &TempDir, name: &str) -> PathBuf {
    let dir = tmp.path().join(name);
    fs::create_dir_all(&dir).unwrap();
    host_mount(Some(&dir), &dir, None, MsFlags::MS_BIND);
    host_mount(None, &dir, None, MsFlags::MS_SHARED);
    dir
}

#[test]
fn default_spec_mounts_as_runc() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let mounts = container_mounts(&ctx, &bundle);
    let root = mount_at(&mounts, "/");
    assert!(root.has("ro"), "{root:?}");
    let proc = mount_at(&mounts, "/proc");
    assert_eq!((proc.fstype.as_str(), proc.has("rw")), ("proc", true));
    let dev = mount_at(&mounts, "/dev");
    assert_eq!(dev.fstype, "tmpfs");
    assert!(
        dev.has("nosuid") && dev.has_super("mode=755") && dev.has_super("size=65536k"),
        "{dev:?}"
    );
    let pts = mount_at(&mounts, "/dev/pts");
    assert_eq!(pts.fstype, "devpts");
    assert!(
        pts.has("nosuid")
            && pts.has("noexec")
            && pts.has_super("ptmxmode=666")
            && pts.has_super("gid=5"),
        "{pts:?}"
    );
    let shm = mount_at(&mounts, "/dev/shm");
    assert_eq!((shm.fstype.as_str(), shm.source.as_str()), ("tmpfs", "shm"));
    assert!(
        shm.has("nosuid") && shm.has("nodev") && shm.has("noexec"),
        "{shm:?}"
    );
    let mq = mount_at(&mounts, "/dev/mqueue");
    assert_eq!(mq.fstype, "mqueue");
    let sys = mount_at(&mounts, "/sys");
    assert_eq!(sys.fstype, "sysfs");
    assert!(
        sys.has("ro") && sys.has("nosuid") && sys.has("nodev") && sys.has("noexec"),
        "{sys:?}"
    );
}

#[test]
fn cgroup_v1_mount_is_tmpfs_with_readonly_hierarchy_binds() {
    if !Path::new("/sys/fs/cgroup/memory").is_dir() {
        return; // pure v2 host: covered by the v2 VM runs
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let mounts = container_mounts(&ctx, &bundle);
    let top = mount_at(&mounts, "/sys/fs/cgroup");
    assert_eq!(top.fstype, "tmpfs");
    assert!(
        top.has_super("mode=755") && top.has("nosuid") && top.has("nodev") && top.has("noexec"),
        "{top:?}"
    );
    let memory = mount_at(&mounts, "/sys/fs/cgroup/memory");
    assert_eq!(memory.fstype, "cgroup");
    assert!(memory.has("ro") && memory.has("nosuid"), "{memory:?}");
    // The container's own cgroup, not the hierarchy's root.
    assert_ne!(memory.root, "/", "{memory:?}");
    let hierarchies = mounts
        .iter()
        .filter(|m| m.point.starts_with("/sys/fs/cgroup/"))
        .count();
    assert!(hierarchies >= 3, "{mounts:#?}");
}

#[test]
fn cgroup_v2_mount_is_cgroup2_and_own_namespace_shows_its_root() {
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return; // v1 or hybrid host: see the v1 test
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let out = sh(&ctx, &bundle, "cat /proc/self/mountinfo; ls /sys/fs/cgroup");
    let mounts = parse_mountinfo(&out);
    let cg = mount_at(&mounts, "/sys/fs/cgroup");
    assert_eq!(cg.fstype, "cgroup2", "{cg:?}");
    assert!(
        cg.has("ro") && cg.has("nosuid") && cg.has("nodev") && cg.has("noexec"),
        "{cg:?}"
    );
    assert!(out.lines().any(|l| l == "cgroup.procs"), "{out}");
    bundle.update(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(json!({"type": "cgroup"}));
    });
    let mounts = container_mounts(&ctx, &bundle);
    let cg = mount_at(&mounts, "/sys/fs/cgroup");
    assert_eq!(
        (cg.fstype.as_str(), cg.root.as_str()),
        ("cgroup2", "/"),
        "{cg:?}"
    );
}

#[test]
fn default_devices_with_runc_modes_and_symlinks() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let out = sh(
        &ctx,
        &bundle,
        "for d in null zero full random urandom tty; do stat -c '%n %A %t:%T %u:%g' /dev/$d; done; \
         for l in fd stdin stdout stderr ptmx; do echo /dev/$l $(readlink /dev/$l); done; \
         [ -e /dev/pts/ptmx ] && echo ptmx-ok; [ -L /dev/core ] && echo core $(readlink /dev/core); true",
    );
    for line in [
        "/dev/null crw-rw-rw- 1:3 0:0",
        "/dev/zero crw-rw-rw- 1:5 0:0",
        "/dev/full crw-rw-rw- 1:7 0:0",
        "/dev/random crw-rw-rw- 1:8 0:0",
        "/dev/urandom crw-rw-rw- 1:9 0:0",
        "/dev/tty crw-rw-rw- 5:0 0:0",
        "/dev/fd /proc/self/fd",
        "/dev/stdin /proc/self/fd/0",
        "/dev/stdout /proc/self/fd/1",
        "/dev/stderr /proc/self/fd/2",
        "/dev/ptmx pts/ptmx",
        "ptmx-ok",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing {line:?} in:\n{out}"
        );
    }
    let has_core = out.lines().any(|l| l == "core /proc/kcore");
    assert_eq!(has_core, Path::new("/proc/kcore").exists(), "{out}");
}

#[test]
fn linux_devices_are_created_with_mode_and_owner() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set(
        "/linux/devices",
        json!([
            {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1, "gid": 2},
            {"path": "/dev/sub/dir/zero", "type": "c", "major": 1, "minor": 5}
        ]),
    );
    let out = sh(&ctx, &bundle, "stat -c '%n %A %t:%T %u:%g' /dev/mynull /dev/sub/dir/zero; head -c 3 /dev/sub/dir/zero | wc -c; echo written");
    assert!(out.contains("/dev/mynull crw-r----- 1:3 1:2"), "{out}");
    assert!(
        out.contains("/dev/sub/dir/zero crw-rw-rw- 1:5 0:0"),
        "{out}"
    );
    assert!(out.contains("written"), "{out}");
}

#[test]
fn devices_in_a_dev_that_is_not_a_tmpfs() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let rootfs_fs = nix::sys::statvfs::statvfs(&bundle.rootfs()).unwrap();
    if runtime_is_runc()
        && rootfs_fs
            .flags()
            .contains(nix::sys::statvfs::FsFlags::ST_NODEV)
    {
        // runc mknods into the rootfs itself, whose filesystem is nodev here
        // (the v2 test VM's /tmp): its nodes cannot be opened. berth binds
        // the host's nodes instead.
        return;
    }
    bundle.update(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/dev");
    });
    let out = sh(
        &ctx,
        &bundle,
        "stat -c '%n %A %t:%T' /dev/null /dev/zero /dev/tty; echo x > /dev/null && echo ok",
    );
    assert!(out.contains("/dev/null crw-rw-rw- 1:3"), "{out}");
    assert!(out.contains("/dev/zero crw-rw-rw- 1:5"), "{out}");
    assert!(out.contains("/dev/tty crw-rw-rw- 5:0"), "{out}");
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn dev_console_is_a_bind_of_the_pty_slave() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/process/terminal", json!(true));
    bundle.set_args(&[
        "sh",
        "-c",
        "grep ' /dev/console ' /proc/self/mountinfo; stat -c 'console %t:%T' /dev/console; echo end-of-test; sleep 3600",
    ]);
    let socket = ConsoleSocket::bind(&ctx.work().join("console.sock"));
    let id = ctx.id("rootfs-console");
    ctx.create_with_console(&bundle, &id, socket.path())
        .assert_ok();
    let mut console = socket.receive(WAIT);
    ctx.start(&id).assert_ok();
    let text = console.read_until("end-of-test", WAIT).replace('\r', "");
    ctx.kill(&id, "KILL").assert_ok();
    let line = parse_mountinfo(&text)
        .into_iter()
        .find(|m| m.point == "/dev/console")
        .unwrap_or_else(|| panic!("no /dev/console mount in {text:?}"));
    assert_eq!(
        (line.root.as_str(), line.fstype.as_str()),
        ("/0", "devpts"),
        "{text:?}"
    );
    // Major 136 (0x88): a Unix98 pty slave.
    assert!(text.contains("console 88:0"), "{text:?}");
}

#[test]
fn masked_paths_files_and_directories() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    fs::create_dir_all(bundle.rootfs().join("secretdir")).unwrap();
    fs::write(bundle.rootfs().join("secretdir/inner"), "hidden").unwrap();
    fs::write(bundle.rootfs().join("secretfile"), "hidden").unwrap();
    bundle.update(|c| {
        let masked = c["linux"]["maskedPaths"].as_array_mut().unwrap();
        masked.extend([
            json!("/secretdir"),
            json!("/secretfile"),
            json!("/does/not/exist"),
        ]);
    });
    let out = sh(
        &ctx,
        &bundle,
        "echo file=$(cat /secretfile); echo dir=$(ls -A /secretdir); touch /secretdir/x 2>/dev/null || echo dir-ro; \
         echo keys=$(cat /proc/keys | wc -c); ls /proc/acpi | wc -l; cat /proc/self/mountinfo",
    );
    assert!(out.contains("file=\n"), "{out}");
    assert!(out.contains("dir=\n"), "{out}");
    assert!(out.contains("dir-ro"), "{out}");
    assert!(out.contains("keys=0"), "{out}");
    let mounts = parse_mountinfo(&out);
    let file = mount_at(&mounts, "/secretfile");
    assert_eq!(file.root, "/null", "{file:?}");
    let dir = mount_at(&mounts, "/secretdir");
    assert_eq!(dir.fstype, "tmpfs");
    assert!(dir.has("ro") && dir.has_super("ro"), "{dir:?}");
    let acpi = mount_at(&mounts, "/proc/acpi");
    assert!(acpi.fstype == "tmpfs" && acpi.has("ro"), "{acpi:?}");
}

#[test]
fn readonly_paths_keep_their_flags() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.writable();
    fs::create_dir_all(bundle.rootfs().join("data")).unwrap();
    bundle.update(|c| {
        let ro = c["linux"]["readonlyPaths"].as_array_mut().unwrap();
        ro.extend([json!("/data"), json!("/no/such/path")]);
    });
    let out = sh(
        &ctx,
        &bundle,
        "touch /data/x 2>/dev/null || echo data-ro; touch /tmp/y && echo root-rw; \
         echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo sys-ro; cat /proc/self/mountinfo",
    );
    assert!(
        out.contains("data-ro") && out.contains("root-rw") && out.contains("sys-ro"),
        "{out}"
    );
    let mounts = parse_mountinfo(&out);
    let sys = mount_at(&mounts, "/proc/sys");
    assert!(
        sys.has("ro") && sys.fstype == "proc" && sys.root == "/sys",
        "{sys:?}"
    );
    assert!(mount_at(&mounts, "/data").has("ro"));
}

#[test]
fn root_readonly_and_writable() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let out = sh(
        &ctx,
        &bundle,
        "touch /newfile 2>/dev/null && echo wrote || echo refused",
    );
    assert_eq!(out.trim(), "refused");
    bundle.writable();
    let out = sh(
        &ctx,
        &bundle,
        "touch /newfile 2>/dev/null && echo wrote || echo refused",
    );
    assert_eq!(out.trim(), "wrote");
    assert!(bundle.rootfs().join("newfile").exists());
}

#[test]
fn bind_mounts_files_and_directories_with_flags() {
    let ctx = Ctx::new();
    let tmp = TempDir::new("rootfs-bind");
    let file = tmp.path().join("hostname");
    fs::write(&file, "from-host\n").unwrap();
    let dir = tmp.path().join("dir");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("f"), "dirfile\n").unwrap();
    let bundle = ctx.bundle();
    add_mount(
        &bundle,
        json!({"destination": "/etc/hostname", "type": "bind", "source": file, "options": ["bind", "ro"]}),
    );
    add_mount(
        &bundle,
        json!({"destination": "/new/file/here", "type": "bind", "source": file, "options": ["rbind"]}),
    );
    add_mount(
        &bundle,
        json!({"destination": "/mnt/dir", "type": "bind", "source": dir, "options": ["rbind", "nosuid", "nodev", "noexec", "noatime"]}),
    );
    let out = sh(
        &ctx,
        &bundle,
        "cat /etc/hostname /new/file/here /mnt/dir/f; echo x > /etc/hostname 2>/dev/null || echo hostname-ro; cat /proc/self/mountinfo",
    );
    assert!(
        out.starts_with("from-host\nfrom-host\ndirfile\nhostname-ro\n"),
        "{out}"
    );
    let mounts = parse_mountinfo(&out);
    assert!(mount_at(&mounts, "/etc/hostname").has("ro"));
    assert!(mount_at(&mounts, "/new/file/here").has("rw"));
    let d = mount_at(&mounts, "/mnt/dir");
    assert!(
        d.has("nosuid") && d.has("nodev") && d.has("noexec") && d.has("noatime") && d.has("rw"),
        "{d:?}"
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), "from-host\n");
}

#[test]
fn mount_option_matrix_in_mountinfo() {
    let ctx = Ctx::new();
    let tmp = TempDir::new("rootfs-opts");
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let bundle = ctx.bundle();
    let tmpfs = |dest: &str, options: &[&str]| json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options});
    for m in [
        tmpfs("/o/a", &["noexec", "nosuid", "nodev", "noatime"]),
        tmpfs("/o/b", &["nodiratime", "sync", "dirsync"]),
        tmpfs("/o/c", &["strictatime", "lazytime", "nosymfollow"]),
        tmpfs("/o/d", &["ro", "silent", "iversion", "mand"]),
        tmpfs(
            "/o/e",
            &[
                "noatime",
                "atime",
                "rw",
                "nolazytime",
                "size=4k",
                "uid=5",
                "gid=6",
                "mode=711",
            ],
        ),
        json!({"destination": "/o/f", "type": "bind", "source": src, "options": ["rbind", "nosymfollow", "nodiratime", "ro"]}),
    ] {
        add_mount(&bundle, m);
    }
    let mounts = container_mounts(&ctx, &bundle);
    let show = |point: &str| {
        let m = mount_at(&mounts, point);
        // Some kernels (CONFIG_TMPFS_INODE64) also show their default inode64.
        let super_options: Vec<&str> = m
            .super_options
            .iter()
            .map(String::as_str)
            .filter(|o| *o != "inode64")
            .collect();
        format!(
            "{} {} {}",
            m.options.join(","),
            m.fstype,
            super_options.join(",")
        )
    };
    assert_eq!(show("/o/a"), "rw,nosuid,nodev,noexec,noatime tmpfs rw");
    assert_eq!(show("/o/b"), "rw,nodiratime,relatime tmpfs rw,sync,dirsync");
    assert_eq!(show("/o/c"), "rw,nosymfollow tmpfs rw,lazytime");
    assert_eq!(show("/o/d"), "ro,relatime tmpfs rw,mand");
    assert_eq!(
        show("/o/e"),
        "rw,relatime tmpfs rw,size=4k,mode=711,uid=5,gid=6"
    );
    assert!(
        show("/o/f").starts_with("ro,nodiratime,relatime,nosymfollow "),
        "{}",
        show("/o/f")
    );
}

#[test]
fn relative_bind_source_is_relative_to_the_bundle() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    fs::write(bundle.path().join("relfile"), "relative\n").unwrap();
    add_mount(
        &bundle,
        json!({"destination": "/rel", "type": "bind", "source": "relfile", "options": ["bind"]}),
    );
    assert_eq!(ctx.run_in(&bundle, &["cat", "/rel"]), "relative\n");
}

#[test]
fn tmpfs_options_and_tmpcopyup() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let data = bundle.rootfs().join("opt/data");
    fs::create_dir_all(data.join("sub")).unwrap();
    fs::write(data.join("sub/file"), "copied\n").unwrap();
    symlink("sub/file", data.join("link")).unwrap();
    add_mount(
        &bundle,
        json!({"destination": "/opt/data", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "size=1m"]}),
    );
    add_mount(
        &bundle,
        json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "nodev", "strictatime", "mode=700", "size=2m"]}),
    );
    let out = sh(
        &ctx,
        &bundle,
        "cat /opt/data/sub/file /opt/data/link; stat -c '%A' /scratch; touch /scratch/x 2>/dev/null || echo scratch-ro; cat /proc/self/mountinfo",
    );
    assert!(
        out.starts_with("copied\ncopied\ndrwx------\nscratch-ro\n"),
        "{out}"
    );
    let mounts = parse_mountinfo(&out);
    let opt = mount_at(&mounts, "/opt/data");
    assert!(
        opt.fstype == "tmpfs" && opt.has_super("size=1024k"),
        "{opt:?}"
    );
    let scratch = mount_at(&mounts, "/scratch");
    assert!(
        scratch.has("ro") && scratch.has("nodev") && scratch.has_super("size=2048k"),
        "{scratch:?}"
    );
}

#[test]
fn recursive_read_only_bind_covers_submounts() {
    let ctx = Ctx::new();
    let tmp = TempDir::new("rootfs-rro");
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    host_mount(
        Some(Path::new("tmpfs")),
        &src.join("sub"),
        Some("tmpfs"),
        MsFlags::empty(),
    );
    let bundle = ctx.bundle();
    add_mount(
        &bundle,
        json!({"destination": "/rro", "type": "bind", "source": src, "options": ["rbind", "rro", "rnosuid"]}),
    );
    add_mount(
        &bundle,
        json!({"destination": "/plainro", "type": "bind", "source": src, "options": ["rbind", "ro"]}),
    );
    let mounts = container_mounts(&ctx, &bundle);
    for point in ["/rro", "/rro/sub"] {
        let m = mount_at(&mounts, point);
        assert!(m.has("ro") && m.has("nosuid"), "{m:?}");
    }
    assert!(mount_at(&mounts, "/plainro").has("ro"));
    // Plain "ro" applies to the top mount only.
    assert!(mount_at(&mounts, "/plainro/sub").has("rw"));
}

/// Runs a container that waits for `/src/go`, then prints its mountinfo;
/// meanwhile the host mounts a tmpfs at `<src>/late`.
fn mountinfo_after_host_mount(ctx: &Ctx, bundle: &Bundle, src: &Path) -> Vec<MountLine> {
    fs::create_dir_all(src.join("late")).unwrap();
    bundle.set_args(&[
        "sh",
        "-c",
        "while [ ! -e /src/go ]; do sleep 0.05; done; cat /proc/self/mountinfo",
    ]);
    let id = ctx.id("rootfs-prop");
    let created = ctx.create(bundle, &id);
    created.assert_ok();
    ctx.start(&id).assert_ok();
    host_mount(
        Some(Path::new("tmpfs")),
        &src.join("late"),
        Some("tmpfs"),
        MsFlags::empty(),
    );
    fs::write(src.join("go"), "").unwrap();
    ctx.wait_status(&id, "stopped", WAIT);
    parse_mountinfo(&created.stdout_now())
}

#[test]
fn host_mount_after_start_propagates_into_rslave_bind() {
    let ctx = Ctx::new();
    let tmp = TempDir::new("rootfs-prop");
    let src = shared_host_dir(&tmp, "src");
    let bundle = ctx.bundle();
    add_mount(
        &bundle,
        json!({"destination": "/src", "type": "bind", "source": src, "options": ["rbind", "rslave"]}),
    );
    let mounts = mountinfo_after_host_mount(&ctx, &bundle, &src);
    let late = mount_at(&mounts, "/src/late");
    assert_eq!(late.fstype, "tmpfs");
    assert!(mount_at(&mounts, "/src")
        .optional
        .iter()
        .any(|o| o.starts_with("master:")));
}

#[test]
fn host_mount_after_start_does_not_reach_private_bind() {
    let ctx = Ctx::new();
    let tmp = TempDir::new("rootfs-priv");
    let src = shared_host_dir(&tmp, "src");
    let bundle = ctx.bundle();
    add_mount(
        &bundle,
        json!({"destination": "/src", "type": "bind", "source": src, "options": ["rbind", "rprivate"]}),
    );
    let mounts = mountinfo_after_host_mount(&ctx, &bundle, &src);
    assert!(
        !mounts.iter().any(|m| m.point == "/src/late"),
        "{mounts:#?}"
    );
}

#[test]
fn rootfs_propagation_rprivate_stops_host_mounts() {
    let ctx = Ctx::new();
    let tmp = TempDir::new("rootfs-rprop");
    let src = shared_host_dir(&tmp, "src");
    let bundle = ctx.bundle();
    bundle.set("/linux/rootfsPropagation", json!("rprivate"));
    add_mount(
        &bundle,
        json!({"destination": "/src", "type": "bind", "source": src, "options": ["rbind"]}),
    );
    let mounts = mountinfo_after_host_mount(&ctx, &bundle, &src);
    assert!(
        !mounts.iter().any(|m| m.point == "/src/late"),
        "{mounts:#?}"
    );
    // By default (rslave) the same mount does reach the container.
    let bundle = ctx.bundle();
    let src2 = shared_host_dir(&tmp, "src2");
    add_mount(
        &bundle,
        json!({"destination": "/src", "type": "bind", "source": src2, "options": ["rbind"]}),
    );
    let mounts = mountinfo_after_host_mount(&ctx, &bundle, &src2);
    assert!(mounts.iter().any(|m| m.point == "/src/late"), "{mounts:#?}");
}

#[test]
fn rootfs_propagation_shared_makes_root_shared() {
    // berth-only: runc 1.1.5 applies rootfsPropagation before pivot_root
    // only, so its new / is never shared (fixed in later runc releases).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set("/linux/rootfsPropagation", json!("rshared"));
    let mounts = container_mounts(&ctx, &bundle);
    let root = mount_at(&mounts, "/");
    assert!(
        root.optional.iter().any(|o| o.starts_with("shared:")),
        "{root:?}"
    );
}

#[test]
fn no_pivot_runs_in_a_moved_root() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    bundle.set_args(&["sh", "-c", "cat /proc/self/mountinfo; ls /"]);
    let id = ctx.id("rootfs-nopivot");
    let out = ctx.run(&[
        "run".as_ref(),
        "--no-pivot".as_ref(),
        "--bundle".as_ref(),
        bundle.path().as_os_str(),
        id.as_ref(),
    ]);
    out.assert_ok();
    let mounts = parse_mountinfo(&out.stdout);
    assert!(mount_at(&mounts, "/").has("ro"));
    assert_eq!(mount_at(&mounts, "/proc").fstype, "proc");
    assert!(out.stdout.lines().any(|l| l == "bin"), "{out}");
}

#[test]
fn overlay_root_built_by_the_test() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let tmp = TempDir::new("rootfs-ovl");
    let (upper, work) = (tmp.path().join("upper"), tmp.path().join("work"));
    fs::create_dir_all(&upper).unwrap();
    fs::create_dir_all(&work).unwrap();
    let lower = tmp.path().join("lower");
    fs::rename(bundle.rootfs(), &lower).unwrap();
    fs::create_dir_all(bundle.rootfs()).unwrap();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    mount(
        Some("overlay"),
        &bundle.rootfs(),
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .unwrap();
    let _unmount = Unmount(bundle.rootfs());
    bundle.writable();
    let out = sh(
        &ctx,
        &bundle,
        "echo hello > /written && head -1 /proc/self/mountinfo",
    );
    let root = &parse_mountinfo(&out)[0];
    assert_eq!(
        (root.point.as_str(), root.fstype.as_str()),
        ("/", "overlay"),
        "{out}"
    );
    assert_eq!(
        fs::read_to_string(upper.join("written")).unwrap(),
        "hello\n"
    );
    assert!(!lower.join("written").exists());
}

/// Unmounts a path on drop (before the bundle directory is removed).
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn hostile_dev_symlink_to_host_directory() {
    // berth-only: runc 1.1.5 is vulnerable here: it creates the /dev
    // symlinks (fd, stdin, stdout, stderr, ptmx) with a plain path join, so
    // they land in the host directory /dev points to.
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let tmp = TempDir::new("rootfs-hostdev");
    let host_dir = tmp.path().join("hostdev");
    fs::create_dir_all(&host_dir).unwrap();
    let bundle = ctx.bundle();
    fs::remove_dir_all(bundle.rootfs().join("dev")).unwrap();
    symlink(&host_dir, bundle.rootfs().join("dev")).unwrap();
    let out = sh(&ctx, &bundle, "stat -c '%A %t:%T' /dev/null");
    assert!(out.contains("crw-rw-rw- 1:3"), "{out}");
    assert_eq!(
        fs::read_dir(&host_dir).unwrap().count(),
        0,
        "the host directory was written to"
    );
}

#[test]
fn hostile_mount_destination_through_symlink_to_host() {
    let ctx = Ctx::new();
    let tmp = TempDir::new("rootfs-hostetc");
    let host_etc = tmp.path().join("etc");
    fs::create_dir_all(&host_etc).unwrap();
    let bundle = ctx.bundle();
    symlink(&host_etc, bundle.rootfs().join("evil")).unwrap();
    add_mount(
        &bundle,
        json!({"destination": "/evil/newdir", "type": "tmpfs", "source": "tmpfs"}),
    );
    add_mount(
        &bundle,
        json!({"destination": "/evil/newfile", "type": "bind", "source": "/etc/hostname", "options": ["bind", "ro"]}),
    );
    bundle.set_args(&["true"]);
    let id = ctx.id("rootfs-hostile");
    ctx.run_container(&bundle, &id).assert_ok();
    assert_eq!(
        fs::read_dir(&host_etc).unwrap().count(),
        0,
        "the host directory was written to"
    );
    // The destinations were created inside the rootfs instead.
    let inside = bundle.rootfs().join(host_etc.strip_prefix("/").unwrap());
    assert!(inside.join("newdir").is_dir() && inside.join("newfile").is_file());
}

#[test]
fn hostile_bind_destination_symlink_to_host_file() {
    let ctx = Ctx::new();
    let tmp = TempDir::new("rootfs-hostfile");
    let host_file = tmp.path().join("passwd");
    let src = tmp.path().join("hostname");
    fs::write(&src, "container-hostname\n").unwrap();
    let bundle = ctx.bundle();
    let etc_hostname = bundle.rootfs().join("etc/hostname");
    let _ = fs::remove_file(&etc_hostname);
    symlink(&host_file, &etc_hostname).unwrap();
    add_mount(
        &bundle,
        json!({"destination": "/etc/hostname", "type": "bind", "source": src, "options": ["bind", "ro"]}),
    );
    let out = sh(&ctx, &bundle, "cat /etc/hostname");
    assert_eq!(out, "container-hostname\n");
    assert!(!host_file.exists(), "a file was created on the host");
}

#[test]
fn hostile_masked_path_symlink_stays_inside() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    fs::write(bundle.rootfs().join("etc/inside-secret"), "secret\n").unwrap();
    symlink("/etc/inside-secret", bundle.rootfs().join("etc/masklink")).unwrap();
    bundle.update(|c| {
        c["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/etc/masklink"))
    });
    let out = sh(
        &ctx,
        &bundle,
        "echo [$(cat /etc/inside-secret)]; cat /etc/passwd | head -1",
    );
    assert!(out.starts_with("[]\nroot:"), "{out}");
}

#[test]
fn hostile_dev_null_symlink_is_not_trusted() {
    // berth-only: runc 1.1.5 keeps a /dev/null symlink it finds in a /dev
    // that is not a tmpfs (mknod's EEXIST is ignored) and masks paths with
    // whatever it points to.
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let tmp = TempDir::new("rootfs-devnull");
    let host_file = tmp.path().join("target");
    fs::write(&host_file, "host\n").unwrap();
    let bundle = ctx.bundle();
    bundle.update(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/dev")
    });
    symlink(&host_file, bundle.rootfs().join("dev/null")).unwrap();
    let out = sh(
        &ctx,
        &bundle,
        "stat -c '%A %t:%T' /dev/null; cat /proc/keys | wc -c",
    );
    assert_eq!(out, "crw-rw-rw- 1:3\n0\n");
    assert_eq!(fs::read_to_string(&host_file).unwrap(), "host\n");
}

#[test]
fn proc_on_a_symlink_is_refused() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let proc_dir = bundle.rootfs().join("proc");
    fs::remove_dir(&proc_dir).unwrap();
    symlink("/tmp", &proc_dir).unwrap();
    let stderr = run_fails(&ctx, &bundle);
    assert!(
        stderr.contains("must be mounted on ordinary directory"),
        "{stderr}"
    );
}

#[test]
fn mount_inside_proc_is_refused() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    add_mount(
        &bundle,
        json!({"destination": "/proc/kmsg", "type": "bind", "source": "/dev/null", "options": ["bind"]}),
    );
    let stderr = run_fails(&ctx, &bundle);
    assert!(
        stderr.contains("cannot be mounted because it is inside /proc"),
        "{stderr}"
    );
}

#[test]
fn missing_bind_source_names_the_mount() {
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    add_mount(
        &bundle,
        json!({"destination": "/data", "type": "bind", "source": "/no/such/source", "options": ["rbind"]}),
    );
    let stderr = run_fails(&ctx, &bundle);
    // Both runtimes log in logfmt, where the quotes are escaped.
    assert!(
        stderr.contains(r#"error mounting \"/no/such/source\" to rootfs at \"/data\""#),
        "{stderr}"
    );
    assert!(
        stderr.contains("no such file or directory")
            || stderr.contains("No such file or directory"),
        "{stderr}"
    );
}
