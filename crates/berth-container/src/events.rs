//! `events`: a container's cgroup statistics, once or every interval, and
//! an `oom` event whenever the kernel's OOM killer strikes inside it.

use std::thread::sleep;
use std::time::{Duration, Instant};

use berth_cgroups::stats::Stats;
use serde::Serialize;

use crate::query::load;
use crate::state::ContainerState;
use crate::status::{check, Operation};
use crate::store::Store;
use crate::ContainerError;

/// One line of `events`' output.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

/// How often a watch looks for OOM kills and for the container's end
/// between two statistics.
const POLL: Duration = Duration::from_millis(250);

/// The container's state; refused once it has stopped.
fn live_state(store: &Store, id: &str) -> Result<ContainerState, ContainerError> {
    let loaded = load(store, id, false)?;
    check(loaded.status, Operation::Events, id)?;
    Ok(loaded.state)
}

/// The container's statistics now; refused once it has stopped.
pub fn stats(store: &Store, id: &str) -> Result<Stats, ContainerError> {
    Ok(live_state(store, id)?.cgroup.stats()?)
}

/// Emits a `stats` event every `interval` and an `oom` event for each OOM
/// kill, until the container stops (then returns) or `emit` fails.
pub fn watch(
    store: &Store,
    id: &str,
    interval: Duration,
    mut emit: impl FnMut(&Event<'_>) -> std::io::Result<()>,
) -> Result<(), ContainerError> {
    let state = live_state(store, id)?;
    let cgroup = &state.cgroup;
    let io_error = |source| ContainerError::Io {
        what: "write event".into(),
        source,
    };
    let mut oom_kills = cgroup.oom_kills()?;
    let mut next_stats = Instant::now();
    loop {
        if Instant::now() >= next_stats {
            let event = Event {
                kind: "stats",
                id,
                data: Some(cgroup.stats()?),
            };
            emit(&event).map_err(io_error)?;
            next_stats += interval;
        }
        sleep(POLL.min(next_stats.saturating_duration_since(Instant::now())));
        // The OOM kills of the last poll are reported even when one of them
        // stopped the container (its init was the process killed).
        let alive = state.init_alive();
        let now = match cgroup.oom_kills() {
            Ok(now) => now,
            Err(_) if !alive => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for _ in oom_kills..now {
            let event = Event {
                kind: "oom",
                id,
                data: None,
            };
            emit(&event).map_err(io_error)?;
        }
        oom_kills = now;
        if !alive {
            return Ok(());
        }
    }
}
