//! Writing to stdout as runc does: a reader that went away (`berth list |
//! head -1`) ends the runtime silently by SIGPIPE, as it ends a Go
//! program, instead of the panic of Rust's `println!` (the Rust runtime
//! ignores SIGPIPE, so the write fails with EPIPE).

use std::io::{ErrorKind, Write};

use crate::Failure;

/// Write `text` to stdout and flush it. A closed pipe ends the process
/// (SIGPIPE); any other failure is returned.
pub fn write(text: impl AsRef<[u8]>) -> Result<(), Failure> {
    write_io(text.as_ref()).map_err(|e| Failure::os("write to stdout".into(), &e))
}

/// [`write`] with the failure as an `io::Error`.
pub fn write_io(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => berth_sys::process::die_of_sigpipe(),
        other => other,
    }
}

/// [`write`] with a newline.
pub fn line(text: impl std::fmt::Display) -> Result<(), Failure> {
    write(format!("{text}\n"))
}
