//! Process privileges of the container's init: the user and groups it runs
//! as, its five capability sets, rlimits, `no_new_privs` and the seccomp
//! filter (`seccomp`).
//!
//! Order matters and is the caller's (berth-process) to keep:
//! `set_rlimits` → `drop_bounding_set` → `switch_user` →
//! `apply_capabilities` → `set_no_new_privs`, then `execve`. The seccomp
//! filter is loaded last, right before `execve`; without `no_new_privs`
//! that needs CAP_SYS_ADMIN, which `apply_capabilities_keeping_sys_admin`
//! keeps until then.

pub mod attrs;
pub mod seccomp;

use berth_spec::{LinuxCapabilities, PosixRlimit, PosixRlimitType, User};
use caps::{CapSet, Capability as Cap, CapsHashSet};
use nix::sys::resource::{setrlimit, Resource};
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
fn to_cap(name: &str) -> Result<Cap> {
    name.parse::<Cap>()
        .map_err(|_| SecurityError::UnknownCapability {
            name: name.to_string(),
        })
}

/// Translate a spec capability set into the kernel's.
fn to_caps(set: &[String]) -> Result<CapsHashSet> {
    set.iter().map(|name| to_cap(name)).collect()
}

/// Check that every name in the five sets is a capability this runtime
/// knows, so a config can be refused before anything is set up.
pub fn check_capabilities(caps: &LinuxCapabilities) -> Result<()> {
    caps.sets()
        .iter()
        .flat_map(|(_, set)| set.iter())
        .try_for_each(|name| to_cap(name).map(drop))
}

/// Remove from the bounding set every capability the config does not list
/// in `process.capabilities.bounding`. Needs CAP_SETPCAP, so it runs before
/// the user switch.
pub fn drop_bounding_set(caps: &LinuxCapabilities) -> Result<()> {
    let keep = to_caps(&caps.bounding)?;
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
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
pub fn apply_capabilities(caps: &LinuxCapabilities) -> Result<()> {
    let effective = to_caps(&caps.effective)?;
    let permitted = to_caps(&caps.permitted)?;
    let inheritable = to_caps(&caps.inheritable)?;
    let ambient = to_caps(&caps.ambient)?;
    // Lower effective first (it must stay within permitted), then
    // inheritable, then permitted; effective ⊄ permitted fails as in runc.
    set_caps(CapSet::Effective, "effective", &effective)?;
    set_caps(CapSet::Inheritable, "inheritable", &inheritable)?;
    set_caps(CapSet::Permitted, "permitted", &permitted)?;
    caps::clear(None, CapSet::Ambient).map_err(|source| SecurityError::Capabilities {
        set: "ambient",
        source,
    })?;
    // The kernel raises an ambient capability only when it is permitted
    // and inheritable (EPERM otherwise, ignored as by runc); those are not
    // even tried, because the caps crate formats every failure with
    // strerror (libc's message tables paged in, for nothing).
    for cap in ambient.intersection(&permitted) {
        if inheritable.contains(cap) {
            let _ = caps::raise(None, CapSet::Ambient, *cap);
        }
    }
    Ok(())
}

/// Does the process keep CAP_SYS_ADMIN in its effective set? Then it may
/// load a seccomp filter without no_new_privs after its capabilities are
/// applied.
pub fn keeps_sys_admin(caps: &LinuxCapabilities) -> bool {
    caps.effective.iter().any(|name| name == "CAP_SYS_ADMIN")
}

/// Apply the capability sets with CAP_SYS_ADMIN effective and permitted on
/// top, to load a seccomp filter without no_new_privs as the very last step
/// before `execve`. It never reaches the program: `execve` computes the new
/// permitted and effective sets from the bounding, inheritable and ambient
/// sets and the file's capabilities only (capabilities(7)), and the ambient
/// set is raised here without it.
pub fn apply_capabilities_keeping_sys_admin(caps: &LinuxCapabilities) -> Result<()> {
    let mut with_admin = caps.clone();
    for set in [&mut with_admin.effective, &mut with_admin.permitted] {
        set.push("CAP_SYS_ADMIN".into());
    }
    apply_capabilities(&with_admin)
}

fn set_caps(set: CapSet, name: &'static str, value: &CapsHashSet) -> Result<()> {
    caps::set(None, set, value).map_err(|source| SecurityError::Capabilities { set: name, source })
}

/// The kernel resource for a spec rlimit type.
fn resource_of(kind: PosixRlimitType) -> Resource {
    use PosixRlimitType as T;
    match kind {
        T::Cpu => Resource::RLIMIT_CPU,
        T::Fsize => Resource::RLIMIT_FSIZE,
        T::Data => Resource::RLIMIT_DATA,
        T::Stack => Resource::RLIMIT_STACK,
        T::Core => Resource::RLIMIT_CORE,
        T::Rss => Resource::RLIMIT_RSS,
        T::Nproc => Resource::RLIMIT_NPROC,
        T::Nofile => Resource::RLIMIT_NOFILE,
        T::Memlock => Resource::RLIMIT_MEMLOCK,
        T::As => Resource::RLIMIT_AS,
        T::Locks => Resource::RLIMIT_LOCKS,
        T::Sigpending => Resource::RLIMIT_SIGPENDING,
        T::Msgqueue => Resource::RLIMIT_MSGQUEUE,
        T::Nice => Resource::RLIMIT_NICE,
        T::Rtprio => Resource::RLIMIT_RTPRIO,
        T::Rttime => Resource::RLIMIT_RTTIME,
    }
}

/// `process.apparmorProfile`: the AppArmor profile the program runs under
/// from its `execve` on ("exec PROFILE" in the process's `exec` attribute:
/// AppArmor's change_onexec), as runc does; an empty name means none. It
/// needs the container's `/proc` and a host where AppArmor is enabled (the
/// kernel refuses the write otherwise, with runc's words: `invalid
/// argument`). The engines set a profile only where AppArmor is enabled.
pub fn apply_apparmor_profile(profile: &str) -> Result<()> {
    if profile.is_empty() {
        return Ok(());
    }
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

/// Apply `process.rlimits` in order. The message names the kernel's number
/// for the type, as runc's does (`error setting rlimit type 7`).
pub fn set_rlimits(limits: &[PosixRlimit]) -> Result<()> {
    for limit in limits {
        let resource = resource_of(limit.typ);
        setrlimit(resource, limit.soft, limit.hard).map_err(|source| SecurityError::Rlimit {
            kind: (resource as i32).to_string(),
            source,
        })?;
    }
    Ok(())
}

/// The refusal of `set_rlimits` known before it runs: a soft limit above its
/// hard limit (the kernel's EINVAL, in the same words), with the index of
/// the entry.
pub fn check_rlimits(limits: &[PosixRlimit]) -> std::result::Result<(), (usize, SecurityError)> {
    match limits.iter().position(|l| l.soft > l.hard) {
        Some(index) => Err((
            index,
            SecurityError::Rlimit {
                kind: (resource_of(limits[index].typ) as i32).to_string(),
                source: nix::errno::Errno::EINVAL,
            },
        )),
        None => Ok(()),
    }
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
    let groups: Vec<Gid> = user
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    let fail = |what: String| move |source| SecurityError::User { what, source };
    nix::sys::prctl::set_keepcaps(true).map_err(fail("prctl(PR_SET_KEEPCAPS)".into()))?;
    if !rootless_euid && !setgroups_denied() {
        setgroups(&groups).map_err(fail(format!("setgroups {:?}", user.additional_gids)))?;
    }
    let gid = Gid::from_raw(user.gid);
    setresgid(gid, gid, gid).map_err(fail(format!("setgid {gid}")))?;
    let uid = Uid::from_raw(user.uid);
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

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn spec_capabilities_translate_to_kernel_names() {
        let got = to_caps(&names(&[
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_AUDIT_WRITE",
        ]))
        .unwrap();
        assert!(got.contains(&Cap::CAP_KILL));
        assert!(got.contains(&Cap::CAP_NET_BIND_SERVICE));
        assert!(got.contains(&Cap::CAP_AUDIT_WRITE));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn every_spec_capability_is_known() {
        let all = [
            "CAP_CHOWN",
            "CAP_SYS_ADMIN",
            "CAP_BPF",
            "CAP_PERFMON",
            "CAP_CHECKPOINT_RESTORE",
            "CAP_AUDIT_READ",
            "CAP_WAKE_ALARM",
            "CAP_BLOCK_SUSPEND",
            "CAP_MAC_ADMIN",
        ];
        for name in all {
            assert!(to_caps(&names(&[name])).is_ok(), "{name}");
        }
    }

    #[test]
    fn an_unknown_capability_is_named() {
        let err = to_caps(&names(&["CAP_KILL", "CAP_BOGUS"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "capability CAP_BOGUS is not known to this runtime"
        );
        // Names are the kernel's, with the prefix and in capitals.
        assert!(to_caps(&names(&["KILL"])).is_err());
        assert!(to_caps(&names(&["cap_kill"])).is_err());
    }

    #[test]
    fn check_capabilities_looks_at_every_set() {
        let mut caps = LinuxCapabilities {
            bounding: names(&["CAP_KILL"]),
            ..LinuxCapabilities::default()
        };
        check_capabilities(&caps).unwrap();
        caps.ambient = names(&["CAP_NOPE"]);
        let err = check_capabilities(&caps).unwrap_err();
        assert!(err.to_string().contains("CAP_NOPE"), "{err}");
        check_capabilities(&LinuxCapabilities::default()).unwrap();
    }

    #[test]
    fn rlimit_types_map_to_kernel_numbers() {
        assert_eq!(resource_of(PosixRlimitType::Nofile) as i32, 7);
        assert_eq!(resource_of(PosixRlimitType::Nproc) as i32, 6);
        assert_eq!(resource_of(PosixRlimitType::Cpu) as i32, 0);
    }
}
