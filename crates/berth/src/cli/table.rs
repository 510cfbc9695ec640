//! Every subcommand and flag berth accepts, as data: the parser, the help
//! and the argument-count checks all read this one table.

use super::flags::{FlagSpec, Placement};

/// One subcommand.
#[derive(Debug)]
pub struct CommandSpec {
    pub name: &'static str,
    /// One line for the command list.
    pub summary: &'static str,
    /// The arguments after the options, for the usage line.
    pub usage: &'static str,
    /// Its flags, in groups that commands may share.
    pub flags: &'static [&'static [FlagSpec]],
    /// Fewest and most positional arguments.
    pub arguments: (usize, usize),
    pub placement: Placement,
}

const fn flag(names: &'static [&'static str], help: &'static str) -> FlagSpec {
    FlagSpec {
        names,
        value: None,
        help,
    }
}

const fn valued(names: &'static [&'static str], help: &'static str) -> FlagSpec {
    FlagSpec {
        names,
        value: Some("value"),
        help,
    }
}

pub const GLOBAL_FLAGS: &[FlagSpec] = &[
    flag(&["debug"], "log debug messages too"),
    valued(&["log"], "write log lines to this file instead of stderr"),
    valued(&["log-format"], "log line format: text (default) or json"),
    valued(
        &["root"],
        "directory for the containers' state (default: \"/run/berth\"; $XDG_RUNTIME_DIR/berth when not root)",
    ),
    // go-runc passes it with every command; only checkpoint/restore (which
    // berth refuses) would use it.
    valued(
        &["criu"],
        "path to criu (accepted; berth has no checkpointing)",
    ),
    flag(
        &["systemd-cgroup"],
        "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. \"system.slice:runc:434234\"",
    ),
    valued(
        &["rootless"],
        "ignore cgroup permission errors: true, false or auto",
    ),
    flag(&["version", "v"], "print the version"),
];

const ID: &str = "<container-id>";
const MANY: usize = usize::MAX;

const CREATE_FLAGS: &[FlagSpec] = &[
    valued(&["bundle", "b"], "bundle directory (default: \".\")"),
    valued(
        &["console-socket"],
        "unix socket that receives the pty master",
    ),
    valued(
        &["pidfd-socket"],
        "unix socket that receives a pidfd of init",
    ),
    valued(&["pid-file"], "file to write the init's pid to"),
    flag(
        &["no-pivot"],
        "use MS_MOVE and chroot instead of pivot_root",
    ),
    flag(&["no-new-keyring"], "keep the caller's session keyring"),
    valued(
        &["preserve-fds"],
        "pass this many extra fds (3, 4, ...) to the container",
    ),
];

/// `run`'s flags besides `create`'s.
const RUN_ONLY_FLAGS: &[FlagSpec] = &[
    flag(&["detach", "d"], "return once the container has started"),
    flag(&["keep"], "keep the container's state after it exits"),
    flag(
        &["no-subreaper"],
        "do not become a subreaper for the container's processes",
    ),
];

const EXEC_FLAGS: &[FlagSpec] = &[
    valued(
        &["console-socket"],
        "unix socket that receives the pty master (with --tty)",
    ),
    valued(
        &["pidfd-socket"],
        "unix socket that receives a pidfd of the process",
    ),
    valued(&["cwd"], "working directory inside the container"),
    valued(
        &["env", "e"],
        "add an environment variable KEY=value (repeatable)",
    ),
    flag(&["tty", "t"], "allocate a pseudo-terminal"),
    valued(&["user", "u"], "uid[:gid] to run as"),
    valued(&["additional-gids", "g"], "an additional gid (repeatable)"),
    valued(&["process", "p"], "a process.json (an OCI process object)"),
    flag(&["detach", "d"], "do not wait for the process"),
    valued(&["pid-file"], "file to write the process's pid to"),
    valued(&["process-label"], "SELinux label (not supported)"),
    valued(&["apparmor"], "AppArmor profile for the process"),
    flag(&["no-new-privs"], "set no_new_privs"),
    valued(
        &["cap", "c"],
        "add a capability to the process's sets (repeatable)",
    ),
    valued(
        &["preserve-fds"],
        "pass this many extra fds (3, 4, ...) to the process",
    ),
    flag(&["ignore-paused"], "exec even into a paused container"),
    valued(
        &["cgroup"],
        "existing sub-cgroup to run in: [controller[,controller]:]path (repeatable)",
    ),
];

const EVENTS_FLAGS: &[FlagSpec] = &[
    valued(&["interval"], "time between two statistics (default: 5s)"),
    flag(&["stats"], "print the statistics once, then exit"),
];

const KILL_FLAGS: &[FlagSpec] = &[flag(
    &["all", "a"],
    "signal every process in the container's cgroup",
)];

const DELETE_FLAGS: &[FlagSpec] = &[flag(&["force", "f"], "kill the container first if it runs")];

const FORMAT_FLAG: FlagSpec = valued(&["format", "f"], "table (default) or json");

const LIST_FLAGS: &[FlagSpec] = &[FORMAT_FLAG, flag(&["quiet", "q"], "print only the ids")];

const PS_FLAGS: &[FlagSpec] = &[FORMAT_FLAG];

const UPDATE_FLAGS: &[FlagSpec] = &[
    valued(
        &["resources", "r"],
        "a LinuxResources JSON file, or - for stdin",
    ),
    valued(&["blkio-weight"], "block IO weight (10-1000)"),
    valued(&["cpu-period"], "CPU CFS period in microseconds"),
    valued(&["cpu-quota"], "CPU CFS quota in microseconds"),
    valued(&["cpu-share"], "CPU shares (relative weight)"),
    valued(&["cpu-rt-period"], "CPU real-time period in microseconds"),
    valued(&["cpu-rt-runtime"], "CPU real-time runtime in microseconds"),
    valued(&["cpuset-cpus"], "CPUs to run on (0-3, 0,1)"),
    valued(&["cpuset-mems"], "memory nodes to use (0-3, 0,1)"),
    valued(&["memory"], "memory limit in bytes (suffixes k, m, g)"),
    valued(&["memory-reservation"], "memory soft limit in bytes"),
    valued(
        &["memory-swap"],
        "memory plus swap limit in bytes; -1 for unlimited",
    ),
    valued(&["pids-limit"], "most processes in the container"),
    valued(
        &["l3-cache-schema"],
        "Intel RDT L3 cache schema (not supported)",
    ),
    valued(
        &["mem-bw-schema"],
        "Intel RDT memory bandwidth schema (not supported)",
    ),
];

/// What `checkpoint` and `restore` share: runc's CRIU options. berth parses
/// them and refuses both commands (CRIU is not integrated).
const CRIU_FLAGS: &[FlagSpec] = &[
    valued(&["image-path"], "path for the criu image files"),
    valued(&["work-path"], "path for criu's work files and logs"),
    flag(&["tcp-established"], "allow open tcp connections"),
    flag(&["ext-unix-sk"], "allow external unix sockets"),
    flag(&["shell-job"], "allow shell jobs"),
    flag(&["file-locks"], "handle file locks"),
    flag(&["lazy-pages"], "restore memory pages lazily (userfaultfd)"),
    valued(
        &["manage-cgroups-mode"],
        "cgroups mode: soft (default), full or strict",
    ),
    valued(
        &["empty-ns"],
        "create a namespace, but do not restore its properties",
    ),
    flag(&["auto-dedup"], "deduplicate memory images"),
];

const CHECKPOINT_ONLY_FLAGS: &[FlagSpec] = &[
    valued(&["parent-path"], "path of a previous pre-dump's images"),
    flag(&["leave-running"], "leave the container running"),
    valued(
        &["status-fd"],
        "fd criu writes \\0 to once lazy pages are ready",
    ),
    valued(&["page-server"], "ADDRESS:PORT of the page server"),
    flag(
        &["pre-dump"],
        "dump the memory only, leave the container running",
    ),
];

const RESTORE_ONLY_FLAGS: &[FlagSpec] = &[
    valued(
        &["console-socket"],
        "unix socket that receives the pty master",
    ),
    valued(&["bundle", "b"], "bundle directory"),
    flag(&["detach", "d"], "detach from the container's process"),
    valued(&["pid-file"], "file to write the process's pid to"),
    flag(&["no-subreaper"], "do not become a subreaper"),
    flag(
        &["no-pivot"],
        "use MS_MOVE and chroot instead of pivot_root",
    ),
    valued(&["lsm-profile"], "LSM profile TYPE:NAME for the restore"),
    valued(&["lsm-mount-context"], "LSM mount context for the restore"),
];

const SPEC_FLAGS: &[FlagSpec] = &[
    valued(
        &["bundle", "b"],
        "where to write config.json (default: \".\")",
    ),
    flag(&["rootless"], "a config for rootless containers"),
];

const fn command(
    name: &'static str,
    summary: &'static str,
    usage: &'static str,
    flags: &'static [&'static [FlagSpec]],
    arguments: (usize, usize),
) -> CommandSpec {
    CommandSpec {
        name,
        summary,
        usage,
        flags,
        arguments,
        placement: Placement::Anywhere,
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    command(
        "create",
        "create a container; its process waits for start",
        ID,
        &[CREATE_FLAGS],
        (1, 1),
    ),
    command("start", "start a created container", ID, &[], (1, 1)),
    command(
        "run",
        "create and start a container",
        ID,
        &[CREATE_FLAGS, RUN_ONLY_FLAGS],
        (1, 1),
    ),
    // Everything after the id is the command: flags end there.
    CommandSpec {
        placement: Placement::BeforeArguments,
        ..command(
            "exec",
            "run a new process in a running container",
            "<container-id> <command> [command options]",
            &[EXEC_FLAGS],
            (1, MANY),
        )
    },
    command(
        "state",
        "print a container's state as JSON",
        ID,
        &[],
        (1, 1),
    ),
    command(
        "kill",
        "send a signal (default SIGTERM) to a container's init",
        "<container-id> [signal]",
        &[KILL_FLAGS],
        (1, 2),
    ),
    command("delete", "delete a container", ID, &[DELETE_FLAGS], (1, 1)),
    command(
        "events",
        "print a container's resource statistics and OOM events as JSON lines",
        ID,
        &[EVENTS_FLAGS],
        (1, 1),
    ),
    command(
        "list",
        "list the containers under --root",
        "",
        &[LIST_FLAGS],
        (0, 0),
    ),
    command(
        "pause",
        "freeze every process of a container",
        ID,
        &[],
        (1, 1),
    ),
    command("resume", "thaw a paused container", ID, &[], (1, 1)),
    CommandSpec {
        placement: Placement::BeforeArguments,
        ..command(
            "ps",
            "list a container's processes",
            "<container-id> [ps options]",
            &[PS_FLAGS],
            (1, MANY),
        )
    },
    command(
        "update",
        "change a container's cgroup resources",
        ID,
        &[UPDATE_FLAGS],
        (1, 1),
    ),
    command(
        "spec",
        "write a default config.json",
        "",
        &[SPEC_FLAGS],
        (0, 0),
    ),
    command(
        "checkpoint",
        "checkpoint a running container (not supported: needs CRIU)",
        ID,
        &[CRIU_FLAGS, CHECKPOINT_ONLY_FLAGS],
        (1, 1),
    ),
    command(
        "restore",
        "restore a container from a checkpoint (not supported: needs CRIU)",
        ID,
        &[CRIU_FLAGS, RESTORE_ONLY_FLAGS],
        (1, 1),
    ),
    command(
        "features",
        "print what this runtime supports, as JSON",
        "",
        &[],
        (0, 0),
    ),
];

/// The subcommand called `name`.
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}
