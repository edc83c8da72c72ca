//! Logging: one JSON object per line on stdout (or a human format in development), level from
//! `LOG_LEVEL`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call once per process. With `log_queries`
/// (`DB_LOG_QUERIES=true`) sqlx's per-statement lines (info) pass the filter; otherwise only
/// its warnings (slow statements) do.
pub fn init(level: &str, format: LogFormat, log_queries: bool) {
    // Quieter defaults for chatty dependencies unless the operator asks for them explicitly.
    let sqlx = if log_queries { "info" } else { "warn" };
    let directives = if level.contains('=') {
        level.to_owned()
    } else {
        format!("{level},sqlx={sqlx},sea_orm=warn,hyper=warn,h2=warn,tower_http=warn")
    };
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_target(true)
                    .with_writer(std::io::stdout),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(fmt::layer().with_target(false).with_writer(std::io::stdout))
            .try_init(),
    };
    if result.is_err() {
        eprintln!("logging was already initialised");
    }
}
