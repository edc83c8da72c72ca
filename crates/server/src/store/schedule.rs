//! When each automated item runs next, and who holds it while it runs.
//!
//! A replica claims due rows with a lease (`lease_owner`, `lease_until`): on PostgreSQL the
//! claim selects them `FOR UPDATE SKIP LOCKED`, so replicas claiming at once take disjoint
//! rows, and a row whose lease is current is not due for anyone else. The holder renews its
//! leases while it works ([`renew`]) and hands each row back with its next due time when the
//! run is recorded ([`finish`], fenced on the holder: a replica that lost its lease records
//! nothing). A replica that dies simply stops renewing, and its rows become due again when
//! the lease runs out. SQLite has one writer at a time, so the same statements without the
//! row lock do the same there.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, Set, Statement, Value,
};
use uuid::Uuid;

use super::StoreResult;
use crate::db::entities::check_schedule;

/// A row a replica claimed: run its item now.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub review_item_id: Uuid,
    pub review_id: Uuid,
    pub service_id: Uuid,
    /// When it was due (lag is measured from here).
    pub due_at: DateTime<Utc>,
    /// An on-demand request is waiting for it.
    pub requested: bool,
}

fn statement(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

fn chrono_after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(60))
}

/// Automated items of live reviews of live services that have no schedule row yet.
const MISSING: &str = "SELECT ri.id AS review_item_id, ri.review_id AS review_id, \
     r.service_id AS service_id FROM review_items ri \
     JOIN reviews r ON r.id = ri.review_id JOIN services s ON s.id = r.service_id \
     WHERE ri.check_spec IS NOT NULL AND r.deleted_at IS NULL AND s.deleted_at IS NULL \
     AND NOT EXISTS (SELECT 1 FROM check_schedule c WHERE c.review_item_id = ri.id)";

/// Rows whose item lost its check, or whose review or service was deleted.
const ORPHANS: &str = "DELETE FROM check_schedule WHERE review_item_id IN (\
     SELECT c.review_item_id FROM check_schedule c \
     JOIN review_items ri ON ri.id = c.review_item_id \
     JOIN reviews r ON r.id = ri.review_id JOIN services s ON s.id = r.service_id \
     WHERE ri.check_spec IS NULL OR r.deleted_at IS NOT NULL OR s.deleted_at IS NOT NULL)";

/// Gives every automated item a schedule row (first run spread over `spread` from now, so a
/// newly attached checklist does not fire at once) and drops rows of items that are no longer
/// automated or live. With `service`, only that service's items get rows. Safe to run on
/// several replicas at once. Returns (added, removed).
pub async fn reconcile<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    spread: Duration,
    service: Option<Uuid>,
) -> StoreResult<(u64, u64)> {
    let removed = db
        .execute_raw(statement(db, ORPHANS, vec![]))
        .await?
        .rows_affected();
    let (sql, values) = match service {
        Some(id) => (format!("{MISSING} AND r.service_id = $1"), vec![id.into()]),
        None => (MISSING.to_owned(), vec![]),
    };
    let rows = db.query_all_raw(statement(db, &sql, values)).await?;
    let mut added = 0;
    let spread_ms = u64::try_from(spread.as_millis()).unwrap_or(u64::MAX).max(1);
    for chunk in rows.chunks(200) {
        let mut models = Vec::with_capacity(chunk.len());
        for row in chunk {
            let offset = Duration::from_millis(rand::random_range(0..spread_ms));
            models.push(check_schedule::ActiveModel {
                review_item_id: Set(row.try_get("", "review_item_id")?),
                review_id: Set(row.try_get("", "review_id")?),
                service_id: Set(row.try_get("", "service_id")?),
                next_run_at: Set(chrono_after(now, offset)),
                requested_at: Set(None),
                lease_owner: Set(None),
                lease_until: Set(None),
            });
        }
        added += check_schedule::Entity::insert_many(models)
            .on_conflict(
                OnConflict::column(check_schedule::Column::ReviewItemId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok((added, removed))
}

/// Claims up to `limit` due rows for `owner` until `now + lease`: on-demand requests first,
/// then round-robin across services (each service's longest overdue first), so that a batch
/// spreads over many targets instead of queueing one service's checks behind its per-host
/// limit.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: usize,
) -> StoreResult<Vec<Claimed>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // PostgreSQL refuses FOR UPDATE beside a window function, so candidates are ranked
    // without a lock and then locked (skipping rows another replica holds) with the due
    // condition checked again on the row as it is then.
    let lock = match db.get_database_backend() {
        DatabaseBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let due = "next_run_at <= $3 AND (lease_until IS NULL OR lease_until < $3)";
    let sql = format!(
        "UPDATE check_schedule SET lease_owner = $1, lease_until = $2 \
         WHERE review_item_id IN (SELECT review_item_id FROM check_schedule \
         WHERE {due} AND review_item_id IN (SELECT review_item_id FROM (\
         SELECT review_item_id, requested_at, next_run_at, ROW_NUMBER() OVER (\
         PARTITION BY service_id ORDER BY (requested_at IS NULL), next_run_at) AS turn \
         FROM check_schedule WHERE {due}) ranked \
         ORDER BY (requested_at IS NULL), turn, next_run_at LIMIT $4){lock}) \
         RETURNING review_item_id, review_id, service_id, next_run_at, requested_at"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let values = vec![
        owner.into(),
        chrono_after(now, lease).into(),
        now.into(),
        limit.into(),
    ];
    let rows = db.query_all_raw(statement(db, &sql, values)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let requested: Option<DateTime<Utc>> = row.try_get("", "requested_at")?;
        out.push(Claimed {
            review_item_id: row.try_get("", "review_item_id")?,
            review_id: row.try_get("", "review_id")?,
            service_id: row.try_get("", "service_id")?,
            due_at: row.try_get("", "next_run_at")?,
            requested: requested.is_some(),
        });
    }
    Ok(interleave(out))
}

/// Requested rows first, then each service's rows in turn (its most overdue first): the order
/// the workers take them in.
fn interleave(mut claimed: Vec<Claimed>) -> Vec<Claimed> {
    claimed.sort_by_key(|c| (!c.requested, c.due_at));
    let mut turns: std::collections::HashMap<(bool, Uuid), usize> = Default::default();
    let mut ranked: Vec<(usize, Claimed)> = claimed
        .into_iter()
        .map(|c| {
            let turn = turns.entry((c.requested, c.service_id)).or_default();
            *turn += 1;
            (*turn, c)
        })
        .collect();
    ranked.sort_by_key(|(turn, c)| (!c.requested, *turn, c.due_at));
    ranked.into_iter().map(|(_, c)| c).collect()
}

/// Extends every lease `owner` holds to `until`; returns how many rows it holds.
pub async fn renew<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    until: DateTime<Utc>,
) -> StoreResult<u64> {
    let sql = "UPDATE check_schedule SET lease_until = $1 WHERE lease_owner = $2";
    Ok(db
        .execute_raw(statement(db, sql, vec![until.into(), owner.into()]))
        .await?
        .rows_affected())
}

/// Hands the row of `item` back after a run that started at `started_at`: due again at
/// `next_at`, or at once when a request arrived while it ran. False (and nothing changed) when
/// `owner` no longer holds it.
pub async fn finish<C: ConnectionTrait>(
    db: &C,
    item: Uuid,
    owner: &str,
    started_at: DateTime<Utc>,
    next_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let sql = "UPDATE check_schedule SET \
         next_run_at = CASE WHEN requested_at IS NOT NULL AND requested_at > $1 THEN $2 ELSE $3 END, \
         requested_at = CASE WHEN requested_at IS NOT NULL AND requested_at > $1 THEN requested_at ELSE NULL END, \
         lease_owner = NULL, lease_until = NULL \
         WHERE review_item_id = $4 AND lease_owner = $5";
    let values = vec![
        started_at.into(),
        now.into(),
        next_at.into(),
        item.into(),
        owner.into(),
    ];
    Ok(db
        .execute_raw(statement(db, sql, values))
        .await?
        .rows_affected()
        == 1)
}

/// Gives back rows `owner` holds without running them (shutdown, or an item that turned out
/// not to be runnable), due as they were. With `items`, only those.
pub async fn release<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    items: Option<&[Uuid]>,
) -> StoreResult<u64> {
    let mut update = check_schedule::Entity::update_many()
        .col_expr(
            check_schedule::Column::LeaseOwner,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(
            check_schedule::Column::LeaseUntil,
            sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(check_schedule::Column::LeaseOwner.eq(owner));
    if let Some(items) = items {
        update = update.filter(check_schedule::Column::ReviewItemId.is_in(items.to_vec()));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Drops the row of an item that is no longer automated or live.
pub async fn forget<C: ConnectionTrait>(db: &C, item: Uuid) -> StoreResult<()> {
    check_schedule::Entity::delete_by_id(item).exec(db).await?;
    Ok(())
}

/// Marks `items` as requested now and due now (rows are created first where missing).
pub async fn request<C: ConnectionTrait>(
    db: &C,
    items: &[Uuid],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for chunk in items.chunks(500) {
        check_schedule::Entity::update_many()
            .col_expr(
                check_schedule::Column::RequestedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(check_schedule::Column::ReviewItemId.is_in(chunk.to_vec()))
            .exec(db)
            .await?;
        check_schedule::Entity::update_many()
            .col_expr(
                check_schedule::Column::NextRunAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(check_schedule::Column::ReviewItemId.is_in(chunk.to_vec()))
            .filter(check_schedule::Column::NextRunAt.gt(now))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The backlog: rows due and held by no replica, and the oldest due time among them.
pub async fn backlog<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> StoreResult<(u64, Option<DateTime<Utc>>)> {
    let sql = "SELECT COUNT(*) AS due FROM check_schedule WHERE next_run_at <= $1 \
         AND (lease_until IS NULL OR lease_until < $1)";
    let due: i64 = match db
        .query_one_raw(statement(db, sql, vec![now.into()]))
        .await?
    {
        Some(row) => row.try_get("", "due")?,
        None => 0,
    };
    // The column itself (not MIN()) so SQLite reports its declared type.
    let sql = "SELECT next_run_at FROM check_schedule WHERE next_run_at <= $1 \
         AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_run_at LIMIT 1";
    let oldest: Option<DateTime<Utc>> = match db
        .query_one_raw(statement(db, sql, vec![now.into()]))
        .await?
    {
        Some(row) => Some(row.try_get("", "next_run_at")?),
        None => None,
    };
    Ok((u64::try_from(due).unwrap_or(0), oldest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(service: u128, due_s: i64, requested: bool) -> Claimed {
        Claimed {
            review_item_id: Uuid::now_v7(),
            review_id: Uuid::nil(),
            service_id: Uuid::from_u128(service),
            due_at: DateTime::from_timestamp(due_s, 0).unwrap_or_default(),
            requested,
        }
    }

    #[test]
    fn claimed_rows_take_turns_across_services_requested_first() {
        let rows = vec![
            row(1, 10, false),
            row(1, 11, false),
            row(1, 12, false),
            row(2, 13, false),
            row(2, 14, false),
            row(3, 20, true),
        ];
        let order: Vec<(u128, i64)> = interleave(rows)
            .iter()
            .map(|c| (c.service_id.as_u128(), c.due_at.timestamp()))
            .collect();
        assert_eq!(
            order,
            vec![(3, 20), (1, 10), (2, 13), (1, 11), (2, 14), (1, 12)]
        );
    }
}
