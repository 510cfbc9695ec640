//! Error texts: the cause chain on one line, OS errors in Go's words, the
//! root errno.

/// The errno at the root of an error chain, or 0.
pub fn root_errno(err: &(dyn std::error::Error + 'static)) -> i32 {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut found = 0;
    while let Some(e) = cur {
        if let Some(errno) = os_errno(e) {
            found = errno as i32;
        }
        cur = e.source();
    }
    found
}

/// The whole cause chain on one line: each error's own text, joined by
/// ": ". berth's error types never repeat their `source` in their own
/// text (docs/architecture.md, "Error convention"), so each cause is said
/// once, here. An OS error is the end of the chain and reads as Go prints
/// it ("no such file or directory"): clients such as docker and podman
/// pick exit codes by matching that text.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        parts.push(link_text(e));
        cur = if os_errno(e).is_some() {
            None
        } else {
            e.source()
        };
    }
    parts.retain(|p| !p.is_empty());
    parts.join(": ")
}

/// The errno of an OS error (`Errno`, or an `io::Error` made from one).
fn os_errno(err: &(dyn std::error::Error + 'static)) -> Option<nix::errno::Errno> {
    if let Some(errno) = err.downcast_ref::<nix::errno::Errno>() {
        return Some(*errno);
    }
    err.downcast_ref::<std::io::Error>()
        .and_then(|io| io.raw_os_error())
        .map(nix::errno::Errno::from_raw)
}

/// One error's own text, OS errors in Go's words.
fn link_text(err: &(dyn std::error::Error + 'static)) -> String {
    match os_errno(err) {
        Some(errno) => go_strerror(errno),
        None => err.to_string(),
    }
}

/// An io::Error as Go prints an OS error ("no such file or directory").
pub fn go_strerror_of(err: &std::io::Error) -> String {
    link_text(err)
}

/// strerror as Go spells it: lower case, no errno name.
pub fn go_strerror(errno: nix::errno::Errno) -> String {
    errno.desc().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("start container")]
    struct Outer {
        #[source]
        source: Leaves,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("mount /y")]
    struct Leaves {
        #[source]
        source: nix::errno::Errno,
    }

    #[test]
    fn each_cause_is_said_once_in_order() {
        let err = Outer {
            source: Leaves {
                source: nix::errno::Errno::ENOENT,
            },
        };
        assert_eq!(
            error_chain(&err),
            "start container: mount /y: no such file or directory"
        );
        assert_eq!(root_errno(&err), libc::ENOENT);
    }

    #[test]
    fn io_errors_read_as_go_prints_them() {
        let err = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(error_chain(&err), "permission denied");
    }

    #[test]
    fn os_error_sources_are_appended_in_go_words() {
        let err = Leaves {
            source: nix::errno::Errno::EPERM,
        };
        assert_eq!(error_chain(&err), "mount /y: operation not permitted");
        assert_eq!(root_errno(&err), libc::EPERM);
    }
}
