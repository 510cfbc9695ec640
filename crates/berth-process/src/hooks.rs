//! OCI hooks: one runner for every kind, used by the runtime (prestart,
//! createRuntime, poststart, poststop) and by init (createContainer,
//! startContainer). A hook gets exactly its configured env, the state JSON
//! on stdin, and its timeout.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use berth_spec::Hook;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// A hook that failed: its kind, position and what happened, in runc's
/// words: runc 1.2's outer text naming the kind, runc 1.1's inner one
/// (`error running startContainer hook #0: error running hook: signal: bad
/// system call, stdout: ..., stderr: ...`), so that either version's checks
/// find theirs.
#[derive(Debug, thiserror::Error)]
#[error("error running {kind} hook #{index}: {reason}")]
pub struct HookError {
    pub kind: &'static str,
    pub index: usize,
    pub reason: String,
    /// The OS error of a hook that could not be started (`EACCES`: not
    /// executable, `ENOENT`: missing).
    #[source]
    pub source: Option<std::io::Error>,
}

/// Why one hook failed: the text, and the OS error when it did not start.
struct Failure {
    reason: String,
    source: Option<std::io::Error>,
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure {
            reason,
            source: None,
        }
    }
}

/// Run `hooks` in order; the first failure stops the list.
pub fn run_hooks(
    kind: &'static str,
    hooks: &[Hook],
    state: &str,
    cwd: Option<&Path>,
) -> Result<(), HookError> {
    for (index, hook) in hooks.iter().enumerate() {
        run_one(hook, state, cwd).map_err(|f| HookError {
            kind,
            index,
            reason: f.reason,
            source: f.source,
        })?;
    }
    Ok(())
}

/// The same state JSON with another `status`.
pub fn with_status(state: &str, status: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(state) {
        Ok(mut value) => {
            value["status"] = status.into();
            value.to_string()
        }
        Err(_) => state.to_string(),
    }
}

fn command(hook: &Hook, cwd: Option<&Path>) -> Command {
    let mut cmd = Command::new(&hook.path);
    if let Some((argv0, rest)) = hook.args.as_deref().unwrap_or_default().split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for entry in hook.env.iter().flatten() {
        let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
        cmd.env(key, value);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run_one(hook: &Hook, state: &str, cwd: Option<&Path>) -> Result<(), Failure> {
    let mut child = command(hook, cwd).spawn().map_err(|e| Failure {
        reason: format!("fork/exec {}", hook.path.display()),
        source: Some(e),
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine (EPIPE).
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = hook
        .timeout
        .filter(|t| *t > 0)
        .map(|t| (t, Instant::now() + Duration::from_secs(t as u64)));
    let (stdout, stderr, status) = collect(&mut child, deadline.map(|(_, d)| d));
    match status {
        None => Err(format!(
            "hook ran past specified timeout of {}.0s",
            deadline.map(|(t, _)| t).unwrap_or_default()
        )
        .into()),
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(format!(
            "error running hook: {}, stdout: {stdout}, stderr: {stderr}",
            exit_text(status)
        )
        .into()),
    }
}

/// Go's text for a process' end: "exit status 3", "signal: killed".
fn exit_text(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => match signal_text(sig) {
            Some(text) => format!("signal: {text}"),
            None => format!("signal: signal {sig}"),
        },
        _ => status.to_string(),
    }
}

/// How Go names a signal when a process dies of it (Linux, signals 1-31).
fn signal_text(sig: i32) -> Option<&'static str> {
    const TEXTS: [&str; 31] = [
        "hangup",
        "interrupt",
        "quit",
        "illegal instruction",
        "trace/breakpoint trap",
        "aborted",
        "bus error",
        "floating point exception",
        "killed",
        "user defined signal 1",
        "segmentation fault",
        "user defined signal 2",
        "broken pipe",
        "alarm clock",
        "terminated",
        "stack fault",
        "child exited",
        "continued",
        "stopped (signal)",
        "stopped",
        "stopped (tty input)",
        "stopped (tty output)",
        "urgent I/O condition",
        "CPU time limit exceeded",
        "file size limit exceeded",
        "virtual timer expired",
        "profiling timer expired",
        "window changed",
        "I/O possible",
        "power failure",
        "bad system call",
    ];
    usize::try_from(sig - 1)
        .ok()
        .and_then(|i| TEXTS.get(i).copied())
}

/// Read stdout and stderr to their end and reap the hook, or kill it at
/// the deadline (then the status is None).
fn collect(child: &mut Child, deadline: Option<Instant>) -> (String, String, Option<ExitStatus>) {
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
    while out.is_some() || err.is_some() {
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) => PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX),
                None => return kill_late(child, out_buf, err_buf),
            },
            None => PollTimeout::NONE,
        };
        let mut fds: Vec<PollFd<'_>> = [
            out.as_ref().map(|p| p.as_fd()),
            err.as_ref().map(|p| p.as_fd()),
        ]
        .into_iter()
        .flatten()
        .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
        .collect();
        if matches!(poll(&mut fds, wait), Ok(0)) {
            continue;
        }
        drain(&mut out, &mut out_buf);
        drain(&mut err, &mut err_buf);
    }
    let status = match deadline {
        Some(d) => wait_until(child, d),
        None => child.wait().ok(),
    };
    match status {
        Some(status) => (text(out_buf), text(err_buf), Some(status)),
        None => kill_late(child, out_buf, err_buf),
    }
}

/// Read what is there; drop the pipe at EOF.
fn drain<R: Read>(pipe: &mut Option<R>, buf: &mut Vec<u8>) {
    if let Some(p) = pipe {
        let mut chunk = [0u8; 4096];
        match p.read(&mut chunk) {
            Ok(0) | Err(_) => *pipe = None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill_late(
    child: &mut Child,
    out: Vec<u8>,
    err: Vec<u8>,
) -> (String, String, Option<ExitStatus>) {
    let _ = child.kill();
    let _ = child.wait();
    (text(out), text(err), None)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(v: serde_json::Value) -> Hook {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_failing_hook_reports_status_and_output_like_runc() {
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "echo out; echo no >&2; exit 3"]}),
        );
        let err = run_hooks("prestart", &[h], "{}", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "error running prestart hook #0: error running hook: exit status 3, stdout: out\n, stderr: no\n"
        );
    }

    #[test]
    fn a_hook_killed_by_a_signal_names_it_as_go_does() {
        let h = hook(serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "kill -SYS $$"]}));
        let err = run_hooks("startContainer", &[h], "{}", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "error running startContainer hook #0: error running hook: signal: bad system call, stdout: , stderr: "
        );
        assert_eq!(signal_text(9), Some("killed"));
        assert_eq!(signal_text(15), Some("terminated"));
        assert_eq!(signal_text(34), None);
    }

    #[test]
    fn hooks_get_the_state_on_stdin_and_only_their_env() {
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", "read s; test \"$s\" = '{\"id\":\"x\"}' && test \"$(env | grep -v ^PWD= | grep -v ^SHLVL=)\" = A=1"],
            "env": ["A=1"]
        }));
        run_hooks("createRuntime", &[h], "{\"id\":\"x\"}\n", None).unwrap();
    }

    #[test]
    fn a_slow_hook_is_killed_at_its_timeout() {
        let h =
            hook(serde_json::json!({"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}));
        let started = Instant::now();
        let err = run_hooks("poststart", &[h], "{}", None).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(
            err.to_string()
                .contains("hook ran past specified timeout of 1.0s"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_hook_binary_names_the_path() {
        let h = hook(serde_json::json!({"path": "/nonexistent/hook"}));
        let err = run_hooks("poststop", &[h], "{}", None).unwrap_err();
        assert_eq!(
            crate::error_chain(&err),
            "error running poststop hook #0: fork/exec /nonexistent/hook: no such file or directory"
        );
        assert_eq!(crate::root_errno(&err), libc::ENOENT);
    }
}
