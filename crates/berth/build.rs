//! Embeds the git commit berth is built from, for `berth --version`
//! (docker looks for a `commit:` line). Outside a git checkout: "unknown".
//! Links the binary with packed relative relocations (see below).

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BERTH_COMMIT={commit}");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
    pack_relative_relocations();
}

/// A PIE Rust binary carries ~9,000 relative relocations (vtables, string
/// tables), 24 bytes each as RELA; packed as DT_RELR (glibc >= 2.36,
/// binutils >= 2.38) they take 3 KiB: the binary is 220 KiB smaller, on disk
/// and in every runtime process's memory (docs/benchmarks.md).
fn pack_relative_relocations() {
    let var = |name| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
