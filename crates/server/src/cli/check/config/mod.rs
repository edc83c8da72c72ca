//! The `--config` file of `preflight check`: what to probe, with which credentials, within
//! which network rules and limits.
//!
//! TOML; every table and key is optional, and an unknown key is an error naming it (exit 2),
//! so a typo never silently drops a setting. Relative paths are relative to the directory of
//! the config file. `--target`, `--timeout` and `--concurrency` on the command line override
//! the file.
//!
//! ```toml
//! [target]
//! url = "https://api.example.com"              # the service's base URL (--target overrides it)
//! name = "billing"                             # service name, used in evidence and selectors
//! job = "billing"                              # Prometheus scrape job (prometheus_target, prometheus_rules)
//! log_selector = '{service="billing"}'         # LogQL selector (loki_logs)
//! plain_http_url = "http://api.example.com"    # where plain HTTP answers (tls redirect check)
//!
//! [[target.credentials]]                       # repeatable: headers sent to the target
//! header = "Authorization"
//! value_env = "METRICS_TOKEN"                  # or value_file = "token.txt", or value = "literal"
//! prefix = "Bearer "                           # optional, written before the value
//! paths = "/metrics"                           # optional: only requests under this path get it
//!
//! [prometheus]                                 # also [alertmanager], [loki], [grafana]
//! url = "http://127.0.0.1:9090"
//! [[prometheus.credentials]]                   # same keys as target.credentials
//! header = "Authorization"
//! value_file = "secrets/prometheus-token"
//! prefix = "Bearer "
//!
//! [network]                                    # see preflight_probe::NetworkPolicy
//! allow = ["127.0.0.0/8", "10.1.2.3"]          # when not empty, probes reach only these
//! deny = ["10.0.0.0/8"]                        # never reached (checked before allow)
//!
//! [tls]
//! ca_file = "ca.pem"                           # extra trusted roots (PEM, one or more)
//!
//! [limits]                                     # unset keys keep the engine's defaults
//! timeout = "10s"                              # per check without its own timeout= (100ms..5m)
//! connect_timeout = "5s"                       # per TCP connection (100ms..5m)
//! concurrency = 8                              # checks at once (1..64)
//! max_requests = 10                            # requests per check (1..1000)
//! max_body_bytes = 2097152                     # bytes read per response body (1 B..64 MiB)
//! per_host_concurrency = 4                     # requests in flight per host (1..64)
//! ```
//!
//! A credential's value comes from exactly one of `value` (literal), `value_env` (an
//! environment variable, which must be set and not empty) or `value_file` (a file; trailing
//! line breaks are dropped). Errors name the variable or file, never the value, and values
//! never reach any output: reports are scrubbed of them.

mod file;
mod secrets;

use std::path::{Path, PathBuf};
use std::time::Duration;

use preflight_domain::{TIMEOUT_RANGE_MS, TimeSpan};
use preflight_probe::{Credential, Endpoint, EngineConfig, NetworkPolicy, Target};
use url::Url;

use self::file::{CredentialTable, EndpointTable, FileConfig, LimitsTable};
use super::UsageError;
use super::args::CheckArgs;

/// Everything local mode needs besides the checklist.
pub struct Settings {
    pub target: Target,
    pub engine: EngineConfig,
    /// Every credential value (with and without its prefix), to scrub from output.
    pub secrets: Vec<String>,
}

/// Reads `--config` (if any) and merges the command line over it.
pub fn load(args: &CheckArgs) -> Result<Settings, UsageError> {
    let (file, origin) = match &args.config {
        Some(path) => (read(path)?, Origin::of(path)),
        None => (FileConfig::default(), Origin::none()),
    };
    let mut secrets = Vec::new();
    let target = build_target(args, &file, &origin, &mut secrets)?;
    let mut engine = limits(&file.limits, &origin)?;
    engine.network = network(&file, &origin)?;
    if let Some(ca) = &file.tls.ca_file {
        let path = origin.dir.join(ca);
        let pem = std::fs::read(&path).map_err(|e| {
            origin.error(format!("cannot read tls.ca_file {}: {e}", path.display()))
        })?;
        engine
            .add_roots_pem(&pem)
            .map_err(|e| origin.error(format!("tls.ca_file {}: {e}", path.display())))?;
    }
    if let Some(timeout) = args.timeout {
        engine.default_timeout = timeout;
    }
    if let Some(n) = args.concurrency {
        engine.concurrency = usize::from(n);
    }
    // Longest first, so a prefixed value is replaced before the bare token inside it.
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    secrets.dedup();
    Ok(Settings {
        target,
        engine,
        secrets,
    })
}

fn read(path: &Path) -> Result<FileConfig, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError::new(format!("{}: cannot read: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

/// Parses the file's text; errors are `NAME:LINE: message`.
fn parse(text: &str, name: &str) -> Result<FileConfig, UsageError> {
    toml::from_str(text).map_err(|e| {
        // The message alone: toml's own rendering quotes the offending line, which may hold
        // a credential.
        let message = e.message().trim_end();
        match e.span() {
            Some(span) => {
                let bytes = text.as_bytes();
                let before = bytes.get(..span.start).unwrap_or(bytes);
                let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                UsageError::new(format!("{name}:{line}: {message}"))
            }
            None => UsageError::new(format!("{name}: {message}")),
        }
    })
}

/// Where the config came from: messages name it, relative paths start from its directory.
struct Origin {
    name: Option<String>,
    dir: PathBuf,
}

impl Origin {
    fn of(path: &Path) -> Self {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Self {
            name: Some(path.display().to_string()),
            dir,
        }
    }

    fn none() -> Self {
        Self {
            name: None,
            dir: PathBuf::from("."),
        }
    }

    fn error(&self, message: String) -> UsageError {
        match &self.name {
            Some(name) => UsageError::new(format!("{name}: {message}")),
            None => UsageError::new(message),
        }
    }

    fn at(&self, what: &str) -> String {
        match &self.name {
            Some(name) => format!("{name}: {what}"),
            None => what.to_owned(),
        }
    }
}

fn build_target(
    args: &CheckArgs,
    file: &FileConfig,
    origin: &Origin,
    secrets: &mut Vec<String>,
) -> Result<Target, UsageError> {
    let base_url = match (&args.target, &file.target.url) {
        (Some(url), _) => {
            Url::parse(url).map_err(|e| UsageError::new(format!("--target: not a URL: {e}")))?
        }
        (None, Some(url)) => parse_url(url, "target.url", origin)?,
        (None, None) => {
            return Err(UsageError::new(
                "no target: give --target URL (or url in the [target] table of --config)",
            ));
        }
    };
    let mut target = Target::new(base_url);
    target.name = file.target.name.clone();
    target.job = file.target.job.clone();
    target.log_selector = file.target.log_selector.clone();
    if let Some(url) = &file.target.plain_http_url {
        target.plain_http_url = Some(parse_url(url, "target.plain_http_url", origin)?);
    }
    target.credentials = credentials(&file.target.credentials, "target", origin, secrets)?;
    let endpoint = |table: &Option<EndpointTable>, name: &str, secrets: &mut Vec<String>| {
        table
            .as_ref()
            .map(|t| -> Result<Endpoint, UsageError> {
                let mut endpoint =
                    Endpoint::new(parse_url(&t.url, &format!("{name}.url"), origin)?);
                endpoint.credentials = credentials(&t.credentials, name, origin, secrets)?;
                Ok(endpoint)
            })
            .transpose()
    };
    target.prometheus = endpoint(&file.prometheus, "prometheus", secrets)?;
    target.alertmanager = endpoint(&file.alertmanager, "alertmanager", secrets)?;
    target.loki = endpoint(&file.loki, "loki", secrets)?;
    target.grafana = endpoint(&file.grafana, "grafana", secrets)?;
    // The message names which URL (the target's or an endpoint's), never a password.
    target
        .validate()
        .map_err(|e| UsageError::new(e.to_string()))?;
    Ok(target)
}

/// Parses a URL from the file without quoting it (it may carry a password).
fn parse_url(text: &str, key: &str, origin: &Origin) -> Result<Url, UsageError> {
    Url::parse(text).map_err(|e| origin.error(format!("{key}: not a URL: {e}")))
}

fn credentials(
    tables: &[CredentialTable],
    owner: &str,
    origin: &Origin,
    secrets: &mut Vec<String>,
) -> Result<Vec<Credential>, UsageError> {
    let mut out = Vec::with_capacity(tables.len());
    for (i, table) in tables.iter().enumerate() {
        let at = origin.at(&format!("{owner}.credentials[{i}]"));
        let resolved = secrets::resolve(table, &at, &origin.dir)?;
        secrets.extend(resolved.secrets);
        out.push(resolved.credential);
    }
    Ok(out)
}

fn network(file: &FileConfig, origin: &Origin) -> Result<NetworkPolicy, UsageError> {
    let parse = |list: &[String], key: &str| -> Result<Vec<ipnet::IpNet>, UsageError> {
        let mut nets = Vec::new();
        for entry in list {
            let parsed = NetworkPolicy::parse_networks(entry)
                .map_err(|e| origin.error(format!("network.{key}: {e}")))?;
            nets.extend(parsed);
        }
        Ok(nets)
    };
    Ok(NetworkPolicy {
        allow: parse(&file.network.allow, "allow")?,
        deny: parse(&file.network.deny, "deny")?,
    })
}

fn limits(table: &LimitsTable, origin: &Origin) -> Result<EngineConfig, UsageError> {
    let mut config = EngineConfig::default();
    let span = |value: Option<TimeSpan>, key: &str| -> Result<Option<Duration>, UsageError> {
        let Some(span) = value else { return Ok(None) };
        let (min, max) = TIMEOUT_RANGE_MS;
        if (min..=max).contains(&span.as_millis()) {
            Ok(Some(span.to_std()))
        } else {
            Err(origin.error(format!("limits.{key}: {span} must be between 100ms and 5m")))
        }
    };
    let within =
        |value: Option<usize>, key: &str, max: usize| -> Result<Option<usize>, UsageError> {
            match value {
                Some(n) if n == 0 || n > max => {
                    Err(origin.error(format!("limits.{key}: {n} must be between 1 and {max}")))
                }
                other => Ok(other),
            }
        };
    if let Some(t) = span(table.timeout, "timeout")? {
        config.default_timeout = t;
    }
    if let Some(t) = span(table.connect_timeout, "connect_timeout")? {
        config.connect_timeout = t;
    }
    if let Some(n) = within(table.concurrency, "concurrency", 64)? {
        config.concurrency = n;
    }
    if let Some(n) = within(table.per_host_concurrency, "per_host_concurrency", 64)? {
        config.per_host_concurrency = n;
    }
    if let Some(n) = within(table.max_body_bytes, "max_body_bytes", 64 * 1024 * 1024)? {
        config.max_body_bytes = n;
    }
    let max_requests = table.max_requests.map(|n| n as usize);
    if let Some(n) = within(max_requests, "max_requests", 1000)? {
        config.max_requests = u32::try_from(n).unwrap_or(1000);
    }
    Ok(config)
}

#[cfg(test)]
mod tests;
