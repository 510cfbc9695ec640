//! Help text, written from the command table.

use std::fmt::Write;

use super::flags::FlagSpec;
use super::table::{CommandSpec, COMMANDS, GLOBAL_FLAGS};

/// `berth --help`: the usage, every command and the global options.
pub fn main_help() -> String {
    let mut out = String::from(
        "NAME:\n   berth - an OCI container runtime, compatible with runc\n\n\
         USAGE:\n   berth [global options] command [command options] [arguments...]\n\n\
         COMMANDS:\n",
    );
    let width = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in COMMANDS {
        let _ = writeln!(out, "   {:width$}  {}", c.name, c.summary);
    }
    let _ = writeln!(out, "   {:width$}  show the help of a command", "help");
    out.push_str("\nGLOBAL OPTIONS:\n");
    out.push_str(&options(&[GLOBAL_FLAGS]));
    out
}

/// `berth <command> --help`.
pub fn command_help(c: &CommandSpec) -> String {
    let mut out = format!(
        "NAME:\n   berth {} - {}\n\nUSAGE:\n   berth {}{}{}\n",
        c.name,
        c.summary,
        c.name,
        if c.flags.is_empty() {
            ""
        } else {
            " [command options]"
        },
        if c.usage.is_empty() {
            String::new()
        } else {
            format!(" {}", c.usage)
        },
    );
    if !c.flags.is_empty() {
        out.push_str("\nOPTIONS:\n");
        out.push_str(&options(c.flags));
    }
    out
}

/// One line per flag: `--bundle value, -b value  help`.
fn options(groups: &[&[FlagSpec]]) -> String {
    let flags: Vec<&FlagSpec> = groups.iter().flat_map(|group| group.iter()).collect();
    let spellings: Vec<String> = flags.iter().map(|flag| spelling(flag)).collect();
    let width = spellings.iter().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for (flag, spelled) in flags.iter().zip(&spellings) {
        let _ = writeln!(out, "   {spelled:width$}  {}", flag.help);
    }
    out
}

fn spelling(flag: &FlagSpec) -> String {
    let value = flag.value.map(|v| format!(" {v}")).unwrap_or_default();
    flag.names
        .iter()
        .map(|name| {
            let dashes = if name.len() == 1 { "-" } else { "--" };
            format!("{dashes}{name}{value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
