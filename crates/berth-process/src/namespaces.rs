//! Which namespaces the container gets: new ones (clone flags) and existing
//! ones joined by path (setns).

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use std::collections::HashMap;

use berth_spec::{LinuxIdMapping, LinuxNamespace, LinuxNamespaceType, LinuxTimeOffset};
use nix::sched::{setns, CloneFlags};

use crate::ProcessError;

/// The namespace plan of one container.
#[derive(Debug, Clone)]
pub struct Namespaces {
    /// `CLONE_NEW*` flags for namespaces created at clone time.
    pub clone_flags: CloneFlags,
    /// A new cgroup namespace, made by init once it is in its cgroup.
    pub new_cgroupns: bool,
    /// A new time namespace, made by init (unshare, offsets, setns), with
    /// the text for its `timens_offsets` (empty: all clocks at 0).
    pub new_timens: Option<String>,
    /// Existing pid namespace to join (the parent joins it before cloning).
    pub join_pid: Option<PathBuf>,
    /// Other existing namespaces init joins, a user namespace first (it
    /// gives the capabilities to join the others), then in spec order.
    pub join: Vec<(CloneFlags, PathBuf)>,
    /// For a new user namespace: what the runtime writes to its
    /// `uid_map` and `gid_map`.
    pub uid_mappings: Vec<LinuxIdMapping>,
    pub gid_mappings: Vec<LinuxIdMapping>,
}

fn flag_of(kind: LinuxNamespaceType) -> CloneFlags {
    use LinuxNamespaceType as T;
    match kind {
        T::Pid => CloneFlags::CLONE_NEWPID,
        T::Network => CloneFlags::CLONE_NEWNET,
        T::Mount => CloneFlags::CLONE_NEWNS,
        T::Ipc => CloneFlags::CLONE_NEWIPC,
        T::Uts => CloneFlags::CLONE_NEWUTS,
        T::User => CloneFlags::CLONE_NEWUSER,
        T::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        T::Time => CLONE_NEWTIME,
    }
}

/// Every namespace type of the spec.
const ALL_KINDS: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::User,
    LinuxNamespaceType::Uts,
];

/// The spec names of the namespace types berth can create and join (for
/// `features`).
pub fn supported_kinds() -> impl Iterator<Item = &'static str> {
    ALL_KINDS.into_iter().map(LinuxNamespaceType::as_str)
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces {
            clone_flags: CloneFlags::empty(),
            new_cgroupns: false,
            new_timens: None,
            join_pid: None,
            join: Vec::new(),
            uid_mappings: Vec::new(),
            gid_mappings: Vec::new(),
        }
    }
}

impl Namespaces {
    /// Build the plan from `linux.namespaces` and, for a new user
    /// namespace, `linux.uidMappings`/`gidMappings` (ignored without one,
    /// as runc does), refusing what berth cannot do yet with an error naming
    /// the field.
    pub fn from_spec(
        list: &[LinuxNamespace],
        uid_mappings: &[LinuxIdMapping],
        gid_mappings: &[LinuxIdMapping],
    ) -> Result<Namespaces, ProcessError> {
        let mut plan = Namespaces::default();
        let mut seen = CloneFlags::empty();
        for ns in list {
            let kind = ns.typ;
            let flag = flag_of(kind);
            if seen.contains(flag) {
                return Err(ProcessError::Config(format!(
                    "linux.namespaces: namespace type {} is listed twice",
                    kind.as_str()
                )));
            }
            seen |= flag;
            match (&ns.path, kind) {
                (Some(path), LinuxNamespaceType::Pid) => plan.join_pid = Some(path.clone()),
                (Some(path), LinuxNamespaceType::User) => plan.join.insert(0, (flag, path.clone())),
                (Some(path), _) => plan.join.push((flag, path.clone())),
                (None, LinuxNamespaceType::Cgroup) => plan.new_cgroupns = true,
                (None, LinuxNamespaceType::Time) => plan.new_timens = Some(String::new()),
                (None, _) => plan.clone_flags |= flag,
            }
        }
        if plan.has_new(CloneFlags::CLONE_NEWUSER) {
            plan.uid_mappings = required_mappings(uid_mappings, "uid")?;
            plan.gid_mappings = required_mappings(gid_mappings, "gid")?;
        }
        if seen.contains(CLONE_NEWTIME) && !kernel_has_time_namespaces() {
            return Err(ProcessError::Config(
                "linux.namespaces: time namespaces aren't enabled in the kernel".into(),
            ));
        }
        Ok(plan)
    }

    /// `linux.timeOffsets` for a new time namespace, refused as runc does
    /// without one or with a joined one; clocks are `monotonic` and
    /// `boottime`.
    pub fn with_time_offsets(
        mut self,
        offsets: &HashMap<String, LinuxTimeOffset>,
    ) -> Result<Namespaces, ProcessError> {
        if offsets.is_empty() {
            return Ok(self);
        }
        let refuse = |msg: String| Err(ProcessError::Config(format!("linux.timeOffsets: {msg}")));
        let joined = self.join.iter().any(|(flag, _)| *flag == CLONE_NEWTIME);
        let Some(text) = self.new_timens.as_mut() else {
            return refuse(if joined {
                "time namespace enabled, but both namespace path and time offsets specified -- you may only provide one".into()
            } else {
                "time namespace offsets specified, but time namespace isn't enabled in the config"
                    .into()
            });
        };
        let mut clocks: Vec<_> = offsets.iter().collect();
        clocks.sort_by_key(|(clock, _)| clock.as_str());
        for (clock, offset) in clocks {
            if !matches!(clock.as_str(), "monotonic" | "boottime") {
                return refuse(format!("unknown clock {clock:?} (monotonic, boottime)"));
            }
            if offset.nanosecs >= 1_000_000_000 {
                return refuse(format!(
                    "{clock}.nanosecs: {} is not below 1000000000",
                    offset.nanosecs
                ));
            }
            text.push_str(&format!("{clock} {} {}\n", offset.secs, offset.nanosecs));
        }
        Ok(self)
    }

    /// True when the container has a UTS namespace of its own.
    pub fn has_new(&self, flag: CloneFlags) -> bool {
        self.clone_flags.contains(flag)
    }

    /// True when init gets a namespace of this kind other than the
    /// runtime's: new, or joined by path.
    pub fn has(&self, flag: CloneFlags) -> bool {
        self.has_new(flag)
            || self.join.iter().any(|(joined, _)| *joined == flag)
            || (flag == CloneFlags::CLONE_NEWPID && self.join_pid.is_some())
    }

    /// True when init runs in a user namespace other than the runtime's
    /// (new, or joined by path).
    pub fn in_user_namespace(&self) -> bool {
        self.has(CloneFlags::CLONE_NEWUSER)
    }
}

/// A new user namespace needs both maps (runc's words when one is missing).
fn required_mappings(
    mappings: &[LinuxIdMapping],
    kind: &str,
) -> Result<Vec<LinuxIdMapping>, ProcessError> {
    if mappings.is_empty() {
        return Err(ProcessError::Config(format!(
            "User namespaces enabled, but no {kind} mappings found."
        )));
    }
    Ok(mappings.to_vec())
}

/// The kernel has time namespaces (5.6 and later).
fn kernel_has_time_namespaces() -> bool {
    Path::new("/proc/self/timens_offsets").exists()
}

/// The time namespace clone flag (nix has no name for it).
pub const CLONE_NEWTIME: CloneFlags = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);

/// Writes the clock offsets of the time namespace init `pid` unshared for
/// its children (the runtime does it: in a user namespace init may not
/// open its own /proc files, which belong to the host's root while it is
/// non-dumpable).
pub fn write_time_offsets(pid: i32, offsets: &str) -> Result<(), ProcessError> {
    let path = format!("/proc/{pid}/timens_offsets");
    std::fs::write(&path, offsets).map_err(|source| ProcessError::Io {
        what: format!("write {path}"),
        source,
    })
}

/// The text of `/proc/<pid>/uid_map` (or `gid_map`) for `mappings`: one
/// `inside outside count` line each, written in one `write(2)`.
pub fn id_map_text(mappings: &[LinuxIdMapping]) -> String {
    mappings
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

/// Writes the maps of the new user namespace of child `pid` (the runtime
/// does it: init may not write its own beyond a single id). A caller that
/// is not root (runc's rules) first writes `deny` to `setgroups` when the
/// gid map is just its own gid as 0 (the kernel's condition for writing
/// `gid_map` unprivileged), and where the kernel refuses a map (EPERM:
/// more than the caller's own id) hands it to the setuid helper
/// `newuidmap`/`newgidmap`, which checks it against /etc/subuid and
/// /etc/subgid.
pub fn write_id_maps(pid: i32, ns: &Namespaces) -> Result<(), ProcessError> {
    let rootless = !nix::unistd::geteuid().is_root();
    if rootless && is_own_gid_as_root(&ns.gid_mappings) {
        write_proc_file(pid, "setgroups", "deny")?;
    }
    write_id_map(pid, "uid_map", &ns.uid_mappings, rootless, "newuidmap")?;
    write_id_map(pid, "gid_map", &ns.gid_mappings, rootless, "newgidmap")
}

/// `[{containerID: 0, hostID: egid, size: 1}]`: the only gid map an
/// unprivileged process may write itself (runc's
/// `requiresRootOrMappingTool` is its negation).
fn is_own_gid_as_root(mappings: &[LinuxIdMapping]) -> bool {
    let egid = nix::unistd::getegid().as_raw();
    matches!(mappings, [m] if m.container_id == 0 && m.host_id == egid && m.size == 1)
}

fn write_proc_file(pid: i32, file: &str, text: &str) -> Result<(), ProcessError> {
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, text).map_err(|e| ProcessError::Io {
        what: format!("write {path}"),
        source: e,
    })
}

fn write_id_map(
    pid: i32,
    file: &str,
    mappings: &[LinuxIdMapping],
    rootless: bool,
    tool: &str,
) -> Result<(), ProcessError> {
    match write_proc_file(pid, file, &id_map_text(mappings)) {
        Err(ProcessError::Io { what, source })
            if rootless && source.raw_os_error() == Some(libc::EPERM) =>
        {
            run_mapping_tool(tool, pid, mappings).map_err(|e| {
                let cause = crate::go_strerror_of(&source);
                ProcessError::Config(format!("{what}: {cause}; {e}"))
            })
        }
        other => other,
    }
}

/// `newuidmap PID inside outside count ...` (found in `$PATH`, run with an
/// empty environment, as runc does); the error holds its stderr.
fn run_mapping_tool(tool: &str, pid: i32, mappings: &[LinuxIdMapping]) -> Result<(), String> {
    let runtime_path = format!("PATH={}", std::env::var("PATH").unwrap_or_default());
    let Ok(path) = crate::exec_path::find_executable(tool, &[runtime_path]) else {
        return Err(format!(
            "{tool} not found in $PATH (Debian: the uidmap package), needed to map more than the caller's own id"
        ));
    };
    let mut cmd = std::process::Command::new(&path);
    cmd.env_clear().arg(pid.to_string());
    for m in mappings {
        cmd.args([m.container_id, m.host_id, m.size].map(|n| n.to_string()));
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("run {}: {e}", path.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "{} {pid} {}: {}: {}",
        path.display(),
        id_map_text(mappings)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        out.status,
        stderr.trim()
    ))
}

/// The namespace kinds `exec` joins, by their /proc/<pid>/ns name, in the
/// order they are joined (user first: it gives the capabilities to join the
/// others; mount last: it changes the root we resolve in).
const JOINABLE: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("time", CLONE_NEWTIME),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

fn same_namespace(a: &str, b: &str) -> bool {
    match (std::fs::read_link(a), std::fs::read_link(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

impl Namespaces {
    /// For `exec`: join every namespace of the live process `pid` that
    /// differs from ours (the pid namespace by the parent, before the
    /// clone).
    pub fn of_process(pid: i32) -> Namespaces {
        let theirs = |kind: &str| format!("/proc/{pid}/ns/{kind}");
        let ours = |kind: &str| format!("/proc/self/ns/{kind}");
        // A kind our kernel lacks (no /proc/self/ns/time before 5.6) is
        // not joined.
        let differs = |kind: &str| {
            Path::new(&ours(kind)).exists() && !same_namespace(&theirs(kind), &ours(kind))
        };
        Namespaces {
            join_pid: differs("pid").then(|| PathBuf::from(theirs("pid"))),
            join: JOINABLE
                .iter()
                .filter(|(kind, _)| differs(kind))
                .map(|(kind, flag)| (*flag, PathBuf::from(theirs(kind))))
                .collect(),
            ..Namespaces::default()
        }
    }
}

/// Whether this process is already in the namespace at `path` (the
/// namespace helper of a rootless exec joined its user namespace; joining
/// one's own user namespace again is EINVAL).
pub fn is_current(flag: CloneFlags, path: &Path) -> bool {
    JOINABLE
        .iter()
        .find(|(_, f)| *f == flag)
        .is_some_and(|(kind, _)| {
            same_namespace(&path.to_string_lossy(), &format!("/proc/self/ns/{kind}"))
        })
}

/// setns(2) into the namespace file at `path`, naming the path on failure.
pub fn join(flag: CloneFlags, path: &PathBuf) -> Result<(), ProcessError> {
    let file = File::open(path).map_err(|e| ProcessError::Io {
        what: format!("open namespace {}", path.display()),
        source: e,
    })?;
    setns(file.as_fd(), flag).map_err(|e| ProcessError::Io {
        what: format!("setns {}", path.display()),
        source: e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(kind: &str, path: Option<&str>) -> LinuxNamespace {
        let mut v = serde_json::json!({ "type": kind });
        if let Some(p) = path {
            v["path"] = p.into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn new_namespaces_become_clone_flags() {
        let plan = Namespaces::from_spec(
            &[ns("pid", None), ns("mount", None), ns("network", None)],
            &[],
            &[],
        )
        .unwrap();
        assert!(plan.has_new(CloneFlags::CLONE_NEWPID));
        assert!(plan.has_new(CloneFlags::CLONE_NEWNS));
        assert!(plan.has_new(CloneFlags::CLONE_NEWNET));
        assert!(!plan.has_new(CloneFlags::CLONE_NEWUTS));
    }

    #[test]
    fn paths_are_joined_not_created() {
        let plan = Namespaces::from_spec(
            &[
                ns("mount", None),
                ns("network", Some("/var/run/netns/x")),
                ns("pid", Some("/proc/1/ns/pid")),
            ],
            &[],
            &[],
        )
        .unwrap();
        assert!(!plan.has_new(CloneFlags::CLONE_NEWNET));
        assert_eq!(plan.join.len(), 1);
        assert_eq!(plan.join_pid, Some(PathBuf::from("/proc/1/ns/pid")));
    }

    #[test]
    fn cgroup_namespace_is_deferred_to_init() {
        let plan =
            Namespaces::from_spec(&[ns("mount", None), ns("cgroup", None)], &[], &[]).unwrap();
        assert!(plan.new_cgroupns);
        assert!(!plan.has_new(CloneFlags::CLONE_NEWCGROUP));
    }

    #[test]
    fn unsupported_and_duplicate_namespaces_name_the_field() {
        let err =
            Namespaces::from_spec(&[ns("mount", None), ns("mount", None)], &[], &[]).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        // No mount namespace: runc's chroot mode.
        let plan = Namespaces::from_spec(&[ns("pid", None)], &[], &[]).unwrap();
        assert!(!plan.has(CloneFlags::CLONE_NEWNS));
    }

    fn offsets(list: &[(&str, i64, u32)]) -> HashMap<String, LinuxTimeOffset> {
        list.iter()
            .map(|(clock, secs, nanosecs)| {
                let offset = LinuxTimeOffset {
                    secs: *secs,
                    nanosecs: *nanosecs,
                };
                (clock.to_string(), offset)
            })
            .collect()
    }

    #[test]
    fn time_offsets_need_a_new_time_namespace() {
        let new = Namespaces::from_spec(&[ns("mount", None), ns("time", None)], &[], &[]).unwrap();
        assert!(!new.has_new(CLONE_NEWTIME));
        let plan = new
            .with_time_offsets(&offsets(&[
                ("monotonic", 7881, 2718281),
                ("boottime", -5, 0),
            ]))
            .unwrap();
        assert_eq!(
            plan.new_timens.as_deref(),
            Some("boottime -5 0\nmonotonic 7881 2718281\n")
        );
        let none = Namespaces::from_spec(&[ns("mount", None)], &[], &[]).unwrap();
        let err = none
            .with_time_offsets(&offsets(&[("boottime", 1, 0)]))
            .unwrap_err();
        assert!(
            err.to_string().contains("time namespace isn't enabled"),
            "{err}"
        );
        let joined = Namespaces::from_spec(
            &[ns("mount", None), ns("time", Some("/proc/1/ns/time"))],
            &[],
            &[],
        )
        .unwrap();
        let err = joined
            .with_time_offsets(&offsets(&[("boottime", 1, 0)]))
            .unwrap_err();
        assert!(
            err.to_string().contains("you may only provide one"),
            "{err}"
        );
        let new = Namespaces::from_spec(&[ns("mount", None), ns("time", None)], &[], &[]).unwrap();
        let err = new
            .with_time_offsets(&offsets(&[("realtime", 1, 0)]))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.timeOffsets: unknown clock"),
            "{err}"
        );
    }

    fn mapping(inside: u32, outside: u32, size: u32) -> LinuxIdMapping {
        LinuxIdMapping {
            container_id: inside,
            host_id: outside,
            size,
        }
    }

    #[test]
    fn a_new_user_namespace_needs_both_maps() {
        let list = [ns("mount", None), ns("user", None)];
        let map = [mapping(0, 100000, 65536)];
        let plan = Namespaces::from_spec(&list, &map, &map).unwrap();
        assert!(plan.has_new(CloneFlags::CLONE_NEWUSER));
        assert!(plan.in_user_namespace());
        assert_eq!(plan.uid_mappings, map);
        let err = Namespaces::from_spec(&list, &[], &map).unwrap_err();
        assert_eq!(
            err.to_string(),
            "User namespaces enabled, but no uid mappings found."
        );
        let err = Namespaces::from_spec(&list, &map, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "User namespaces enabled, but no gid mappings found."
        );
    }

    #[test]
    fn maps_without_a_user_namespace_are_ignored_as_runc_does() {
        let map = [mapping(0, 100000, 65536)];
        let plan = Namespaces::from_spec(&[ns("mount", None)], &map, &map).unwrap();
        assert!(!plan.in_user_namespace());
        assert!(plan.uid_mappings.is_empty());
    }

    #[test]
    fn a_joined_user_namespace_is_joined_first() {
        let plan = Namespaces::from_spec(
            &[
                ns("mount", None),
                ns("network", Some("/var/run/netns/x")),
                ns("user", Some("/proc/9/ns/user")),
            ],
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(plan.join[0].0, CloneFlags::CLONE_NEWUSER);
        assert!(plan.in_user_namespace());
    }

    #[test]
    fn id_maps_are_one_line_per_range() {
        let text = id_map_text(&[mapping(0, 100000, 1000), mapping(1000, 5000, 1)]);
        assert_eq!(text, "0 100000 1000\n1000 5000 1\n");
    }
}
