//! The command lines containerd, conmon and podman send (shared/engines.md),
//! and runc's argument rules.

use super::*;

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

fn parse_line(line: &str) -> (Cli, Command) {
    let cli = parse_global(&words(line)).unwrap_or_else(|e| panic!("{line}: {e:?}"));
    let command = parse_command(&cli.rest).unwrap_or_else(|e| panic!("{line}: {e:?}"));
    (cli, command)
}

fn usage_error(line: &str) -> String {
    let result = parse_global(&words(line)).and_then(|cli| parse_command(&cli.rest));
    match result {
        Err(CliExit::Usage { error, .. }) => error,
        other => panic!("{line}: expected a usage error, got {other:?}"),
    }
}

#[test]
fn containerd_create_with_global_flags() {
    let (cli, command) = parse_line(
        "--root /run/containerd/runc/default --log /b/log.json --log-format json \
         create --bundle /b --pid-file /b/init.pid --console-socket /tmp/pty.sock c1",
    );
    assert_eq!(cli.root, PathBuf::from("/run/containerd/runc/default"));
    assert_eq!(cli.log, Some(PathBuf::from("/b/log.json")));
    assert_eq!(cli.log_format, "json");
    let Command::Create(args) = command else {
        panic!("{command:?}")
    };
    assert_eq!(args.bundle, PathBuf::from("/b"));
    assert_eq!(args.pid_file, Some(PathBuf::from("/b/init.pid")));
    assert_eq!(args.console_socket, Some(PathBuf::from("/tmp/pty.sock")));
    assert_eq!(args.id, "c1");
    assert_eq!(args.preserve_fds, 0);
}

#[test]
fn defaults_without_flags() {
    let (cli, command) = parse_line("create c1");
    assert_eq!(cli.root, PathBuf::from("/run/berth"));
    assert_eq!(cli.log_format, "text");
    let Command::Create(args) = command else {
        panic!()
    };
    assert_eq!(args.bundle, PathBuf::from("."));
}

#[test]
fn conmon_exec_stops_flags_at_the_id() {
    let (_, command) = parse_line(
        "--log-format=json --log /r/oci-log exec --pid-file /r/exec_pid \
         --process /r/p.json --detach --tty --console-socket /s c1",
    );
    let Command::Exec(args) = command else {
        panic!()
    };
    assert!(args.detach && args.tty);
    assert_eq!(args.process, Some(PathBuf::from("/r/p.json")));
    assert!(args.command.is_empty());
    let (_, command) = parse_line("exec -e A=1 --env=B=2 -u 1000:1000 c1 sh -c --tty");
    let Command::Exec(args) = command else {
        panic!()
    };
    assert_eq!(args.env, ["A=1", "B=2"]);
    assert_eq!(args.user.as_deref(), Some("1000:1000"));
    assert!(!args.tty);
    assert_eq!(args.command, ["sh", "-c", "--tty"]);
}

#[test]
fn kill_takes_an_optional_signal_and_flags_after_it() {
    let (_, command) = parse_line("kill c1 9");
    assert!(matches!(command, Command::Kill { all: false, ref signal, .. } if signal == "9"));
    let (_, command) = parse_line("kill c1");
    assert!(matches!(command, Command::Kill { ref signal, .. } if signal == "SIGTERM"));
    let (_, command) = parse_line("kill c1 KILL --all");
    assert!(matches!(command, Command::Kill { all: true, .. }));
}

#[test]
fn single_dash_long_flags_and_bool_values() {
    let (cli, command) = parse_line("-root /r --debug=false delete -force c1");
    assert_eq!(cli.root, PathBuf::from("/r"));
    assert!(!cli.debug);
    assert!(matches!(command, Command::Delete { force: true, .. }));
}

#[test]
fn update_reads_numbers_and_stdin_dash() {
    let (_, command) = parse_line("update --resources - --pids-limit 10 --memory-swap=-1 c1");
    let Command::Update(args) = command else {
        panic!()
    };
    assert_eq!(args.resources.as_deref(), Some("-"));
    assert_eq!(args.pids_limit, Some(10));
    assert_eq!(args.memory_swap.as_deref(), Some("-1"));
    assert!(usage_error("update --pids-limit ten c1").contains("-pids-limit"));
}

#[test]
fn ps_passes_everything_after_the_id_to_ps() {
    let (_, command) = parse_line("ps --format json c1 -o pid,comm");
    let Command::Ps {
        format, ps_args, ..
    } = command
    else {
        panic!()
    };
    assert_eq!(format, ListFormat::Json);
    assert_eq!(ps_args, ["-o", "pid,comm"]);
}

#[test]
fn argument_counts_in_runcs_words() {
    assert_eq!(
        usage_error("kill"),
        "\"kill\" requires a minimum of 1 argument(s)"
    );
    assert_eq!(
        usage_error("kill a b c"),
        "\"kill\" requires a maximum of 2 argument(s)"
    );
    assert_eq!(
        usage_error("state"),
        "\"state\" requires exactly 1 argument(s)"
    );
    assert_eq!(
        usage_error("list x"),
        "\"list\" requires exactly 0 argument(s)"
    );
}

#[test]
fn bad_flags_and_values_are_named() {
    assert_eq!(
        usage_error("--bogus list"),
        "flag provided but not defined: -bogus"
    );
    assert_eq!(
        usage_error("state --bogus c1"),
        "flag provided but not defined: -bogus"
    );
    assert_eq!(usage_error("list --format yaml"), "invalid format option");
    assert_eq!(
        usage_error("exec -g 5 -g x c1 sh"),
        "invalid value \"x\" for flag -additional-gids: parse error"
    );
    assert!(usage_error("--rootless maybe list").contains("--rootless"));
    let unknown = parse_command(&words("no-such-command x"));
    assert!(
        matches!(&unknown, Err(CliExit::NoSuchCommand(e)) if e.contains("no-such-command")),
        "{unknown:?}"
    );
    assert_eq!(usage_error(""), "no command given");
}

#[test]
fn help_and_version() {
    assert!(matches!(
        parse_global(&words("--help")),
        Err(CliExit::Help(_))
    ));
    let cli = parse_global(&words("-v")).unwrap();
    assert!(cli.version);
    for line in ["create --help", "help create", "kill -h c1"] {
        let cli = parse_global(&words(line)).unwrap();
        match parse_command(&cli.rest) {
            Err(CliExit::Help(text)) => assert!(text.contains("USAGE"), "{text}"),
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn every_command_has_help_that_lists_its_flags() {
    for spec in table::COMMANDS {
        let text = help::command_help(spec);
        for flag in spec.flags.iter().flat_map(|group| group.iter()) {
            assert!(text.contains(&format!("--{}", flag.names[0])), "{text}");
        }
    }
    let main = help::main_help();
    for spec in table::COMMANDS {
        assert!(main.contains(spec.name), "{main}");
    }
}

#[test]
fn events_interval_is_a_go_duration() {
    let (_, command) = parse_line("events --interval 1m30s c1");
    assert!(
        matches!(command, Command::Events { interval, stats: false, .. } if interval == Duration::from_secs(90))
    );
    let (_, command) = parse_line("events --stats c1");
    assert!(
        matches!(command, Command::Events { interval, stats: true, .. } if interval == Duration::from_secs(5))
    );
    assert_eq!(go_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(go_duration("1.5s"), Some(Duration::from_millis(1500)));
    for bad in ["2x", "5", "", "s", "0s", "-1s"] {
        assert_eq!(go_duration(bad), None, "{bad}");
    }
    assert!(usage_error("events --interval 2x c1").contains("-interval"));
}

#[test]
fn rootless_takes_go_booleans_and_auto() {
    for yes in ["1", "t", "T", "TRUE", "true", "True"] {
        assert_eq!(parse_bool_or_auto(yes), Ok(Some(true)), "{yes}");
    }
    for no in ["0", "f", "F", "FALSE", "false", "False"] {
        assert_eq!(parse_bool_or_auto(no), Ok(Some(false)), "{no}");
    }
    for auto in ["", "auto", "AUTO", "Auto"] {
        assert_eq!(parse_bool_or_auto(auto), Ok(None), "{auto}");
    }
    assert_eq!(parse_bool_or_auto("yes"), Err(()));
    let (cli, _) = parse_line("--rootless=true list");
    assert!(cli.rootless_cgroups);
    let (cli, _) = parse_line("--rootless false list");
    assert!(!cli.rootless_cgroups);
}

#[test]
fn state_root_follows_runc_xdg_rules() {
    let xdg = Path::new("/run/user/1000");
    let under_xdg = Some(PathBuf::from("/run/user/1000/berth"));
    // Not root: always under $XDG_RUNTIME_DIR.
    assert_eq!(xdg_root_for(xdg, false, false, Some("root")), under_xdg);
    // The host's root keeps /run/berth.
    assert_eq!(xdg_root_for(xdg, true, false, None), None);
    // Root in a user namespace: unless $USER is root.
    assert_eq!(xdg_root_for(xdg, true, true, None), under_xdg);
    assert_eq!(xdg_root_for(xdg, true, true, Some("alice")), under_xdg);
    assert_eq!(xdg_root_for(xdg, true, true, Some("root")), None);
}
