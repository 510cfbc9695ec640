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

/// Global flags berth accepts but cannot honour yet are errors, never
/// silently ignored.
pub fn check_global_flags(cli: &Cli) -> Result<(), Failure> {
    if cli.rootless.as_deref() == Some("true") {
        return Err(Failure(
            "--rootless=true: rootless containers are not supported by berth yet".into(),
        ));
    }
    Ok(())
}

/// A file's bytes; the error names the path in runc's words
/// (`open PATH: no such file or directory`).
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        Failure(format!(
            "open {}: {}",
            path.display(),
            berth_process::go_strerror_of(&e)
        ))
    })
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
    serde_json::from_slice(bytes).map_err(|e| Failure(format!("{}: {e}", path.display())))
}
