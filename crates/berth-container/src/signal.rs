//! Signal names and numbers as `kill` accepts them: `KILL`, `SIGKILL`,
//! `sigkill`, `9`.

use std::str::FromStr;

use nix::sys::signal::Signal;

use crate::ContainerError;

/// Parse a signal given by name (with or without `SIG`, any case) or by
/// number. `0` is `None`: no signal, only the checks (runc accepts it).
pub fn parse_signal(text: &str) -> Result<Option<Signal>, ContainerError> {
    let unknown = || ContainerError::Config(format!("unknown signal {text:?}"));
    if let Ok(n) = text.parse::<i32>() {
        return match n {
            0 => Ok(None),
            n => Signal::try_from(n).map(Some).map_err(|_| unknown()),
        };
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map(Some).map_err(|_| unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_prefixes() {
        assert_eq!(parse_signal("KILL").unwrap(), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("SIGKILL").unwrap(), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("term").unwrap(), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("9").unwrap(), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("15").unwrap(), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("SIGUSR1").unwrap(), Some(Signal::SIGUSR1));
    }

    #[test]
    fn zero_is_no_signal() {
        assert_eq!(parse_signal("0").unwrap(), None);
    }

    #[test]
    fn unknown_signals_are_refused() {
        for bad in ["FOO", "SIG0", "999", "", "-1"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
