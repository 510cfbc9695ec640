//! berth: a runc-compatible OCI container runtime.

mod cli;
mod commands;
mod logging;

use clap::Parser;

use crate::cli::{Cli, Command, LogFormat};

/// An error as the user sees it: one message holding the whole cause.
pub struct Failure(pub String);

impl<E: std::error::Error + 'static> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure(berth_process::error_chain(&err))
    }
}

fn main() {
    let cli = Cli::parse();
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
    let Some(command) = &cli.command else {
        eprintln!("berth: no command given; see berth --help");
        std::process::exit(1);
    };
    match run(&cli, command) {
        Ok(code) => std::process::exit(code),
        Err(Failure(msg)) => {
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
            tracing::error!("{msg}");
            if !target.to_stderr {
                eprintln!("{msg}");
            }
            std::process::exit(code);
        }
    }
}

fn run(cli: &Cli, command: &Command) -> Result<i32, Failure> {
    commands::check_global_flags(cli)?;
    let store = berth_container::Store::new(&cli.root);
    match command {
        Command::Create(args) => commands::lifecycle::create(&store, args).map(|()| 0),
        Command::Start { id } => commands::lifecycle::start(&store, id).map(|()| 0),
        Command::Run(args) => commands::lifecycle::run(&store, args),
        Command::Exec(args) => commands::exec::exec(&store, args),
        Command::State { id } => commands::lifecycle::state(&store, id).map(|()| 0),
        Command::Kill { all, id, signal } => {
            commands::lifecycle::kill(&store, id, signal, *all).map(|()| 0)
        }
        Command::Delete { force, id } => {
            commands::lifecycle::delete(&store, id, *force).map(|()| 0)
        }
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
    }
}
