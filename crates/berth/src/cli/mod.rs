//! The command line, as runc spells it: global flags before the
//! subcommand, the same subcommands and flags after it, parsed by the rules
//! of runc's own CLI library (see [`flags`]).

mod flags;
mod help;
mod table;

use std::path::{Path, PathBuf};
use std::time::Duration;

use flags::{Matches, Placement};
use table::CommandSpec;

/// The parsed command line.
#[derive(Debug)]
pub struct Cli {
    /// Print the version.
    pub version: bool,
    /// Root directory for the containers' state.
    pub root: PathBuf,
    /// Write log lines to this file instead of stderr.
    pub log: Option<PathBuf>,
    /// Log line format (`text` or `json`), checked by [`LogFormat::parse`].
    pub log_format: String,
    /// Log debug messages too.
    pub debug: bool,
    /// `--root` was not given and the default is under `$XDG_RUNTIME_DIR`:
    /// made (0700, sticky) before any command, as runc does.
    pub xdg_root: bool,
    /// Use the systemd cgroup driver.
    pub systemd_cgroup: bool,
    /// `--rootless` (true, false, auto): runc's rootless cgroup manager.
    pub rootless_cgroups: bool,
    /// The subcommand and its arguments, for [`parse_command`].
    pub rest: Vec<String>,
}

/// Why the command line does not lead to a command.
#[derive(Debug)]
pub enum CliExit {
    /// Help was asked for: print this on stdout, exit 0.
    Help(String),
    /// The command line is wrong: the error, then the usage to show with it.
    Usage { error: String, usage: String },
    /// No such subcommand: the error (runc exits 3 for it).
    NoSuchCommand(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `--log-format`'s value, refused in runc's words.
    pub fn parse(value: &str) -> Result<LogFormat, String> {
        match value {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("invalid log-format: {other}")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

impl ListFormat {
    /// `--format` of `list` and `ps`, refused in runc's words.
    fn parse(value: Option<String>) -> Result<ListFormat, String> {
        match value.as_deref() {
            None | Some("table") => Ok(ListFormat::Table),
            Some("json") => Ok(ListFormat::Json),
            Some(_) => Err("invalid format option".into()),
        }
    }
}

#[derive(Debug)]
pub enum Command {
    Create(CreateArgs),
    Start {
        id: String,
    },
    Run(RunArgs),
    Exec(Box<ExecArgs>),
    State {
        id: String,
    },
    Kill {
        all: bool,
        id: String,
        signal: String,
    },
    Delete {
        force: bool,
        id: String,
    },
    Events {
        interval: Duration,
        stats: bool,
        id: String,
    },
    List {
        format: ListFormat,
        quiet: bool,
    },
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    Ps {
        format: ListFormat,
        id: String,
        ps_args: Vec<String>,
    },
    Update(Box<UpdateArgs>),
    Spec {
        bundle: PathBuf,
        rootless: bool,
    },
    Features,
    /// Parsed with runc's flags, refused: CRIU is not integrated.
    Checkpoint {
        id: String,
    },
    Restore {
        id: String,
    },
}

#[derive(Debug)]
pub struct CreateArgs {
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master when process.terminal is true.
    pub console_socket: Option<PathBuf>,
    /// Unix socket that receives a pidfd of init.
    pub pidfd_socket: Option<PathBuf>,
    /// File to write the init's pid to.
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// Do not give the container a new session keyring.
    pub no_new_keyring: bool,
    /// Pass this many extra fds (3, 4, ...) to the container.
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Debug)]
pub struct RunArgs {
    pub create: CreateArgs,
    /// Detach from the container's process.
    pub detach: bool,
    /// Keep the container's state after it exits.
    pub keep: bool,
    /// Do not become a subreaper for the container's processes.
    pub no_subreaper: bool,
}

/// `update`: a LinuxResources JSON (file or `-` for stdin) and/or flags,
/// the flags winning.
#[derive(Debug)]
pub struct UpdateArgs {
    /// File with the resources JSON, or - for stdin.
    pub resources: Option<String>,
    pub blkio_weight: Option<u16>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_share: Option<u64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// Memory limit in bytes (suffixes k, m, g... accepted).
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    /// Memory plus swap; -1 for unlimited.
    pub memory_swap: Option<String>,
    pub pids_limit: Option<i64>,
    pub l3_cache_schema: Option<String>,
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

/// `exec`: the process comes from `--process FILE`, or from the bundle's
/// config.json with the command line's args; the flags adjust either.
#[derive(Debug)]
pub struct ExecArgs {
    pub console_socket: Option<PathBuf>,
    pub pidfd_socket: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    pub tty: bool,
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub process: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub process_label: Option<String>,
    pub apparmor: Option<String>,
    pub no_new_privs: bool,
    pub cap: Vec<String>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// `--cgroup [controller[,controller]:]path`, repeatable.
    pub cgroup: Vec<String>,
    pub id: String,
    /// The command and its arguments.
    pub command: Vec<String>,
}

/// Parses the global flags of the process's arguments (without the program
/// name); the subcommand is left in [`Cli::rest`].
pub fn parse_global(args: &[String]) -> Result<Cli, CliExit> {
    let global = flags::parse(&[table::GLOBAL_FLAGS], args, Placement::BeforeArguments)
        .map_err(|error| usage_error(error, help::main_help()))?;
    if global.help {
        return Err(CliExit::Help(help::main_help()));
    }
    global_flags(global).map_err(|error| usage_error(error, help::main_help()))
}

/// Parses the subcommand and its arguments.
pub fn parse_command(rest: &[String]) -> Result<Command, CliExit> {
    let Some((name, rest)) = rest.split_first() else {
        return Err(usage_error("no command given".into(), help::main_help()));
    };
    if name == "help" {
        return Err(CliExit::Help(help_for(rest.first())?));
    }
    let spec = known_command(name)?;
    let matches = flags::parse(spec.flags, rest, spec.placement)
        .map_err(|error| usage_error(error, help::command_help(spec)))?;
    if matches.help {
        return Err(CliExit::Help(help::command_help(spec)));
    }
    check_argument_count(spec, &matches)?;
    command(spec, matches).map_err(|error| usage_error(error, help::command_help(spec)))
}

fn usage_error(error: String, usage: String) -> CliExit {
    CliExit::Usage { error, usage }
}

fn help_for(topic: Option<&String>) -> Result<String, CliExit> {
    match topic {
        None => Ok(help::main_help()),
        Some(name) => known_command(name).map(help::command_help),
    }
}

/// The subcommand `name`, or runc's words for an unknown one.
fn known_command(name: &str) -> Result<&'static CommandSpec, CliExit> {
    table::find(name).ok_or_else(|| CliExit::NoSuchCommand(format!("No help topic for '{name}'")))
}

fn global_flags(m: Matches) -> Result<Cli, String> {
    let rootless = m.value("rootless");
    let systemd_cgroup = m.is_set("systemd-cgroup");
    let rootless_cgroups = match parse_bool_or_auto(rootless.as_deref().unwrap_or("auto")) {
        Ok(Some(value)) => value,
        Ok(None) => caller_is_rootless(systemd_cgroup),
        Err(()) => {
            return Err(format!(
                "invalid --rootless value {:?}: true, false or auto",
                rootless.unwrap_or_default()
            ))
        }
    };
    let xdg_root = m.value("root").is_none().then(xdg_state_root).flatten();
    Ok(Cli {
        version: m.is_set("version"),
        xdg_root: xdg_root.is_some(),
        root: m
            .value("root")
            .map(PathBuf::from)
            .or(xdg_root)
            .unwrap_or_else(|| "/run/berth".into()),
        log: m.value("log").map(PathBuf::from),
        log_format: m.value("log-format").unwrap_or_else(|| "text".into()),
        debug: m.is_set("debug"),
        systemd_cgroup,
        rootless_cgroups,
        rest: m.positionals,
    })
}

/// `--rootless`'s value as runc reads it: `auto` (any case) or empty is
/// `None`, else Go's boolean spellings (`1`, `t`, `TRUE`, `false`, ...).
fn parse_bool_or_auto(value: &str) -> Result<Option<bool>, ()> {
    match value {
        "" => Ok(None),
        v if v.eq_ignore_ascii_case("auto") => Ok(None),
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Some(true)),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Some(false)),
        _ => Err(()),
    }
}

/// runc's `--rootless auto`: not root, or root inside a user namespace;
/// there, with the systemd driver, only when the user bus belongs to
/// another uid than 0 (a rootful systemd in a user namespace is root's; a
/// bus that cannot be asked counts as root's, as in runc).
fn caller_is_rootless(systemd_cgroup: bool) -> bool {
    if !nix::unistd::geteuid().is_root() {
        return true;
    }
    if !berth_process::running_in_user_namespace() {
        return false;
    }
    !systemd_cgroup || berth_cgroups::systemd::user_bus_uid().is_ok_and(|uid| uid != 0)
}

/// The default state root under `$XDG_RUNTIME_DIR`, where runc uses one:
/// see [`xdg_root_for`].
fn xdg_state_root() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty())?;
    let euid_root = nix::unistd::geteuid().is_root();
    let in_userns = euid_root && berth_process::running_in_user_namespace();
    let user = std::env::var("USER").ok();
    xdg_root_for(Path::new(&xdg), euid_root, in_userns, user.as_deref())
}

/// runc's rule: `$XDG_RUNTIME_DIR/<name>` when the caller is not root, or
/// is root in a user namespace and `$USER` is unset or not `root`; the
/// host's root keeps `/run/berth`.
fn xdg_root_for(
    xdg: &Path,
    euid_root: bool,
    in_userns: bool,
    user: Option<&str>,
) -> Option<PathBuf> {
    let honour = !euid_root || (in_userns && user != Some("root"));
    honour.then(|| xdg.join("berth"))
}

/// runc's argument-count errors (`"kill" requires a minimum of 1 argument(s)`).
fn check_argument_count(spec: &CommandSpec, m: &Matches) -> Result<(), CliExit> {
    let (min, max) = spec.arguments;
    let n = m.positionals.len();
    let error = if min == max && n != min {
        format!("{:?} requires exactly {min} argument(s)", spec.name)
    } else if n < min {
        format!("{:?} requires a minimum of {min} argument(s)", spec.name)
    } else if n > max {
        format!("{:?} requires a maximum of {max} argument(s)", spec.name)
    } else {
        return Ok(());
    };
    Err(usage_error(error, help::command_help(spec)))
}

/// Builds the command from its checked matches.
fn command(spec: &CommandSpec, m: Matches) -> Result<Command, String> {
    let id = || m.positionals.first().cloned().unwrap_or_default();
    Ok(match spec.name {
        "create" => Command::Create(create_args(&m)?),
        "run" => Command::Run(RunArgs {
            create: create_args(&m)?,
            detach: m.is_set("detach"),
            keep: m.is_set("keep"),
            no_subreaper: m.is_set("no-subreaper"),
        }),
        "start" => Command::Start { id: id() },
        "exec" => Command::Exec(Box::new(exec_args(&m)?)),
        "state" => Command::State { id: id() },
        "kill" => Command::Kill {
            all: m.is_set("all"),
            id: id(),
            signal: m
                .positionals
                .get(1)
                .cloned()
                .unwrap_or_else(|| "SIGTERM".into()),
        },
        "delete" => Command::Delete {
            force: m.is_set("force"),
            id: id(),
        },
        "events" => Command::Events {
            interval: match m.value("interval") {
                Some(text) => {
                    go_duration(&text).ok_or_else(|| flags::invalid_value("interval", &text))?
                }
                None => Duration::from_secs(5),
            },
            stats: m.is_set("stats"),
            id: id(),
        },
        "list" => Command::List {
            format: ListFormat::parse(m.value("format"))?,
            quiet: m.is_set("quiet"),
        },
        "pause" => Command::Pause { id: id() },
        "resume" => Command::Resume { id: id() },
        "ps" => Command::Ps {
            format: ListFormat::parse(m.value("format"))?,
            id: id(),
            ps_args: m.positionals[1..].to_vec(),
        },
        "update" => Command::Update(Box::new(update_args(&m)?)),
        "spec" => Command::Spec {
            bundle: m.value("bundle").unwrap_or_else(|| ".".into()).into(),
            rootless: m.is_set("rootless"),
        },
        "features" => Command::Features,
        "checkpoint" => Command::Checkpoint { id: id() },
        "restore" => Command::Restore { id: id() },
        other => unreachable!("command {other} is in the table but not built"),
    })
}

fn create_args(m: &Matches) -> Result<CreateArgs, String> {
    Ok(CreateArgs {
        bundle: m.value("bundle").unwrap_or_else(|| ".".into()).into(),
        console_socket: m.value("console-socket").map(PathBuf::from),
        pidfd_socket: m.value("pidfd-socket").map(PathBuf::from),
        pid_file: m.value("pid-file").map(PathBuf::from),
        no_pivot: m.is_set("no-pivot"),
        no_new_keyring: m.is_set("no-new-keyring"),
        preserve_fds: m.number("preserve-fds")?.unwrap_or(0),
        id: m.positionals[0].clone(),
    })
}

fn exec_args(m: &Matches) -> Result<ExecArgs, String> {
    Ok(ExecArgs {
        console_socket: m.value("console-socket").map(PathBuf::from),
        pidfd_socket: m.value("pidfd-socket").map(PathBuf::from),
        cwd: m.value("cwd").map(PathBuf::from),
        env: m.values("env"),
        tty: m.is_set("tty"),
        user: m.value("user"),
        additional_gids: m.numbers("additional-gids")?,
        process: m.value("process").map(PathBuf::from),
        detach: m.is_set("detach"),
        pid_file: m.value("pid-file").map(PathBuf::from),
        process_label: m.value("process-label"),
        apparmor: m.value("apparmor"),
        no_new_privs: m.is_set("no-new-privs"),
        cap: m.values("cap"),
        preserve_fds: m.number("preserve-fds")?.unwrap_or(0),
        ignore_paused: m.is_set("ignore-paused"),
        cgroup: m.values("cgroup"),
        id: m.positionals[0].clone(),
        command: m.positionals[1..].to_vec(),
    })
}

fn update_args(m: &Matches) -> Result<UpdateArgs, String> {
    Ok(UpdateArgs {
        resources: m.value("resources"),
        blkio_weight: m.number("blkio-weight")?,
        cpu_period: m.number("cpu-period")?,
        cpu_quota: m.number("cpu-quota")?,
        cpu_share: m.number("cpu-share")?,
        cpu_rt_period: m.number("cpu-rt-period")?,
        cpu_rt_runtime: m.number("cpu-rt-runtime")?,
        cpuset_cpus: m.value("cpuset-cpus"),
        cpuset_mems: m.value("cpuset-mems"),
        memory: m.value("memory"),
        memory_reservation: m.value("memory-reservation"),
        memory_swap: m.value("memory-swap"),
        pids_limit: m.number("pids-limit")?,
        l3_cache_schema: m.value("l3-cache-schema"),
        mem_bw_schema: m.value("mem-bw-schema"),
        id: m.positionals[0].clone(),
    })
}

/// A Go duration (`5s`, `1m30s`, `250ms`, `1.5h`); it must be positive.
fn go_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let value: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * seconds_per_unit;
        rest = &rest[unit_len..];
    }
    (total > 0.0).then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests;
