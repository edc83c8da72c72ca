//! Database access: connecting with the configured pool, migrations, and the audit log.

pub mod audit;
pub mod catalog;
pub mod encrypted;
pub mod entities;

use std::time::Duration;

use preflight_migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::config::DbSettings;

/// Opens the pool with the configured size and timeouts. SQLite gets WAL mode, a busy timeout
/// and enforced foreign keys; PostgreSQL gets a `statement_timeout`.
pub async fn connect(s: &DbSettings) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(s.url.clone());
    opts.max_connections(s.max_connections)
        .min_connections(s.min_connections)
        .connect_timeout(s.connect_timeout)
        .acquire_timeout(s.acquire_timeout)
        .idle_timeout(s.idle_timeout)
        // Logging stays on whatever DB_LOG_QUERIES says: turning it off would also turn off
        // sqlx's slow-statement warnings. DB_LOG_QUERIES chooses whether every statement is
        // logged too (at info, which the log filter lets through for sqlx only then).
        .sqlx_logging(true)
        .sqlx_logging_level(if s.log_queries {
            tracing::log::LevelFilter::Info
        } else {
            tracing::log::LevelFilter::Off
        })
        .sqlx_slow_statements_logging_settings(
            tracing::log::LevelFilter::Warn,
            s.slow_query_threshold,
        );
    if is_postgres_url(&s.url) {
        opts.statement_timeout(s.statement_timeout)
            .set_application_name("preflight");
    } else {
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
                // 1 MiB of page cache per connection instead of SQLite's 2 MiB: reads past
                // it come from the OS page cache, and ten connections no longer hold 20 MiB
                // of the process's memory (docs/performance.md).
                .pragma("cache_size", "-1024")
                .create_if_missing(true)
        });
    }
    Database::connect(opts).await
}

/// Opens a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: it takes the write
/// lock at once, waiting out the busy timeout behind other writers. A deferred transaction
/// that reads first fails with "database is locked" when it later tries to write while
/// another writer holds the lock, because SQLite cannot wait for an upgrade from a stale read
/// snapshot. PostgreSQL needs nothing of the kind.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            db.begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
        }
        _ => db.begin().await,
    }
}

/// Whether a database URL names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Creates the directory of a SQLite file URL so the first start needs no setup.
pub fn ensure_sqlite_dir(url: &str) -> std::io::Result<()> {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let path = rest.split('?').next().unwrap_or(rest);
        if path != ":memory:"
            && let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
    }
    Ok(())
}

/// Key of the PostgreSQL advisory lock that serializes start-up work ("preflig" in ASCII).
const STARTUP_LOCK_KEY: i64 = 0x0070_7265_666c_6967;

/// Serializes start-up work (migrations, then the bootstrap admin and the built-in template)
/// across processes sharing a PostgreSQL database: replicas started together take turns, and
/// each finds the work of the one before done. A session-level advisory lock held on a
/// connection of its own, so it does not depend on which pool connection runs the work; if
/// the process dies, the connection closes and the lock goes with it. SQLite needs none: its
/// writers already take turns, and it serves one process.
pub struct StartupLock {
    conn: DatabaseConnection,
}

impl StartupLock {
    /// Waits for the lock; `None` on SQLite.
    pub async fn acquire(s: &DbSettings) -> Result<Option<Self>, DbErr> {
        if !is_postgres_url(&s.url) {
            return Ok(None);
        }
        let mut opts = ConnectOptions::new(s.url.clone());
        opts.max_connections(1)
            .min_connections(1)
            .connect_timeout(s.connect_timeout)
            .acquire_timeout(s.acquire_timeout)
            .sqlx_logging(false)
            .set_application_name("preflight-startup");
        let conn = Database::connect(opts).await?;
        // No statement_timeout on this connection: waiting for another replica's migrations
        // is the point.
        conn.execute_unprepared(&format!("SELECT pg_advisory_lock({STARTUP_LOCK_KEY})"))
            .await?;
        Ok(Some(Self { conn }))
    }

    /// Releases the lock and closes its connection.
    pub async fn release(self) -> Result<(), DbErr> {
        self.conn
            .execute_unprepared(&format!("SELECT pg_advisory_unlock({STARTUP_LOCK_KEY})"))
            .await?;
        self.conn.close().await
    }
}

/// Applies every pending migration. Callers sharing a PostgreSQL database with others hold a
/// [`StartupLock`] around it.
pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::TransactionTrait;
    if db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        // The pool hands each statement any of its SQLite connections, and one that still holds
        // an older snapshot sees the schema as it was: a migration that drops a table and
        // re-creates its index then finds the old index "already there". One transaction keeps
        // every statement on one connection (and makes the whole upgrade atomic).
        let txn = db.begin().await?;
        Migrator::up(&txn, None).await?;
        return txn.commit().await;
    }
    Migrator::up(db, None).await
}

/// Names of migrations not yet applied (reads only: never creates the bookkeeping table).
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let pending = Migrator::get_pending_migrations_read_only(db).await?;
    Ok(pending.iter().map(|m| m.name().to_owned()).collect())
}

/// (name, applied) for every migration the binary knows.
pub async fn migration_status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
    let all = Migrator::get_migration_with_status_read_only(db).await?;
    Ok(all
        .iter()
        .map(|m| {
            (
                m.name().to_owned(),
                m.status() == preflight_migration::MigrationStatus::Applied,
            )
        })
        .collect())
}

/// A cheap round trip proving the database answers.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// Publishes pool gauges; called before each scrape.
pub fn record_pool_metrics(db: &DatabaseConnection, max: u32) {
    let (size, idle) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let p = db.get_postgres_connection_pool();
            (p.size(), p.num_idle() as u32)
        }
        _ => {
            let p = db.get_sqlite_connection_pool();
            (p.size(), p.num_idle() as u32)
        }
    };
    metrics::gauge!("preflight_db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("preflight_db_pool_connections", "state" => "in_use")
        .set(f64::from(size.saturating_sub(idle)));
    metrics::gauge!("preflight_db_pool_max_connections").set(f64::from(max));
}
