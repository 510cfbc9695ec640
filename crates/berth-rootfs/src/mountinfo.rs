//! Minimal /proc/self/mountinfo parsing (the fields this crate needs).

use std::path::PathBuf;

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Field 4: the root of the mount within its filesystem.
    pub root: PathBuf,
    /// Field 5: the mount point.
    pub mount_point: PathBuf,
    /// The filesystem type (first field after " - ").
    pub fstype: String,
}

/// Undoes mountinfo's octal escapes (`\040` for a space...).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses one mountinfo line; None if malformed.
pub fn parse_line(line: &str) -> Option<MountInfo> {
    let (before, after) = line.split_once(" - ")?;
    let fields: Vec<&str> = before.split(' ').collect();
    let fstype = after.split(' ').next()?;
    Some(MountInfo {
        root: PathBuf::from(unescape(fields.get(3)?)),
        mount_point: PathBuf::from(unescape(fields.get(4)?)),
        fstype: unescape(fstype),
    })
}

/// Parses a whole mountinfo file, skipping malformed lines.
pub fn parse(content: &str) -> Vec<MountInfo> {
    content.lines().filter_map(parse_line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_with_optional_tags() {
        let l = "103 102 0:50 / /proc rw,relatime shared:5 master:1 - proc proc rw";
        let m = parse_line(l).unwrap();
        assert_eq!(m.root, PathBuf::from("/"));
        assert_eq!(m.mount_point, PathBuf::from("/proc"));
        assert_eq!(m.fstype, "proc");
    }

    #[test]
    fn unescapes_spaces() {
        let l = r"1 2 0:5 /a\040b /mnt/with\040space rw - tmpfs tmpfs rw";
        let m = parse_line(l).unwrap();
        assert_eq!(m.root, PathBuf::from("/a b"));
        assert_eq!(m.mount_point, PathBuf::from("/mnt/with space"));
        assert_eq!(unescape(r"back\134slash"), r"back\slash");
        assert_eq!(unescape(r"trailing\04"), r"trailing\04");
    }

    #[test]
    fn skips_malformed() {
        assert!(parse_line("garbage").is_none());
        assert_eq!(
            parse("garbage\n1 2 0:5 / /x rw - sysfs sysfs rw\n").len(),
            1
        );
    }
}
