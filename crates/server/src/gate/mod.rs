//! One item's verdict as the gate reports it, whoever produced it: `preflight check` (local or
//! server mode) and the JUnit export of a review (`GET /api/v1/reviews/{id}?format=junit`)
//! print the same rows, so a CI system reads the same report from either.

pub mod junit;

use chrono::{DateTime, Utc};
use preflight_domain::{Attestation, Exclusion, ItemState, RunOutcome, RunResult, Waiver};
use preflight_probe::Report;
use serde::Serialize;

/// The state of one item as the gate reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The check passed (or, in server mode, the item is passed).
    Passed,
    /// The target answered wrongly (server mode: the item is failed).
    Failed,
    /// The check could not be carried out.
    Error,
    /// A manual item: a person signs it off (local mode).
    Manual,
    /// Server mode: never verified or not signed off.
    Pending,
    /// Server mode: exempted until the waiver expires.
    Waived,
    /// Server mode: excluded from the score.
    NotApplicable,
}

/// One item and what the gate found about it.
pub struct Row {
    pub key: String,
    pub section: Option<String>,
    pub group: Option<String>,
    pub text: String,
    pub optional: bool,
    /// Check kind; `None` for a manual item.
    pub kind: Option<String>,
    /// The check as written in the annotation.
    pub check: Option<String>,
    pub status: Status,
    /// One sentence: the evidence, or what is missing.
    pub reason: String,
    /// When the state was decided (the check run's start, a sign-off's time).
    pub at: Option<DateTime<Utc>>,
    /// The engine's report (local mode, automated items).
    pub report: Option<Report>,
    /// Whether this row keeps the gate from passing.
    pub blocking: bool,
}

/// What is known of one item of a review: enough to say its state and what decided it.
pub struct ItemFacts<'a> {
    pub key: &'a str,
    pub section: Option<&'a str>,
    pub group: Option<&'a str>,
    pub text: &'a str,
    pub optional: bool,
    pub state: ItemState,
    pub check_definition: Option<String>,
    pub attestation: Option<&'a Attestation>,
    pub waiver: Option<&'a Waiver>,
    pub exclusion: Option<&'a Exclusion>,
    pub last_run: Option<&'a RunResult>,
    /// The latest run's full report, when the caller has it.
    pub report: Option<Report>,
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

fn with_note(text: String, note: Option<&str>) -> String {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(note) => format!("{text}: {note}"),
        None => text,
    }
}

/// One review item as a row: its state and, in one sentence, what decided it. Pending and
/// failed required items block.
pub fn review_row(item: ItemFacts<'_>) -> Row {
    let person = item.attestation;
    let run = item.last_run;
    // The more recent of a person's verdict and the latest run decides (domain::state).
    let person_decides = match (person, run) {
        (Some(a), Some(r)) => a.at >= r.at,
        (Some(_), None) => true,
        _ => false,
    };
    let mut status = match item.state {
        ItemState::Passed => Status::Passed,
        ItemState::Failed => Status::Failed,
        ItemState::Waived => Status::Waived,
        ItemState::NotApplicable => Status::NotApplicable,
        ItemState::Pending => Status::Pending,
    };
    let (reason, at) = match status {
        Status::Waived => match item.waiver {
            Some(w) => (
                with_note(
                    format!("waived by {} until {}", w.by, day(w.expires_at)),
                    Some(&w.reason),
                ),
                Some(w.at),
            ),
            None => ("waived".to_owned(), None),
        },
        Status::NotApplicable => match item.exclusion {
            Some(e) => (
                with_note(format!("not applicable, says {}", e.by), Some(&e.reason)),
                Some(e.at),
            ),
            None => ("not applicable".to_owned(), None),
        },
        Status::Passed | Status::Failed => match (person_decides, person, run) {
            (true, Some(a), _) => {
                let verb = if a.passed {
                    "signed off"
                } else {
                    "marked failed"
                };
                (
                    with_note(
                        format!("{verb} by {} on {}", a.by, day(a.at)),
                        a.comment.as_deref(),
                    ),
                    Some(a.at),
                )
            }
            (_, _, Some(r)) => {
                if r.outcome == Some(RunOutcome::Error) {
                    status = Status::Error;
                }
                let verb = match r.outcome {
                    Some(RunOutcome::Error) => "could not be carried out",
                    _ if r.passed => "passed",
                    _ => "failed",
                };
                (
                    with_note(
                        format!("the latest check run {verb} on {}", day(r.at)),
                        r.reason.as_deref(),
                    ),
                    Some(r.at),
                )
            }
            _ => (format!("{:?}", item.state).to_lowercase(), None),
        },
        _ => match (person, &item.check_definition) {
            (Some(a), _) if a.passed => (
                format!(
                    "the sign-off by {} on {} is too old: sign it off again",
                    a.by,
                    day(a.at)
                ),
                Some(a.at),
            ),
            (_, Some(_)) => ("not checked yet".to_owned(), None),
            (_, None) => ("needs sign-off by a person".to_owned(), None),
        },
    };
    Row {
        key: item.key.to_owned(),
        section: item.section.map(str::to_owned),
        group: item.group.map(str::to_owned),
        text: item.text.to_owned(),
        optional: item.optional,
        kind: item
            .check_definition
            .as_deref()
            .and_then(|d| d.split_whitespace().next())
            .map(str::to_owned),
        check: item.check_definition.clone(),
        status,
        reason,
        at,
        report: item.report,
        blocking: !item.optional
            && matches!(status, Status::Pending | Status::Failed | Status::Error),
    }
}
