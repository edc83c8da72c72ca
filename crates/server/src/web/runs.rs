//! Runs in the browser: "run now" for a service or one item (editors, with the CSRF token),
//! an on-demand run as it progresses, and one run's evidence — every request and what came
//! back. All through the runs API's own functions ([`crate::api::runs`]).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use super::views::when;
use super::{Layout, WebResult, WebUser, render, see_other};
use crate::api::runs::{CheckRunView, run_view, start_for_item, start_for_service};
use crate::auth::Role;
use crate::state::AppState;
use crate::store::check_runs;

#[derive(Debug, Deserialize)]
pub struct RunForm {
    #[serde(default)]
    csrf: String,
    /// The item's key, for one item.
    #[serde(default)]
    key: String,
}

/// `POST /services/{id}/run`: every automated item of the service, now.
pub async fn run_service(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<Uuid>,
    Form(form): Form<RunForm>,
) -> WebResult {
    user.check_csrf(&form.csrf)?;
    let run = start_for_service(&state, &user.auth, id).await?;
    Ok(see_other(&format!("/runs/{run}")))
}

/// `POST /reviews/{id}/run`: one item's check, now.
pub async fn run_item(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<Uuid>,
    Form(form): Form<RunForm>,
) -> WebResult {
    user.check_csrf(&form.csrf)?;
    let (_, run) = start_for_item(&state, &user.auth, id, &form.key).await?;
    Ok(see_other(&format!("/runs/{run}")))
}

/// One line of a run page.
struct Line {
    item: Uuid,
    run: Option<Uuid>,
    outcome: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    layout: Layout,
    service: Uuid,
    requested_by: String,
    created: String,
    finished: bool,
    total: i32,
    done: i32,
    passed: i32,
    failed: i32,
    errors: i32,
    lines: Vec<Line>,
}

/// `GET /runs/{id}`: an on-demand run; the page reloads itself while it is queued.
pub async fn run_page(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<Uuid>,
) -> WebResult {
    user.auth.require_role(Role::Viewer)?;
    let run = run_view(&state, id).await?;
    let lines = run
        .items
        .into_iter()
        .map(|l| Line {
            item: l.review_item_id,
            outcome: l
                .run
                .as_ref()
                .map_or("queued".to_owned(), |r| r.outcome.clone()),
            reason: l.run.as_ref().map_or(String::new(), |r| r.reason.clone()),
            run: l.run.map(|r| r.id),
        })
        .collect();
    let page = RunPage {
        layout: Layout::new("Check run", Some(&user), "services"),
        service: run.service_id,
        requested_by: run.requested_by,
        created: when(run.created_at),
        finished: run.status == "finished",
        total: run.total,
        done: run.done,
        passed: run.passed,
        failed: run.failed,
        errors: run.errors,
        lines,
    };
    Ok(render(StatusCode::OK, &page))
}

/// One request of a run, as the evidence page shows it.
struct Exchange {
    method: String,
    url: String,
    status: String,
    elapsed: String,
    excerpt: String,
}

#[derive(Template)]
#[template(path = "check_run.html")]
struct CheckRunPage {
    layout: Layout,
    run: CheckRunView,
    started: String,
    exchanges: Vec<Exchange>,
    facts: Vec<(String, String)>,
}

/// `GET /check-runs/{id}`: one run's evidence.
pub async fn check_run_page(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<Uuid>,
) -> WebResult {
    user.auth.require_role(Role::Viewer)?;
    let run: CheckRunView = check_runs::get(&state.db, id)
        .await
        .map_err(crate::error::ApiError::from)?
        .into();
    let exchanges = run.evidence["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| Exchange {
            method: e["method"].as_str().unwrap_or_default().to_owned(),
            url: e["url"].as_str().unwrap_or_default().to_owned(),
            status: match (e["status"].as_u64(), e["error"].as_str()) {
                (Some(s), _) => s.to_string(),
                (None, Some(err)) => err.to_owned(),
                _ => "no answer".to_owned(),
            },
            elapsed: format!("{:.0} ms", e["elapsed_ms"].as_f64().unwrap_or_default()),
            excerpt: e["body_excerpt"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    let facts = run.evidence["facts"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect();
    let page = CheckRunPage {
        layout: Layout::new(format!("Check run: {}", run.kind), Some(&user), "services"),
        started: when(run.started_at),
        run,
        exchanges,
        facts,
    };
    Ok(render(StatusCode::OK, &page))
}
