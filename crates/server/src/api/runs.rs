//! Check runs: on-demand runs of a service's or one item's automated checks (202 with the
//! run's location; the check runner carries them out, see [`crate::runner`]), the run
//! requests, single runs with their evidence, and run history per service and per item.
//! Editors and admins start runs (rate-limited per user, `RATE_LIMIT_RUNS`); viewers read.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{AuthUser, Role};
use crate::db::entities::check_run;
use crate::docs::problems;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::store::check_runs::{self, Of};
use crate::store::run_requests::{self, NewRequest};
use crate::store::{reviews, schedule, services};
use crate::write::Write;

/// One run of an item's automated check.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckRunView {
    pub id: Uuid,
    pub review_id: Uuid,
    pub review_item_id: Uuid,
    pub service_id: Uuid,
    /// The item's key in its review.
    pub key: String,
    pub kind: String,
    /// `schedule` or `request`.
    pub trigger: String,
    /// `passed`, `failed` or `error` (shown as failed, with the reason).
    pub outcome: String,
    /// One sentence saying why.
    pub reason: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// Every request made and what came back (status, headers that mattered, a bounded body
    /// excerpt, timings), and other findings.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

impl From<check_run::Model> for CheckRunView {
    fn from(m: check_run::Model) -> Self {
        Self {
            id: m.id,
            review_id: m.review_id,
            review_item_id: m.review_item_id,
            service_id: m.service_id,
            key: m.item_key,
            kind: m.kind,
            trigger: m.trigger,
            outcome: m.outcome,
            reason: m.reason,
            started_at: m.started_at,
            finished_at: m.finished_at,
            duration_ms: m.duration_ms,
            evidence: m.evidence,
        }
    }
}

/// One item of an on-demand run and its run once it has one.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunLineView {
    pub review_item_id: Uuid,
    /// `null` until the item has run (or when retention pruned its run).
    pub run: Option<CheckRunView>,
}

/// An on-demand run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: Uuid,
    pub service_id: Uuid,
    /// Set when one item was asked for.
    pub review_item_id: Option<Uuid>,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    /// `queued` until every item has run, then `finished`.
    pub status: String,
    pub total: i32,
    pub done: i32,
    pub passed: i32,
    pub failed: i32,
    pub errors: i32,
    pub items: Vec<RunLineView>,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(service_history, run_service))
        .routes(routes!(item_history, run_item))
        .routes(routes!(get_run))
        .routes(routes!(get_check_run))
}

/// Creates the request for `items` and makes them due now; returns the run's id.
async fn request(
    state: &AppState,
    auth: &AuthUser,
    service: Uuid,
    item: Option<Uuid>,
    items: Vec<Uuid>,
) -> ApiResult<Uuid> {
    crate::http::ratelimit::enforce(
        state,
        "runs",
        &auth.user_id.to_string(),
        state.settings.probe.request_rate,
    )
    .await?;
    let id = Uuid::now_v7();
    let now = Utc::now();
    let write = Write::begin(&state.db, auth.actor()).await?;
    let change = run_requests::create(
        write.txn(),
        NewRequest {
            id,
            service_id: service,
            review_item_id: item,
            requested_by: auth.email.clone(),
            items: items.clone(),
            now,
        },
    )
    .await?;
    // Rows of items attached since the runner last looked are created here, due now.
    schedule::reconcile(write.txn(), now, std::time::Duration::ZERO, Some(service)).await?;
    schedule::request(write.txn(), &items, now).await?;
    write.commit(change).await?;
    // A stored permit: the loop wakes even if it is busy claiming right now.
    state.runs_requested.notify_one();
    Ok(id)
}

/// Runs every automated item of the service's live reviews now (editors; the API and the
/// service page). Returns the run's id.
pub async fn start_for_service(
    state: &AppState,
    auth: &AuthUser,
    service: Uuid,
) -> ApiResult<Uuid> {
    auth.require_write(Role::Editor)?;
    services::find(&state.db, service).await?;
    let items = reviews::automated_items(&state.db, service).await?;
    if items.is_empty() {
        return Err(ApiError::conflict(
            "the service has no automated items: attach a checklist with checks first",
        ));
    }
    request(state, auth, service, None, items).await
}

/// Runs one review item's check now (editors); returns the service's id and the run's.
pub async fn start_for_item(
    state: &AppState,
    auth: &AuthUser,
    review: Uuid,
    key: &str,
) -> ApiResult<(Uuid, Uuid)> {
    auth.require_write(Role::Editor)?;
    let lr = reviews::load(&state.db, review).await?;
    let (_, row) = lr.find_item(key)?;
    if row.check_spec.is_none() {
        return Err(ApiError::conflict(
            "the item has no automated check; set one with PUT …/check first",
        ));
    }
    let service = lr.review.service_id;
    services::find(&state.db, service).await?;
    let run = request(state, auth, service, Some(row.id), vec![row.id]).await?;
    Ok((service, run))
}

/// 202 with the run and its location.
async fn accepted(state: &AppState, id: Uuid) -> ApiResult<Response> {
    let view = run_view(state, id).await?;
    let mut res = (StatusCode::ACCEPTED, Json(view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/runs/{id}")) {
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

/// The run `id` with its items and their runs.
pub async fn run_view(state: &AppState, id: Uuid) -> ApiResult<RunView> {
    let (request, lines) = run_requests::get(&state.db, id).await?;
    let ids: Vec<Uuid> = lines.iter().filter_map(|l| l.check_run_id).collect();
    let mut runs: std::collections::HashMap<Uuid, check_run::Model> =
        check_runs::by_ids(&state.db, &ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
    let (mut done, mut passed, mut failed, mut errors) = (0, 0, 0, 0);
    let items = lines
        .into_iter()
        .map(|line| {
            if line.check_run_id.is_some() {
                done += 1;
            }
            let run = line.check_run_id.and_then(|r| runs.remove(&r));
            match run.as_ref().map(|r| r.outcome.as_str()) {
                Some("passed") => passed += 1,
                Some("failed") => failed += 1,
                Some(_) => errors += 1,
                None => {}
            }
            RunLineView {
                review_item_id: line.review_item_id,
                run: run.map(CheckRunView::from),
            }
        })
        .collect();
    Ok(RunView {
        id: request.id,
        service_id: request.service_id,
        review_item_id: request.review_item_id,
        requested_by: request.requested_by,
        created_at: request.created_at,
        status: if done >= request.total {
            "finished"
        } else {
            "queued"
        }
        .into(),
        total: request.total,
        done,
        passed,
        failed,
        errors,
        items,
    })
}

fn page_of(
    rows: Vec<check_run::Model>,
    page: u64,
    per_page: u64,
    total: u64,
) -> Page<CheckRunView> {
    Page {
        items: rows.into_iter().map(CheckRunView::from).collect(),
        page,
        per_page,
        total,
    }
}

#[utoipa::path(post, path = "/services/{id}/runs", operation_id = "run_service_checks", tag = "runs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id")),
    responses((status = 202, description = "Every automated item of the service's live reviews will run now; Location is the run", body = RunView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 429, response = problems::TooManyRequests)))]
pub async fn run_service(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let run = start_for_service(&state, &auth, id).await?;
    accepted(&state, run).await
}

#[utoipa::path(post, path = "/reviews/{id}/items/{key}/runs", operation_id = "run_review_item_check", tag = "runs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id"),
        ("key" = String, Path, description = "Item key, URL-encoded (`/` as `%2F`)")),
    responses((status = 202, description = "The item's check will run now; Location is the run", body = RunView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 429, response = problems::TooManyRequests)))]
pub async fn run_item(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, key)): Path<(Uuid, String)>,
) -> ApiResult<Response> {
    let (_, run) = start_for_item(&state, &auth, id, &key).await?;
    accepted(&state, run).await
}

#[utoipa::path(get, path = "/runs/{id}", operation_id = "get_run", tag = "runs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Run id (the Location of a POST …/runs)")),
    responses((status = 200, description = "The run: its items and, as they finish, their runs with evidence", body = RunView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound)))]
pub async fn get_run(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<RunView>> {
    auth.require_role(Role::Viewer)?;
    Ok(Json(run_view(&state, id).await?))
}

#[utoipa::path(get, path = "/check-runs/{id}", operation_id = "get_check_run", tag = "runs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Check run id (an item's `last_run.run_id`)")),
    responses((status = 200, description = "One run of an item's check with its evidence", body = CheckRunView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound)))]
pub async fn get_check_run(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<CheckRunView>> {
    auth.require_role(Role::Viewer)?;
    Ok(Json(check_runs::get(&state.db, id).await?.into()))
}

#[utoipa::path(get, path = "/services/{id}/runs", operation_id = "list_service_check_runs", tag = "runs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id"), PageParams),
    responses((status = 200, description = "Runs of the service's checks, newest first", body = Page<CheckRunView>),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn service_history(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Page<CheckRunView>>> {
    auth.require_role(Role::Viewer)?;
    let (page, per_page) = params.resolve()?;
    services::find(&state.db, id).await?;
    let (rows, total) = check_runs::list(&state.db, Of::Service(id), page, per_page).await?;
    Ok(Json(page_of(rows, page, per_page, total)))
}

#[utoipa::path(get, path = "/reviews/{id}/items/{key}/runs", operation_id = "list_review_item_check_runs", tag = "runs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id"),
        ("key" = String, Path, description = "Item key, URL-encoded (`/` as `%2F`)"), PageParams),
    responses((status = 200, description = "Runs of the item's check, newest first", body = Page<CheckRunView>),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn item_history(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, key)): Path<(Uuid, String)>,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Page<CheckRunView>>> {
    auth.require_role(Role::Viewer)?;
    let (page, per_page) = params.resolve()?;
    let lr = reviews::load(&state.db, id).await?;
    let (_, row) = lr.find_item(&key)?;
    let (rows, total) = check_runs::list(&state.db, Of::Item(row.id), page, per_page).await?;
    Ok(Json(page_of(rows, page, per_page, total)))
}
