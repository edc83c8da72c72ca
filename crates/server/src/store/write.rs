//! The database half of the write protocol ([`crate::write::Write`] is the whole of it): the
//! compare-and-set on a row's version, unique indexes as field conflicts, and the change a
//! store hands back together with the audit entry that records it.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, SqlErr, UpdateMany};

use super::{StoreError, StoreResult};
use crate::db::audit::Entry;

/// A change made in a transaction and the audit entry that records it; the entry is written
/// in the same transaction when the change is committed.
#[derive(Debug)]
pub struct Audited<T> {
    pub value: T,
    pub entry: Entry<'static>,
}

impl<T> Audited<T> {
    pub fn new(value: T, entry: Entry<'static>) -> Self {
        Self { value, entry }
    }
}

/// Runs `update` only if the row still has version `expected` (the caller sets the new
/// version among the columns it changes, and filters which row): someone who changed the row
/// first makes it touch nothing, and that is [`StoreError::Changed`] naming `what`. On SQLite,
/// make it the first statement of the transaction, so that it takes the write lock (waiting on
/// `busy_timeout`) instead of failing a read-to-write upgrade.
pub async fn compare_and_set<E, C>(
    db: &C,
    update: UpdateMany<E>,
    version: E::Column,
    expected: i32,
    what: &'static str,
) -> StoreResult<()>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let result = update
        .filter(version.eq(expected))
        .exec(db)
        .await
        .map_err(StoreError::Db)?;
    if result.rows_affected == 0 {
        return Err(StoreError::Changed(what));
    }
    Ok(())
}

/// A unique index refusing a value as [`StoreError::Taken`] on `field`; other errors pass
/// through. The index decides, so two writers racing for one name cannot both win.
pub fn taken(
    field: &'static str,
    message: impl FnOnce() -> String,
) -> impl FnOnce(DbErr) -> StoreError {
    move |e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Taken {
            field,
            message: message(),
        },
        _ => StoreError::Db(e),
    }
}
