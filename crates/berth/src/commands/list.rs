//! `list`: runc's table (Go tabwriter: min width 12, padding 3), `-q`, or
//! JSON.

use berth_container::{Listed, Store};

use crate::cli::ListFormat;
use crate::Failure;

pub fn list(store: &Store, format: ListFormat, quiet: bool) -> Result<(), Failure> {
    let rows = berth_container::list(store)?;
    if quiet {
        let ids: String = rows.iter().map(|r| format!("{}\n", r.state.id)).collect();
        return crate::stdout::write(ids);
    }
    match format {
        ListFormat::Table => crate::stdout::write(table(&rows)),
        ListFormat::Json => crate::stdout::line(json(&rows)?),
    }
}

/// The JSON array runc prints (`null` when there is no container, as Go
/// encodes a nil slice).
fn json(rows: &[Listed]) -> Result<String, serde_json::Error> {
    if rows.is_empty() {
        return Ok("null".into());
    }
    let views: Vec<_> = rows
        .iter()
        .map(|r| r.state.view(r.status, &r.owner))
        .collect();
    serde_json::to_string(&views)
}

const MIN_WIDTH: usize = 12;
const PADDING: usize = 3;

fn table(rows: &[Listed]) -> String {
    let mut lines = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
    for row in rows {
        let view = row.state.view(row.status, &row.owner);
        lines.push([
            view.id.to_string(),
            view.pid.to_string(),
            view.status.to_string(),
            view.bundle.display().to_string(),
            view.created.to_string(),
            row.owner.clone(),
        ]);
    }
    align(&lines)
}

/// Pad every cell but the last of each line to its column's width.
fn align<const N: usize>(lines: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N - 1)
        .map(|col| {
            lines
                .iter()
                .map(|l| l[col].chars().count() + PADDING)
                .max()
                .unwrap_or(0)
                .max(MIN_WIDTH)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        for (col, width) in widths.iter().enumerate() {
            out.push_str(&format!("{:<width$}", line[col]));
        }
        out.push_str(&line[N - 1]);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_only_table_matches_runc() {
        assert_eq!(
            table(&[]),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
    }

    #[test]
    fn wide_cells_widen_their_column_by_the_padding() {
        let lines = [
            ["ID".to_string(), "X".to_string()],
            ["a-very-long-id".to_string(), "Y".to_string()],
        ];
        assert_eq!(align(&lines), "ID               X\na-very-long-id   Y\n");
    }
}
