//! The JSON path of a serde error (`process.rlimits[0].type`), found from
//! the error's line and column by a small scan of the text: serde_json
//! gives only the position, and wrapping the deserializer to track the path
//! (serde_path_to_error) cost 225 KiB of stripped release binary (a second
//! copy of every `Deserialize` impl of the spec), this scan 2.4 KiB.

/// serde's text for `err` from parsing `text`, led by the JSON path of the
/// value it refuses when that is known: `process.terminal: invalid type:
/// string "yes", expected a boolean at line 1 column 57`.
pub fn describe_error(err: &serde_json::Error, text: &[u8]) -> String {
    let data = err.classify() == serde_json::error::Category::Data;
    match path_at(text, err.line(), err.column()).filter(|p| data && !p.is_empty()) {
        Some(path) => format!("{path}: {err}"),
        None => err.to_string(),
    }
}

/// One level of nesting: an object with the key being read or last read,
/// or an array with the index of the element being read.
enum Level {
    Object { key: Option<String>, in_key: bool },
    Array(usize),
}

/// The path of the value the scan is in (or just ended) at 1-based `line`
/// and `column`, serde_json's error position.
fn path_at(text: &[u8], line: usize, column: usize) -> Option<String> {
    let line_start = match line {
        0 => return None,
        1 => 0,
        n => {
            let newline = text.iter().enumerate().filter(|(_, b)| **b == b'\n');
            newline.map(|(i, _)| i + 1).nth(n - 2)?
        }
    };
    let end = (line_start + column).min(text.len());
    Some(render(&scan(&text[..end])))
}

/// The nesting after reading `text`.
fn scan(text: &[u8]) -> Vec<Level> {
    let mut levels = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'{' => levels.push(Level::Object {
                key: None,
                in_key: true,
            }),
            b'[' => levels.push(Level::Array(0)),
            b'}' | b']' => {
                levels.pop();
            }
            b',' => match levels.last_mut() {
                Some(Level::Object { in_key, .. }) => *in_key = true,
                Some(Level::Array(index)) => *index += 1,
                None => {}
            },
            b':' => {
                if let Some(Level::Object { in_key, .. }) = levels.last_mut() {
                    *in_key = false;
                }
            }
            b'"' => {
                let (string, next) = read_string(text, i + 1);
                if let Some(Level::Object { key, in_key: true }) = levels.last_mut() {
                    *key = Some(string);
                }
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    levels
}

/// The string starting at `start` (after its quote), escapes kept as
/// written but for `\"` and `\\`, and the index after its closing quote.
fn read_string(text: &[u8], start: usize) -> (String, usize) {
    let mut out = Vec::new();
    let mut i = start;
    while i < text.len() {
        match text[i] {
            b'"' => return (String::from_utf8_lossy(&out).into_owned(), i + 1),
            b'\\' if i + 1 < text.len() && matches!(text[i + 1], b'"' | b'\\') => {
                out.push(text[i + 1]);
                i += 2;
                continue;
            }
            b => out.push(b),
        }
        i += 1;
    }
    (String::from_utf8_lossy(&out).into_owned(), i)
}

/// `a.b[2].c`: object keys joined by dots, array indexes in brackets.
fn render(levels: &[Level]) -> String {
    let mut path = String::new();
    for level in levels {
        match level {
            Level::Object { key: Some(key), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Level::Object { key: None, .. } => {}
            Level::Array(index) => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Spec;

    fn error_of(text: &str) -> String {
        let err = serde_json::from_str::<Spec>(text).unwrap_err();
        describe_error(&err, text.as_bytes())
    }

    #[test]
    fn a_refused_value_is_named_by_its_path() {
        let text = r#"{"ociVersion": "1.0.0",
            "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["sh"],
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 1},
                            {"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]}}"#;
        let msg = error_of(text);
        assert!(
            msg.starts_with("process.rlimits[1].type: unknown variant `RLIMIT_BOGUS`"),
            "{msg}"
        );
        let msg = error_of(r#"{"ociVersion": "1", "process": {"terminal": "yes"}}"#);
        assert!(msg.starts_with("process.terminal: invalid type"), "{msg}");
        let msg = error_of(
            r#"{"ociVersion": "1", "mounts": [{"destination": "/a"}, {"destination": 7}]}"#,
        );
        assert!(
            msg.starts_with("mounts[1].destination: invalid type"),
            "{msg}"
        );
        // A missing field names the object it is missing from.
        let msg = error_of(r#"{"ociVersion": "1", "mounts": [{"destination": "/a"}, {}]}"#);
        assert!(
            msg.starts_with("mounts[1]: missing field `destination`"),
            "{msg}"
        );
    }

    #[test]
    fn keys_with_quotes_and_nesting_are_followed() {
        let text = r#"{"annotations": {"a\"b": "x", "c": "y"}, "linux": {"sysctl": {"k": 1}}}"#;
        let msg = error_of(text);
        assert!(msg.starts_with("linux.sysctl.k: invalid type"), "{msg}");
    }

    #[test]
    fn syntax_errors_keep_serdes_words_alone() {
        let msg = error_of(r#"{"ociVersion": "1.0.0""#);
        assert!(msg.starts_with("EOF while parsing"), "{msg}");
    }
}
