//! Text: a line per item in checklist order under its section, then the summary line.

use std::fmt::Write as _;

use console::Style;

use crate::cli::check::model::{Gate, Row, Status};

/// Width of the status column.
const MARK_WIDTH: usize = 8;

pub fn render(gate: &Gate, colour: bool) -> String {
    let paint = |style: Style, text: &str| -> String {
        if colour {
            style.force_styling(true).apply_to(text).to_string()
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    let mut heading = gate.checklist.clone();
    if let Some(service) = &gate.service {
        let _ = write!(heading, " — {service}");
    }
    if let Some(target) = &gate.target {
        let _ = write!(heading, " — {target}");
    }
    let _ = writeln!(out, "{}", paint(Style::new().bold(), &heading));
    if gate.strict {
        let _ = writeln!(out, "strict: items that need sign-off block the gate");
    }
    let mut section: Option<&str> = None;
    let mut group: Option<&str> = None;
    for (i, row) in gate.rows.iter().enumerate() {
        if i == 0 || row.section.as_deref() != section {
            section = row.section.as_deref();
            group = None;
            if let Some(title) = section {
                let _ = writeln!(
                    out,
                    "\n{}",
                    paint(Style::new().bold(), &format!("## {title}"))
                );
            } else {
                out.push('\n');
            }
        }
        if row.group.as_deref() != group {
            group = row.group.as_deref();
            if let Some(title) = group {
                let _ = writeln!(out, "### {title}");
            }
        }
        let (mark, style) = mark(row);
        let padded = format!("{mark:<MARK_WIDTH$}");
        let _ = writeln!(out, "  {} {}", paint(style, &padded), describe(row));
    }
    if gate.rows.is_empty() {
        let _ = writeln!(out, "\nno items to check");
    }
    let summary = gate.summary_line();
    let style = if gate.ready {
        Style::new().green().bold()
    } else {
        Style::new().red().bold()
    };
    let _ = writeln!(out, "\n{}", paint(style, &summary));
    out
}

fn mark(row: &Row) -> (&'static str, Style) {
    match row.status {
        Status::Passed => ("PASS", Style::new().green()),
        Status::Failed => ("FAIL", Style::new().red()),
        Status::Error => ("ERROR", Style::new().magenta()),
        Status::Manual => ("SIGN-OFF", Style::new().cyan()),
        Status::Pending => ("PENDING", Style::new().yellow()),
        Status::Waived => ("WAIVED", Style::new().blue()),
        Status::NotApplicable => ("N/A", Style::new().dim()),
    }
}

/// `text [kind] — reason`, on one line whatever the reason holds.
fn describe(row: &Row) -> String {
    let mut line = one_line(&row.text);
    if let Some(kind) = &row.kind {
        let _ = write!(line, " [{kind}]");
    }
    if !row.reason.is_empty() {
        let _ = write!(line, " — {}", one_line(&row.reason));
    }
    if row.optional && matches!(row.status, Status::Failed | Status::Error) {
        line.push_str(" (optional: does not block)");
    }
    line
}

/// Control characters (a target's body may hold escape codes) become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
