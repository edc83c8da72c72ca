//! Configuration from the environment (and an optional `.env`), as `.env.example` lists it.
//!
//! Parsing is separated from the process environment: [`Settings::from_lookup`] takes any
//! lookup function, so tests build settings without touching global state.

mod parse;
mod validate;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;

pub use parse::{ConfigError, RateSpec};
pub use validate::{Requirement, production_problems, production_requirements};

/// Default development admin, stated in the README. Production refuses to start with this password.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@preflight.local";
/// Default development admin password (see [`DEFAULT_ADMIN_EMAIL`]).
pub const DEFAULT_ADMIN_PASSWORD: &str = "preflight-admin";

/// Deployment environment; production turns insecure settings into start-up errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Staging,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
    pub fn is_development(self) -> bool {
        self == Self::Development
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Database pool and query settings.
#[derive(Debug, Clone)]
pub struct DbSettings {
    pub url: String,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    /// PostgreSQL `statement_timeout`; ignored on SQLite.
    pub statement_timeout: Duration,
    pub log_queries: bool,
    pub slow_query_threshold: Duration,
}

/// Rate-limit quotas per scope.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub anonymous: RateSpec,
    pub authenticated: RateSpec,
    /// Login attempts per account and client address.
    pub login: RateSpec,
    /// Login attempts per client address, whatever the account (well-formed or not).
    pub login_address: RateSpec,
    /// Login attempts per account from all addresses together: higher than `login`, so one
    /// address guessing cannot lock the account's owner out.
    pub login_account: RateSpec,
    /// `/health/ready` calls per client address.
    pub health: RateSpec,
}

/// Backup settings.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    pub dir: PathBuf,
    pub schedule: String,
    pub keep_daily: u32,
    pub keep_weekly: u32,
}

/// A monitoring server the checks of every service may ask, unless a service names its own.
#[derive(Debug, Clone)]
pub struct MonitoringDefault {
    pub url: url::Url,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
}

/// The check runner: scheduled and on-demand runs of automated items.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// Whether this process runs scheduled and requested checks (`PROBE_SCHEDULER`).
    pub scheduler: bool,
    /// Default interval between runs of one item (`PROBE_INTERVAL`; a service may override).
    pub interval: Duration,
    /// Checks running at once in this process.
    pub concurrency: usize,
    /// Requests in flight to one host and port.
    pub per_host_concurrency: usize,
    /// Claimed checks waiting for a free runner (bounded).
    pub queue: usize,
    /// Timeout of a check without its own `timeout=`.
    pub timeout: Duration,
    /// How long a claim holds without being renewed; a replica that dies loses its claims
    /// after this long.
    pub lease: Duration,
    /// Runs kept per item, whatever their outcome.
    pub keep_runs: u32,
    /// Failed and error runs are also kept this long.
    pub keep_failures: Duration,
    /// How often retention runs (on one replica at a time).
    pub retention_every: Duration,
    /// On-demand runs per user.
    pub request_rate: RateSpec,
    /// Networks probes may reach / never reach.
    pub allow_networks: Vec<IpNet>,
    pub deny_networks: Vec<IpNet>,
    pub prometheus: Option<MonitoringDefault>,
    pub alertmanager: Option<MonitoringDefault>,
    pub loki: Option<MonitoringDefault>,
    pub grafana: Option<MonitoringDefault>,
}

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub host: IpAddr,
    pub port: u16,
    pub data_dir: PathBuf,
    pub public_url: Option<String>,
    pub db: DbSettings,
    pub migrate_on_start: bool,
    pub secret_key: Option<SecretString>,
    pub encryption_key: Option<SecretString>,
    pub encryption_key_previous: Vec<SecretString>,
    pub admin_email: String,
    pub admin_password: SecretString,
    pub allowed_origins: Vec<String>,
    pub redis_url: Option<SecretString>,
    pub redis_prefix: String,
    pub cache_ttl: Duration,
    pub metrics_token: Option<SecretString>,
    pub log_level: String,
    pub log_format: LogFormat,
    pub trusted_proxies: Vec<IpNet>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// With native TLS: a plain-HTTP port on `host` that answers every request with a 308 to
    /// the same host and path over HTTPS (`HTTP_REDIRECT_PORT`; unset: no plain listener).
    pub http_redirect_port: Option<u16>,
    /// HTTPS is terminated by a reverse proxy in front of preflight.
    pub https_upstream: bool,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub body_limit: usize,
    pub request_timeout: Duration,
    /// How long a connection may take to send a request's headers (slow-client defence).
    pub header_read_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub rate_limit: RateLimitSettings,
    pub backup: BackupSettings,
    pub probe: ProbeSettings,
}

impl Settings {
    /// Reads the process environment, after loading `.env` when present (never overriding
    /// variables already set).
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is reported.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError::new(vec![format!(".env: {e}")])),
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from a lookup function (the environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        parse::parse(&lookup)
    }

    /// Address the HTTP server binds.
    pub fn bind_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.host, self.port)
    }

    /// Whether HTTPS is in place: native TLS or terminated upstream.
    pub fn https_configured(&self) -> bool {
        (self.tls_cert.is_some() && self.tls_key.is_some()) || self.https_upstream
    }

    /// Whether `DATABASE_URL` points at PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.db.url.starts_with("postgres://") || self.db.url.starts_with("postgresql://")
    }
}

#[cfg(test)]
mod tests;
