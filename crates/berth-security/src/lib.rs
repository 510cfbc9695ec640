//! Process privileges of the container's init: the user and groups it runs
//! as, its five capability sets, rlimits, `no_new_privs` and the seccomp
//! filter (`seccomp`).
//!
//! The process values come planned ([`Capabilities`], [`Rlimit`], [`User`]:
//! parsed and checked by the runtime's planner before anything is created);
//! here they are only applied.
//!
//! Order matters and is the caller's (berth-process) to keep:
//! `set_rlimits` → `drop_bounding_set` → `switch_user` →
//! `apply_capabilities` → `set_no_new_privs`, then `execve`. The seccomp
//! filter is loaded last, right before `execve`; without `no_new_privs`
//! that needs CAP_SYS_ADMIN, which `apply_capabilities_keeping_sys_admin`
//! keeps until then.

pub mod attrs;
pub mod seccomp;

pub use caps::Capability;
use caps::{CapSet, Capability as Cap, CapsHashSet};
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::stat::Mode;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

/// A failed privilege step, naming the config field and keeping the cause.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("capability {name} is not known to this runtime")]
    UnknownCapability { name: String },
    #[error("set {set} capabilities")]
    Capabilities {
        set: &'static str,
        #[source]
        source: caps::errors::CapsError,
    },
    #[error("apparmor failed to apply profile: write {path}")]
    AppArmor {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("error setting rlimit type {kind}")]
    Rlimit {
        kind: String,
        #[source]
        source: nix::errno::Errno,
    },
    #[error("{what}")]
    User {
        what: String,
        #[source]
        source: nix::errno::Errno,
    },
    #[error("cannot set any additional groups in a rootless container")]
    RootlessAdditionalGroups,
}

type Result<T> = std::result::Result<T, SecurityError>;

/// The kernel's capability for a spec name (`CAP_KILL`).
pub fn parse_capability(name: &str) -> Result<Cap> {
    name.parse::<Cap>()
        .map_err(|_| SecurityError::UnknownCapability {
            name: name.to_string(),
        })
}

/// The five capability sets of a process (`process.capabilities`), parsed
/// by the runtime's planner; a config without the section means none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub permitted: CapsHashSet,
    pub ambient: CapsHashSet,
}

/// Remove from the bounding set every capability the config does not list
/// in `process.capabilities.bounding`. Needs CAP_SETPCAP, so it runs before
/// the user switch.
pub fn drop_bounding_set(caps: &Capabilities) -> Result<()> {
    for cap in caps::all() {
        if !caps.bounding.contains(&cap)
            && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false)
        {
            caps::drop(None, CapSet::Bounding, cap).map_err(|source| {
                SecurityError::Capabilities {
                    set: "bounding",
                    source,
                }
            })?;
        }
    }
    Ok(())
}

/// Set the effective, permitted and inheritable sets exactly as configured,
/// then raise the ambient ones. An ambient capability the kernel refuses
/// (it must be permitted and inheritable) is skipped, as runc does.
pub fn apply_capabilities(caps: &Capabilities) -> Result<()> {
    // Lower effective first (it must stay within permitted), then
    // inheritable, then permitted; effective ⊄ permitted fails as in runc.
    set_caps(CapSet::Effective, "effective", &caps.effective)?;
    set_caps(CapSet::Inheritable, "inheritable", &caps.inheritable)?;
    set_caps(CapSet::Permitted, "permitted", &caps.permitted)?;
    caps::clear(None, CapSet::Ambient).map_err(|source| SecurityError::Capabilities {
        set: "ambient",
        source,
    })?;
    // The kernel raises an ambient capability only when it is permitted
    // and inheritable (EPERM otherwise, ignored as by runc); those are not
    // even tried, because the caps crate formats every failure with
    // strerror (libc's message tables paged in, for nothing).
    for cap in caps.ambient.intersection(&caps.permitted) {
        if caps.inheritable.contains(cap) {
            let _ = caps::raise(None, CapSet::Ambient, *cap);
        }
    }
    Ok(())
}

/// Does the process keep CAP_SYS_ADMIN in its effective set? Then it may
/// load a seccomp filter without no_new_privs after its capabilities are
/// applied.
pub fn keeps_sys_admin(caps: &Capabilities) -> bool {
    caps.effective.contains(&Cap::CAP_SYS_ADMIN)
}

/// Apply the capability sets with CAP_SYS_ADMIN effective and permitted on
/// top, to load a seccomp filter without no_new_privs as the very last step
/// before `execve`. It never reaches the program: `execve` computes the new
/// permitted and effective sets from the bounding, inheritable and ambient
/// sets and the file's capabilities only (capabilities(7)), and the ambient
/// set is raised here without it.
pub fn apply_capabilities_keeping_sys_admin(caps: &Capabilities) -> Result<()> {
    let mut with_admin = caps.clone();
    for set in [&mut with_admin.effective, &mut with_admin.permitted] {
        set.insert(Cap::CAP_SYS_ADMIN);
    }
    apply_capabilities(&with_admin)
}

fn set_caps(set: CapSet, name: &'static str, value: &CapsHashSet) -> Result<()> {
    caps::set(None, set, value).map_err(|source| SecurityError::Capabilities { set: name, source })
}

/// `process.apparmorProfile`: the AppArmor profile the program runs under
/// from its `execve` on ("exec PROFILE" in the process's `exec` attribute:
/// AppArmor's change_onexec), as runc does; `None` (the config's empty
/// name) means none. It
/// needs the container's `/proc` and a host where AppArmor is enabled (the
/// kernel refuses the write otherwise, with runc's words: `invalid
/// argument`). The engines set a profile only where AppArmor is enabled.
pub fn apply_apparmor_profile(profile: Option<&str>) -> Result<()> {
    let Some(profile) = profile else {
        return Ok(());
    };
    // Kernels with LSM stacking (5.1+) have a per-LSM directory.
    let stacked = std::path::Path::new("/proc/self/attr/apparmor/exec");
    let path = if stacked.exists() {
        stacked
    } else {
        std::path::Path::new("/proc/self/attr/exec")
    };
    let written = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut attr| {
            std::io::Write::write_all(&mut attr, format!("exec {profile}").as_bytes())
        });
    written.map_err(|source| SecurityError::AppArmor {
        path: path.display().to_string(),
        source,
    })
}

/// One rlimit of `process.rlimits`: the kernel's resource and its soft and
/// hard limits, soft at most hard (checked when it is made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    resource: Resource,
    soft: u64,
    hard: u64,
}

impl Rlimit {
    /// The limit, or the kernel's refusal known before it is set: a soft
    /// limit above the hard one (EINVAL, in the same words).
    pub fn new(resource: Resource, soft: u64, hard: u64) -> Result<Rlimit> {
        if soft > hard {
            return Err(rlimit_error(resource, nix::errno::Errno::EINVAL));
        }
        Ok(Rlimit {
            resource,
            soft,
            hard,
        })
    }
}

/// The message names the kernel's number for the type, as runc's does
/// (`error setting rlimit type 7`).
fn rlimit_error(resource: Resource, source: nix::errno::Errno) -> SecurityError {
    SecurityError::Rlimit {
        kind: (resource as i32).to_string(),
        source,
    }
}

/// Apply `process.rlimits` in order.
pub fn set_rlimits(limits: &[Rlimit]) -> Result<()> {
    for limit in limits {
        setrlimit(limit.resource, limit.soft, limit.hard)
            .map_err(|source| rlimit_error(limit.resource, source))?;
    }
    Ok(())
}

/// The user a process runs as (`process.user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups (the primary gid is not added).
    pub additional_gids: Vec<Gid>,
    /// The file creation mask (runc's 0022 when the config has none).
    pub umask: Mode,
}

/// Become `process.user`: supplementary groups = additionalGids, then gid,
/// then uid, keeping the permitted capabilities across the uid change so
/// `apply_capabilities` can set them afterwards. With a runtime that is not
/// root (`rootless_euid`), or where the user namespace denies setgroups(2),
/// the groups are left as they are (runc's rule), and asking for
/// additional ones is an error in runc's words.
pub fn switch_user(user: &User, rootless_euid: bool) -> Result<()> {
    if rootless_euid && !user.additional_gids.is_empty() {
        return Err(SecurityError::RootlessAdditionalGroups);
    }
    let groups = &user.additional_gids;
    let fail = |what: String| move |source| SecurityError::User { what, source };
    nix::sys::prctl::set_keepcaps(true).map_err(fail("prctl(PR_SET_KEEPCAPS)".into()))?;
    if !rootless_euid && !setgroups_denied() {
        let raw: Vec<u32> = groups.iter().map(|g| g.as_raw()).collect();
        setgroups(groups).map_err(fail(format!("setgroups {raw:?}")))?;
    }
    let (uid, gid) = (user.uid, user.gid);
    setresgid(gid, gid, gid).map_err(fail(format!("setgid {gid}")))?;
    setresuid(uid, uid, uid).map_err(fail(format!("setuid {uid}")))?;
    nix::sys::prctl::set_keepcaps(false).map_err(fail("prctl(PR_SET_KEEPCAPS)".into()))?;
    Ok(())
}

/// `/proc/self/setgroups` says `deny` (a user namespace whose gid map an
/// unprivileged process wrote).
fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

/// Before the process becomes `uid`: give it its stdio (fds 0-2, the pty
/// slave with `terminal`), keeping each one's group, as runc does, so that
/// it may reopen them (`/dev/stdout`, `tty`). `/dev/null` and what `uid`
/// already owns are left alone, and so is what cannot be changed (EINVAL:
/// the group is not mapped in the user namespace; EPERM: the owner is not;
/// EROFS), as in runc.
pub fn give_stdio_to(uid: u32) -> Result<()> {
    use std::os::fd::AsFd;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let fds = [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()];
    for (n, fd) in fds.into_iter().enumerate() {
        let Ok(st) = nix::sys::stat::fstat(fd) else {
            continue; // closed
        };
        let is_char = st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFCHR;
        let dev_null = is_char && st.st_rdev == nix::sys::stat::makedev(1, 3);
        if dev_null || st.st_uid == uid {
            continue;
        }
        let owner = Some(Uid::from_raw(uid));
        match nix::unistd::fchown(fd, owner, Some(Gid::from_raw(st.st_gid))) {
            Ok(())
            | Err(
                nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM | nix::errno::Errno::EROFS,
            ) => {}
            Err(source) => {
                return Err(SecurityError::User {
                    what: format!("fchown stdio fd {n} to uid {uid}"),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// `prctl(PR_SET_NO_NEW_PRIVS)` for `process.noNewPrivileges`.
pub fn set_no_new_privs() -> Result<()> {
    nix::sys::prctl::set_no_new_privs().map_err(|source| SecurityError::User {
        what: "prctl(PR_SET_NO_NEW_PRIVS)".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_capability_names_are_the_kernel_names() {
        let all = [
            ("CAP_KILL", Cap::CAP_KILL),
            ("CAP_NET_BIND_SERVICE", Cap::CAP_NET_BIND_SERVICE),
            ("CAP_AUDIT_WRITE", Cap::CAP_AUDIT_WRITE),
            ("CAP_CHOWN", Cap::CAP_CHOWN),
            ("CAP_SYS_ADMIN", Cap::CAP_SYS_ADMIN),
            ("CAP_BPF", Cap::CAP_BPF),
            ("CAP_PERFMON", Cap::CAP_PERFMON),
            ("CAP_CHECKPOINT_RESTORE", Cap::CAP_CHECKPOINT_RESTORE),
            ("CAP_AUDIT_READ", Cap::CAP_AUDIT_READ),
            ("CAP_WAKE_ALARM", Cap::CAP_WAKE_ALARM),
            ("CAP_BLOCK_SUSPEND", Cap::CAP_BLOCK_SUSPEND),
            ("CAP_MAC_ADMIN", Cap::CAP_MAC_ADMIN),
        ];
        for (name, cap) in all {
            assert_eq!(parse_capability(name).unwrap(), cap, "{name}");
        }
    }

    #[test]
    fn an_unknown_capability_is_named() {
        let err = parse_capability("CAP_BOGUS").unwrap_err();
        assert_eq!(
            err.to_string(),
            "capability CAP_BOGUS is not known to this runtime"
        );
        // Names are the kernel's, with the prefix and in capitals.
        assert!(parse_capability("KILL").is_err());
        assert!(parse_capability("cap_kill").is_err());
    }

    #[test]
    fn keeping_sys_admin_is_read_off_the_effective_set() {
        let mut caps = Capabilities::default();
        caps.permitted.insert(Cap::CAP_SYS_ADMIN);
        assert!(!keeps_sys_admin(&caps));
        caps.effective.insert(Cap::CAP_SYS_ADMIN);
        assert!(keeps_sys_admin(&caps));
    }

    #[test]
    fn a_soft_rlimit_above_its_hard_one_is_the_kernels_einval() {
        let err = Rlimit::new(Resource::RLIMIT_NOFILE, 20, 10).unwrap_err();
        // The text names the limit; the errno is its source (said once).
        assert_eq!(err.to_string(), "error setting rlimit type 7");
        let source = std::error::Error::source(&err).expect("the errno as source");
        assert_eq!(source.to_string(), nix::errno::Errno::EINVAL.to_string());
        assert!(Rlimit::new(Resource::RLIMIT_NOFILE, 10, 10).is_ok());
        assert!(Rlimit::new(Resource::RLIMIT_CORE, 0, u64::MAX).is_ok());
    }
}
