//! Mount features of runc 1.2+ (runtime-spec 1.1+): idmapped mounts
//! (`idmap`, `ridmap`, a mount's own `uidMappings`/`gidMappings`) and the
//! recursive attributes as `features` reports them. Debian's runc 1.1.5
//! has no idmapped mounts (it hands "idmap" to the kernel as data), so
//! those tests are berth-only; `rro` (runc 1.1+) runs on both.

use std::fs;
use std::os::unix::fs::{chown, MetadataExt};
use std::path::Path;

use integration_tests::{runtime_is_runc, Bundle, Ctx, TempDir};
use nix::mount::{mount, MsFlags};
use serde_json::{json, Value};

/// A user namespace mapping container ids 0-65535 to host 100000-165535,
/// as a kubelet asks for a pod with `hostUsers: false`.
/// Mount points for `dirs` are made in the rootfs beforehand: in the user
/// namespace root cannot create them in a rootfs owned by host root.
fn with_user_namespace(bundle: &Bundle, dirs: &[&str]) {
    for dir in dirs {
        fs::create_dir_all(bundle.rootfs().join(dir)).unwrap();
    }
    bundle.with_user_namespace();
}

fn add_mount(bundle: &Bundle, m: Value) {
    bundle.update(|c| c["mounts"].as_array_mut().unwrap().push(m));
}

/// A host directory with `file` owned by `uid:gid` and `sub/` in it.
fn volume(tmp: &TempDir, uid: u32, gid: u32) -> std::path::PathBuf {
    let dir = tmp.path().join("vol");
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("file"), "data").unwrap();
    chown(dir.join("file"), Some(uid), Some(gid)).unwrap();
    dir
}

/// The runtime's words (runc's too) when the kernel refuses to idmap the
/// source's filesystem (tmpfs before Linux 6.3, 9p, ...).
const NO_IDMAP_FS: &str = "doesn't support idmap mounts on this kernel";

/// Runs `args` in the bundle; None when the volume's filesystem cannot be
/// idmapped on this kernel (as runc's tests' `requires_idmap_fs`).
fn run_idmapped(ctx: &Ctx, bundle: &Bundle, args: &[&str]) -> Option<String> {
    bundle.set_args(args);
    let out = ctx.run_container(bundle, &ctx.id("idmap"));
    if !out.success() && out.stderr.contains(NO_IDMAP_FS) {
        eprintln!("skipped: {}", out.stderr.trim());
        return None;
    }
    Some(out.assert_ok().stdout.clone())
}

/// `stat -c %u:%g` of each container path, one line each.
fn owners(ctx: &Ctx, bundle: &Bundle, paths: &[&str]) -> Option<Vec<String>> {
    let mut args = vec!["stat", "-c", "%u:%g"];
    args.extend_from_slice(paths);
    let out = run_idmapped(ctx, bundle, &args)?;
    Some(out.lines().map(str::to_string).collect())
}

#[test]
fn idmap_volume_in_a_user_namespace_shows_host_root_files_as_root() {
    // berth-only: runc >= 1.2 feature (idmapped mounts).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let tmp = TempDir::new("idmap-userns");
    let vol = volume(&tmp, 0, 0);
    let bundle = ctx.bundle();
    with_user_namespace(&bundle, &["idmapped", "plain"]);
    add_mount(
        &bundle,
        json!({"destination": "/idmapped", "type": "bind", "source": vol, "options": ["bind", "idmap"]}),
    );
    add_mount(
        &bundle,
        json!({"destination": "/plain", "type": "bind", "source": vol, "options": ["bind"]}),
    );
    let Some(got) = owners(&ctx, &bundle, &["/idmapped/file", "/plain/file"]) else {
        return;
    };
    // Without the idmapping host root is unmapped in the container: 65534.
    assert_eq!(got, ["0:0", "65534:65534"]);
    // The host sees its own files unchanged.
    assert_eq!(fs::metadata(vol.join("file")).unwrap().uid(), 0);
}

#[test]
fn a_file_created_through_an_idmapped_volume_is_owned_by_host_root() {
    // berth-only: runc >= 1.2 feature (idmapped mounts).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let tmp = TempDir::new("idmap-write");
    let vol = volume(&tmp, 0, 0);
    let bundle = ctx.bundle();
    with_user_namespace(&bundle, &["vol"]);
    add_mount(
        &bundle,
        json!({"destination": "/vol", "type": "bind", "source": vol, "options": ["rbind", "idmap"]}),
    );
    if run_idmapped(&ctx, &bundle, &["touch", "/vol/new"]).is_none() {
        return;
    }
    let meta = fs::metadata(vol.join("new")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
}

#[test]
fn a_mounts_own_mappings_apply_without_a_user_namespace() {
    // berth-only: runc >= 1.2 feature (idmapped mounts).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let tmp = TempDir::new("idmap-own");
    let vol = volume(&tmp, 7, 8);
    let bundle = ctx.bundle();
    add_mount(
        &bundle,
        json!({
            "destination": "/vol", "type": "bind", "source": vol, "options": ["bind"],
            "uidMappings": [{"containerID": 7, "hostID": 1007, "size": 1}],
            "gidMappings": [{"containerID": 8, "hostID": 2008, "size": 1}]
        }),
    );
    if let Some(got) = owners(&ctx, &bundle, &["/vol/file"]) {
        assert_eq!(got, ["1007:2008"]);
    }
}

/// A volume with a tmpfs submount holding a file owned by 0:0.
fn volume_with_submount(tmp: &TempDir) -> std::path::PathBuf {
    let vol = volume(tmp, 0, 0);
    mount(
        Some("tmpfs"),
        &vol.join("sub"),
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    fs::write(vol.join("sub/inner"), "x").unwrap();
    vol
}

#[test]
fn ridmap_maps_submounts_and_idmap_only_the_top() {
    // berth-only: runc >= 1.2 feature (idmapped mounts; tmpfs takes
    // idmappings since Linux 6.3).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let tmp = TempDir::new("idmap-rec");
    let vol = volume_with_submount(&tmp);
    let bundle = ctx.bundle();
    with_user_namespace(&bundle, &["r", "t"]);
    add_mount(
        &bundle,
        json!({"destination": "/r", "type": "bind", "source": vol, "options": ["rbind", "ridmap"]}),
    );
    add_mount(
        &bundle,
        json!({"destination": "/t", "type": "bind", "source": vol, "options": ["rbind", "idmap"]}),
    );
    let paths = ["/r/file", "/r/sub/inner", "/t/file", "/t/sub/inner"];
    let Some(got) = owners(&ctx, &bundle, &paths) else {
        return;
    };
    assert_eq!(got, ["0:0", "0:0", "0:0", "65534:65534"]);
}

/// Runs the bundle, expects `create` to fail, returns its stderr.
fn create_fails(ctx: &Ctx, bundle: &Bundle) -> String {
    let id = ctx.id("idmap-bad");
    ctx.create(bundle, &id).assert_fail().stderr.clone()
}

#[test]
fn idmap_refusals_name_the_mount_in_runcs_words() {
    // berth-only: runc >= 1.2 feature (idmapped mounts; runc 1.1.5 takes
    // "idmap" as filesystem data).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let bundle = ctx.bundle();
    let index = bundle.config()["mounts"].as_array().unwrap().len();
    add_mount(
        &bundle,
        json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}),
    );
    let err = create_fails(&ctx, &bundle);
    assert!(
        err.contains(&format!(
            "mounts[{index}]: id-mapped mounts are only supported for bind-mounts"
        )),
        "{err}"
    );

    let bundle = ctx.bundle();
    add_mount(
        &bundle,
        json!({"destination": "/v", "type": "bind", "source": "/tmp", "options": ["bind", "idmap"]}),
    );
    let err = create_fails(&ctx, &bundle);
    assert!(
        err.contains("id-mapped mounts must have both uid and gid mappings specified"),
        "{err}"
    );

    let bundle = ctx.bundle();
    with_user_namespace(&bundle, &[]);
    add_mount(
        &bundle,
        json!({"destination": "/v", "type": "bind", "source": "/tmp", "options": ["bind"],
               "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
    );
    let err = create_fails(&ctx, &bundle);
    assert!(err.contains("both uid and gid mappings"), "{err}");
    assert!(ctx.listed_ids().is_empty(), "nothing is left behind");
}

#[test]
fn features_reports_idmap_and_the_recursive_options() {
    // berth-only: runc >= 1.2 feature (mountExtensions in `features`).
    if runtime_is_runc() {
        return;
    }
    let ctx = Ctx::new();
    let features = ctx.run(&["features"]).assert_ok().json();
    assert_eq!(
        features["linux"]["mountExtensions"]["idmap"]["enabled"],
        true
    );
    let options: Vec<&str> = features["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for name in [
        "rro",
        "rnosuid",
        "rnodev",
        "rnoexec",
        "rnosymfollow",
        "ridmap",
        "idmap",
    ] {
        assert!(options.contains(&name), "{name} missing from {options:?}");
    }
}

#[test]
fn rro_makes_a_bind_and_its_submount_read_only() {
    // runc has the recursive attributes since 1.1: this one runs on both.
    let ctx = Ctx::new();
    let tmp = TempDir::new("rro");
    let vol = volume_with_submount(&tmp);
    let bundle = ctx.bundle();
    add_mount(
        &bundle,
        json!({"destination": "/v", "type": "bind", "source": vol, "options": ["rbind", "rro"]}),
    );
    let out = ctx.run_in(
        &bundle,
        &[
            "sh",
            "-c",
            "touch /v/x 2>/dev/null && echo top-writable; touch /v/sub/x 2>/dev/null && echo sub-writable; echo done",
        ],
    );
    assert_eq!(out.trim(), "done");
    assert!(!Path::new(&vol.join("sub/x")).exists());
}
