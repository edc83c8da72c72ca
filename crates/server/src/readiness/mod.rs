//! Readiness of reviews and services: the reviews as the store loads them,
//! scored by the domain's rules ([`preflight_domain::compute_readiness`],
//! [`preflight_domain::service_readiness`]), with the moment each result stops being true by
//! itself. [`cache`] serves results from the cache and [`gauges`] publishes them as metrics.

pub mod cache;
pub mod gauges;

use chrono::{DateTime, Utc};
use preflight_domain::{Readiness, ServiceReadiness, compute_readiness, earliest};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::db::entities::{review, service};
use crate::store::reviews::{self, LoadedReview};
use crate::store::{StoreResult, services};

/// A value and the moment it stops being true by itself (`None`: only a write changes it).
pub type Timed<T> = (T, Option<DateTime<Utc>>);

/// One review's readiness at a moment.
#[derive(Debug, Clone)]
pub struct ReviewScore {
    pub review: review::Model,
    pub readiness: Readiness,
}

/// A service's readiness over its live reviews at a moment.
#[derive(Debug, Clone)]
pub struct ServiceScore {
    pub service: service::Model,
    /// Its reviews, oldest first, in the order of `readiness.reviews`.
    pub reviews: Vec<review::Model>,
    pub readiness: ServiceReadiness,
    /// The latest sign-off, failure or check run of any of its items.
    pub last_verified: Option<DateTime<Utc>>,
}

/// Scores a loaded review at `now`.
pub fn score_review(lr: &LoadedReview, now: DateTime<Utc>) -> StoreResult<Timed<ReviewScore>> {
    let readiness = compute_readiness(&lr.scored(now)?);
    let score = ReviewScore {
        review: lr.review.clone(),
        readiness,
    };
    Ok((score, lr.next_change(now)?))
}

/// Scores a service from its loaded reviews at `now`.
pub fn score_service(
    svc: &service::Model,
    loaded: &[LoadedReview],
    now: DateTime<Utc>,
) -> StoreResult<Timed<ServiceScore>> {
    let mut items = Vec::with_capacity(loaded.len());
    let mut until = None;
    let mut last_verified = None;
    for lr in loaded {
        items.push(lr.scored(now)?);
        until = earliest(until, lr.next_change(now)?);
        last_verified = last_verified.max(lr.last_verified()?);
    }
    let score = ServiceScore {
        service: svc.clone(),
        reviews: loaded.iter().map(|lr| lr.review.clone()).collect(),
        readiness: preflight_domain::service_readiness(&items),
        last_verified,
    };
    Ok((score, until))
}

/// Readiness of one live review.
pub async fn review<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Timed<ReviewScore>> {
    score_review(&reviews::load(db, id).await?, now)
}

/// Readiness of one live service.
pub async fn service<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Timed<ServiceScore>> {
    let svc = services::find(db, id).await?;
    let mut by_service = reviews::load_many(db, Some(&[id])).await?;
    let loaded = by_service.remove(&id).unwrap_or_default();
    score_service(&svc, &loaded, now)
}

/// Services scored per batch: the reviews of a batch are loaded together (two queries) and
/// dropped once scored, so memory stays bounded by one batch whatever the number of services.
pub(crate) const BATCH: usize = 50;

/// Scores `services` at `now`, in batches of [`BATCH`], in order.
pub async fn score_services<C: ConnectionTrait>(
    db: &C,
    services: &[service::Model],
    now: DateTime<Utc>,
) -> StoreResult<Vec<Timed<ServiceScore>>> {
    let mut out = Vec::with_capacity(services.len());
    for batch in services.chunks(BATCH) {
        let ids: Vec<Uuid> = batch.iter().map(|s| s.id).collect();
        let mut by_service = reviews::load_many(db, Some(&ids)).await?;
        for s in batch {
            let loaded = by_service.remove(&s.id).unwrap_or_default();
            out.push(score_service(s, &loaded, now)?);
        }
    }
    Ok(out)
}
