//! Command-line interface: `serve` and the operator commands.

mod admin;
mod backup;
mod check;
mod doctor;
mod healthcheck;
mod migrate;
mod rotate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;

#[derive(Debug, Parser)]
#[command(
    name = "preflight",
    version,
    about = "Production-readiness checklists made executable"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP service (the default).
    Serve,
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        action: migrate::Action,
    },
    /// Check the SECURITY and DATABASE items of the checklist for this configuration.
    Doctor {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Exit 0 when the local service answers /health/live (for container HEALTHCHECK).
    Healthcheck {
        /// URL to probe; default http://HOST:PORT/health/live (0.0.0.0 is probed as 127.0.0.1).
        #[arg(long)]
        url: Option<String>,
    },
    /// Re-encrypt every encrypted field from ENCRYPTION_KEY_PREVIOUS to ENCRYPTION_KEY.
    RotateEncryptionKey,
    /// Take a backup (compressed, encrypted) of the database; `verify`, `list`, `--schedule`.
    Backup(backup::BackupArgs),
    /// Restore a backup file into DATABASE_URL (stop the service first).
    Restore {
        file: std::path::PathBuf,
        /// Replace the contents of a database that is not empty.
        #[arg(long)]
        force: bool,
    },
    /// User administration from the shell (e.g. a lost admin password).
    Admin {
        #[command(subcommand)]
        action: admin::Action,
    },
    /// CI gate: run a checklist's automated items against a live target, or ask a preflight
    /// server; exit 0 ready, 1 not ready, 2 usage or configuration error.
    Check(check::CheckArgs),
}

fn load_settings() -> Result<Settings, ExitCode> {
    Settings::from_env().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

/// Runs a parsed command line; the exit code says how it went.
pub async fn run(cli: Cli) -> ExitCode {
    // The CI gate reads no service settings and starts no telemetry: a production
    // environment must not break it.
    let command = match cli.command {
        Some(Command::Check(args)) => return check::run(args).await,
        other => other.unwrap_or(Command::Serve),
    };
    let mut settings = match load_settings() {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Held to the end: dropping it writes out the log lines still queued.
    let _log = (!matches!(command, Command::Healthcheck { .. })).then(|| {
        let format = match command {
            Command::Serve => settings.log_format,
            _ => crate::config::LogFormat::Pretty,
        };
        crate::telemetry::init(&settings.log_level, format, settings.db.log_queries)
    });
    let result = match command {
        Command::Serve => serve(&settings).await,
        Command::Migrate { action } => migrate::run(&settings, action).await,
        Command::Doctor { json } => return doctor::run(&mut settings, json).await,
        Command::Healthcheck { url } => return healthcheck::run(&settings, url).await,
        Command::RotateEncryptionKey => rotate::run(&mut settings).await,
        Command::Admin { action } => admin::run(&mut settings, action).await,
        Command::Backup(args) => backup::run(&mut settings, args).await,
        Command::Restore { file, force } => backup::restore(&mut settings, file, force).await,
        Command::Check(args) => return check::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `preflight serve`: everything production starts, in [`crate::app::Application`].
async fn serve(settings: &Settings) -> anyhow::Result<()> {
    crate::app::Application::build(settings.clone())
        .await?
        .run_until_stopped()
        .await
}

/// Connects to the database for an operator command (no migrations applied implicitly).
async fn connect(settings: &Settings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    crate::db::ensure_sqlite_dir(&settings.db.url)?;
    Ok(crate::db::connect(&settings.db).await?)
}
