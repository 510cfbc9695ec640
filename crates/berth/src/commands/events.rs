//! `events`: statistics (and OOM events) as JSON lines on stdout.

use std::time::Duration;

use berth_container::{Event, Store};

use crate::Failure;

pub fn events(store: &Store, id: &str, interval: Duration, once: bool) -> Result<(), Failure> {
    if once {
        let event = Event {
            kind: "stats",
            id,
            data: Some(berth_container::stats(store, id)?),
        };
        return write_line(&event).map_err(|e| Failure::os("write event".into(), &e));
    }
    Ok(berth_container::watch(store, id, interval, write_line)?)
}

/// One event per line, in one write and flushed at once (a reader that
/// follows the stream never sees part of a line: stdout's line buffer is
/// 1 KiB and a v2 stats line is longer); a reader gone ends berth as runc.
fn write_line(event: &Event<'_>) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(event)?;
    line.push(b'\n');
    crate::stdout::write_io(&line)
}
