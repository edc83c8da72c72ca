//! Server mode: `preflight check --server URL --service NAME` gates on the readiness a running
//! preflight reports for a registered service (every review, manual sign-offs included).
//! The token comes from `PREFLIGHT_TOKEN` only, never the command line (process lists are
//! readable by others); a personal API token with read access is enough.

mod api;

use preflight_domain::ItemState;
use secrecy::SecretString;

use self::api::{Client, ReviewItem};
use super::UsageError;
use super::args::CheckArgs;
use super::model::{Document, Gate, Row};
use super::output::Sink;
use crate::gate::{ItemFacts, review_row};

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

/// One review item as a row ([`crate::gate::review_row`]).
fn row(item: &ReviewItem) -> Row {
    let state = match item.state.as_str() {
        "passed" => ItemState::Passed,
        "failed" => ItemState::Failed,
        "waived" => ItemState::Waived,
        "not_applicable" => ItemState::NotApplicable,
        _ => ItemState::Pending,
    };
    review_row(ItemFacts {
        key: &item.key,
        section: item.section.as_deref(),
        group: item.group.as_deref(),
        text: &item.text,
        optional: item.optional,
        state,
        check_definition: item.check_definition.clone(),
        attestation: item.attestation.as_ref(),
        waiver: item.waiver.as_ref(),
        exclusion: item.exclusion.as_ref(),
        last_run: item.last_run.as_ref(),
        report: None,
    })
}
