//! Container ids: what runc accepts (`^[\w+-\.]+$`, not `.`/`..`, at most
//! 1024 bytes).

use crate::ContainerError;

const MAX_ID_LEN: usize = 1024;

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')
}

/// Check an id before it is used as a directory name under `--root`.
pub fn validate_id(id: &str) -> Result<(), ContainerError> {
    if id.is_empty() {
        return Err(ContainerError::EmptyId);
    }
    let ok = id.len() <= MAX_ID_LEN && id != "." && id != ".." && id.chars().all(allowed);
    if ok {
        Ok(())
    } else {
        Err(ContainerError::InvalidId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_style_ids_are_accepted() {
        for id in ["a", "my-container_1", "a.b+c", "X".repeat(1024).as_str()] {
            assert!(validate_id(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn path_like_empty_long_and_odd_ids_are_refused() {
        let long = "x".repeat(1025);
        for id in [
            "",
            ".",
            "..",
            "/",
            "a/b",
            "../x",
            "a b",
            "é",
            "a\nb",
            long.as_str(),
        ] {
            assert!(validate_id(id).is_err(), "{id:?}");
        }
    }
}
