//! Images the engine tests import: the suite's busybox rootfs as a plain
//! tar (podman/docker import) or as an OCI image-layout tarball (containerd).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::{rootfs_template, Ctx};

/// `ctx.work()/rootfs.tar`: the busybox rootfs as a plain tar (one image layer).
pub fn rootfs_tar(ctx: &Ctx) -> PathBuf {
    let tar = ctx.work().join("rootfs.tar");
    let mut cmd = Command::new("tar");
    cmd.arg("-C")
        .arg(rootfs_template())
        .arg("-cf")
        .arg(&tar)
        .arg(".");
    ctx.output(cmd).assert_ok();
    tar
}

fn sha256_of(ctx: &Ctx, file: &Path) -> String {
    let mut cmd = Command::new("sha256sum");
    cmd.arg(file);
    let out = ctx.output(cmd);
    out.assert_ok();
    out.stdout
        .split_whitespace()
        .next()
        .expect("sha256sum prints a digest")
        .to_string()
}

/// Moves `file` into `blobs/sha256/<digest>`; returns a descriptor of it.
fn add_blob(ctx: &Ctx, blobs: &Path, file: &Path, media_type: &str) -> serde_json::Value {
    let digest = sha256_of(ctx, file);
    let size = fs::metadata(file).expect("blob metadata").len();
    fs::rename(file, blobs.join(&digest)).expect("move blob into place");
    json!({"mediaType": media_type, "digest": format!("sha256:{digest}"), "size": size})
}

/// An OCI image-layout tarball of the busybox rootfs named `name`, with
/// `cmd` as its command (what `ctr images import` reads), in `ctx.work()`.
pub fn oci_image_tar(ctx: &Ctx, name: &str, cmd: &[&str]) -> PathBuf {
    let layout = ctx.work().join("oci-layout");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).expect("create blobs dir");
    let layer_file = rootfs_tar(ctx);
    let layer_digest = sha256_of(ctx, &layer_file);
    let layer = add_blob(
        ctx,
        &blobs,
        &layer_file,
        "application/vnd.oci.image.layer.v1.tar",
    );
    let config_file = layout.join("config.json");
    let config = json!({
        "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_digest}")]}
    });
    fs::write(&config_file, config.to_string()).expect("write image config");
    let config = add_blob(
        ctx,
        &blobs,
        &config_file,
        "application/vnd.oci.image.config.v1+json",
    );
    let manifest_file = layout.join("manifest.json");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [layer]
    });
    fs::write(&manifest_file, manifest.to_string()).expect("write manifest");
    let mut manifest = add_blob(
        ctx,
        &blobs,
        &manifest_file,
        "application/vnd.oci.image.manifest.v1+json",
    );
    manifest["annotations"] = json!({
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": name.rsplit_once(':').map_or("latest", |(_, tag)| tag)
    });
    let index = json!({"schemaVersion": 2, "manifests": [manifest]});
    fs::write(layout.join("index.json"), index.to_string()).expect("write index.json");
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("write oci-layout");
    let tar = ctx.work().join("image.tar");
    let mut cmd = Command::new("tar");
    cmd.arg("-C").arg(&layout).arg("-cf").arg(&tar).arg(".");
    ctx.output(cmd).assert_ok();
    tar
}
