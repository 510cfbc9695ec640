//! Is a container's init still the process we started? Pids are reused,
//! so a pid counts as ours only while its start time matches.

/// The fields of /proc/<pid>/stat we need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// One-letter state (R, S, D, Z, X, T...).
    pub state: char,
    /// Start time in clock ticks since boot (field 22).
    pub start_time: u64,
}

/// Parse /proc/<pid>/stat text; the command name may hold spaces and
/// parentheses, so fields are counted after the last ')'.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// The stat of `pid`, or None when there is no such process.
pub fn stat_of(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// True while `pid` is alive (not a zombie) and started at `start_time`.
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    pid > 0
        && matches!(stat_of(pid), Some(s) if s.start_time == start_time && !matches!(s.state, 'Z' | 'X'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_with_parens_and_spaces_parse() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000 10";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.start_time, 12345);
    }

    #[test]
    fn our_own_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = std::process::id() as i32;
        let st = stat_of(me).unwrap();
        assert!(is_alive(me, st.start_time));
        assert!(!is_alive(me, st.start_time + 1));
        assert!(!is_alive(0, 0));
    }
}
