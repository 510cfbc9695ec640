//! `events`: statistics (and OOM events) as JSON lines on stdout.

use std::io::Write;
use std::time::Duration;

use berth_container::{Event, Store};

use crate::Failure;

pub fn events(store: &Store, id: &str, interval: Duration, once: bool) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    if once {
        let event = Event {
            kind: "stats",
            id,
            data: Some(berth_container::stats(store, id)?),
        };
        return Ok(write_line(&mut out, &event)?);
    }
    berth_container::watch(store, id, interval, |event| write_line(&mut out, event))?;
    Ok(())
}

/// One event per line, flushed at once (a reader follows the stream).
fn write_line(out: &mut impl Write, event: &Event<'_>) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, event)?;
    out.write_all(b"\n")?;
    out.flush()
}
