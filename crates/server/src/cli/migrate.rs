//! `preflight migrate up|status`.

use clap::Subcommand;

use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Apply every pending migration.
    Up,
    /// List migrations and whether each is applied.
    Status,
}

pub async fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    let db = super::connect(settings).await?;
    match action {
        Action::Up => {
            // Replicas may be starting meanwhile: take turns with them.
            let lock = crate::db::StartupLock::acquire(&settings.db).await?;
            let pending = crate::db::pending_migrations(&db).await?;
            crate::db::migrate_up(&db).await?;
            if let Some(lock) = lock {
                lock.release().await?;
            }
            if pending.is_empty() {
                println!("database is up to date");
            } else {
                for name in pending {
                    println!("applied {name}");
                }
            }
        }
        Action::Status => {
            let status = crate::db::migration_status(&db).await?;
            let mut pending = 0;
            for (name, applied) in &status {
                if !applied {
                    pending += 1;
                }
                println!("{} {name}", if *applied { "applied" } else { "pending" });
            }
            println!("{} migration(s), {} pending", status.len(), pending);
        }
    }
    Ok(())
}
