//! Freezing, thawing and signalling every process of a container's cgroup.

use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{fsutil, Cgroup, CgroupError, Layout};

/// Which freezer a cgroup uses: v1's `freezer.state` or v2's `cgroup.freeze`.
enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

/// v1: attempts at writing FROZEN; every 50th first thaws and pauses, which
/// unsticks a freeze racing with forks or vfork (runc does the same).
const V1_FREEZE_ATTEMPTS: u32 = 1000;
const V1_REFREEZE_EVERY: u32 = 50;
const V1_REFREEZE_PAUSE: Duration = Duration::from_millis(10);
/// v2: how often and how long to wait for `cgroup.events` to say `frozen 1`.
const V2_FROZEN_POLL: Duration = Duration::from_millis(2);
const V2_FROZEN_POLLS: u32 = 5000;
/// How long to wait out a v1 `FREEZING` state when only asking.
const FREEZING_POLL: Duration = Duration::from_millis(1);
const FREEZING_POLLS: u32 = 1000;

impl Cgroup {
    fn freezer(&self) -> Result<Freezer<'_>, CgroupError> {
        let missing = || match self.rootless {
            // A rootless create left the hierarchy out.
            true => CgroupError::RootlessNoCgroup {
                what: "freezer cgroup",
                needed_for: "pause/resume",
            },
            false => CgroupError::MissingHierarchy {
                controller: "freezer".to_string(),
                needed_for: "pause/resume".to_string(),
            },
        };
        match self.layout() {
            Layout::V2 => self.unified_dir().map(Freezer::V2).ok_or_else(missing),
            Layout::V1 | Layout::Hybrid => {
                self.v1_dir("freezer").map(Freezer::V1).ok_or_else(missing)
            }
        }
    }

    /// Freezes every process of the cgroup and waits until they are frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        match self.freezer()? {
            Freezer::V1(dir) => freeze_v1(dir),
            Freezer::V2(dir) => freeze_v2(dir),
        }
    }

    /// Thaws the cgroup.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        match self.freezer()? {
            Freezer::V1(dir) => fsutil::write(dir, "freezer.state", "THAWED"),
            Freezer::V2(dir) => fsutil::write(dir, "cgroup.freeze", "0"),
        }
    }

    /// Whether the cgroup itself has been frozen (v1: not merely a frozen
    /// parent, as runc reports it). A cgroup that does not exist, or a host
    /// without a freezer, is not frozen.
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        let Ok(freezer) = self.freezer() else {
            return Ok(false);
        };
        let answer = match freezer {
            Freezer::V1(dir) => is_frozen_v1(dir),
            Freezer::V2(dir) => fsutil::read_trimmed(dir, "cgroup.freeze").map(|v| v == "1"),
        };
        match answer {
            Err(e) if fsutil::is_not_found(&e) || e.errno() == Some(Errno::ENODEV) => Ok(false),
            other => other,
        }
    }

    /// Sends `signal` to every process of the cgroup (and of cgroups below it).
    /// Pure v2 with SIGKILL uses `cgroup.kill` where the kernel has it. Otherwise,
    /// as runc does, the cgroup is frozen while the pids are listed and signalled
    /// (so that nothing forks past the signal) and thawed afterwards, which also
    /// resumes a paused container. Without a usable freezer it signals unfrozen.
    /// Processes that exit meanwhile are not an error.
    pub fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        let sig = match signal {
            0 => None,
            n => Some(Signal::try_from(n).map_err(|_| {
                CgroupError::invalid("signal", format!("{signal} is not a signal"))
            })?),
        };
        if sig == Some(Signal::SIGKILL) && self.kill_with_cgroup_kill()? {
            return Ok(());
        }
        let froze = self.freeze().is_ok();
        let signalled = self.signal_each(sig);
        let thawed = if froze { self.thaw() } else { Ok(()) };
        signalled.and(thawed)
    }

    /// Writes `cgroup.kill` on pure v2; false where that file does not exist.
    fn kill_with_cgroup_kill(&self) -> Result<bool, CgroupError> {
        let Some(dir) = self.unified_dir().filter(|_| self.layout() == Layout::V2) else {
            return Ok(false);
        };
        match fsutil::write(dir, "cgroup.kill", "1") {
            Ok(()) => Ok(true),
            Err(e) if fsutil::is_not_found(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `None` is signal 0: only checks that each process exists.
    fn signal_each(&self, sig: Option<Signal>) -> Result<(), CgroupError> {
        for pid in self.processes()? {
            match kill(Pid::from_raw(pid), sig) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(source) => {
                    return Err(CgroupError::Signal {
                        pid,
                        signal: sig.map_or(0, |s| s as i32),
                        source,
                    })
                }
            }
        }
        Ok(())
    }
}

fn freeze_v1(dir: &Path) -> Result<(), CgroupError> {
    for attempt in 1..=V1_FREEZE_ATTEMPTS {
        if attempt % V1_REFREEZE_EVERY == 0 {
            fsutil::write(dir, "freezer.state", "THAWED")?;
            sleep(V1_REFREEZE_PAUSE);
        }
        fsutil::write(dir, "freezer.state", "FROZEN")?;
        match fsutil::read_trimmed(dir, "freezer.state")?.as_str() {
            "FROZEN" => return Ok(()),
            "FREEZING" => sleep(Duration::from_micros(100)),
            other => {
                return Err(CgroupError::Parse {
                    path: dir.join("freezer.state"),
                    detail: format!("unexpected state {other:?} while freezing"),
                })
            }
        }
    }
    fsutil::write(dir, "freezer.state", "THAWED")?;
    Err(CgroupError::FreezeTimeout {
        path: dir.to_path_buf(),
    })
}

fn freeze_v2(dir: &Path) -> Result<(), CgroupError> {
    fsutil::write(dir, "cgroup.freeze", "1")?;
    for _ in 0..V2_FROZEN_POLLS {
        if events_say_frozen(&fsutil::read(&dir.join("cgroup.events"))?) {
            return Ok(());
        }
        sleep(V2_FROZEN_POLL);
    }
    fsutil::write(dir, "cgroup.freeze", "0")?;
    Err(CgroupError::FreezeTimeout {
        path: dir.to_path_buf(),
    })
}

/// Whether a `cgroup.events` text has the line `frozen 1`.
fn events_say_frozen(events: &str) -> bool {
    events.lines().any(|l| l.trim() == "frozen 1")
}

fn is_frozen_v1(dir: &Path) -> Result<bool, CgroupError> {
    for _ in 0..FREEZING_POLLS {
        match fsutil::read_trimmed(dir, "freezer.state")?.as_str() {
            "THAWED" => return Ok(false),
            "FROZEN" => return frozen_by_itself(dir),
            "FREEZING" => sleep(FREEZING_POLL),
            other => {
                return Err(CgroupError::Parse {
                    path: dir.join("freezer.state"),
                    detail: format!("unknown state {other:?}"),
                })
            }
        }
    }
    Ok(true) // still FREEZING: a freeze was asked for
}

/// v1: FROZEN because of this cgroup's own state rather than a frozen parent.
fn frozen_by_itself(dir: &Path) -> Result<bool, CgroupError> {
    match fsutil::read_trimmed(dir, "freezer.self_freezing") {
        Ok(v) => Ok(v == "1"),
        Err(e) if fsutil::is_not_found(&e) => Ok(true),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_line_in_cgroup_events() {
        assert!(events_say_frozen("populated 1\nfrozen 1\n"));
        assert!(!events_say_frozen("populated 1\nfrozen 0\n"));
    }
}
