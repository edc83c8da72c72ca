//! Readiness per review, per service and for every service, as computed by
//! [`crate::readiness`] and served from its cache.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use preflight_domain::{ItemState, Readiness, Score, SectionScore, StateCounts, earliest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{AuthUser, Role};
use crate::docs::problems;
use crate::error::ApiResult;
use crate::readiness::{self, ReviewScore, ServiceScore, Timed, cache};
use crate::state::AppState;

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

fn overview_of(all: &[Timed<ServiceScore>], now: DateTime<Utc>) -> Timed<Overview> {
    let mut until = None;
    let services: Vec<ServiceSummary> = all
        .iter()
        .map(|(score, u)| {
            until = earliest(until, *u);
            let s = ServiceReadiness::of(score, now);
            ServiceSummary {
                service_id: s.service_id,
                name: s.name,
                environment: s.environment,
                ready: s.ready,
                ratio: s.overall.ratio,
                counts: s.overall.counts,
                blocking: u32::try_from(s.blocking.len()).unwrap_or(u32::MAX),
                reviews: u32::try_from(s.reviews.len()).unwrap_or(u32::MAX),
                last_verified: s.last_verified,
            }
        })
        .collect();
    let ready = u32::try_from(services.iter().filter(|s| s.ready).count()).unwrap_or(u32::MAX);
    let total = u32::try_from(services.len()).unwrap_or(u32::MAX);
    (
        Overview {
            services,
            total,
            ready,
            computed_at: now,
        },
        until,
    )
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
    params(("id" = Uuid, Path, description = "Review id")),
    responses((status = 200, description = "Readiness of the review", body = ReviewReadiness),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound)))]
pub async fn review(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ReviewReadiness>> {
    auth.require_role(Role::Viewer)?;
    let db = &state.db;
    let value = cache::cached(&state, &format!("review:{id}"), || async move {
        let now = Utc::now();
        let (score, until) = readiness::review(db, id, now).await?;
        ApiResult::Ok((ReviewReadiness::of(&score, now), until))
    })
    .await?;
    Ok(Json(value))
}

#[utoipa::path(get, path = "/services/{id}/readiness", operation_id = "get_service_readiness", tag = "readiness", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id")),
    responses((status = 200, description = "Readiness of the service over all its reviews", body = ServiceReadiness),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 404, response = problems::NotFound)))]
pub async fn service(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ServiceReadiness>> {
    auth.require_role(Role::Viewer)?;
    let db = &state.db;
    let value = cache::cached(&state, &format!("service:{id}"), || async move {
        let now = Utc::now();
        let (score, until) = readiness::service(db, id, now).await?;
        ApiResult::Ok((ServiceReadiness::of(&score, now), until))
    })
    .await?;
    Ok(Json(value))
}

#[utoipa::path(get, path = "/readiness", operation_id = "get_readiness_overview", tag = "readiness", security(("bearer" = [])),
    responses((status = 200, description = "Readiness of every service, by name", body = Overview),
        (status = 401, response = problems::Unauthorized)))]
pub async fn overview(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<Overview>> {
    auth.require_role(Role::Viewer)?;
    let db = &state.db;
    let value = cache::cached(&state, "overview", || async move {
        let now = Utc::now();
        let all = readiness::all(db, now).await?;
        ApiResult::Ok(overview_of(&all, now))
    })
    .await?;
    Ok(Json(value))
}
