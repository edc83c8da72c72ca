//! Recording a finished run, in one transaction: hand the schedule row back (fenced on this
//! replica's lease: one that lost it records nothing), store the run with its evidence, serve
//! the requests waiting for it, and set the item's latest run — a compare-and-set on the item
//! like every other change of it, with an audit entry (actor `probe`) when its state changes.

use chrono::{DateTime, Utc};
use preflight_domain::{RunOutcome, RunResult, effective_state};
use preflight_probe::{Outcome, Report};
use uuid::Uuid;

use crate::db::audit::Actor;
use crate::state::AppState;
use crate::store::check_runs::{self, NewRun, Trigger};
use crate::store::reviews::{self, StateChange, re_attest_days, record_of};
use crate::store::{StoreError, StoreResult, encode, run_requests, schedule};
use crate::write::Write;

/// Compare-and-set attempts before giving a run up (someone keeps changing the item).
const ATTEMPTS: usize = 8;

/// A finished run to record.
pub struct Finished {
    pub review_item_id: Uuid,
    pub service_id: Uuid,
    pub requested: bool,
    pub report: Report,
    /// When the schedule row is due next (if no request arrives meanwhile).
    pub next_at: DateTime<Utc>,
}

/// What recording did.
#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Stored; `changed` when the item's state changed.
    Stored { changed: bool },
    /// This replica's lease ran out before the run ended; another replica owns the item now.
    LeaseLost,
    /// The item disappeared meanwhile.
    Gone,
}

pub fn outcome_of(o: Outcome) -> RunOutcome {
    match o {
        Outcome::Passed => RunOutcome::Passed,
        Outcome::Failed => RunOutcome::Failed,
        Outcome::Error => RunOutcome::Error,
    }
}

/// Records `finished` for `owner`.
pub async fn record(state: &AppState, owner: &str, finished: &Finished) -> StoreResult<Recorded> {
    let report = &finished.report;
    let outcome = outcome_of(report.outcome);
    let started_at = report.started_at;
    let took = chrono::Duration::microseconds((report.duration_ms * 1000.0) as i64);
    let finished_at = started_at + took;
    let evidence = encode(report, "check run evidence")?;
    let run_id = Uuid::now_v7();
    for _ in 0..ATTEMPTS {
        let row = match reviews::item(&state.db, finished.review_item_id).await {
            Ok(row) => row,
            Err(StoreError::NotFound(_)) => return Ok(Recorded::Gone),
            Err(e) => return Err(e),
        };
        let write = Write::begin(&state.db, Actor::named("probe")).await?;
        let now = Utc::now();
        // First statement: takes SQLite's write lock, and fences on the lease.
        if !schedule::finish(
            write.txn(),
            row.id,
            owner,
            started_at,
            finished.next_at,
            now,
        )
        .await?
        {
            write.rollback().await?;
            return Ok(Recorded::LeaseLost);
        }
        check_runs::insert(
            write.txn(),
            NewRun {
                id: run_id,
                review_item_id: row.id,
                review_id: row.review_id,
                service_id: finished.service_id,
                item_key: row.key.clone(),
                kind: report.kind.clone(),
                trigger: if finished.requested {
                    Trigger::Request
                } else {
                    Trigger::Schedule
                },
                started_at,
                finished_at,
                outcome: outcome.as_str(),
                reason: report.reason.clone(),
                evidence: evidence.clone(),
                duration_ms: report.duration_ms.round() as i64,
            },
        )
        .await?;
        run_requests::fill(write.txn(), row.id, run_id, started_at).await?;
        let record = record_of(&row)?;
        let re_attest = re_attest_days(&row);
        let from = effective_state(&record, re_attest, now);
        let mut next = record.clone();
        next.last_run = Some(RunResult::new(
            outcome,
            finished_at,
            report.reason.clone(),
            run_id.to_string(),
        ));
        let to = effective_state(&next, re_attest, now);
        let change = StateChange {
            action: "review_item.check_run",
            from,
            to,
            next,
            comment: Some(report.reason.clone()),
        };
        match reviews::set_record(write.txn(), &row, change, now).await {
            Ok(change) => {
                if from == to {
                    write.commit_unaudited(()).await?;
                } else {
                    write.commit(change).await?;
                }
                return Ok(Recorded::Stored {
                    changed: from != to,
                });
            }
            Err(StoreError::Changed(_)) => {
                write.rollback().await?;
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict(format!(
        "item {} kept changing while its run was recorded",
        finished.review_item_id
    )))
}
