//! `exec`: build the process (from `--process` or the bundle's config plus
//! the command line), run it in the container, and in the foreground wait
//! for it and exit with its status.

use berth_container::{ExecOptions, Store};
use berth_process::supervise;
use std::path::Path;

use berth_spec::Process;

use crate::cli::ExecArgs;
use crate::commands::{decode_json, read_file, read_json};
use crate::Failure;

pub fn exec(store: &Store, args: &ExecArgs) -> Result<i32, Failure> {
    refuse_unsupported(args)?;
    let process = build_process(store, args)?;
    if !args.detach {
        supervise::block_signals()?;
    }
    let execed = crate::commands::lifecycle::log_failed_init_steps(berth_container::exec(
        store,
        &ExecOptions {
            id: &args.id,
            process,
            console_socket: args.console_socket.as_deref(),
            pidfd_socket: args.pidfd_socket.as_deref(),
            pid_file: args.pid_file.as_deref(),
            preserve_fds: args.preserve_fds,
            ignore_paused: args.ignore_paused,
            sub_cgroups: &args.cgroup,
            foreground: !args.detach,
            trace: crate::commands::lifecycle::debug_on(),
        },
    ))?;
    crate::commands::lifecycle::log_trace(&execed.trace);
    if args.detach {
        return Ok(0);
    }
    Ok(supervise::supervise(execed.pid, execed.console)?)
}

fn refuse_unsupported(args: &ExecArgs) -> Result<(), Failure> {
    let refused = [("--process-label", args.process_label.is_some())];
    match refused.iter().find(|(_, given)| *given) {
        Some((flag, _)) => Err(Failure::new(format!("{flag}: not supported by berth yet"))),
        None => Ok(()),
    }
}

/// The process to run: `--process FILE`, else the bundle's `process` with
/// the command line as args; then the flags.
fn build_process(store: &Store, args: &ExecArgs) -> Result<Process, Failure> {
    let mut process = match &args.process {
        Some(path) => process_file(store, args, path)?,
        None => {
            let mut p = container_process(store, args)?;
            if args.command.is_empty() {
                return Err(Failure::new("process args cannot be empty".into()));
            }
            p.args = args.command.clone();
            p.terminal = false;
            p
        }
    };
    apply_flags(&mut process, args)?;
    Ok(process)
}

/// `--process FILE`. As runc, absent fields take Go's zero values (no
/// `user`: uid 0, gid 0), except `capabilities`: absent or null, the
/// process gets the container's.
fn process_file(store: &Store, args: &ExecArgs, path: &Path) -> Result<Process, Failure> {
    #[derive(serde::Deserialize)]
    struct Given {
        #[serde(default)]
        capabilities: Option<serde::de::IgnoredAny>,
    }
    let bytes = read_file(path)?;
    let mut process: Process = decode_json(path, &bytes)?;
    let given: Given = decode_json(path, &bytes)?;
    if given.capabilities.is_none() {
        process.capabilities = container_process(store, args)?.capabilities;
    }
    Ok(process)
}

/// The `process` of the container's bundle.
fn container_process(store: &Store, args: &ExecArgs) -> Result<Process, Failure> {
    let loaded = berth_container::load(store, &args.id, false)?;
    bundle_process(&loaded.state.bundle)
}

fn bundle_process(bundle: &Path) -> Result<Process, Failure> {
    let spec: berth_spec::Spec = read_json(&bundle.join("config.json"))?;
    spec.process
        .ok_or_else(|| Failure::new("process property must not be empty".into()))
}

fn apply_flags(p: &mut Process, args: &ExecArgs) -> Result<(), Failure> {
    if let Some(cwd) = &args.cwd {
        p.cwd = cwd.clone();
    }
    p.env.extend(args.env.iter().cloned());
    if args.tty {
        p.terminal = true;
    }
    if args.no_new_privs {
        p.no_new_privileges = true;
    }
    if let Some(profile) = &args.apparmor {
        p.apparmor_profile = profile.clone();
    }
    if let Some(user) = &args.user {
        set_user(p, user)?;
    }
    p.user.additional_gids.extend(&args.additional_gids);
    add_capabilities(p, &args.cap);
    Ok(())
}

/// `--user uid[:gid]`, numeric as runc takes it.
fn set_user(p: &mut Process, spec: &str) -> Result<(), Failure> {
    let bad = || Failure::new(format!("invalid --user {spec:?}: expected uid[:gid]"));
    let (uid, gid) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    p.user.uid = uid.parse().map_err(|_| bad())?;
    if let Some(g) = gid {
        p.user.gid = g.parse().map_err(|_| bad())?;
    }
    Ok(())
}

/// `--cap CAP_X`: added to the bounding, effective, permitted and ambient
/// sets, as runc does. The names are checked with the rest of the process
/// when exec plans it (as a config's are).
fn add_capabilities(p: &mut Process, names: &[String]) {
    let set = &mut p.capabilities;
    for list in [
        &mut set.bounding,
        &mut set.effective,
        &mut set.permitted,
        &mut set.ambient,
    ] {
        list.extend(names.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_flag_takes_uid_and_optional_gid() {
        let mut p = Process::default();
        set_user(&mut p, "1000:1001").ok().unwrap();
        assert_eq!((p.user.uid, p.user.gid), (1000, 1001));
        set_user(&mut p, "7").ok().unwrap();
        assert_eq!((p.user.uid, p.user.gid), (7, 1001));
        assert!(set_user(&mut p, "root").is_err());
    }

    #[test]
    fn added_capabilities_land_in_four_sets() {
        let mut p = Process::default();
        add_capabilities(&mut p, &["CAP_NET_ADMIN".into()]);
        let caps = &p.capabilities;
        for set in [
            &caps.bounding,
            &caps.effective,
            &caps.permitted,
            &caps.ambient,
        ] {
            assert_eq!(set, &["CAP_NET_ADMIN"]);
        }
        assert!(caps.inheritable.is_empty());
    }
}
