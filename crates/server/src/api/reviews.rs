//! Reviews: a checklist attached to a service. Attaching copies the template version, so
//! template edits never rewrite an existing review. `/api/v1/services/{id}/reviews`,
//! `/api/v1/reviews/{id}` (JSON, or the Markdown export with the state filled in).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use preflight_domain::{ItemRecord, ItemReport, ItemState, to_markdown_with_state};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::checklists::SectionView;
use super::etag::check_if_match;
use super::review_items::{ReviewItemView, item_view, with_evidence};
use super::support::{Format, json_with_etag, markdown_response, wants_markdown};
use crate::auth::{AuthUser, Role};
use crate::db::entities::review;
use crate::docs::problems;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::store::reviews::{self, LoadedReview, record_of};
use crate::store::{StoreError, check_runs, checklists, services};
use crate::write::Write;

/// A review in lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewSummary {
    pub id: Uuid,
    pub service_id: Uuid,
    pub checklist_id: Uuid,
    /// The template version this review was copied from.
    pub checklist_version: i32,
    pub title: String,
    pub version: i32,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A review with every item and its current state (also the JSON export).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    #[serde(flatten)]
    pub summary: ReviewSummary,
    pub sections: Vec<SectionView>,
    pub items: Vec<ReviewItemView>,
}

impl From<&review::Model> for ReviewSummary {
    fn from(r: &review::Model) -> Self {
        Self {
            id: r.id,
            service_id: r.service_id,
            checklist_id: r.checklist_id,
            checklist_version: r.checklist_version,
            title: r.title.clone(),
            version: r.version,
            created_by: r.created_by.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub fn view(lr: &LoadedReview, now: DateTime<Utc>) -> ApiResult<ReviewView> {
    let items = lr
        .rows
        .iter()
        .filter_map(|row| lr.item(&row.key).map(|item| item_view(lr, item, row, now)))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(ReviewView {
        summary: (&lr.review).into(),
        sections: lr
            .checklist
            .sections
            .iter()
            .map(|s| SectionView {
                title: s.title.clone(),
                groups: s.groups.clone(),
            })
            .collect(),
        items,
    })
}

/// Body of `POST /services/{id}/reviews`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachChecklist {
    pub checklist_id: Uuid,
    /// Default: the checklist's name; 1 to 200 characters, not blank.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
}

/// Longest review title, in characters (also in the schema, held to it by routes_tests.rs).
pub const MAX_TITLE: usize = 200;

/// A service's reviews (`/services/{id}/reviews`) and `/reviews/{id}`.
/// Each handler is routed together with its `#[utoipa::path]` operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, attach))
        .routes(routes!(get, delete))
}

#[utoipa::path(get, path = "/services/{id}/reviews", operation_id = "list_service_reviews", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id"), PageParams),
    responses((status = 200, description = "Reviews of the service, oldest first", body = Page<ReviewSummary>),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Page<ReviewSummary>>> {
    auth.require_role(Role::Viewer)?;
    let (page, per_page) = params.resolve()?;
    services::find(&state.db, id).await?;
    let (items, total) = reviews::list(&state.db, id, page, per_page).await?;
    Ok(Json(Page {
        items: items.iter().map(Into::into).collect(),
        page,
        per_page,
        total,
    }))
}

#[utoipa::path(post, path = "/services/{id}/reviews", operation_id = "attach_checklist", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id")),
    request_body = AttachChecklist,
    responses((status = 201, description = "Attached: a copy of the current template version", body = ReviewView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn attach(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(service_id): Path<Uuid>,
    ApiJson(body): ApiJson<AttachChecklist>,
) -> ApiResult<Response> {
    let id = attach_checklist(&state, &auth, service_id, body).await?;
    let lr = reviews::load(&state.db, id).await?;
    let mut res = json_with_etag(
        StatusCode::CREATED,
        lr.review.version,
        view(&lr, Utc::now())?,
    );
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/reviews/{id}")) {
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

/// Attaches a checklist to a service (the API and the web page): the new review's id.
pub async fn attach_checklist(
    state: &AppState,
    auth: &AuthUser,
    service_id: Uuid,
    body: AttachChecklist,
) -> ApiResult<Uuid> {
    auth.require_write(Role::Editor)?;
    services::find(&state.db, service_id).await?;
    let template = match checklists::find(&state.db, body.checklist_id).await {
        Err(StoreError::NotFound(_)) => {
            return Err(ApiError::validation("unknown checklist").field(
                "checklist_id",
                format!("no checklist {}", body.checklist_id),
            ));
        }
        found => found?,
    };
    let title = match body.title.as_deref().map(str::trim) {
        Some(t) if t.is_empty() || t.chars().count() > MAX_TITLE => {
            return Err(ApiError::validation("invalid review")
                .field("title", format!("1 to {MAX_TITLE} characters")));
        }
        Some(t) => t.to_owned(),
        None => template.name.clone(),
    };
    let doc = checklists::document_of(&template)?;
    let attach = reviews::Attach {
        service_id,
        template: &template,
        doc: &doc,
        title,
        created_by: auth.email.clone(),
    };
    let write = Write::changing_readiness(state, auth.actor(), service_id).await?;
    let change = reviews::attach(write.txn(), attach).await?;
    Ok(write.commit(change).await?)
}

/// What the Markdown export says about an item: who decided its state, when, and why.
pub fn report(record: &ItemRecord, state: ItemState) -> Option<ItemReport> {
    let person = |by: &str, at, note: Option<String>| {
        Some(ItemReport {
            state,
            by: Some(by.to_owned()),
            at: Some(at),
            note,
        })
    };
    match state {
        ItemState::Pending => None,
        ItemState::Waived => record.waiver.as_ref().and_then(|w| {
            let note = format!("{} (until {})", w.reason, w.expires_at.format("%Y-%m-%d"));
            person(&w.by, w.at, Some(note))
        }),
        ItemState::NotApplicable => record
            .exclusion
            .as_ref()
            .and_then(|e| person(&e.by, e.at, Some(e.reason.clone()))),
        ItemState::Passed | ItemState::Failed => {
            let manual = record.attestation.as_ref();
            match (manual, &record.last_run) {
                (Some(a), Some(run)) if run.at > a.at => {
                    person("automated check", run.at, run.reason.clone())
                }
                (Some(a), _) => person(&a.by, a.at, a.comment.clone()),
                (None, Some(run)) => person("automated check", run.at, run.reason.clone()),
                (None, None) => None,
            }
        }
    }
}

/// `?format=` of a review export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Markdown,
    Junit,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParam {
    /// `markdown` (same as `Accept: text/markdown`) or `junit` (JUnit XML for CI systems, the
    /// shape of `preflight check --format junit`); JSON by default.
    pub format: Option<ExportFormat>,
}

#[utoipa::path(get, path = "/reviews/{id}", operation_id = "get_review", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id"), ExportParam),
    // One 200 with every media type: several `status = 200` entries would keep only the last.
    responses((status = 200, description = "The review with every item's state and the latest evidence of each automated item (the JSON export); the Markdown export (`?format=markdown` or `Accept: text/markdown`): `[x]` for passed and waived items, a trailing note with state, who and when (for automated items, the latest run's sentence); or JUnit XML (`?format=junit`): a test suite per section, a test case per item, failed, error and blocking pending items as failures",
            content((ReviewView = "application/json"), (String = "text/markdown"), (String = "application/xml"))),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound)))]
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    Query(format): Query<ExportParam>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    auth.require_role(Role::Viewer)?;
    let lr = reviews::load(&state.db, id).await?;
    let now = Utc::now();
    let markdown = match format.format {
        Some(ExportFormat::Junit) => return junit(&state, &lr, now).await,
        Some(ExportFormat::Markdown) => Some(Format::Markdown),
        Some(ExportFormat::Json) => Some(Format::Json),
        None => None,
    };
    if wants_markdown(&headers, markdown) {
        let mut reports = std::collections::HashMap::new();
        for row in &lr.rows {
            let record = record_of(row)?;
            let item_state = lr.state_of(row, now)?;
            if let Some(r) = report(&record, item_state) {
                reports.insert(row.key.clone(), r);
            }
        }
        let text = to_markdown_with_state(&lr.checklist, &|item| reports.get(&item.key).cloned());
        return Ok(markdown_response(text, Some(lr.review.version)));
    }
    let mut review = view(&lr, now)?;
    with_evidence(&state, &mut review.items).await?;
    Ok(json_with_etag(StatusCode::OK, lr.review.version, review))
}

/// The JUnit export: the gate's rows of every item, with the latest run's evidence.
async fn junit(state: &AppState, lr: &LoadedReview, now: DateTime<Utc>) -> ApiResult<Response> {
    let mut records = Vec::with_capacity(lr.rows.len());
    for row in &lr.rows {
        records.push((row, record_of(row)?, lr.state_of(row, now)?));
    }
    let run_ids: Vec<Uuid> = records
        .iter()
        .filter_map(|(_, record, _)| record.last_run.as_ref()?.run_id.as_deref()?.parse().ok())
        .collect();
    let mut reports: std::collections::HashMap<String, preflight_probe::Report> =
        check_runs::by_ids(&state.db, &run_ids)
            .await?
            .into_iter()
            .filter_map(|r| Some((r.id.to_string(), serde_json::from_value(r.evidence).ok()?)))
            .collect();
    let mut rows = Vec::with_capacity(records.len());
    for (row, record, item_state) in &records {
        let Some(item) = lr.item(&row.key) else {
            continue;
        };
        let check = reviews::check_of(row)?;
        let report = record
            .last_run
            .as_ref()
            .and_then(|r| r.run_id.as_deref())
            .and_then(|id| reports.remove(id));
        rows.push(crate::gate::review_row(crate::gate::ItemFacts {
            key: &row.key,
            section: item.section.as_deref(),
            group: item.group.as_deref(),
            text: &item.text,
            optional: item.optional,
            state: *item_state,
            check_definition: check
                .as_ref()
                .map(preflight_domain::CheckSpec::to_definition),
            attestation: record.attestation.as_ref(),
            waiver: record.waiver.as_ref(),
            exclusion: record.exclusion.as_ref(),
            last_run: record.last_run.as_ref(),
            report,
        }));
    }
    let xml = crate::gate::junit::render(&lr.review.title, &rows).map_err(ApiError::internal)?;
    let mut res = (StatusCode::OK, xml).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    Ok(res)
}

#[utoipa::path(delete, path = "/reviews/{id}", operation_id = "delete_review", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    responses((status = 204, description = "Detached (soft: the audit trail keeps its history)"),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    auth.require_write(Role::Editor)?;
    let lr = reviews::load(&state.db, id).await?;
    check_if_match(&headers, lr.review.version)?;
    let write = Write::changing_readiness(&state, auth.actor(), lr.review.service_id).await?;
    let change = reviews::delete(write.txn(), &lr.review).await?;
    write.commit(change).await?;
    Ok(StatusCode::NO_CONTENT)
}
