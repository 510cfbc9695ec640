//! Log lines as runc writes them, through `tracing`:
//! text `time="..." level=error msg="..."` or JSON
//! `{"level":"error","msg":"...","time":"..."}`, one line per message, to
//! `--log FILE` or stderr.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use berth_container::timefmt::rfc3339;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::cli::LogFormat;

/// Where and how log lines go.
pub struct Logger {
    sink: Mutex<Box<dyn Write + Send>>,
    format: LogFormat,
    max_level: Level,
}

/// True when log lines go to stderr (then errors are not printed twice).
pub struct LogTarget {
    pub to_stderr: bool,
}

/// Install the global logger. A log file that cannot be opened is an error
/// of its own, reported on stderr.
pub fn init(log: Option<&Path>, format: LogFormat, debug: bool) -> Result<LogTarget, String> {
    let (sink, to_stderr): (Box<dyn Write + Send>, bool) = match log {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o644)
                .open(path)
                .map_err(|e| format!("open log file {}: {e}", path.display()))?;
            (Box::new(file), false)
        }
        None => (Box::new(std::io::stderr()), true),
    };
    let logger = Logger {
        sink: Mutex::new(sink),
        format,
        max_level: if debug { Level::DEBUG } else { Level::INFO },
    };
    let _ = tracing::subscriber::set_global_default(logger);
    Ok(LogTarget { to_stderr })
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// Go's %q quoting, which logrus' text format uses for values.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One formatted line (without the newline). An error caused by an OS
/// error carries its number as `errno` in the JSON line (a key runc does
/// not write; JSON readers such as containerd's and podman's take the keys
/// they know), after runc's keys; the text line stays runc's.
pub fn format_line(
    format: LogFormat,
    level: &Level,
    msg: &str,
    errno: Option<i64>,
    time: SystemTime,
) -> String {
    let time = rfc3339(time);
    match format {
        LogFormat::Json => {
            let mut line = serde_json::json!({
                "level": level_name(level),
                "msg": msg,
                "time": time,
            });
            if let Some(errno) = errno {
                line["errno"] = errno.into();
            }
            line.to_string()
        }
        LogFormat::Text => format!(
            "time={} level={} msg={}",
            go_quote(&time),
            level_name(level),
            go_quote(msg)
        ),
    }
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
    errno: Option<i64>,
}

impl Visit for MessageVisitor {
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "errno" {
            self.errno = Some(value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.message, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.message, " {}={value}", field.name());
        }
    }
}

impl Subscriber for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= &self.max_level
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        let line = format_line(
            self.format,
            event.metadata().level(),
            &visitor.message,
            visitor.errno,
            SystemTime::now(),
        );
        if let Ok(mut sink) = self.sink.lock() {
            let _ = writeln!(sink, "{line}");
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn json_lines_have_runc_keys_in_order() {
        let t = UNIX_EPOCH + Duration::from_secs(60);
        let line = format_line(LogFormat::Json, &Level::ERROR, "boom \"x\"", None, t);
        assert_eq!(
            line,
            r#"{"level":"error","msg":"boom \"x\"","time":"1970-01-01T00:01:00Z"}"#
        );
    }

    #[test]
    fn json_lines_carry_the_errno_of_the_cause() {
        let t = UNIX_EPOCH;
        let line = format_line(
            LogFormat::Json,
            &Level::ERROR,
            "x: permission denied",
            Some(13),
            t,
        );
        assert_eq!(
            line,
            r#"{"level":"error","msg":"x: permission denied","time":"1970-01-01T00:00:00Z","errno":13}"#
        );
        let text = format_line(LogFormat::Text, &Level::ERROR, "x", Some(13), t);
        assert_eq!(text, r#"time="1970-01-01T00:00:00Z" level=error msg="x""#);
    }

    #[test]
    fn text_lines_quote_like_logrus() {
        let t = UNIX_EPOCH;
        let line = format_line(LogFormat::Text, &Level::WARN, "a \"b\"\n", None, t);
        assert_eq!(
            line,
            r#"time="1970-01-01T00:00:00Z" level=warning msg="a \"b\"\n""#
        );
    }
}
