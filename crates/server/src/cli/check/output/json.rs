//! JSON: one document with the verdict, the counts and every item with its evidence.

use serde::Serialize;

use crate::cli::check::UsageError;
use crate::cli::check::model::{Gate, Row, Status, Summary};

#[derive(Serialize)]
struct Document<'a> {
    checklist: &'a str,
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a str>,
    ready: bool,
    strict: bool,
    summary: Summary,
    items: Vec<ItemView<'a>>,
}

#[derive(Serialize)]
struct ItemView<'a> {
    key: &'a str,
    section: Option<&'a str>,
    group: Option<&'a str>,
    text: &'a str,
    optional: bool,
    kind: Option<&'a str>,
    check: Option<&'a str>,
    /// passed, failed, error or manual (server mode: the item's state).
    outcome: Status,
    reason: &'a str,
    blocking: bool,
    at: Option<chrono::DateTime<chrono::Utc>>,
    report: Option<&'a preflight_probe::Report>,
}

impl<'a> From<&'a Row> for ItemView<'a> {
    fn from(row: &'a Row) -> Self {
        Self {
            key: &row.key,
            section: row.section.as_deref(),
            group: row.group.as_deref(),
            text: &row.text,
            optional: row.optional,
            kind: row.kind.as_deref(),
            check: row.check.as_deref(),
            outcome: row.status,
            reason: &row.reason,
            blocking: row.blocking,
            at: row.at,
            report: row.report.as_ref(),
        }
    }
}

pub fn render(gate: &Gate) -> Result<String, UsageError> {
    let document = Document {
        checklist: &gate.checklist,
        target: gate.target.as_deref(),
        service: gate.service.as_deref(),
        server: gate.server.as_deref(),
        ready: gate.ready,
        strict: gate.strict,
        summary: gate.summary(),
        items: gate.rows.iter().map(ItemView::from).collect(),
    };
    let mut text = serde_json::to_string_pretty(&document)
        .map_err(|e| UsageError::new(format!("cannot write the JSON report: {e}")))?;
    text.push('\n');
    Ok(text)
}
