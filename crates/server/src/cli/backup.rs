//! `preflight backup [--output DIR] [--schedule]`, `preflight backup verify [FILE]` and
//! `preflight restore FILE [--force]`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::backup::{self, runs::Trigger};
use crate::config::Settings;

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub action: Option<BackupAction>,
    /// Directory for the backup file (default BACKUP_DIR).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Run forever, taking backups on BACKUP_SCHEDULE (one replica per tick).
    #[arg(long)]
    pub schedule: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// Restore a backup (the newest in BACKUP_DIR by default) into a scratch database and check it.
    Verify { file: Option<PathBuf> },
    /// List the backups in BACKUP_DIR, newest first.
    List,
}

async fn prepare(
    settings: &mut Settings,
) -> anyhow::Result<(sea_orm::DatabaseConnection, preflight_security::Keyring)> {
    crate::keys::ensure_dev_keys(settings)?;
    let keyring = crate::keys::keyring(settings)?;
    let db = super::connect(settings).await?;
    Ok((db, keyring))
}

pub async fn run(settings: &mut Settings, args: BackupArgs) -> anyhow::Result<()> {
    match args.action {
        Some(BackupAction::Verify { file }) => {
            crate::keys::ensure_dev_keys(settings)?;
            let keyring = crate::keys::keyring(settings)?;
            let v = backup::verify(&settings.db.url, &keyring, &settings.backup.dir, file).await?;
            println!(
                "ok: {} restores; {} tables match the recorded row counts (taken {}, schema {})",
                v.file.display(),
                v.tables_checked,
                v.header.created_at,
                v.header
                    .migrations
                    .last()
                    .map(String::as_str)
                    .unwrap_or("empty")
            );
        }
        Some(BackupAction::List) => {
            for item in backup::list(&settings.backup.dir)? {
                println!("{}  {}", item.taken_at.to_rfc3339(), item.name);
            }
        }
        None if args.schedule => {
            let (db, keyring) = prepare(settings).await?;
            backup::schedule::run(db, settings.clone(), keyring).await?;
        }
        None => {
            let (db, keyring) = prepare(settings).await?;
            let dir = args.output.unwrap_or_else(|| settings.backup.dir.clone());
            let created =
                backup::schedule::run_once(&db, settings, &keyring, &dir, Trigger::Manual).await?;
            println!(
                "{} ({} bytes, {} tables, {:.1} s)",
                created.path.display(),
                created.size,
                created.header.tables.len(),
                created.duration.as_secs_f64()
            );
        }
    }
    Ok(())
}

pub async fn restore(settings: &mut Settings, file: PathBuf, force: bool) -> anyhow::Result<()> {
    crate::keys::ensure_dev_keys(settings)?;
    let keyring = crate::keys::keyring(settings)?;
    let header = backup::restore(&settings.db.url, &keyring, &file, force).await?;
    println!(
        "restored {} (taken {}, {} tables); restart preflight to serve it",
        file.display(),
        header.created_at,
        header.tables.len()
    );
    Ok(())
}
