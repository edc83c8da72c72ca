//! The command line of `preflight check`. Clap rejects malformed arguments itself (exit 2).

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{ArgGroup, Args, ValueEnum};
use preflight_domain::{TIMEOUT_RANGE_MS, TimeSpan};

/// `preflight check --checklist FILE.md|builtin --target URL ...` or
/// `preflight check --server URL --service NAME ...`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("mode").required(true).args(["checklist", "server"])))]
pub struct CheckArgs {
    /// Checklist to run: a Markdown task list, or `builtin` for the built-in "Production
    /// readiness" template.
    #[arg(long, value_name = "FILE.md|builtin")]
    pub checklist: Option<String>,
    /// Base URL of the service to check (overrides `url` in the `[target]` table of --config).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// TOML file with the target's credentials, monitoring endpoints, network rules and limits.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to this file instead of stdout (the summary line goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Run only the items with a check of this kind (repeatable).
    #[arg(long = "kind", value_name = "KIND", value_parser = PossibleValuesParser::new(preflight_domain::kinds()))]
    pub kinds: Vec<String>,
    /// Most checks running at once (1 to 64; default: `concurrency` in --config, else 16).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=64))]
    pub concurrency: Option<u8>,
    /// Timeout of a check without its own `timeout=` (e.g. 30s; 100ms to 5m; default:
    /// `timeout` in --config, else 10s).
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Items that need a person's sign-off make the gate fail too.
    #[arg(long, conflicts_with = "server")]
    pub strict: bool,
    /// Server mode: gate on the readiness a running preflight reports (token in PREFLIGHT_TOKEN).
    #[arg(
        long,
        value_name = "URL",
        requires = "service",
        conflicts_with_all = ["checklist", "target", "config", "kinds", "concurrency", "timeout"]
    )]
    pub server: Option<String>,
    /// Server mode: the registered service's name.
    #[arg(long, value_name = "NAME", requires = "server")]
    pub service: Option<String>,
}

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per item, grouped by section, and a summary line.
    Text,
    /// One JSON document with every item and its evidence.
    Json,
    /// JUnit XML: a test suite per section, a test case per item.
    Junit,
    /// The checklist as Markdown with the state filled in.
    Markdown,
}

/// A duration in the checklist's own units, within the per-check timeout bounds.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let span: TimeSpan = text.parse()?;
    let (min, max) = TIMEOUT_RANGE_MS;
    if (min..=max).contains(&span.as_millis()) {
        Ok(span.to_std())
    } else {
        Err(format!("{span} must be between 100ms and 5m"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_use_the_checklist_units_and_bounds() {
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_timeout("10").is_err());
        assert!(parse_timeout("1h").is_err());
        assert!(parse_timeout("5ms").is_err());
    }
}
