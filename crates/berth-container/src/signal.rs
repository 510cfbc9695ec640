//! Signal names and numbers as `kill` accepts them: `KILL`, `SIGKILL`,
//! `sigkill`, `9`.

use std::str::FromStr;

use nix::sys::signal::Signal;

use crate::ContainerError;

/// Parse a signal given by name (with or without `SIG`, any case) or by
/// number.
pub fn parse_signal(text: &str) -> Result<Signal, ContainerError> {
    let unknown = || ContainerError::Config(format!("unknown signal {text:?}"));
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| unknown());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_prefixes() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("SIGKILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("term").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("15").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), Signal::SIGUSR1);
    }

    #[test]
    fn unknown_signals_are_refused() {
        for bad in ["FOO", "0", "999", "", "-1"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
