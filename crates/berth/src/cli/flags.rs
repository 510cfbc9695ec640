//! A flag parser with runc's rules (Go's `flag` package under urfave/cli v1):
//! `-name` and `--name` alike, a value as `--name=v` or as the next argument,
//! bool flags as `--name` or `--name=false`, `--` ends the flags, and `-h`,
//! `--help` ask for help. Where the command allows it, flags may also follow
//! the positional arguments (urfave/cli's argument reordering).

/// One flag a command accepts.
#[derive(Debug)]
pub struct FlagSpec {
    /// The long name first, then any one-letter alias (`["bundle", "b"]`).
    pub names: &'static [&'static str],
    /// The value's placeholder in the help (`Some("value")`); `None` for a bool.
    pub value: Option<&'static str>,
    /// One line for the help.
    pub help: &'static str,
}

impl FlagSpec {
    fn long(&self) -> &'static str {
        self.names[0]
    }

    fn takes_value(&self) -> bool {
        self.value.is_some()
    }
}

/// What the arguments of one command said.
#[derive(Debug, Default)]
pub struct Matches {
    /// (long name, value) in order; bool flags carry "true" or "false".
    flags: Vec<(&'static str, String)>,
    /// The arguments that are not flags, in order.
    pub positionals: Vec<String>,
    /// `-h` or `--help` was given.
    pub help: bool,
}

impl Matches {
    /// Every value given for flag `long`, in order.
    pub fn values(&self, long: &str) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(name, _)| *name == long)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// The last value given for flag `long` (a later flag wins, as in Go).
    pub fn value(&self, long: &str) -> Option<String> {
        self.values(long).pop()
    }

    /// Whether bool flag `long` is set (its last occurrence decides).
    pub fn is_set(&self, long: &str) -> bool {
        self.value(long).is_some_and(|v| v == "true")
    }

    /// The last value of `long` parsed as a number, in Go's words on failure.
    pub fn number<T: std::str::FromStr>(&self, long: &str) -> Result<Option<T>, String> {
        self.value(long).map(|v| parse_number(long, &v)).transpose()
    }

    /// Every value of a repeatable flag `long` parsed as a number.
    pub fn numbers<T: std::str::FromStr>(&self, long: &str) -> Result<Vec<T>, String> {
        self.values(long)
            .iter()
            .map(|v| parse_number(long, v))
            .collect()
    }
}

fn parse_number<T: std::str::FromStr>(long: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| invalid_value(long, value))
}

/// Go's words for a flag value that does not parse.
pub fn invalid_value(long: &str, value: &str) -> String {
    format!("invalid value {value:?} for flag -{long}: parse error")
}

/// How flags may be placed among the positional arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Flags end at the first positional argument (global flags, `exec`, `ps`).
    BeforeArguments,
    /// Flags may come anywhere before `--` (most subcommands).
    Anywhere,
}

/// Parses `args` against the flags of `groups` (a command's own flags may
/// be shared groups plus its own). Returns the matches and, with
/// `Placement::BeforeArguments`, stops at the first positional argument: it
/// and everything after it land in `positionals`.
pub fn parse(
    groups: &[&[FlagSpec]],
    args: &[String],
    placement: Placement,
) -> Result<Matches, String> {
    let mut matches = Matches::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            matches.positionals.extend(rest.by_ref().cloned());
            break;
        }
        let Some(flag) = flag_text(arg) else {
            matches.positionals.push(arg.clone());
            if placement == Placement::BeforeArguments {
                matches.positionals.extend(rest.by_ref().cloned());
                break;
            }
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (flag, None),
        };
        if name == "h" || name == "help" {
            matches.help = true;
            continue;
        }
        let spec = find(groups, name)?;
        let value = flag_value(spec, name, inline, &mut rest)?;
        matches.flags.push((spec.long(), value));
    }
    Ok(matches)
}

/// The flag name (and `=value`) of an argument that is a flag: one or two
/// dashes then a name. `-` alone and `-1`-like numbers are arguments.
fn flag_text(arg: &str) -> Option<&str> {
    let text = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    let first = text.chars().next()?;
    (first != '-' && first != '=' && !first.is_ascii_digit()).then_some(text)
}

fn find<'a>(groups: &[&'a [FlagSpec]], name: &str) -> Result<&'a FlagSpec, String> {
    groups
        .iter()
        .flat_map(|group| group.iter())
        .find(|spec| spec.names.contains(&name))
        .ok_or_else(|| format!("flag provided but not defined: -{name}"))
}

/// The value of one occurrence: inline, the next argument, or a bool's
/// "true"/"false".
fn flag_value<'a>(
    spec: &FlagSpec,
    name: &str,
    inline: Option<String>,
    rest: &mut impl Iterator<Item = &'a String>,
) -> Result<String, String> {
    if !spec.takes_value() {
        return match inline.as_deref() {
            None => Ok("true".into()),
            Some(text) => parse_bool(text)
                .map(|b| b.to_string())
                .ok_or_else(|| format!("invalid boolean value {text:?} for -{name}: parse error")),
        };
    }
    match inline {
        Some(value) => Ok(value),
        None => rest
            .next()
            .cloned()
            .ok_or_else(|| format!("flag needs an argument: -{name}")),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[FlagSpec] = &[
        FlagSpec {
            names: &["bundle", "b"],
            value: Some("value"),
            help: "",
        },
        FlagSpec {
            names: &["force", "f"],
            value: None,
            help: "",
        },
        FlagSpec {
            names: &["env", "e"],
            value: Some("value"),
            help: "",
        },
    ];

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn parse_anywhere(list: &[&str]) -> Result<Matches, String> {
        parse(&[SPECS], &args(list), Placement::Anywhere)
    }

    #[test]
    fn one_or_two_dashes_inline_or_next_value() {
        for list in [
            &["--bundle", "/b", "id"][..],
            &["-bundle", "/b", "id"],
            &["--bundle=/b", "id"],
            &["-b", "/b", "id"],
            &["-b=/b", "id"],
        ] {
            let m = parse_anywhere(list).unwrap();
            assert_eq!(m.value("bundle").as_deref(), Some("/b"), "{list:?}");
            assert_eq!(m.positionals, ["id"], "{list:?}");
        }
    }

    #[test]
    fn flags_after_arguments_only_where_allowed() {
        let m = parse_anywhere(&["id", "--force"]).unwrap();
        assert!(m.is_set("force"));
        assert_eq!(m.positionals, ["id"]);
        let m = parse(
            &[SPECS],
            &args(&["id", "--force"]),
            Placement::BeforeArguments,
        )
        .unwrap();
        assert!(!m.is_set("force"));
        assert_eq!(m.positionals, ["id", "--force"]);
    }

    #[test]
    fn double_dash_ends_flags() {
        let m = parse_anywhere(&["-f", "--", "-b", "x"]).unwrap();
        assert!(m.is_set("force"));
        assert_eq!(m.positionals, ["-b", "x"]);
    }

    #[test]
    fn bools_take_go_spellings_and_the_last_one_wins() {
        assert!(!parse_anywhere(&["--force", "--force=false"])
            .unwrap()
            .is_set("force"));
        assert!(parse_anywhere(&["--force=T"]).unwrap().is_set("force"));
        let err = parse_anywhere(&["--force=yes"]).unwrap_err();
        assert!(err.contains("invalid boolean value"), "{err}");
    }

    #[test]
    fn repeated_values_are_all_kept() {
        let m = parse_anywhere(&["-e", "A=1", "--env=B=2"]).unwrap();
        assert_eq!(m.values("env"), ["A=1", "B=2"]);
    }

    #[test]
    fn value_may_start_with_a_dash() {
        let m = parse_anywhere(&["--bundle", "-", "id"]).unwrap();
        assert_eq!(m.value("bundle").as_deref(), Some("-"));
        let m = parse_anywhere(&["--bundle", "--force"]).unwrap();
        assert_eq!(m.value("bundle").as_deref(), Some("--force"));
    }

    #[test]
    fn dash_and_negative_numbers_are_arguments() {
        let m = parse_anywhere(&["-", "-1"]).unwrap();
        assert_eq!(m.positionals, ["-", "-1"]);
    }

    #[test]
    fn unknown_flags_and_missing_values_are_named() {
        assert_eq!(
            parse_anywhere(&["--bogus"]).unwrap_err(),
            "flag provided but not defined: -bogus"
        );
        assert_eq!(
            parse_anywhere(&["--bundle"]).unwrap_err(),
            "flag needs an argument: -bundle"
        );
    }

    #[test]
    fn help_is_noticed_anywhere() {
        assert!(parse_anywhere(&["id", "-h"]).unwrap().help);
        assert!(parse_anywhere(&["--help"]).unwrap().help);
    }

    #[test]
    fn numbers_are_checked() {
        let m = parse_anywhere(&["-b", "12"]).unwrap();
        assert_eq!(m.number::<u32>("bundle").unwrap(), Some(12));
        let m = parse_anywhere(&["-b", "x"]).unwrap();
        assert!(m.number::<u32>("bundle").unwrap_err().contains("-bundle"));
    }
}
