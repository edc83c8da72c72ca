//! Reviews and their items: attaching a checklist to a service (a copy of the template
//! version, so template edits never rewrite an existing review), loading a review with its
//! items and what the domain says about them at a given time (shared by the review endpoints
//! and readiness), and changing an item's state or check.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use preflight_domain::{
    CheckSpec, Checklist, Item, ItemRecord, ItemState, ScoredItem, effective_state, next_change,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use super::write::{Audited, compare_and_set, taken};
use super::{StoreError, StoreResult, decode, encode};
use crate::db::audit::Entry;
use crate::db::entities::{checklist, review, review_item, service};

/// A review, its document (with the items' current check and attestation settings applied)
/// and its item rows in document order.
#[derive(Debug, Clone)]
pub struct LoadedReview {
    pub review: review::Model,
    pub checklist: Checklist,
    pub rows: Vec<review_item::Model>,
    /// Key → position in `checklist.items` and in `rows`: lookups by key are O(1), so a
    /// pass over every row stays linear in the size of the review.
    item_at: HashMap<String, usize>,
    row_at: HashMap<String, usize>,
}

/// What is stored about an item's state.
pub fn record_of(row: &review_item::Model) -> StoreResult<ItemRecord> {
    decode(&row.record, "item record")
}

/// The item's automated check, if it has one.
pub fn check_of(row: &review_item::Model) -> StoreResult<Option<CheckSpec>> {
    row.check_spec
        .as_ref()
        .map(|v| decode(v, "check definition"))
        .transpose()
}

/// Re-attestation period of an item, in days.
pub fn re_attest_days(row: &review_item::Model) -> Option<u32> {
    row.re_attest_days.and_then(|d| u32::try_from(d).ok())
}

impl LoadedReview {
    fn assemble(mut review: review::Model, rows: Vec<review_item::Model>) -> StoreResult<Self> {
        let mut checklist: Checklist = decode(&review.document, "review document")?;
        // Decoded into `checklist`; the JSON tree would double what every loaded review (and
        // every score cloned from it) holds. Reviews are never saved back from this model.
        review.document = serde_json::Value::Null;
        let item_at: HashMap<String, usize> = checklist
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| (item.key.clone(), i))
            .collect();
        let row_at: HashMap<String, usize> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| (row.key.clone(), i))
            .collect();
        for row in &rows {
            let check = check_of(row)?;
            if let Some(item) = item_at
                .get(&row.key)
                .and_then(|&i| checklist.items.get_mut(i))
            {
                item.check = check;
                item.re_attest_days = re_attest_days(row);
                item.requires_comment = row.requires_comment;
            }
        }
        Ok(Self {
            review,
            checklist,
            rows,
            item_at,
            row_at,
        })
    }

    pub fn item(&self, key: &str) -> Option<&Item> {
        self.item_at
            .get(key)
            .and_then(|&i| self.checklist.items.get(i))
    }

    pub fn row(&self, key: &str) -> Option<&review_item::Model> {
        self.row_at.get(key).and_then(|&i| self.rows.get(i))
    }

    /// The item `key` and its row; `NotFound` naming the review otherwise.
    pub fn find_item(&self, key: &str) -> StoreResult<(&Item, &review_item::Model)> {
        let not_found =
            || StoreError::NotFound(format!("review {} has no item {key:?}", self.review.id));
        let row = self.row(key).ok_or_else(not_found)?;
        let item = self.item(key).ok_or_else(not_found)?;
        Ok((item, row))
    }

    /// Effective state of one row at `now`.
    pub fn state_of(&self, row: &review_item::Model, now: DateTime<Utc>) -> StoreResult<ItemState> {
        Ok(effective_state(&record_of(row)?, re_attest_days(row), now))
    }

    /// Every item with its effective state, in document order.
    pub fn scored(&self, now: DateTime<Utc>) -> StoreResult<Vec<ScoredItem>> {
        let mut out = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            if let Some(item) = self.item(&row.key) {
                out.push(ScoredItem::new(item, self.state_of(row, now)?));
            }
        }
        Ok(out)
    }

    /// The latest moment an item was signed off, marked failed or checked by a run.
    pub fn last_verified(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let mut last = None;
        for row in &self.rows {
            let record = record_of(row)?;
            let manual = record.attestation.map(|a| a.at);
            let run = record.last_run.map(|r| r.at);
            last = last.max(manual).max(run);
        }
        Ok(last)
    }

    /// The earliest moment after `now` at which an item's effective state changes by itself
    /// (see [`preflight_domain::next_change`]). Values computed from the review must not
    /// outlive it.
    pub fn next_change(&self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>> {
        let mut next = None;
        for row in &self.rows {
            let at = next_change(&record_of(row)?, re_attest_days(row), now);
            next = preflight_domain::earliest(next, at);
        }
        Ok(next)
    }
}

/// A live review (neither it nor its service deleted).
pub async fn load<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<LoadedReview> {
    let not_found = || StoreError::NotFound(format!("no review {id}"));
    let review = review::Entity::find_by_id(id)
        .filter(review::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let live_service = service::Entity::find_by_id(review.service_id)
        .filter(service::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .is_some();
    if !live_service {
        return Err(not_found());
    }
    let rows = review_item::Entity::find()
        .filter(review_item::Column::ReviewId.eq(id))
        .order_by_asc(review_item::Column::Position)
        .all(db)
        .await?;
    LoadedReview::assemble(review, rows)
}

/// The service a review belongs to (deleted or not: a review never moves to another service).
pub async fn service_of<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<Uuid> {
    let service: Option<Uuid> = review::Entity::find_by_id(id)
        .select_only()
        .column(review::Column::ServiceId)
        .into_tuple()
        .one(db)
        .await?;
    service.ok_or_else(|| StoreError::NotFound(format!("no review {id}")))
}

/// Every live review of the given services (all live services when `None`), grouped by
/// service, with two queries whatever the number of reviews.
pub async fn load_many<C: ConnectionTrait>(
    db: &C,
    services: Option<&[Uuid]>,
) -> StoreResult<HashMap<Uuid, Vec<LoadedReview>>> {
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

/// One page (1-based) of a service's live reviews, oldest first, and the total.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    service_id: Uuid,
    page: u64,
    per_page: u64,
) -> StoreResult<(Vec<review::Model>, u64)> {
    let paginator = review::Entity::find()
        .filter(review::Column::ServiceId.eq(service_id))
        .filter(review::Column::DeletedAt.is_null())
        .order_by_asc(review::Column::CreatedAt)
        .paginate(db, per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page - 1).await?;
    Ok((items, total))
}

/// A checklist to attach to a service.
#[derive(Debug)]
pub struct Attach<'a> {
    pub service_id: Uuid,
    pub template: &'a checklist::Model,
    /// The template's document.
    pub doc: &'a Checklist,
    pub title: String,
    pub created_by: String,
}

/// Attaches a copy of the template's current version to the service, every item pending.
/// A checklist already attached (a live review of the same pair: the unique index decides)
/// is [`StoreError::Taken`] naming that review.
pub async fn attach(db: &DatabaseTransaction, new: Attach<'_>) -> StoreResult<Audited<Uuid>> {
    let Attach {
        service_id,
        template,
        doc,
        title,
        created_by,
    } = new;
    let now = Utc::now();
    let id = Uuid::now_v7();
    // In a savepoint: on PostgreSQL a refused insert aborts its transaction, and the review
    // in the way is looked up afterwards to name it.
    let attempt = db.begin().await?;
    let inserted = review::ActiveModel {
        id: Set(id),
        service_id: Set(service_id),
        checklist_id: Set(template.id),
        checklist_version: Set(template.version),
        title: Set(title),
        document: Set(template.document.clone()),
        version: Set(1),
        created_by: Set(Some(created_by)),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(&attempt)
    .await
    .map_err(taken("checklist_id", String::new));
    match inserted {
        Ok(_) => attempt.commit().await?,
        Err(StoreError::Taken { field, .. }) => {
            attempt.rollback().await?;
            let existing = review::Entity::find()
                .filter(review::Column::ServiceId.eq(service_id))
                .filter(review::Column::ChecklistId.eq(template.id))
                .filter(review::Column::DeletedAt.is_null())
                .one(db)
                .await?
                .map(|r| format!(" as review {}", r.id))
                .unwrap_or_default();
            return Err(StoreError::Taken {
                field,
                message: format!(
                    "this checklist is already attached to the service{existing}; delete that review to start over"
                ),
            });
        }
        Err(e) => return Err(e),
    }
    let empty_record = encode(&ItemRecord::default(), "item record")?;
    let mut rows = Vec::with_capacity(doc.items.len());
    for (position, item) in doc.items.iter().enumerate() {
        rows.push(review_item::ActiveModel {
            id: Set(Uuid::now_v7()),
            review_id: Set(id),
            key: Set(item.key.clone()),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            check_spec: Set(item
                .check
                .as_ref()
                .map(|c| encode(c, "check definition"))
                .transpose()?),
            re_attest_days: Set(item.re_attest_days.and_then(|d| i32::try_from(d).ok())),
            requires_comment: Set(item.requires_comment),
            record: Set(empty_record.clone()),
            version: Set(1),
            updated_at: Set(now),
        });
    }
    // Chunks keep every statement well under the backends' bind-parameter limits.
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(100));
        review_item::Entity::insert_many(std::mem::replace(&mut rows, rest))
            .exec(db)
            .await?;
    }
    let entry = Entry {
        action: "review.create",
        target_type: "review",
        target_id: id.to_string(),
        before: None,
        after: Some(
            serde_json::json!({"service_id": service_id, "checklist_id": template.id,
            "checklist_version": template.version, "items": doc.items.len()}),
        ),
        comment: None,
    };
    Ok(Audited::new(id, entry))
}

/// Detaches a review softly if nobody changed it since (the audit trail keeps its history).
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    current: &review::Model,
) -> StoreResult<Audited<()>> {
    let update = review::Entity::update_many()
        .col_expr(review::Column::DeletedAt, Expr::value(Utc::now()))
        .col_expr(review::Column::Version, Expr::value(current.version + 1))
        .filter(review::Column::Id.eq(current.id))
        .filter(review::Column::DeletedAt.is_null());
    compare_and_set(
        db,
        update,
        review::Column::Version,
        current.version,
        "review",
    )
    .await?;
    let entry = Entry {
        action: "review.delete",
        target_type: "review",
        target_id: current.id.to_string(),
        before: Some(
            serde_json::json!({"service_id": current.service_id, "checklist_id": current.checklist_id, "title": current.title}),
        ),
        after: None,
        comment: None,
    };
    Ok(Audited::new((), entry))
}

/// An item row as it is now.
pub async fn item<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<review_item::Model> {
    review_item::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no review item {id}")))
}

/// A change of an item's state, as the audit log records it.
#[derive(Debug)]
pub struct StateChange {
    /// `review_item.sign_off`, `review_item.fail`, ...
    pub action: &'static str,
    pub from: ItemState,
    pub to: ItemState,
    pub next: ItemRecord,
    pub comment: Option<String>,
}

/// Stores the item's next record if nobody changed the item since `row` was read.
pub async fn set_record<C: ConnectionTrait>(
    db: &C,
    row: &review_item::Model,
    change: StateChange,
    now: DateTime<Utc>,
) -> StoreResult<Audited<()>> {
    let record = record_of(row)?;
    let next_json = encode(&change.next, "item record")?;
    let update = review_item::Entity::update_many()
        .col_expr(review_item::Column::Record, Expr::value(next_json.clone()))
        .col_expr(review_item::Column::Version, Expr::value(row.version + 1))
        .col_expr(review_item::Column::UpdatedAt, Expr::value(now))
        .filter(review_item::Column::Id.eq(row.id));
    compare_and_set(
        db,
        update,
        review_item::Column::Version,
        row.version,
        "item",
    )
    .await?;
    let (review_id, key) = (row.review_id, &row.key);
    let entry = Entry {
        action: change.action,
        target_type: "review_item",
        target_id: row.id.to_string(),
        before: Some(
            serde_json::json!({"review_id": review_id, "key": key, "state": change.from, "record": record}),
        ),
        after: Some(
            serde_json::json!({"review_id": review_id, "key": key, "state": change.to, "record": next_json}),
        ),
        comment: change.comment,
    };
    Ok(Audited::new((), entry))
}

/// Sets (or with `None` removes) the item's automated check if nobody changed the item since.
pub async fn set_check<C: ConnectionTrait>(
    db: &C,
    row: &review_item::Model,
    check: Option<&CheckSpec>,
) -> StoreResult<Audited<()>> {
    let before = check_of(row)?.map(|c| c.to_definition());
    let after = check.map(CheckSpec::to_definition);
    let value = check.map(|c| encode(c, "check definition")).transpose()?;
    let update = review_item::Entity::update_many()
        .col_expr(review_item::Column::CheckSpec, Expr::value(value))
        .col_expr(review_item::Column::Version, Expr::value(row.version + 1))
        .col_expr(review_item::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(review_item::Column::Id.eq(row.id));
    compare_and_set(
        db,
        update,
        review_item::Column::Version,
        row.version,
        "item",
    )
    .await?;
    let (review_id, key) = (row.review_id, &row.key);
    let entry = Entry {
        action: "review_item.check",
        target_type: "review_item",
        target_id: row.id.to_string(),
        before: Some(serde_json::json!({"review_id": review_id, "key": key, "check": before})),
        after: Some(serde_json::json!({"review_id": review_id, "key": key, "check": after})),
        comment: None,
    };
    Ok(Audited::new((), entry))
}

/// Whether review `id` exists and is not deleted.
pub async fn is_live<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<bool> {
    Ok(review::Entity::find_by_id(id)
        .filter(review::Column::DeletedAt.is_null())
        .count(db)
        .await?
        > 0)
}

/// The items with an automated check of every live review of `service`.
pub async fn automated_items<C: ConnectionTrait>(db: &C, service: Uuid) -> StoreResult<Vec<Uuid>> {
    let reviews: Vec<Uuid> = review::Entity::find()
        .filter(review::Column::ServiceId.eq(service))
        .filter(review::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    if reviews.is_empty() {
        return Ok(Vec::new());
    }
    Ok(review_item::Entity::find()
        .filter(review_item::Column::ReviewId.is_in(reviews))
        .filter(review_item::Column::CheckSpec.is_not_null())
        .order_by_asc(review_item::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect())
}
