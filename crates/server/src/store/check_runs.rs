//! Check runs: one row per run of an item's automated check, with its evidence, newest first
//! per item and per service; retention keeps the last N of each item and every failure for D
//! days.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use super::{StoreError, StoreResult};
use crate::db::entities::check_run;

/// Why a run happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Its interval came round.
    Schedule,
    /// Somebody asked for it.
    Request,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Request => "request",
        }
    }
}

/// A finished run to store.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: Uuid,
    pub review_item_id: Uuid,
    pub review_id: Uuid,
    pub service_id: Uuid,
    pub item_key: String,
    pub kind: String,
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: &'static str,
    pub reason: String,
    pub evidence: serde_json::Value,
    pub duration_ms: i64,
}

pub async fn insert<C: ConnectionTrait>(db: &C, run: NewRun) -> StoreResult<()> {
    check_run::ActiveModel {
        id: Set(run.id),
        review_item_id: Set(run.review_item_id),
        review_id: Set(run.review_id),
        service_id: Set(run.service_id),
        item_key: Set(run.item_key),
        kind: Set(run.kind),
        trigger: Set(run.trigger.as_str().to_owned()),
        started_at: Set(run.started_at),
        finished_at: Set(run.finished_at),
        outcome: Set(run.outcome.to_owned()),
        reason: Set(run.reason),
        evidence: Set(run.evidence),
        duration_ms: Set(run.duration_ms),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<check_run::Model> {
    check_run::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no check run {id}")))
}

/// The runs with these ids (those retention has not pruned).
pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> StoreResult<Vec<check_run::Model>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        out.extend(
            check_run::Entity::find()
                .filter(check_run::Column::Id.is_in(chunk.to_vec()))
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

/// Whose history to list.
#[derive(Debug, Clone, Copy)]
pub enum Of {
    Item(Uuid),
    Service(Uuid),
}

/// One page (1-based) of runs, newest first, and the total.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    of: Of,
    page: u64,
    per_page: u64,
) -> StoreResult<(Vec<check_run::Model>, u64)> {
    let q = match of {
        Of::Item(id) => check_run::Entity::find().filter(check_run::Column::ReviewItemId.eq(id)),
        Of::Service(id) => check_run::Entity::find().filter(check_run::Column::ServiceId.eq(id)),
    };
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(check_run::Column::StartedAt)
        .order_by_desc(check_run::Column::Id)
        .offset((page.saturating_sub(1)).saturating_mul(per_page))
        .limit(per_page)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Deletes every run beyond the newest `keep` of its item, except failed and error runs newer
/// than `failures_since`; returns how many were deleted.
pub async fn prune<C: ConnectionTrait>(
    db: &C,
    keep: u32,
    failures_since: DateTime<Utc>,
) -> StoreResult<u64> {
    let sql = "DELETE FROM check_runs WHERE id IN (SELECT id FROM (\
         SELECT id, outcome, started_at, ROW_NUMBER() OVER (\
         PARTITION BY review_item_id ORDER BY started_at DESC, id DESC) AS rn FROM check_runs\
         ) ranked WHERE rn > $1 AND (outcome = 'passed' OR started_at < $2))";
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        vec![i64::from(keep.max(1)).into(), failures_since.into()],
    );
    Ok(db.execute_raw(stmt).await?.rows_affected())
}
