//! `ps`: the container's processes as a JSON array of host pids, or the
//! lines of ps(1) (default `-ef`) whose PID column is one of them.

use std::process::Command;

use berth_container::Store;

use crate::cli::ListFormat;
use crate::Failure;

pub fn ps(store: &Store, id: &str, format: ListFormat, ps_args: &[String]) -> Result<(), Failure> {
    let pids = berth_container::processes(store, id)?;
    match format {
        ListFormat::Json if pids.is_empty() => crate::stdout::line("null"),
        ListFormat::Json => crate::stdout::line(serde_json::to_string(&pids)?),
        ListFormat::Table => crate::stdout::write(ps_table(&pids, ps_args)?),
    }
}

fn ps_table(pids: &[i32], ps_args: &[String]) -> Result<String, Failure> {
    let args: Vec<&str> = if ps_args.is_empty() {
        vec!["-ef"]
    } else {
        ps_args.iter().map(String::as_str).collect()
    };
    let out = Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Failure::os(format!("exec ps {}", args.join(" ")), &e))?;
    if !out.status.success() {
        return Err(Failure::new(format!(
            "ps {}: {} {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    filter_ps_output(&String::from_utf8_lossy(&out.stdout), pids)
}

/// Keep the header and the lines whose PID column is in `pids`.
fn filter_ps_output(text: &str, pids: &[i32]) -> Result<String, Failure> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Failure::new("couldn't find PID field in ps output".into()))?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(column)
            .and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_container_pids_are_kept_with_the_header() {
        let text = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 1 other\n";
        let out = filter_ps_output(text, &[42]).ok().unwrap();
        assert_eq!(out, "UID PID PPID CMD\nroot 42 1 sleep\n");
    }

    #[test]
    fn output_without_a_pid_column_is_an_error() {
        assert!(filter_ps_output("UID CMD\nroot x\n", &[1]).is_err());
    }
}
