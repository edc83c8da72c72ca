//! Taking and loading a consistent snapshot of the database, per backend.
//!
//! SQLite: `VACUUM INTO` writes a consistent copy while the service keeps running.
//! PostgreSQL: `pg_dump` in custom format, run on a snapshot exported from a REPEATABLE READ
//! transaction in which the row counts of the header are taken, so counts and dump agree.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, bail};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, IsolationLevel, Statement, TransactionTrait,
};

/// Tables of the application (not the migration bookkeeping of the engine).
pub async fn table_names(db: &impl ConnectionTrait) -> anyhow::Result<Vec<String>> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").map_err(Into::into))
        .collect()
}

/// Row count of every table.
pub async fn row_counts(db: &impl ConnectionTrait) -> anyhow::Result<BTreeMap<String, u64>> {
    let backend = db.get_database_backend();
    let mut counts = BTreeMap::new();
    for t in table_names(db).await? {
        // Table names come from the catalog, quoted to be safe with any spelling.
        let sql = format!("SELECT COUNT(*) AS n FROM \"{}\"", t.replace('"', "\"\""));
        let row = db
            .query_one_raw(Statement::from_string(backend, sql))
            .await?;
        let n: i64 = row.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0);
        counts.insert(t, u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}

/// Names of applied migrations, in order (empty when the table does not exist).
pub async fn applied_migrations(db: &impl ConnectionTrait) -> anyhow::Result<Vec<String>> {
    let backend = db.get_database_backend();
    if !table_names(db)
        .await?
        .iter()
        .any(|t| t == "seaql_migrations")
    {
        return Ok(Vec::new());
    }
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "version").map_err(Into::into))
        .collect()
}

/// Whether any application table holds a row.
pub async fn has_data(db: &impl ConnectionTrait) -> anyhow::Result<bool> {
    Ok(row_counts(db)
        .await?
        .iter()
        .any(|(t, n)| t != "seaql_migrations" && *n > 0))
}

/// Splits a PostgreSQL URL into one without the password plus the password, so the password
/// reaches `pg_dump` through the environment and never the process list.
pub fn pg_url_and_password(url: &str) -> anyhow::Result<(String, Option<String>)> {
    let mut parsed = url::Url::parse(url).context("DATABASE_URL is not a valid URL")?;
    let password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    let _ = parsed.set_password(None);
    Ok((parsed.to_string(), password))
}

async fn run_tool(mut cmd: tokio::process::Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .with_context(|| format!("cannot run {what} (is postgresql-client installed?)"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Writes a consistent snapshot to `dest`; returns the row counts it contains.
pub async fn snapshot(
    db: &DatabaseConnection,
    url: &str,
    dest: &Path,
) -> anyhow::Result<BTreeMap<String, u64>> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let txn = db
                .begin_with_config(Some(IsolationLevel::RepeatableRead), None)
                .await?;
            let row = txn
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT pg_export_snapshot() AS id",
                ))
                .await?
                .context("no snapshot id")?;
            let snapshot: String = row.try_get("", "id")?;
            let counts = row_counts(&txn).await?;
            let (url, password) = pg_url_and_password(url)?;
            let mut cmd = tokio::process::Command::new("pg_dump");
            cmd.arg("--format=custom")
                .arg("--no-owner")
                .arg("--no-privileges")
                .arg(format!("--snapshot={snapshot}"))
                .arg(format!("--file={}", dest.display()))
                .arg(format!("--dbname={url}"));
            if let Some(p) = password {
                cmd.env("PGPASSWORD", p);
            }
            run_tool(cmd, "pg_dump").await?;
            txn.commit().await?;
            Ok(counts)
        }
        _ => {
            let path = dest.display().to_string().replace('\'', "''");
            db.execute_unprepared(&format!("VACUUM INTO '{path}'"))
                .await
                .context("VACUUM INTO")?;
            let copy = sqlite_connect(dest).await?;
            let counts = row_counts(&copy).await?;
            copy.close().await?;
            Ok(counts)
        }
    }
}

/// Opens a SQLite file (no migrations, no pool tuning: a short-lived maintenance connection).
pub async fn sqlite_connect(path: &Path) -> anyhow::Result<DatabaseConnection> {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut opts = sea_orm::ConnectOptions::new(url);
    opts.max_connections(1).sqlx_logging(false);
    Ok(sea_orm::Database::connect(opts).await?)
}

/// Checks a SQLite snapshot file is internally consistent.
pub async fn sqlite_integrity(path: &Path) -> anyhow::Result<()> {
    let db = sqlite_connect(path).await?;
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await?
        .context("integrity_check returned nothing")?;
    let verdict: String = row.try_get_by_index(0)?;
    db.close().await?;
    if verdict != "ok" {
        bail!("the SQLite snapshot is damaged: {verdict}");
    }
    Ok(())
}

/// Loads a custom-format dump into the database at `url` in one transaction. With `clean`,
/// objects present in the dump are dropped first.
pub async fn pg_restore(url: &str, dump: &Path, clean: bool) -> anyhow::Result<()> {
    let (url, password) = pg_url_and_password(url)?;
    let mut cmd = tokio::process::Command::new("pg_restore");
    cmd.arg("--single-transaction")
        .arg("--exit-on-error")
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg(format!("--dbname={url}"));
    if clean {
        cmd.arg("--clean").arg("--if-exists");
    }
    cmd.arg(dump);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    run_tool(cmd, "pg_restore").await
}

#[cfg(test)]
mod tests {
    use super::pg_url_and_password;

    #[test]
    fn the_password_leaves_the_url_decoded() {
        let (url, password) =
            pg_url_and_password("postgres://app:p%40ss%2Fw0rd@db.internal:5432/preflight").unwrap();
        assert_eq!(url, "postgres://app@db.internal:5432/preflight");
        assert_eq!(password.as_deref(), Some("p@ss/w0rd"));
        let (url, password) = pg_url_and_password("postgres://app@db/preflight").unwrap();
        assert_eq!(
            (url.as_str(), password),
            ("postgres://app@db/preflight", None)
        );
        assert!(pg_url_and_password("not a url").is_err());
    }
}
