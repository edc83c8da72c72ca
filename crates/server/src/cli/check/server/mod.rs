//! Server mode: `preflight check --server URL --service NAME` gates on the readiness a running
//! preflight reports for a registered service (every review, manual sign-offs included).
//! The token comes from `PREFLIGHT_TOKEN` only, never the command line (process lists are
//! readable by others); a personal API token with read access is enough.

mod api;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use self::api::{Client, ReviewItem};
use super::UsageError;
use super::args::CheckArgs;
use super::model::{Document, Gate, Row, Status};
use super::output::Sink;

/// The environment variable holding the API token.
pub const TOKEN_VAR: &str = "PREFLIGHT_TOKEN";

/// `Ok(ready)`; unknown service, missing token or an unusable server are usage errors.
pub async fn run(args: &CheckArgs, server: &str) -> Result<bool, UsageError> {
    let name = args
        .service
        .as_deref()
        .ok_or_else(|| UsageError::new("--server needs --service NAME"))?;
    let token = match std::env::var(TOKEN_VAR) {
        Ok(token) if !token.trim().is_empty() => SecretString::from(token.trim().to_owned()),
        _ => {
            return Err(UsageError::new(format!(
                "{TOKEN_VAR} is not set: server mode needs an API token of the preflight server"
            )));
        }
    };
    let client = Client::new(server, token)?;
    let service = client
        .find_service(name)
        .await?
        .ok_or_else(|| UsageError::new(format!("the server has no service named \"{name}\"")))?;
    let readiness = client.readiness(service.id).await?;
    let markdown = args.format == super::args::Format::Markdown;
    let mut rows = Vec::new();
    let mut documents = Vec::new();
    for brief in &readiness.reviews {
        let review = client.review(brief.review_id).await?;
        rows.extend(review.items.iter().map(row));
        if markdown {
            documents.push(client.review_markdown(brief.review_id).await?);
        }
    }
    let titles: Vec<&str> = readiness.reviews.iter().map(|r| r.title.as_str()).collect();
    let gate = Gate {
        checklist: if titles.is_empty() {
            "no checklist attached".to_owned()
        } else {
            titles.join(", ")
        },
        target: service.base_url.clone(),
        service: Some(service.name.clone()),
        server: Some(server.to_owned()),
        strict: false,
        rows,
        ready: readiness.ready,
        document: Document::Exported(documents),
    };
    Sink::new(args).emit(&gate)?;
    Ok(gate.ready)
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

/// One review item as a row: its state and, in one sentence, what decided it.
fn row(item: &ReviewItem) -> Row {
    let status = match item.state.as_str() {
        "passed" => Status::Passed,
        "failed" => Status::Failed,
        "waived" => Status::Waived,
        "not_applicable" => Status::NotApplicable,
        _ => Status::Pending,
    };
    let person = item.attestation.as_ref();
    let run = item.last_run.as_ref();
    // The more recent of a person's verdict and the latest run decides (domain::state).
    let person_decides = match (person, run) {
        (Some(a), Some(r)) => a.at >= r.at,
        (Some(_), None) => true,
        _ => false,
    };
    let (reason, at) = match status {
        Status::Waived => match &item.waiver {
            Some(w) => (
                with_note(
                    format!("waived by {} until {}", w.by, day(w.expires_at)),
                    Some(&w.reason),
                ),
                Some(w.at),
            ),
            None => ("waived".to_owned(), None),
        },
        Status::NotApplicable => match &item.exclusion {
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
                let verb = if r.passed { "passed" } else { "failed" };
                (
                    format!("the latest check run {verb} on {}", day(r.at)),
                    Some(r.at),
                )
            }
            _ => (item.state.clone(), None),
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
        key: item.key.clone(),
        section: item.section.clone(),
        group: item.group.clone(),
        text: item.text.clone(),
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
        report: None,
        blocking: !item.optional && matches!(status, Status::Pending | Status::Failed),
    }
}
