//! The record of backup runs (`backup_runs`) and the gauges `/metrics` derives from it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Order, Query};
use sea_orm::{ConnectionTrait, DbErr};

/// How a run was started.
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    Manual,
    Schedule,
}

/// One finished run.
pub struct Run<'a> {
    pub started_at: DateTime<Utc>,
    pub trigger: Trigger,
    pub outcome: Result<(&'a str, u64), String>,
}

pub async fn record(db: &impl ConnectionTrait, run: Run<'_>) -> Result<(), DbErr> {
    let finished = Utc::now();
    let duration_ms = std::cmp::max((finished - run.started_at).num_milliseconds(), 0);
    let (status, file, size, error) = match run.outcome {
        Ok((file, size)) => (
            "success",
            Some(file.to_owned()),
            i64::try_from(size).unwrap_or(i64::MAX),
            None,
        ),
        Err(e) => ("failed", None, 0, Some(e)),
    };
    let insert = Query::insert()
        .into_table(Alias::new("backup_runs"))
        .columns(
            [
                "id",
                "started_at",
                "finished_at",
                "status",
                "trigger",
                "file",
                "size_bytes",
                "duration_ms",
                "error",
            ]
            .map(Alias::new),
        )
        .values_panic([
            uuid::Uuid::now_v7().into(),
            run.started_at.into(),
            finished.into(),
            status.into(),
            match run.trigger {
                Trigger::Manual => "manual",
                Trigger::Schedule => "schedule",
            }
            .into(),
            file.into(),
            size.into(),
            duration_ms.into(),
            error.into(),
        ])
        .to_owned();
    db.execute(&insert).await.map(|_| ())
}

/// Refreshes the backup gauges from the database (called before each scrape).
pub async fn refresh_metrics(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let last = Query::select()
        .columns(["finished_at", "duration_ms", "size_bytes"].map(Alias::new))
        .from(Alias::new("backup_runs"))
        .and_where(Expr::col(Alias::new("status")).eq("success"))
        .order_by(Alias::new("finished_at"), Order::Desc)
        .limit(1)
        .to_owned();
    if let Some(row) = db.query_one(&last).await? {
        let at: DateTime<Utc> = row.try_get("", "finished_at")?;
        let ms: i64 = row.try_get("", "duration_ms")?;
        let size: i64 = row.try_get("", "size_bytes")?;
        metrics::gauge!("preflight_backup_last_success_timestamp_seconds")
            .set(at.timestamp() as f64);
        metrics::gauge!("preflight_backup_duration_seconds").set(ms as f64 / 1000.0);
        metrics::gauge!("preflight_backup_size_bytes").set(size as f64);
    }
    let failures = Query::select()
        .expr_as(Func::count(Expr::col(Alias::new("id"))), Alias::new("n"))
        .from(Alias::new("backup_runs"))
        .and_where(Expr::col(Alias::new("status")).eq("failed"))
        .to_owned();
    if let Some(row) = db.query_one(&failures).await? {
        let n: i64 = row.try_get("", "n")?;
        // The total lives in the database so that it survives restarts and replicas agree.
        metrics::counter!("preflight_backup_failures_total")
            .absolute(u64::try_from(n).unwrap_or(0));
    }
    Ok(())
}

/// Registers descriptions of the backup metrics.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_gauge!(
        "preflight_backup_last_success_timestamp_seconds",
        Unit::Seconds,
        "Unix time the last successful backup finished."
    );
    describe_gauge!(
        "preflight_backup_duration_seconds",
        Unit::Seconds,
        "Duration of the last successful backup."
    );
    describe_gauge!(
        "preflight_backup_size_bytes",
        Unit::Bytes,
        "Size of the last successful backup file."
    );
    describe_counter!(
        "preflight_backup_failures_total",
        "Backup runs that failed."
    );
}
