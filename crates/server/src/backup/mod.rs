//! Backups: `preflight backup`, `restore`, `backup verify`, retention and the schedule.
//!
//! A backup is a consistent snapshot ([`dump`]), gzip-compressed and encrypted in chunks
//! ([`format`]) under the field-encryption key. Every run is recorded in `backup_runs`, which is
//! where `/metrics` reads the backup gauges from, whichever process ran the backup.

pub mod dump;
pub mod format;
pub mod retention;
pub mod runs;
pub mod schedule;

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::Utc;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use preflight_migration::MigratorTrait;
use preflight_security::Keyring;
use sea_orm::DatabaseConnection;

use format::Header;

/// File name suffix of backups.
pub const EXTENSION: &str = "pfbackup";

/// What a finished backup produced.
#[derive(Debug, Clone)]
pub struct Created {
    pub path: PathBuf,
    pub size: u64,
    pub duration: std::time::Duration,
    pub header: Header,
}

fn backend_name(url: &str) -> &'static str {
    if crate::db::is_postgres_url(url) {
        "postgres"
    } else {
        "sqlite"
    }
}

/// A progress display on a terminal, nothing elsewhere (logs stay clean in containers).
fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({eta})")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

/// Takes a backup into `dir` and returns where it went.
pub async fn create(
    db: &DatabaseConnection,
    url: &str,
    keyring: &Keyring,
    dir: &Path,
) -> anyhow::Result<Created> {
    let start = Instant::now();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stamp = Utc::now();
    let name = format!(
        "preflight-{}-{}.{EXTENSION}",
        stamp.format("%Y%m%dT%H%M%S%.3fZ"),
        backend_name(url)
    );
    let final_path = dir.join(&name);
    let scratch = tempfile::Builder::new()
        .prefix(".preflight-backup-")
        .tempdir_in(dir)
        .context("creating a scratch directory next to the backups")?;
    let snapshot_path = scratch.path().join("snapshot");
    let tables = dump::snapshot(db, url, &snapshot_path).await?;
    let header = Header {
        format: "preflight-backup".into(),
        created_at: stamp,
        backend: backend_name(url).into(),
        preflight_version: env!("CARGO_PKG_VERSION").into(),
        migrations: dump::applied_migrations(db).await?,
        tables,
        compression: "gzip".into(),
    };
    let partial = scratch.path().join("partial");
    let keyring = keyring.clone();
    let header_for_file = header.clone();
    let snapshot_for_file = snapshot_path.clone();
    let partial_for_file = partial.clone();
    // Compression and encryption are CPU-bound: keep them off the async workers.
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let input = File::open(&snapshot_for_file)?;
        let len = input.metadata()?.len();
        let bar = progress(len, "backup");
        let out = BufWriter::new(File::create(&partial_for_file)?);
        let sealed = format::Writer::new(out, &keyring, &header_for_file)?;
        let mut gz = GzEncoder::new(sealed, Compression::default());
        std::io::copy(&mut bar.wrap_read(BufReader::new(input)), &mut gz)?;
        let sealed = gz.finish()?;
        let mut out = sealed.finish()?;
        out.flush()?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        bar.finish_and_clear();
        Ok(())
    })
    .await??;
    // Appears under its final name only once complete.
    std::fs::rename(&partial, &final_path)?;
    let size = std::fs::metadata(&final_path)?.len();
    Ok(Created {
        path: final_path,
        size,
        duration: start.elapsed(),
        header,
    })
}

/// Decrypts and decompresses a backup into `dest` after checking it belongs to a schema this
/// binary knows. Nothing else is touched.
pub async fn unpack(file: &Path, keyring: &Keyring, dest: &Path) -> anyhow::Result<Header> {
    let file = file.to_owned();
    let dest = dest.to_owned();
    let keyring = keyring.clone();
    let header = tokio::task::spawn_blocking(move || -> anyhow::Result<Header> {
        let f = File::open(&file).with_context(|| format!("opening {}", file.display()))?;
        let len = f.metadata()?.len();
        let mut input = BufReader::new(f);
        let (header, hash) = format::read_header(&mut input)?;
        check_schema(&header)?;
        let bar = progress(len, "restore");
        let mut compressed = tempfile::tempfile()?;
        format::decrypt_body(&mut bar.wrap_read(input), &hash, &keyring, &mut compressed)?;
        bar.finish_and_clear();
        use std::io::Seek;
        compressed.seek(std::io::SeekFrom::Start(0))?;
        let mut out = BufWriter::new(File::create(&dest)?);
        let mut gz = GzDecoder::new(BufReader::new(compressed));
        std::io::copy(&mut gz, &mut out).context("the backup's compressed data is damaged")?;
        out.flush()?;
        Ok(header)
    })
    .await??;
    Ok(header)
}

/// Refuses backups taken by a newer preflight (a migration this binary does not know).
fn check_schema(header: &Header) -> anyhow::Result<()> {
    let known: Vec<String> = preflight_migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    if let Some(unknown) = header.migrations.iter().find(|m| !known.contains(m)) {
        bail!(
            "the backup is from a newer schema (migration {unknown} is unknown to preflight {}); upgrade preflight before restoring it",
            env!("CARGO_PKG_VERSION")
        );
    }
    Ok(())
}

/// Restores `file` into the database at `url`. Refuses a database holding data unless
/// `force`. The backup is fully decrypted and checked before the target is touched.
pub async fn restore(
    url: &str,
    keyring: &Keyring,
    file: &Path,
    force: bool,
) -> anyhow::Result<Header> {
    let scratch = tempfile::tempdir()?;
    let unpacked = scratch.path().join("snapshot");
    let header = unpack(file, keyring, &unpacked).await?;
    if header.backend != backend_name(url) {
        bail!(
            "the backup is a {} backup but DATABASE_URL is {}",
            header.backend,
            backend_name(url)
        );
    }
    crate::db::ensure_sqlite_dir(url)?;
    let target = crate::db::connect(&maintenance_settings(url)).await?;
    let non_empty = dump::has_data(&target).await?;
    if non_empty && !force {
        bail!("the target database is not empty; pass --force to replace its contents");
    }
    if header.backend == "postgres" {
        target.close().await?;
        dump::pg_restore(url, &unpacked, true).await?;
    } else {
        dump::sqlite_integrity(&unpacked).await?;
        target.close().await?;
        let path = sqlite_path(url).context("DATABASE_URL is not a SQLite file")?;
        // Replace the file atomically, then drop the old write-ahead log that belongs to it.
        let staged = path.with_extension("restoring");
        std::fs::copy(&unpacked, &staged)?;
        std::fs::rename(&staged, &path)?;
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", path.display()));
            if side.exists() {
                std::fs::remove_file(side)?;
            }
        }
    }
    Ok(header)
}

/// Pool settings for a short maintenance connection: small, and no statement timeout that
/// would cut a long restore.
fn maintenance_settings(url: &str) -> crate::config::DbSettings {
    use std::time::Duration;
    crate::config::DbSettings {
        url: url.to_owned(),
        max_connections: 2,
        min_connections: 0,
        acquire_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        statement_timeout: Duration::from_secs(3600),
        log_queries: false,
        slow_query_threshold: Duration::from_secs(60),
    }
}

/// The file path of a `sqlite://` URL.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(PathBuf::from(rest.split('?').next().unwrap_or(rest)))
}

/// Backups in `dir`, newest first.
pub fn list(dir: &Path) -> anyhow::Result<Vec<retention::Item>> {
    let mut items = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(items),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(&format!(".{EXTENSION}")) {
            continue;
        }
        let mut f = File::open(entry.path())?;
        let taken_at = match format::read_header(&mut f) {
            Ok((h, _)) => h.created_at,
            Err(_) => continue,
        };
        items.push(retention::Item { name, taken_at });
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.taken_at));
    Ok(items)
}

/// Applies the retention policy to `dir`; returns the deleted names.
pub fn prune(dir: &Path, keep_daily: u32, keep_weekly: u32) -> anyhow::Result<Vec<String>> {
    let items = list(dir)?;
    let delete = retention::to_delete(&items, keep_daily, keep_weekly);
    for name in &delete {
        std::fs::remove_file(dir.join(name))?;
    }
    Ok(delete)
}

/// Result of `backup verify`.
#[derive(Debug)]
pub struct Verified {
    pub file: PathBuf,
    pub header: Header,
    pub tables_checked: usize,
}

/// Restores `file` (default: the newest in `dir`) into a scratch database and compares every
/// table's row count with the header.
pub async fn verify(
    url: &str,
    keyring: &Keyring,
    dir: &Path,
    file: Option<PathBuf>,
) -> anyhow::Result<Verified> {
    let file = match file {
        Some(f) => f,
        None => {
            let newest = list(dir)?
                .into_iter()
                .next()
                .with_context(|| format!("no backup in {}", dir.display()))?;
            dir.join(newest.name)
        }
    };
    let scratch = tempfile::tempdir()?;
    let unpacked = scratch.path().join("snapshot");
    let header = unpack(&file, keyring, &unpacked).await?;
    let counts = if header.backend == "postgres" {
        verify_postgres(url, &unpacked).await?
    } else {
        dump::sqlite_integrity(&unpacked).await?;
        let db = dump::sqlite_connect(&unpacked).await?;
        let counts = dump::row_counts(&db).await?;
        db.close().await?;
        counts
    };
    if counts != header.tables {
        bail!(
            "restored row counts differ from the backup's record: expected {:?}, got {:?}",
            header.tables,
            counts
        );
    }
    Ok(Verified {
        file,
        tables_checked: counts.len(),
        header,
    })
}

/// Loads the dump into a throwaway database on the same server, counts rows, drops it.
async fn verify_postgres(
    url: &str,
    dump_file: &Path,
) -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
    use sea_orm::ConnectionTrait;
    let name = format!("preflight_verify_{}", uuid::Uuid::new_v4().simple());
    let mut parsed = url::Url::parse(url)?;
    let admin = crate::db::connect(&maintenance_settings(url)).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .context("creating a scratch database (the role needs CREATEDB)")?;
    parsed.set_path(&format!("/{name}"));
    let scratch_url = parsed.to_string();
    let result = async {
        dump::pg_restore(&scratch_url, dump_file, false).await?;
        let opts = sea_orm::ConnectOptions::new(scratch_url.clone());
        let db = sea_orm::Database::connect(opts).await?;
        let counts = dump::row_counts(&db).await?;
        db.close().await?;
        anyhow::Ok(counts)
    }
    .await;
    let _ = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    result
}
