//! Error texts: the cause chain on one line, OS errors in Go's words, the
//! root errno.

/// The errno at the root of an error chain, or 0.
pub fn root_errno(err: &(dyn std::error::Error + 'static)) -> i32 {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut found = 0;
    while let Some(e) = cur {
        if let Some(errno) = e.downcast_ref::<nix::errno::Errno>() {
            found = *errno as i32;
        } else if let Some(io) = e.downcast_ref::<std::io::Error>() {
            found = io.raw_os_error().unwrap_or(found);
        }
        cur = e.source();
    }
    found
}

/// The whole cause chain on one line: "a: b: c", without repeating a
/// cause that its parent's text already contains. OS errors read as Go
/// prints them ("no such file or directory"): clients such as docker and
/// podman pick exit codes by matching that text.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = link_text(err);
    let mut cur = err.source();
    while let Some(e) = cur {
        let part = link_text(e);
        let raw = e.to_string();
        if text.contains(&part) {
            // Already said by an outer error.
        } else if text.contains(&raw) {
            // An outer error embedded this one's default text
            // ("ENOENT: No such file or directory"): say it in Go's words.
            text = text.replace(&raw, &part);
        } else {
            text.push_str(": ");
            text.push_str(&part);
        }
        cur = e.source();
    }
    text
}

/// One error's own text, OS errors in Go's words.
fn link_text(err: &(dyn std::error::Error + 'static)) -> String {
    let errno = if let Some(errno) = err.downcast_ref::<nix::errno::Errno>() {
        Some(*errno)
    } else {
        err.downcast_ref::<std::io::Error>()
            .and_then(|io| io.raw_os_error())
            .map(nix::errno::Errno::from_raw)
    };
    match errno {
        Some(errno) => go_strerror(errno),
        None => err.to_string(),
    }
}

/// An io::Error as Go prints an OS error ("no such file or directory").
pub fn go_strerror_of(err: &std::io::Error) -> String {
    err.raw_os_error()
        .map(|n| go_strerror(nix::errno::Errno::from_raw(n)))
        .unwrap_or_else(|| err.to_string())
}

/// strerror as Go spells it: lower case, no errno name.
pub fn go_strerror(errno: nix::errno::Errno) -> String {
    errno.desc().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("chdir /x: {source}")]
    struct Embeds {
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("mount /y")]
    struct Leaves {
        #[source]
        source: nix::errno::Errno,
    }

    #[test]
    fn embedded_os_errors_are_rewritten_not_repeated() {
        let err = Embeds {
            source: std::io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(error_chain(&err), "chdir /x: no such file or directory");
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
