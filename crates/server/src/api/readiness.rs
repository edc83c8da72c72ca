//! Readiness per review, per service and for every service, as computed by
//! [`crate::readiness`] and served from its cache as ready-made JSON with a weak ETag
//! (`If-None-Match` gets a 304).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use preflight_domain::{ItemState, Readiness, Score, SectionScore, StateCounts, earliest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::etag::serve_document;
use crate::auth::{AuthUser, Role};
use crate::db::entities::service;
use crate::docs::problems;
use crate::error::ApiResult;
use crate::readiness::cache::{self, Document};
use crate::readiness::{self, ReviewScore, ServiceScore, Timed};
use crate::state::AppState;
use crate::store::{StoreError, StoreResult, reviews, services};

/// Items by effective state.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
pub struct CountsView {
    pub total: u32,
    pub pending: u32,
    pub passed: u32,
    pub failed: u32,
    pub waived: u32,
    pub not_applicable: u32,
}

impl From<StateCounts> for CountsView {
    fn from(c: StateCounts) -> Self {
        Self {
            total: c.total,
            pending: c.pending,
            passed: c.passed,
            failed: c.failed,
            waived: c.waived,
            not_applicable: c.not_applicable,
        }
    }
}

impl CountsView {
    pub fn get(&self, state: ItemState) -> u32 {
        match state {
            ItemState::Pending => self.pending,
            ItemState::Passed => self.passed,
            ItemState::Failed => self.failed,
            ItemState::Waived => self.waived,
            ItemState::NotApplicable => self.not_applicable,
        }
    }
}

/// Score of a set of items.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScoreView {
    pub counts: CountsView,
    /// Items counted in the ratio (all but not applicable).
    pub applicable: u32,
    /// (passed + waived) / applicable; 1.0 when nothing is applicable.
    pub ratio: f64,
    /// No required item is pending or failed.
    pub ready: bool,
    /// Required items pending or failed.
    pub blocking: u32,
}

impl From<&Score> for ScoreView {
    fn from(s: &Score) -> Self {
        Self {
            counts: s.counts.into(),
            applicable: s.applicable,
            ratio: s.ratio,
            ready: s.ready,
            blocking: s.blocking,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SectionScoreView {
    pub section: Option<String>,
    #[serde(flatten)]
    pub score: ScoreView,
}

/// A required item that is pending or failed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockingView {
    pub review_id: Uuid,
    pub key: String,
    pub text: String,
    pub section: Option<String>,
    /// `pending` or `failed`.
    pub state: String,
}

fn state_name(s: ItemState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Readiness of one review.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewReadiness {
    pub review_id: Uuid,
    pub service_id: Uuid,
    pub title: String,
    pub checklist_id: Uuid,
    pub checklist_version: i32,
    pub ready: bool,
    pub overall: ScoreView,
    pub sections: Vec<SectionScoreView>,
    pub blocking: Vec<BlockingView>,
    pub computed_at: DateTime<Utc>,
}

/// One review in a service's readiness.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewBrief {
    pub review_id: Uuid,
    pub title: String,
    pub ready: bool,
    pub ratio: f64,
}

/// Readiness of a service over all its reviews. A service with no review attached is not
/// ready: nothing about it has been verified.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceReadiness {
    pub service_id: Uuid,
    pub name: String,
    pub environment: String,
    pub ready: bool,
    pub overall: ScoreView,
    /// Per section title, merged across reviews, in order of first appearance.
    pub sections: Vec<SectionScoreView>,
    pub blocking: Vec<BlockingView>,
    pub reviews: Vec<ReviewBrief>,
    /// The latest sign-off, failure or check run of any item; `null` when none was verified.
    #[serde(default)]
    pub last_verified: Option<DateTime<Utc>>,
    pub computed_at: DateTime<Utc>,
}

/// One line of the overview.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceSummary {
    pub service_id: Uuid,
    pub name: String,
    pub environment: String,
    pub ready: bool,
    pub ratio: f64,
    pub counts: CountsView,
    pub blocking: u32,
    pub reviews: u32,
    /// The latest sign-off, failure or check run of any item; `null` when none was verified.
    #[serde(default)]
    pub last_verified: Option<DateTime<Utc>>,
}

/// Readiness of every service, by name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Overview {
    pub services: Vec<ServiceSummary>,
    pub total: u32,
    pub ready: u32,
    pub computed_at: DateTime<Utc>,
}

fn blocking_of(review_id: Uuid, r: &Readiness) -> Vec<BlockingView> {
    r.blocking
        .iter()
        .map(|b| BlockingView {
            review_id,
            key: b.key.clone(),
            text: b.text.clone(),
            section: b.section.clone(),
            state: state_name(b.state),
        })
        .collect()
}

fn sections_of(sections: &[SectionScore]) -> Vec<SectionScoreView> {
    sections
        .iter()
        .map(|s| SectionScoreView {
            section: s.section.clone(),
            score: (&s.score).into(),
        })
        .collect()
}

impl ReviewReadiness {
    fn of(score: &ReviewScore, computed_at: DateTime<Utc>) -> Self {
        let (review, r) = (&score.review, &score.readiness);
        Self {
            review_id: review.id,
            service_id: review.service_id,
            title: review.title.clone(),
            checklist_id: review.checklist_id,
            checklist_version: review.checklist_version,
            ready: r.ready(),
            overall: (&r.overall).into(),
            sections: sections_of(&r.sections),
            blocking: blocking_of(review.id, r),
            computed_at,
        }
    }
}

impl ServiceReadiness {
    fn of(score: &ServiceScore, computed_at: DateTime<Utc>) -> Self {
        let r = &score.readiness;
        let reviews = score.reviews.iter().zip(&r.reviews);
        Self {
            service_id: score.service.id,
            name: score.service.name.clone(),
            environment: score.service.environment.clone(),
            ready: r.ready(),
            overall: (&r.overall).into(),
            sections: sections_of(&r.sections),
            blocking: reviews
                .clone()
                .flat_map(|(review, rr)| blocking_of(review.id, rr))
                .collect(),
            reviews: reviews
                .map(|(review, rr)| ReviewBrief {
                    review_id: review.id,
                    title: review.title.clone(),
                    ready: rr.ready(),
                    ratio: rr.overall.ratio,
                })
                .collect(),
            last_verified: score.last_verified,
            computed_at,
        }
    }
}

impl ServiceSummary {
    fn of(score: &ServiceScore) -> Self {
        let r = &score.readiness;
        let blocking: usize = r.reviews.iter().map(|rr| rr.blocking.len()).sum();
        Self {
            service_id: score.service.id,
            name: score.service.name.clone(),
            environment: score.service.environment.clone(),
            ready: r.ready(),
            ratio: r.overall.ratio,
            counts: r.overall.counts.into(),
            blocking: u32::try_from(blocking).unwrap_or(u32::MAX),
            reviews: u32::try_from(score.reviews.len()).unwrap_or(u32::MAX),
            last_verified: score.last_verified,
        }
    }
}

/// The key of a service's overview line under its tag.
const SUMMARY_KEY: &str = "summary";

/// The overview, from each service's cached overview line; the lines missing (the services a
/// write changed, or all of them on a cold cache) are computed together in a few batched
/// queries and cached for the next time.
async fn assemble_overview(state: &AppState) -> StoreResult<Timed<Overview>> {
    let now = Utc::now();
    let all = services::all(&state.db).await?;
    let tags: Vec<String> = all.iter().map(|s| cache::service_tag(s.id)).collect();
    let keys: Vec<(&str, &str)> = tags.iter().map(|t| (t.as_str(), SUMMARY_KEY)).collect();
    let slots = state.cache.slots(&keys).await;
    let mut lines: Vec<Option<Timed<ServiceSummary>>> = state
        .cache
        .read_many(&slots)
        .await
        .into_iter()
        .map(|stored| {
            let doc = Document::fresh_at(stored, now)?;
            Some((doc.value().ok()?, doc.valid_until()))
        })
        .collect();
    let missing = lines.iter().filter(|line| line.is_none()).count();
    if missing > 0 {
        let stale: Vec<service::Model> = all
            .iter()
            .zip(&lines)
            .filter(|(_, line)| line.is_none())
            .map(|(s, _)| s.clone())
            .collect();
        let mut scores = readiness::score_services(&state.db, &stale, now)
            .await?
            .into_iter();
        for (line, slot) in lines.iter_mut().zip(&slots) {
            if line.is_some() {
                continue;
            }
            let (score, until) = scores.next().ok_or_else(|| {
                StoreError::NotFound(
                    "a service went missing while the overview was computed".to_owned(),
                )
            })?;
            let summary = ServiceSummary::of(&score);
            if let Some(slot) = slot {
                let stored = Document::encode(&summary, until)?;
                state
                    .cache
                    .write(slot, stored.into(), state.settings.cache_ttl)
                    .await;
            }
            *line = Some((summary, until));
        }
        cache::computed("summary", missing as u64);
    }
    let mut until = None;
    let services: Vec<ServiceSummary> = lines
        .into_iter()
        .flatten()
        .map(|(summary, u)| {
            until = earliest(until, u);
            summary
        })
        .collect();
    let ready = u32::try_from(services.iter().filter(|s| s.ready).count()).unwrap_or(u32::MAX);
    let total = u32::try_from(services.len()).unwrap_or(u32::MAX);
    let overview = Overview {
        services,
        total,
        ready,
        computed_at: now,
    };
    Ok((overview, until))
}

/// The cached readiness document of one review.
pub async fn review_document(state: &AppState, id: Uuid) -> StoreResult<Document> {
    let service = reviews::service_of(&state.db, id).await?;
    let tag = cache::service_tag(service);
    cache::document(state, "review", &tag, &format!("review:{id}"), || async {
        let now = Utc::now();
        let (score, until) = readiness::review(&state.db, id, now).await?;
        Ok((ReviewReadiness::of(&score, now), until))
    })
    .await
}

/// The cached readiness document of one service.
pub async fn service_document(state: &AppState, id: Uuid) -> StoreResult<Document> {
    let tag = cache::service_tag(id);
    cache::document(state, "service", &tag, "service", || async {
        let now = Utc::now();
        let (score, until) = readiness::service(&state.db, id, now).await?;
        Ok((ServiceReadiness::of(&score, now), until))
    })
    .await
}

/// The cached overview document. Computed on a task of its own: with thousands of services a
/// cold overview takes a while, and a client giving up (or the request timeout) must not
/// cancel the computation the other readers wait for and the next ones read from the cache.
pub async fn overview_document(state: &AppState) -> StoreResult<Document> {
    // A hit is served here; only a miss pays for a task of its own.
    if let Some(document) = cache::cached(state, cache::OVERVIEW_TAG, "overview").await {
        return Ok(document);
    }
    let state = state.clone();
    tokio::spawn(async move {
        cache::document(&state, "overview", cache::OVERVIEW_TAG, "overview", || {
            assemble_overview(&state)
        })
        .await
    })
    .await
    .map_err(|e| {
        StoreError::Db(sea_orm::DbErr::Custom(format!(
            "the overview task failed: {e}"
        )))
    })?
}

/// Readiness of a review, of a service and of every service.
/// Each handler is routed together with its `#[utoipa::path]` operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(review))
        .routes(routes!(service))
        .routes(routes!(overview))
}

#[utoipa::path(get, path = "/reviews/{id}/readiness", operation_id = "get_review_readiness", tag = "readiness", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a copy the client holds: 304 when it is current")),
    responses((status = 200, description = "Readiness of the review", body = ReviewReadiness,
            headers(("ETag" = String, description = "Validator of this answer (weak: the body may be sent compressed)"))),
        (status = 304, description = "Not modified: the copy whose ETag was sent is current"),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound)))]
pub async fn review(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    auth.require_role(Role::Viewer)?;
    Ok(serve_document(
        &headers,
        &review_document(&state, id).await?,
    ))
}

#[utoipa::path(get, path = "/services/{id}/readiness", operation_id = "get_service_readiness", tag = "readiness", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a copy the client holds: 304 when it is current")),
    responses((status = 200, description = "Readiness of the service over all its reviews", body = ServiceReadiness,
            headers(("ETag" = String, description = "Validator of this answer (weak: the body may be sent compressed)"))),
        (status = 304, description = "Not modified: the copy whose ETag was sent is current"),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound)))]
pub async fn service(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    auth.require_role(Role::Viewer)?;
    Ok(serve_document(
        &headers,
        &service_document(&state, id).await?,
    ))
}

#[utoipa::path(get, path = "/readiness", operation_id = "get_readiness_overview", tag = "readiness", security(("bearer" = [])),
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of a copy the client holds: 304 when it is current")),
    responses((status = 200, description = "Readiness of every service, by name", body = Overview,
            headers(("ETag" = String, description = "Validator of this answer (weak: the body may be sent compressed)"))),
        (status = 304, description = "Not modified: the copy whose ETag was sent is current"),
        (status = 401, response = problems::Unauthorized)))]
pub async fn overview(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
) -> ApiResult<Response> {
    auth.require_role(Role::Viewer)?;
    Ok(serve_document(&headers, &overview_document(&state).await?))
}
