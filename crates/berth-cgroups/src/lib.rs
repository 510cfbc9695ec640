//! berth-cgroups: the container's cgroup with the cgroupfs driver, on cgroup v1,
//! hybrid (v1 + `/sys/fs/cgroup/unified`) and pure v2 hosts.
//!
//! [`Cgroup::plan`] computes where the cgroup goes from `linux.cgroupsPath` as
//! runc does; [`Cgroup::create`], [`Cgroup::prepare_entry`],
//! [`Cgroup::apply_resources`], [`Cgroup::freeze`], [`Cgroup::kill_all`] and
//! [`Cgroup::destroy`] drive it. `Cgroup` is serializable so that later commands
//! can act on it from the container's state. See README.md for the path rules and
//! the v1/v2 translation table.

mod cgroup;
mod driver;
mod error;
mod freezer;
mod fsutil;
mod host;
mod plan;
pub mod resctrl;
pub mod resources;
mod rootless;
pub mod stats;
pub mod systemd;

pub use cgroup::{Cgroup, CgroupEntry, UnifiedDir, V1Hierarchy};
pub use driver::Driver;
pub use error::CgroupError;
pub use host::{detect_layout, Layout, CGROUP_ROOT};
pub use resources::{runc_device_rules, ResourcePlan};
pub use systemd::SystemdUnit;

#[cfg(test)]
mod live_tests;
