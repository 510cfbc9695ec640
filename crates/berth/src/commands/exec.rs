//! `exec`: build the process (from `--process` or the bundle's config plus
//! the command line), run it in the container, and in the foreground wait
//! for it and exit with its status.

use berth_container::{ExecOptions, Store};
use berth_process::supervise;
use oci_spec::runtime::{Capability, Process};

use crate::cli::ExecArgs;
use crate::commands::read_json;
use crate::Failure;

pub fn exec(store: &Store, args: &ExecArgs) -> Result<i32, Failure> {
    refuse_unsupported(args)?;
    let process = build_process(store, args)?;
    if !args.detach {
        supervise::block_signals()?;
    }
    let execed = berth_container::exec(
        store,
        &ExecOptions {
            id: &args.id,
            process,
            console_socket: args.console_socket.as_deref(),
            pid_file: args.pid_file.as_deref(),
            preserve_fds: args.preserve_fds,
            ignore_paused: args.ignore_paused,
            foreground: !args.detach,
        },
    )?;
    if args.detach {
        return Ok(0);
    }
    Ok(supervise::supervise(execed.pid, execed.console)?)
}

fn refuse_unsupported(args: &ExecArgs) -> Result<(), Failure> {
    let refused = [
        ("--process-label", args.process_label.is_some()),
        ("--apparmor", args.apparmor.is_some()),
        ("--cgroup", args.cgroup.is_some()),
    ];
    match refused.iter().find(|(_, given)| *given) {
        Some((flag, _)) => Err(Failure(format!("{flag}: not supported by berth yet"))),
        None => Ok(()),
    }
}

/// The process to run: `--process FILE`, else the bundle's `process` with
/// the command line as args; then the flags.
fn build_process(store: &Store, args: &ExecArgs) -> Result<Process, Failure> {
    let mut process = match &args.process {
        Some(path) => read_json(path)?,
        None => {
            let loaded = berth_container::load(store, &args.id, false)?;
            let mut p = bundle_process(&loaded.state.bundle)?;
            if args.command.is_empty() {
                return Err(Failure("process args cannot be empty".into()));
            }
            p.set_args(Some(args.command.clone()));
            p.set_terminal(Some(false));
            p
        }
    };
    apply_flags(&mut process, args)?;
    Ok(process)
}

fn bundle_process(bundle: &std::path::Path) -> Result<Process, Failure> {
    let spec: oci_spec::runtime::Spec = read_json(&bundle.join("config.json"))?;
    spec.process()
        .clone()
        .ok_or_else(|| Failure("process property must not be empty".into()))
}

fn apply_flags(p: &mut Process, args: &ExecArgs) -> Result<(), Failure> {
    if let Some(cwd) = &args.cwd {
        p.set_cwd(cwd.clone());
    }
    if !args.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(args.env.iter().cloned());
        p.set_env(Some(env));
    }
    if args.tty {
        p.set_terminal(Some(true));
    }
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(user) = &args.user {
        set_user(p, user)?;
    }
    if !args.additional_gids.is_empty() {
        let mut user = p.user().clone();
        let mut gids = user.additional_gids().clone().unwrap_or_default();
        gids.extend(&args.additional_gids);
        user.set_additional_gids(Some(gids));
        p.set_user(user);
    }
    add_capabilities(p, &args.cap)
}

/// `--user uid[:gid]`, numeric as runc takes it.
fn set_user(p: &mut Process, spec: &str) -> Result<(), Failure> {
    let bad = || Failure(format!("invalid --user {spec:?}: expected uid[:gid]"));
    let (uid, gid) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let mut user = p.user().clone();
    user.set_uid(uid.parse().map_err(|_| bad())?);
    if let Some(g) = gid {
        user.set_gid(g.parse().map_err(|_| bad())?);
    }
    p.set_user(user);
    Ok(())
}

/// `--cap CAP_X`: added to the bounding, effective, permitted and ambient
/// sets, as runc does.
fn add_capabilities(p: &mut Process, names: &[String]) -> Result<(), Failure> {
    if names.is_empty() {
        return Ok(());
    }
    let caps: Vec<Capability> = names
        .iter()
        .map(|n| {
            serde_json::from_value(serde_json::json!(n))
                .map_err(|_| Failure(format!("unknown capability {n:?}")))
        })
        .collect::<Result<_, _>>()?;
    let mut set = p.capabilities().clone().unwrap_or_default();
    let extend = |s: &Option<oci_spec::runtime::Capabilities>| {
        let mut s = s.clone().unwrap_or_default();
        s.extend(caps.iter().copied());
        Some(s)
    };
    let (b, e, pm, a) = (
        extend(set.bounding()),
        extend(set.effective()),
        extend(set.permitted()),
        extend(set.ambient()),
    );
    set.set_bounding(b)
        .set_effective(e)
        .set_permitted(pm)
        .set_ambient(a);
    p.set_capabilities(Some(set));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_flag_takes_uid_and_optional_gid() {
        let mut p = Process::default();
        set_user(&mut p, "1000:1001").ok().unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1001));
        set_user(&mut p, "7").ok().unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (7, 1001));
        assert!(set_user(&mut p, "root").is_err());
    }

    #[test]
    fn added_capabilities_land_in_four_sets() {
        let mut p = Process::default();
        p.set_capabilities(None);
        add_capabilities(&mut p, &["CAP_NET_ADMIN".into()])
            .ok()
            .unwrap();
        let caps = p.capabilities().clone().unwrap();
        for set in [
            caps.bounding(),
            caps.effective(),
            caps.permitted(),
            caps.ambient(),
        ] {
            assert!(set.as_ref().unwrap().contains(&Capability::NetAdmin));
        }
    }
}
