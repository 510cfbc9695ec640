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

/// One event per line, in one write and flushed at once (a reader that
/// follows the stream never sees part of a line: stdout's line buffer is
/// 1 KiB and a v2 stats line is longer).
fn write_line(out: &mut impl Write, event: &Event<'_>) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(event)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}
