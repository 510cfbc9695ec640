//! Which namespaces the container gets: new ones (clone flags) and existing
//! ones joined by path (setns).

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use berth_spec::{LinuxIdMapping, LinuxNamespace, LinuxNamespaceType};
use nix::sched::{setns, CloneFlags};

use crate::ProcessError;

/// The namespace plan of one container.
#[derive(Debug, Clone)]
pub struct Namespaces {
    /// `CLONE_NEW*` flags for namespaces created at clone time.
    pub clone_flags: CloneFlags,
    /// A new cgroup namespace, made by init once it is in its cgroup.
    pub new_cgroupns: bool,
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
        T::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
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

/// The namespace types berth can create or join (time namespaces: not yet).
fn is_supported(kind: LinuxNamespaceType) -> bool {
    kind != LinuxNamespaceType::Time
}

/// The spec names of the namespace types berth supports (for `features`).
pub fn supported_kinds() -> impl Iterator<Item = &'static str> {
    ALL_KINDS
        .into_iter()
        .filter(|k| is_supported(*k))
        .map(LinuxNamespaceType::as_str)
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces {
            clone_flags: CloneFlags::empty(),
            new_cgroupns: false,
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
            if !is_supported(kind) {
                return Err(ProcessError::Config(format!(
                    "linux.namespaces: {} namespaces are not supported by berth yet",
                    kind.as_str()
                )));
            }
            match (&ns.path, kind) {
                (Some(path), LinuxNamespaceType::Pid) => plan.join_pid = Some(path.clone()),
                (Some(path), LinuxNamespaceType::User) => plan.join.insert(0, (flag, path.clone())),
                (Some(path), _) => plan.join.push((flag, path.clone())),
                (None, LinuxNamespaceType::Cgroup) => plan.new_cgroupns = true,
                (None, _) => plan.clone_flags |= flag,
            }
        }
        if plan.has_new(CloneFlags::CLONE_NEWUSER) {
            plan.uid_mappings = required_mappings(uid_mappings, "uid")?;
            plan.gid_mappings = required_mappings(gid_mappings, "gid")?;
        }
        Ok(plan)
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

/// The text of `/proc/<pid>/uid_map` (or `gid_map`) for `mappings`: one
/// `inside outside count` line each, written in one `write(2)`.
pub fn id_map_text(mappings: &[LinuxIdMapping]) -> String {
    mappings
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

/// Writes the maps of the new user namespace of child `pid` (the runtime
/// does it: init may not write its own beyond a single id).
pub fn write_id_maps(pid: i32, ns: &Namespaces) -> Result<(), ProcessError> {
    for (file, mappings) in [("uid_map", &ns.uid_mappings), ("gid_map", &ns.gid_mappings)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, id_map_text(mappings)).map_err(|e| ProcessError::Io {
            what: format!("write {path}"),
            source: e,
        })?;
    }
    Ok(())
}

/// The namespace kinds `exec` joins, by their /proc/<pid>/ns name, in the
/// order they are joined (user first: it gives the capabilities to join the
/// others; mount last: it changes the root we resolve in).
const JOINABLE: [(&str, CloneFlags); 6] = [
    ("user", CloneFlags::CLONE_NEWUSER),
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
        let differs = |kind: &str| !same_namespace(&theirs(kind), &format!("/proc/self/ns/{kind}"));
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
            Namespaces::from_spec(&[ns("mount", None), ns("time", None)], &[], &[]).unwrap_err();
        assert!(err.to_string().contains("linux.namespaces"), "{err}");
        let err =
            Namespaces::from_spec(&[ns("mount", None), ns("mount", None)], &[], &[]).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        // No mount namespace: runc's chroot mode.
        let plan = Namespaces::from_spec(&[ns("pid", None)], &[], &[]).unwrap();
        assert!(!plan.has(CloneFlags::CLONE_NEWNS));
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
