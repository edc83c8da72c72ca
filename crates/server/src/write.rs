//! The one write protocol. Every change the API, start-up or the CLI makes goes the same way:
//!
//! 1. [`Write::begin`] opens a transaction;
//! 2. a store makes the change in it, its first statement a compare-and-set on the row's
//!    version ([`crate::store::write::compare_and_set`]: someone else's change first is
//!    [`StoreError::Changed`], a 409, or a 412 where the caller asked for its `If-Match` to
//!    hold) and unique indexes answering for names ([`crate::store::write::taken`]), and hands
//!    back the change with its audit entry ([`Audited`]);
//! 3. [`Write::commit`] records the audit entry in the same transaction and commits;
//! 4. then, for writes that can change readiness, the readiness cache is invalidated and the
//!    service's gauges refreshed ([`crate::readiness::gauges::after_write`]).
//!
//! An error at any step drops the transaction, which rolls it back: no change without its
//! audit entry, no audit entry without its change.

use sea_orm::{DatabaseConnection, DatabaseTransaction};
use uuid::Uuid;

use crate::db::audit::{self, Actor};
use crate::readiness;
use crate::state::AppState;
use crate::store::StoreResult;
use crate::store::write::Audited;

/// A write in progress: its transaction, who makes it, and what to refresh once it commits.
pub struct Write<'a> {
    txn: DatabaseTransaction,
    actor: Actor,
    readiness_of: Option<(&'a AppState, Uuid)>,
}

impl<'a> Write<'a> {
    /// Opens the transaction of a write by `actor`.
    pub async fn begin(db: &DatabaseConnection, actor: Actor) -> StoreResult<Self> {
        Ok(Self {
            txn: crate::db::begin_write(db).await?,
            actor,
            readiness_of: None,
        })
    }

    /// Opens the transaction of a write that can change the readiness of `service`: once it
    /// commits, cached readiness is dropped and the service's gauges are refreshed.
    pub async fn changing_readiness(
        state: &'a AppState,
        actor: Actor,
        service: Uuid,
    ) -> StoreResult<Self> {
        let mut write = Self::begin(&state.db, actor).await?;
        write.readiness_of = Some((state, service));
        Ok(write)
    }

    /// The transaction the stores make the change in.
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Gives the write up (e.g. to retry it on a fresh read): rolls the transaction back now
    /// rather than when it is dropped.
    pub async fn rollback(self) -> StoreResult<()> {
        Ok(self.txn.rollback().await?)
    }

    /// Records the change's audit entry, commits, then refreshes what the change affects.
    pub async fn commit<T>(self, change: Audited<T>) -> StoreResult<T> {
        let Audited { value, entry } = change;
        audit::record(&self.txn, &self.actor, entry).await?;
        self.txn.commit().await?;
        if let Some((state, service)) = self.readiness_of {
            readiness::gauges::after_write(state, service).await;
        }
        Ok(value)
    }

    /// Commits a change that is not a change of anyone's mind and so has no audit entry of
    /// its own: a check run that leaves its item's state as it was (the stored run is its
    /// record). Readiness is refreshed as for [`Write::commit`].
    pub async fn commit_unaudited<T>(self, value: T) -> StoreResult<T> {
        self.txn.commit().await?;
        if let Some((state, service)) = self.readiness_of {
            readiness::gauges::after_write(state, service).await;
        }
        Ok(value)
    }
}
