//! One module per group of subcommands.

pub mod events;
pub mod exec;
pub mod features;
pub mod lifecycle;
pub mod list;
pub mod ps;
pub mod spec;
pub mod update;
pub mod version;

use crate::cli::Cli;
use crate::Failure;

/// What the global flags need before any command: the default state root
/// under `$XDG_RUNTIME_DIR` is made.
pub fn check_global_flags(cli: &Cli) -> Result<(), Failure> {
    if cli.xdg_root {
        make_xdg_root(&cli.root)?;
    }
    Ok(())
}

/// The default state root under `$XDG_RUNTIME_DIR`, made 0700 with the
/// sticky bit (XDG: not pruned), as runc does before every command.
fn make_xdg_root(root: &std::path::Path) -> Result<(), Failure> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let fail = |what: &str, hint: &str, e: std::io::Error| {
        Failure::os(format!("{hint}: {what} {}", root.display()), &e)
    };
    let writable = "the path in $XDG_RUNTIME_DIR must be writable by the user";
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| fail("mkdir", writable, e))?;
    let permission = "you should check permission of the path in $XDG_RUNTIME_DIR";
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o1700))
        .map_err(|e| fail("chmod", permission, e))
}

/// A file's bytes; the error names the path in runc's words
/// (`open PATH: no such file or directory`).
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::os(format!("open {}", path.display()), &e))
}

/// A JSON file decoded as `T`; errors name the path.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, Failure> {
    decode_json(path, &read_file(path)?)
}

/// JSON bytes read from `path` decoded as `T`; errors name the path.
pub fn decode_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    bytes: &[u8],
) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| {
        let error = berth_spec::describe_error(&e, bytes);
        Failure::new(format!("{}: {error}", path.display()))
    })
}
