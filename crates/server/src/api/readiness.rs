//! Readiness (PRODUCT.md §3) per review, per service and for every service, served from the
//! cache (see [`crate::readiness_cache`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use preflight_domain::{ItemState, Readiness, Score, ScoredItem, StateCounts, compute_readiness};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::review_state::{self, LoadedReview};
use crate::auth::{AuthUser, Role};
use crate::db::entities::service;
use crate::error::ApiResult;
use crate::readiness_cache;
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

fn sections_of(r: &Readiness) -> Vec<SectionScoreView> {
    r.sections
        .iter()
        .map(|s| SectionScoreView {
            section: s.section.clone(),
            score: (&s.score).into(),
        })
        .collect()
}

/// A value and the moment it stops being true by itself (for the cache).
pub type Timed<T> = (T, Option<DateTime<Utc>>);

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub fn review_readiness(
    lr: &LoadedReview,
    now: DateTime<Utc>,
) -> ApiResult<Timed<ReviewReadiness>> {
    let r = compute_readiness(&lr.scored(now)?);
    let view = ReviewReadiness {
        review_id: lr.review.id,
        service_id: lr.review.service_id,
        title: lr.review.title.clone(),
        checklist_id: lr.review.checklist_id,
        checklist_version: lr.review.checklist_version,
        ready: r.ready(),
        overall: (&r.overall).into(),
        sections: sections_of(&r),
        blocking: blocking_of(lr.review.id, &r),
        computed_at: now,
    };
    Ok((view, lr.next_change(now)?))
}

pub fn service_readiness(
    svc: &service::Model,
    reviews: &[LoadedReview],
    now: DateTime<Utc>,
) -> ApiResult<Timed<ServiceReadiness>> {
    let mut all: Vec<ScoredItem> = Vec::new();
    let mut blocking = Vec::new();
    let mut briefs = Vec::new();
    let mut until = None;
    for lr in reviews {
        let scored = lr.scored(now)?;
        let r = compute_readiness(&scored);
        blocking.extend(blocking_of(lr.review.id, &r));
        briefs.push(ReviewBrief {
            review_id: lr.review.id,
            title: lr.review.title.clone(),
            ready: r.ready(),
            ratio: r.overall.ratio,
        });
        all.extend(scored);
        until = earliest(until, lr.next_change(now)?);
    }
    let r = compute_readiness(&all);
    let mut overall: ScoreView = (&r.overall).into();
    if reviews.is_empty() {
        overall.ratio = 0.0;
        overall.ready = false;
    }
    let view = ServiceReadiness {
        service_id: svc.id,
        name: svc.name.clone(),
        environment: svc.environment.clone(),
        ready: overall.ready,
        overall,
        sections: sections_of(&r),
        blocking,
        reviews: briefs,
        computed_at: now,
    };
    Ok((view, until))
}

pub async fn compute_service<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<Timed<ServiceReadiness>> {
    let svc = super::services::find(db, id).await?;
    let mut by_service = review_state::load_many(db, Some(&[id])).await?;
    let reviews = by_service.remove(&id).unwrap_or_default();
    service_readiness(&svc, &reviews, now)
}

/// Every live service's readiness, by name.
pub async fn compute_all<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> ApiResult<Vec<Timed<ServiceReadiness>>> {
    let services = service::Entity::find()
        .filter(service::Column::DeletedAt.is_null())
        .order_by_asc(service::Column::Name)
        .all(db)
        .await?;
    let mut by_service = review_state::load_many(db, None).await?;
    services
        .iter()
        .map(|s| {
            let reviews = by_service.remove(&s.id).unwrap_or_default();
            service_readiness(s, &reviews, now)
        })
        .collect()
}

pub fn overview_of(all: &[Timed<ServiceReadiness>], now: DateTime<Utc>) -> Timed<Overview> {
    let mut until = None;
    let services: Vec<ServiceSummary> = all
        .iter()
        .map(|(s, u)| {
            until = earliest(until, *u);
            ServiceSummary {
                service_id: s.service_id,
                name: s.name.clone(),
                environment: s.environment.clone(),
                ready: s.ready,
                ratio: s.overall.ratio,
                counts: s.overall.counts,
                blocking: u32::try_from(s.blocking.len()).unwrap_or(u32::MAX),
                reviews: u32::try_from(s.reviews.len()).unwrap_or(u32::MAX),
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

#[utoipa::path(get, path = "/api/v1/reviews/{id}/readiness", tag = "readiness", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id")),
    responses((status = 200, description = "Readiness of the review", body = ReviewReadiness),
        (status = 404, description = "No such review", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn review(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ReviewReadiness>> {
    auth.require_role(Role::Viewer)?;
    let db = &state.db;
    let value = readiness_cache::cached(&state, &format!("review:{id}"), || async move {
        let lr = review_state::load(db, id).await?;
        review_readiness(&lr, Utc::now())
    })
    .await?;
    Ok(Json(value))
}

#[utoipa::path(get, path = "/api/v1/services/{id}/readiness", tag = "readiness", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Service id")),
    responses((status = 200, description = "Readiness of the service over all its reviews", body = ServiceReadiness),
        (status = 404, description = "No such service", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn service(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ServiceReadiness>> {
    auth.require_role(Role::Viewer)?;
    let db = &state.db;
    let value = readiness_cache::cached(&state, &format!("service:{id}"), || async move {
        compute_service(db, id, Utc::now()).await
    })
    .await?;
    Ok(Json(value))
}

#[utoipa::path(get, path = "/api/v1/readiness", tag = "readiness", security(("bearer" = [])),
    responses((status = 200, description = "Readiness of every service, by name", body = Overview)))]
pub async fn overview(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<Overview>> {
    auth.require_role(Role::Viewer)?;
    let db = &state.db;
    let value = readiness_cache::cached(&state, "overview", || async move {
        let now = Utc::now();
        let all = compute_all(db, now).await?;
        Ok(overview_of(&all, now))
    })
    .await?;
    Ok(Json(value))
}

/// The `state` label of each item state in metrics (same spelling as the API).
pub fn state_labels() -> BTreeMap<&'static str, ItemState> {
    BTreeMap::from([
        ("pending", ItemState::Pending),
        ("passed", ItemState::Passed),
        ("failed", ItemState::Failed),
        ("waived", ItemState::Waived),
        ("not_applicable", ItemState::NotApplicable),
    ])
}
