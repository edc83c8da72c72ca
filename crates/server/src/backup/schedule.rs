//! Scheduled backups (`preflight backup --schedule`): on every tick of `BACKUP_SCHEDULE`, the
//! replica that claims the tick's lease takes a backup and applies retention. The lease is
//! named after the tick, so each tick runs exactly once however many replicas are running.

use std::str::FromStr;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use super::runs::{self, Trigger};
use crate::config::Settings;

/// Tries to take the lease `name` until `expires_at`; true when this holder got it.
pub async fn try_lock(
    db: &DatabaseConnection,
    name: &str,
    holder: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    // Expired leases are removed first so the insert below can take them over.
    let cleanup = Query::delete()
        .from_table(Alias::new("job_locks"))
        .and_where(Expr::col(Alias::new("expires_at")).lt(now))
        .to_owned();
    db.execute(&cleanup).await?;
    let insert = Query::insert()
        .into_table(Alias::new("job_locks"))
        .columns(["name", "holder", "acquired_at", "expires_at"].map(Alias::new))
        .values_panic([name.into(), holder.into(), now.into(), expires_at.into()])
        .to_owned();
    match db.execute(&insert).await {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Runs one backup with retention, recording the outcome; returns the file name.
pub async fn run_once(
    db: &DatabaseConnection,
    settings: &Settings,
    keyring: &preflight_security::Keyring,
    dir: &std::path::Path,
    trigger: Trigger,
) -> anyhow::Result<super::Created> {
    let started_at = Utc::now();
    let result = super::create(db, &settings.db.url, keyring, dir).await;
    let outcome = match &result {
        Ok(c) => Ok((
            c.path.file_name().and_then(|n| n.to_str()).unwrap_or(""),
            c.size,
        )),
        Err(e) => Err(format!("{e:#}")),
    };
    if let Err(e) = runs::record(
        db,
        runs::Run {
            started_at,
            trigger,
            outcome,
        },
    )
    .await
    {
        tracing::error!(error = %e, "could not record the backup run");
    }
    let created = result?;
    let deleted = super::prune(dir, settings.backup.keep_daily, settings.backup.keep_weekly)?;
    for name in deleted {
        tracing::info!(file = %name, "deleted by the retention policy");
    }
    Ok(created)
}

/// Loops forever on the schedule.
pub async fn run(
    db: DatabaseConnection,
    settings: Settings,
    keyring: preflight_security::Keyring,
) -> anyhow::Result<()> {
    let cron = croner::Cron::from_str(&settings.backup.schedule).with_context(|| {
        format!(
            "BACKUP_SCHEDULE {:?} is not a cron expression",
            settings.backup.schedule
        )
    })?;
    let holder = format!("{}:{}", hostname(), std::process::id());
    loop {
        let next = cron
            .find_next_occurrence(&Utc::now(), false)
            .context("the schedule has no next occurrence")?;
        tracing::info!(next = %next, "next scheduled backup");
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = crate::shutdown::signal() => return Ok(()),
        }
        let lease = format!("backup:{}", next.timestamp());
        match try_lock(&db, &lease, &holder, next + chrono::Duration::days(2)).await {
            Ok(true) => {
                match run_once(
                    &db,
                    &settings,
                    &keyring,
                    &settings.backup.dir,
                    Trigger::Schedule,
                )
                .await
                {
                    Ok(c) => {
                        tracing::info!(file = %c.path.display(), size = c.size, "scheduled backup done")
                    }
                    Err(e) => tracing::error!(error = %format!("{e:#}"), "scheduled backup failed"),
                }
            }
            Ok(false) => tracing::info!("another replica took this scheduled backup"),
            Err(e) => tracing::error!(error = %e, "could not take the backup lease"),
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "preflight".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_wins_each_tick_and_expired_leases_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::dump::sqlite_connect(&dir.path().join("l.db"))
            .await
            .unwrap();
        crate::db::migrate_up(&db).await.unwrap();
        let until = Utc::now() + chrono::Duration::hours(1);
        assert!(
            try_lock(&db, "backup:100", "replica-a", until)
                .await
                .unwrap()
        );
        assert!(
            !try_lock(&db, "backup:100", "replica-b", until)
                .await
                .unwrap()
        );
        assert!(
            try_lock(&db, "backup:160", "replica-b", until)
                .await
                .unwrap()
        );
        // A lease that expired (a crashed holder) can be taken again.
        let past = Utc::now() - chrono::Duration::seconds(1);
        assert!(
            try_lock(&db, "backup:220", "replica-a", past)
                .await
                .unwrap()
        );
        assert!(
            try_lock(&db, "backup:220", "replica-b", until)
                .await
                .unwrap()
        );
    }
}
