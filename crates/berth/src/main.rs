//! berth: a runc-compatible OCI container runtime.

mod cli;
mod commands;
mod logging;
mod stdout;

use crate::cli::{Cli, CliExit, Command, LogFormat};

/// An error as the user sees it: one message holding the whole cause, and
/// the errno at its root (0: none) for the JSON log line.
pub struct Failure {
    pub msg: String,
    pub errno: i32,
}

impl Failure {
    /// A failure that no OS error caused.
    pub fn new(msg: String) -> Failure {
        Failure { msg, errno: 0 }
    }

    /// `what: <the OS error in Go's words>`, keeping its errno.
    pub fn os(what: String, err: &std::io::Error) -> Failure {
        Failure {
            msg: format!("{what}: {}", berth_process::go_strerror_of(err)),
            errno: err.raw_os_error().unwrap_or(0),
        }
    }
}

impl<E: std::error::Error + 'static> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure {
            msg: berth_process::error_chain(&err),
            errno: errno_of(&err),
        }
    }
}

/// The errno behind an error: init's (carried over the sync channel, not in
/// the source chain) or the root OS error of the chain.
fn errno_of(err: &(dyn std::error::Error + 'static)) -> i32 {
    if let Some(e) = err.downcast_ref::<berth_container::ContainerError>() {
        e.errno()
    } else if let Some(e) = err.downcast_ref::<berth_process::ProcessError>() {
        e.errno()
    } else {
        berth_process::root_errno(err)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = match cli::parse_global(&args) {
        Ok(cli) => cli,
        Err(exit) => exit_before_logging(exit),
    };
    if cli.version {
        commands::version::print();
        return;
    }
    let target = match LogFormat::parse(&cli.log_format)
        .and_then(|format| logging::init(cli.log.as_deref(), format, cli.debug))
    {
        Ok(target) => target,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    let command = match cli::parse_command(&cli.rest) {
        Ok(command) => command,
        Err(CliExit::Help(text)) => {
            let _ = stdout::write(text);
            return;
        }
        Err(CliExit::Usage { error, usage }) => {
            eprint!("Incorrect Usage.\n\n{usage}\n");
            report(&target, &format!("berth: {error}"), 0);
            std::process::exit(1);
        }
        Err(CliExit::NoSuchCommand(error)) => {
            report(&target, &error, 0);
            std::process::exit(3);
        }
    };
    let command = &command;
    match run(&cli, command) {
        Ok(code) => std::process::exit(code),
        Err(Failure { msg, errno }) => {
            let code = if matches!(command, Command::Exec(_)) {
                255
            } else {
                1
            };
            let msg = match command {
                Command::Exec(_) => format!("exec failed: {msg}"),
                Command::Create(_) => format!("berth create failed: {msg}"),
                Command::Run(_) => format!("berth run failed: {msg}"),
                _ => msg,
            };
            report(&target, &msg, errno);
            std::process::exit(code);
        }
    }
}

/// The one error line of a failure (with the errno behind it, when there
/// is one): logged, and on stderr too when the log goes elsewhere.
fn report(target: &logging::LogTarget, msg: &str, errno: i32) {
    if errno != 0 {
        tracing::error!(errno = i64::from(errno), "{msg}");
    } else {
        tracing::error!("{msg}");
    }
    if !target.to_stderr {
        eprintln!("{msg}");
    }
}

/// Help or a usage error in the global flags, before logging is set up.
fn exit_before_logging(exit: CliExit) -> ! {
    match exit {
        CliExit::Help(text) => {
            let _ = stdout::write(text);
            std::process::exit(0)
        }
        CliExit::Usage { error, usage } => {
            eprint!("Incorrect Usage. {error}\n\n{usage}");
            std::process::exit(1)
        }
        CliExit::NoSuchCommand(error) => {
            eprintln!("{error}");
            std::process::exit(3)
        }
    }
}

fn run(cli: &Cli, command: &Command) -> Result<i32, Failure> {
    commands::check_global_flags(cli)?;
    let store = berth_container::Store::new(&cli.root);
    let cgroups = commands::lifecycle::CgroupManager {
        driver: match cli.systemd_cgroup {
            true => berth_container::CgroupDriver::Systemd,
            false => berth_container::CgroupDriver::Cgroupfs,
        },
        rootless: cli.rootless_cgroups,
    };
    match command {
        Command::Create(args) => commands::lifecycle::create(&store, args, cgroups).map(|()| 0),
        Command::Start { id } => commands::lifecycle::start(&store, id).map(|()| 0),
        Command::Run(args) => commands::lifecycle::run(&store, args, cgroups),
        Command::Exec(args) => commands::exec::exec(&store, args),
        Command::State { id } => commands::lifecycle::state(&store, id).map(|()| 0),
        Command::Kill { all, id, signal } => {
            commands::lifecycle::kill(&store, id, signal, *all).map(|()| 0)
        }
        Command::Delete { force, id } => {
            commands::lifecycle::delete(&store, id, *force).map(|()| 0)
        }
        Command::Events {
            interval,
            stats,
            id,
        } => commands::events::events(&store, id, *interval, *stats).map(|()| 0),
        Command::Pause { id } => Ok(berth_container::pause(&store, id).map(|()| 0)?),
        Command::Resume { id } => Ok(berth_container::resume(&store, id).map(|()| 0)?),
        Command::Ps {
            format,
            id,
            ps_args,
        } => commands::ps::ps(&store, id, *format, ps_args).map(|()| 0),
        Command::Update(args) => commands::update::update(&store, args).map(|()| 0),
        Command::List { format, quiet } => {
            commands::list::list(&store, *format, *quiet).map(|()| 0)
        }
        Command::Spec { bundle, rootless } => commands::spec::write(bundle, *rootless).map(|()| 0),
        Command::Features => commands::features::print().map(|()| 0),
        Command::Checkpoint { id } => commands::lifecycle::checkpoint(&store, id).map(|()| 0),
        Command::Restore { id } => commands::lifecycle::restore(&store, id).map(|()| 0),
    }
}
