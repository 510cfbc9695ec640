//! Finding the program to exec, with the error texts runc users (and docker,
//! which maps them to exit codes 126/127) expect.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why `process.args[0]` cannot be executed. The texts are runc's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExecPathError {
    #[error("exec: {name:?}: stat {name}")]
    Stat {
        name: String,
        #[source]
        errno: nix::errno::Errno,
    },
    /// Not a regular file with an execute bit: what execve(2) would
    /// refuse with `EACCES`.
    #[error("exec: {name:?}")]
    NotExecutable {
        name: String,
        #[source]
        errno: nix::errno::Errno,
    },
    #[error("exec: {name:?}: executable file not found in $PATH")]
    NotFound { name: String },
}

/// Resolve `name` like a shell: a name with a slash is used as is, any
/// other is searched in the PATH of `env` (the container's environment).
pub fn find_executable(name: &str, env: &[String]) -> Result<PathBuf, ExecPathError> {
    if name.contains('/') {
        return check_executable(Path::new(name)).map(|_| PathBuf::from(name));
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("");
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(name);
        if check_executable(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(ExecPathError::NotFound {
        name: name.to_string(),
    })
}

fn check_executable(path: &Path) -> Result<(), ExecPathError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| ExecPathError::Stat {
        name: name.clone(),
        errno: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
    })?;
    if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
        return Err(ExecPathError::NotExecutable {
            name,
            errno: nix::errno::Errno::EACCES,
        });
    }
    Ok(())
}

/// The home directory of `uid` in a passwd file, if listed.
pub fn home_of(passwd: &Path, uid: u32) -> Option<PathBuf> {
    let text = std::fs::read_to_string(passwd).ok()?;
    home_in(&text, uid)
}

fn home_in(passwd: &str, uid: u32) -> Option<PathBuf> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2].parse() == Ok(uid) && !fields[5].is_empty())
            .then(|| PathBuf::from(fields[5]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_absolute_path_reads_like_runc() {
        let err = find_executable("/nonexistent", &[]).unwrap_err();
        assert_eq!(
            crate::error_chain(&err),
            r#"exec: "/nonexistent": stat /nonexistent: no such file or directory"#
        );
        assert_eq!(crate::root_errno(&err), libc::ENOENT);
    }

    #[test]
    fn missing_name_in_path_reads_like_runc() {
        let env = vec!["PATH=/nonexistent-dir:/also-missing".to_string()];
        let err = find_executable("nope", &env).unwrap_err();
        assert_eq!(
            crate::error_chain(&err),
            r#"exec: "nope": executable file not found in $PATH"#
        );
    }

    #[test]
    fn name_is_found_in_path_order() {
        let env = vec!["PATH=/nonexistent-dir:/bin:/usr/bin".to_string()];
        assert_eq!(
            find_executable("sh", &env).unwrap(),
            PathBuf::from("/bin/sh")
        );
    }

    #[test]
    fn directories_and_plain_files_are_not_executable() {
        let err = find_executable("/tmp", &[]).unwrap_err();
        assert!(matches!(err, ExecPathError::NotExecutable { .. }));
        let plain = std::env::temp_dir().join(format!("berth-plain-{}", std::process::id()));
        std::fs::write(&plain, "not a program").unwrap();
        let err = find_executable(plain.to_str().unwrap(), &[]).unwrap_err();
        std::fs::remove_file(&plain).unwrap();
        assert_eq!(
            crate::error_chain(&err),
            format!("exec: {:?}: permission denied", plain.display().to_string())
        );
        assert_eq!(crate::root_errno(&err), libc::EACCES);
    }

    #[test]
    fn home_comes_from_the_matching_passwd_line() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n";
        assert_eq!(home_in(passwd, 1000), Some(PathBuf::from("/home/user")));
        assert_eq!(home_in(passwd, 0), Some(PathBuf::from("/root")));
        assert_eq!(home_in(passwd, 42), None);
    }
}
