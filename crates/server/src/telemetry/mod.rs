//! Logging: one JSON object per line on stdout (or a human format in development), level from
//! `LOG_LEVEL`.

mod json_lines;
mod line_sink;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

use crate::config::LogFormat;

/// Keeps the JSON log's writer thread: dropping it writes out every line still queued, so hold
/// it until the process is done logging.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: Option<line_sink::SinkGuard>,
}

/// Installs the global subscriber. Safe to call once per process. With `log_queries`
/// (`DB_LOG_QUERIES=true`) sqlx's per-statement lines (info) pass the filter; otherwise only
/// its warnings (slow statements) do.
///
/// JSON lines (the server's log, [`json_lines`]) are written by a thread of their own in
/// batches ([`line_sink`]), so a request never waits on a `write` to stdout; the queue is not
/// lossy (a full queue makes the logging thread wait rather than drop a line): one access-log
/// line per request holds.
pub fn init(level: &str, format: LogFormat, log_queries: bool) -> LogGuard {
    // Quieter defaults for chatty dependencies unless the operator asks for them explicitly.
    let sqlx = if log_queries { "info" } else { "warn" };
    let directives = if level.contains('=') {
        level.to_owned()
    } else {
        format!("{level},sqlx={sqlx},sea_orm=warn,hyper=warn,h2=warn,tower_http=warn")
    };
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let (result, guard) = match format {
        LogFormat::Json => match line_sink::LineSink::spawn("preflight-log", std::io::stdout()) {
            Ok((sink, guard)) => (
                registry.with(json_lines::JsonLines::new(sink)).try_init(),
                Some(guard),
            ),
            // No thread for the writer: write each line from the logging thread.
            Err(e) => {
                eprintln!("log writer thread: {e}; writing the log synchronously");
                let layer = fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(std::io::stdout);
                (registry.with(layer).try_init(), None)
            }
        },
        LogFormat::Pretty => (
            registry
                .with(fmt::layer().with_target(false).with_writer(std::io::stdout))
                .try_init(),
            None,
        ),
    };
    if result.is_err() {
        eprintln!("logging was already initialised");
    }
    LogGuard { _writer: guard }
}
