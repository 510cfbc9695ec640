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
        if !text.contains(&part) {
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

/// strerror as Go spells it: lower case, no errno name.
pub fn go_strerror(errno: nix::errno::Errno) -> String {
    errno.desc().to_lowercase()
}
