//! The verdict of the gate: one row per item and the summary, whatever mode produced it. Every
//! output format prints this and nothing else.

use std::collections::HashMap;

use preflight_domain::Checklist;
use preflight_probe::{Outcome, Report};
use serde::Serialize;

pub use crate::gate::{Row, Status};

use super::config::Settings;
use super::plan::Plan;

/// What Markdown output starts from.
pub enum Document {
    /// Local mode: the checklist that was run; rows give the state.
    Checklist(Checklist),
    /// Server mode: each review as the server exports it.
    Exported(Vec<String>),
}

/// The gate's verdict.
pub struct Gate {
    /// Checklist title (server mode: the reviews' titles).
    pub checklist: String,
    /// The URL that was probed (server mode: the service's base URL, if known).
    pub target: Option<String>,
    /// Service name, when known.
    pub service: Option<String>,
    /// Server mode: the preflight server asked.
    pub server: Option<String>,
    pub strict: bool,
    pub rows: Vec<Row>,
    pub ready: bool,
    pub document: Document,
}

/// Items by status.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub error: usize,
    /// Manual items (local mode) and pending items (server mode) waiting for a person or a run.
    pub needs_sign_off: usize,
    pub pending: usize,
    pub waived: usize,
    pub not_applicable: usize,
    /// Rows that keep the gate from passing.
    pub blocking: usize,
}

impl Gate {
    /// Local mode: rows from the plan and the engine's reports. Failed and errored required
    /// items block; manual required items block with `strict`. Optional items never block.
    pub fn local(
        plan: Plan,
        mut reports: HashMap<usize, Report>,
        settings: &Settings,
        strict: bool,
    ) -> Self {
        let mut rows = Vec::with_capacity(plan.selected.len());
        for &index in &plan.selected {
            let Some(item) = plan.checklist.items.get(index) else {
                continue;
            };
            let report = reports.remove(&index).map(|mut r| {
                // Defence in depth: the engine scrubs full header values; this also removes a
                // token written without its prefix.
                r.scrub(&settings.secrets);
                r
            });
            let (status, reason) = match (&item.check, &report) {
                (_, Some(r)) => (
                    match r.outcome {
                        Outcome::Passed => Status::Passed,
                        Outcome::Failed => Status::Failed,
                        Outcome::Error => Status::Error,
                    },
                    r.reason.clone(),
                ),
                (Some(_), None) => (Status::Error, "the check did not run".to_owned()),
                (None, None) => (Status::Manual, "needs sign-off by a person".to_owned()),
            };
            let blocking = !item.optional
                && match status {
                    Status::Failed | Status::Error => true,
                    Status::Manual => strict,
                    _ => false,
                };
            rows.push(Row {
                key: item.key.clone(),
                section: item.section.clone(),
                group: item.group.clone(),
                text: item.text.clone(),
                optional: item.optional,
                kind: item.check.as_ref().map(|c| c.kind().to_owned()),
                check: item.check.as_ref().map(|c| c.to_definition()),
                status,
                reason,
                at: report.as_ref().map(|r| r.started_at),
                report,
                blocking,
            });
        }
        let ready = !rows.iter().any(|r| r.blocking);
        Self {
            checklist: plan
                .checklist
                .title
                .clone()
                .unwrap_or_else(|| "Checklist".to_owned()),
            target: Some(settings.target.base_url.to_string()),
            service: settings.target.name.clone(),
            server: None,
            strict,
            rows,
            ready,
            document: Document::Checklist(plan.checklist),
        }
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            total: self.rows.len(),
            ..Summary::default()
        };
        for row in &self.rows {
            match row.status {
                Status::Passed => s.passed += 1,
                Status::Failed => s.failed += 1,
                Status::Error => s.error += 1,
                Status::Manual => s.needs_sign_off += 1,
                Status::Pending => s.pending += 1,
                Status::Waived => s.waived += 1,
                Status::NotApplicable => s.not_applicable += 1,
            }
            if row.blocking {
                s.blocking += 1;
            }
        }
        s
    }

    /// "12 passed, 2 failed, 1 error, 40 need sign-off — NOT READY".
    pub fn summary_line(&self) -> String {
        let s = self.summary();
        let mut parts = vec![
            format!("{} passed", s.passed),
            format!("{} failed", s.failed),
        ];
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        if s.error > 0 || self.server.is_none() {
            parts.push(plural(s.error, "error", "errors"));
        }
        if s.needs_sign_off > 0 || self.server.is_none() {
            parts.push(plural(s.needs_sign_off, "needs sign-off", "need sign-off"));
        }
        if s.pending > 0 {
            parts.push(format!("{} pending", s.pending));
        }
        if s.waived > 0 {
            parts.push(format!("{} waived", s.waived));
        }
        if s.not_applicable > 0 {
            parts.push(format!("{} not applicable", s.not_applicable));
        }
        format!("{} — {}", parts.join(", "), self.verdict())
    }

    pub fn verdict(&self) -> &'static str {
        if self.ready { "READY" } else { "NOT READY" }
    }
}
