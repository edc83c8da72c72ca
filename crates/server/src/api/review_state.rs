//! Loading a review with its items, and what the domain says about them at a given time.
//! Shared by the review endpoints, readiness and metrics.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use preflight_domain::{
    CheckSpec, Checklist, Item, ItemRecord, ItemState, ScoredItem, effective_state,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::db::entities::{review, review_item, service};
use crate::error::{ApiError, ApiResult};

/// A review, its document (with the items' current check and attestation settings applied)
/// and its item rows in document order.
#[derive(Debug, Clone)]
pub struct LoadedReview {
    pub review: review::Model,
    pub checklist: Checklist,
    pub rows: Vec<review_item::Model>,
}

/// Decodes a stored JSON column; a row that does not decode is a server bug, not a 4xx.
fn decode<T: serde::de::DeserializeOwned>(value: &serde_json::Value, what: &str) -> ApiResult<T> {
    serde_json::from_value(value.clone())
        .map_err(|e| ApiError::internal(format!("stored {what} does not decode: {e}")))
}

pub fn record_of(row: &review_item::Model) -> ApiResult<ItemRecord> {
    decode(&row.record, "item record")
}

pub fn check_of(row: &review_item::Model) -> ApiResult<Option<CheckSpec>> {
    row.check_spec
        .as_ref()
        .map(|v| decode(v, "check definition"))
        .transpose()
}

impl LoadedReview {
    fn assemble(review: review::Model, rows: Vec<review_item::Model>) -> ApiResult<Self> {
        let mut checklist: Checklist = decode(&review.document, "review document")?;
        for row in &rows {
            let check = check_of(row)?;
            if let Some(item) = checklist.item_mut(&row.key) {
                item.check = check;
                item.re_attest_days = row.re_attest_days.and_then(|d| u32::try_from(d).ok());
                item.requires_comment = row.requires_comment;
            }
        }
        Ok(Self {
            review,
            checklist,
            rows,
        })
    }

    pub fn item(&self, key: &str) -> Option<&Item> {
        self.checklist.item(key)
    }

    pub fn row(&self, key: &str) -> Option<&review_item::Model> {
        self.rows.iter().find(|r| r.key == key)
    }

    /// Effective state of one row at `now`.
    pub fn state_of(&self, row: &review_item::Model, now: DateTime<Utc>) -> ApiResult<ItemState> {
        let re_attest = row.re_attest_days.and_then(|d| u32::try_from(d).ok());
        Ok(effective_state(&record_of(row)?, re_attest, now))
    }

    /// Every item with its effective state, in document order.
    pub fn scored(&self, now: DateTime<Utc>) -> ApiResult<Vec<ScoredItem>> {
        let mut out = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            if let Some(item) = self.item(&row.key) {
                out.push(ScoredItem::new(item, self.state_of(row, now)?));
            }
        }
        Ok(out)
    }

    /// The earliest moment after `now` at which an item's effective state changes by itself
    /// (a waiver expires, a sign-off needs re-attestation). Cached readiness must not outlive it.
    pub fn next_change(&self, now: DateTime<Utc>) -> ApiResult<Option<DateTime<Utc>>> {
        let mut next: Option<DateTime<Utc>> = None;
        let mut consider = |t: DateTime<Utc>| {
            if t > now && next.is_none_or(|n| t < n) {
                next = Some(t);
            }
        };
        for row in &self.rows {
            let record = record_of(row)?;
            if let Some(w) = &record.waiver {
                consider(w.expires_at);
            }
            if let (Some(a), Some(days)) = (&record.attestation, row.re_attest_days)
                && a.passed
            {
                consider(a.at + Duration::days(i64::from(days)) + Duration::seconds(1));
            }
        }
        Ok(next)
    }
}

/// A live review (neither it nor its service deleted), 404 otherwise.
pub async fn load<C: ConnectionTrait>(db: &C, id: Uuid) -> ApiResult<LoadedReview> {
    let review = review::Entity::find_by_id(id)
        .filter(review::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no review {id}")))?;
    let live_service = service::Entity::find_by_id(review.service_id)
        .filter(service::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .is_some();
    if !live_service {
        return Err(ApiError::not_found(format!("no review {id}")));
    }
    let rows = review_item::Entity::find()
        .filter(review_item::Column::ReviewId.eq(id))
        .order_by_asc(review_item::Column::Position)
        .all(db)
        .await?;
    LoadedReview::assemble(review, rows)
}

/// Every live review of the given services (all live services when `None`), grouped by
/// service, with two queries whatever the number of reviews.
pub async fn load_many<C: ConnectionTrait>(
    db: &C,
    services: Option<&[Uuid]>,
) -> ApiResult<HashMap<Uuid, Vec<LoadedReview>>> {
    let mut query = review::Entity::find()
        .filter(review::Column::DeletedAt.is_null())
        .order_by_asc(review::Column::CreatedAt);
    if let Some(ids) = services {
        query = query.filter(review::Column::ServiceId.is_in(ids.iter().copied()));
    }
    let reviews = query.all(db).await?;
    let review_ids: Vec<Uuid> = reviews.iter().map(|r| r.id).collect();
    let mut rows_by_review: HashMap<Uuid, Vec<review_item::Model>> = HashMap::new();
    // Chunked so that PostgreSQL's and SQLite's bind-parameter limits never bite.
    for chunk in review_ids.chunks(500) {
        let rows = review_item::Entity::find()
            .filter(review_item::Column::ReviewId.is_in(chunk.iter().copied()))
            .order_by_asc(review_item::Column::Position)
            .all(db)
            .await?;
        for row in rows {
            rows_by_review.entry(row.review_id).or_default().push(row);
        }
    }
    let mut out: HashMap<Uuid, Vec<LoadedReview>> = HashMap::new();
    for review in reviews {
        let rows = rows_by_review.remove(&review.id).unwrap_or_default();
        let service_id = review.service_id;
        out.entry(service_id)
            .or_default()
            .push(LoadedReview::assemble(review, rows)?);
    }
    Ok(out)
}
