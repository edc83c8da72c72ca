//! Turning raw variables into typed [`Settings`], collecting every problem instead of stopping
//! at the first.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;

use super::{
    BackupSettings, DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, DbSettings, Environment,
    LogFormat, MonitoringDefault, ProbeSettings, RateLimitSettings, Settings,
};

/// Variables that hold secrets: each may also be given as `NAME_FILE` (Docker/Kubernetes secrets).
pub const SECRET_VARS: &[&str] = &[
    "SECRET_KEY",
    "ENCRYPTION_KEY",
    "ENCRYPTION_KEY_PREVIOUS",
    "ADMIN_PASSWORD",
    "METRICS_TOKEN",
    "DATABASE_URL",
    "REDIS_URL",
    "PROMETHEUS_TOKEN",
    "ALERTMANAGER_TOKEN",
    "LOKI_TOKEN",
    "GRAFANA_TOKEN",
];

/// One or more configuration problems, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ConfigError {
    pub fn new(problems: Vec<String>) -> Self {
        Self { problems }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid configuration ({} problem(s)):",
            self.problems.len()
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A rate written as `N/period`, e.g. `60/m`, `10/15m`, `5/s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSpec {
    pub burst: u32,
    pub per: Duration,
}

impl FromStr for RateSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (n, per) = s
            .split_once('/')
            .ok_or_else(|| format!("expected N/period like 60/m, got {s:?}"))?;
        let burst: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("{n:?} is not a whole number"))?;
        if burst == 0 {
            return Err("the count must be at least 1".into());
        }
        let per = per.trim();
        let per = if per.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            parse_duration(per)?
        } else {
            parse_duration(&format!("1{per}"))?
        };
        if per.is_zero() {
            return Err("the period must be positive".into());
        }
        Ok(Self { burst, per })
    }
}

/// Parses `250ms`, `30s`, `5m`, `2h`, `7d`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 5m, 250ms"))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m, h, d)")),
    };
    Ok(Duration::from_secs(secs))
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    /// A variable's value: `NAME`, else the contents of the file named by `NAME_FILE`.
    /// Empty values count as unset.
    fn raw(&mut self, name: &str) -> Option<String> {
        if let Some(v) = (self.lookup)(name).filter(|v| !v.trim().is_empty()) {
            return Some(v.trim().to_owned());
        }
        if SECRET_VARS.contains(&name) {
            let file_var = format!("{name}_FILE");
            if let Some(path) = (self.lookup)(&file_var).filter(|v| !v.trim().is_empty()) {
                match std::fs::read_to_string(path.trim()) {
                    Ok(v) if !v.trim().is_empty() => return Some(v.trim().to_owned()),
                    Ok(_) => self
                        .problems
                        .push(format!("{file_var}: file {path} is empty")),
                    Err(e) => self
                        .problems
                        .push(format!("{file_var}: cannot read {path}: {e}")),
                }
            }
        }
        None
    }

    fn secret(&mut self, name: &str) -> Option<SecretString> {
        self.raw(name).map(SecretString::from)
    }

    fn string(&mut self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_owned())
    }

    fn parsed<T: FromStr>(&mut self, name: &str, default: T, expected: &str) -> T {
        match self.raw(name) {
            None => default,
            Some(v) => match v.parse() {
                Ok(t) => t,
                Err(_) => {
                    self.problems
                        .push(format!("{name}: {v:?} is not {expected}"));
                    default
                }
            },
        }
    }

    /// An optional typed value: `None` when unset, a problem when it does not parse.
    fn optional<T: FromStr>(&mut self, name: &str, expected: &str) -> Option<T> {
        let v = self.raw(name)?;
        match v.parse() {
            Ok(t) => Some(t),
            Err(_) => {
                self.problems
                    .push(format!("{name}: {v:?} is not {expected}"));
                None
            }
        }
    }

    fn boolean(&mut self, name: &str, default: bool) -> bool {
        match self.raw(name).map(|v| v.to_ascii_lowercase()) {
            None => default,
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => {
                self.problems
                    .push(format!("{name}: {v:?} is not a boolean (true/false)"));
                default
            }
        }
    }

    fn duration(&mut self, name: &str, default: Duration) -> Duration {
        match self.raw(name) {
            None => default,
            Some(v) => parse_duration(&v).unwrap_or_else(|e| {
                self.problems.push(format!("{name}: {e}"));
                default
            }),
        }
    }

    fn rate(&mut self, name: &str, default: &str) -> RateSpec {
        let v = self.string(name, default);
        v.parse().unwrap_or_else(|e| {
            self.problems.push(format!("{name}: {e}"));
            RateSpec {
                burst: 1,
                per: Duration::from_secs(1),
            }
        })
    }

    fn networks(&mut self, name: &str) -> Vec<IpNet> {
        let mut out = Vec::new();
        for p in self.list(name) {
            let parsed = p
                .parse::<IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from));
            match parsed {
                Ok(net) => out.push(net),
                Err(_) => self
                    .problems
                    .push(format!("{name}: {p:?} is not an IP address or CIDR")),
            }
        }
        out
    }

    /// `<NAME>_URL` and its optional `<NAME>_TOKEN`.
    fn monitoring(&mut self, name: &str) -> Option<MonitoringDefault> {
        let var = format!("{name}_URL");
        let token = self.secret(&format!("{name}_TOKEN"));
        let raw = self.raw(&var)?;
        match url::Url::parse(raw.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(MonitoringDefault { url, token })
            }
            _ => {
                self.problems.push(format!(
                    "{var}: must be an http:// or https:// URL with a host"
                ));
                None
            }
        }
    }

    /// A count that must be at least 1.
    fn positive(&mut self, name: &str, default: usize) -> usize {
        let n: usize = self.parsed(name, default, "a whole number");
        if n == 0 {
            self.problems.push(format!("{name}: must be at least 1"));
            return default;
        }
        n
    }

    fn list(&mut self, name: &str) -> Vec<String> {
        self.raw(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Shortest interval between scheduled runs (also the per-service minimum).
pub const MIN_PROBE_INTERVAL: Duration = Duration::from_secs(5);

fn probe(r: &mut Reader<'_>) -> ProbeSettings {
    let interval = r.duration("PROBE_INTERVAL", Duration::from_secs(15 * 60));
    if interval < MIN_PROBE_INTERVAL || interval > Duration::from_secs(86_400) {
        r.problems
            .push("PROBE_INTERVAL: must be between 5s and 24h".into());
    }
    let lease = r.duration("PROBE_LEASE", Duration::from_secs(60));
    if lease < Duration::from_secs(2) {
        r.problems.push("PROBE_LEASE: must be at least 2s".into());
    }
    let timeout = r.duration("PROBE_TIMEOUT", Duration::from_secs(10));
    if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(300) {
        r.problems
            .push("PROBE_TIMEOUT: must be between 100ms and 5m".into());
    }
    let keep_runs: u32 = r.parsed("PROBE_KEEP_RUNS", 50, "a whole number");
    if keep_runs == 0 {
        r.problems.push(
            "PROBE_KEEP_RUNS: must be at least 1 (an item's latest run is its evidence)".into(),
        );
    }
    ProbeSettings {
        scheduler: r.boolean("PROBE_SCHEDULER", true),
        interval,
        concurrency: r.positive("PROBE_CONCURRENCY", 64),
        per_host_concurrency: r.positive("PROBE_HOST_CONCURRENCY", 4),
        queue: r.positive("PROBE_QUEUE", 256),
        timeout,
        lease,
        keep_runs,
        keep_failures: r.duration("PROBE_KEEP_FAILURES", Duration::from_secs(30 * 86_400)),
        retention_every: r.duration("PROBE_RETENTION_INTERVAL", Duration::from_secs(3600)),
        request_rate: r.rate("RATE_LIMIT_RUNS", "30/m"),
        allow_networks: r.networks("PROBE_ALLOW_NETWORKS"),
        deny_networks: r.networks("PROBE_DENY_NETWORKS"),
        prometheus: r.monitoring("PROMETHEUS"),
        alertmanager: r.monitoring("ALERTMANAGER"),
        loki: r.monitoring("LOKI"),
        grafana: r.monitoring("GRAFANA"),
    }
}

pub(super) fn parse(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let mut r = Reader {
        lookup,
        problems: Vec::new(),
    };

    let environment = match r
        .string("ENVIRONMENT", "development")
        .to_lowercase()
        .as_str()
    {
        "development" | "dev" => Environment::Development,
        "staging" => Environment::Staging,
        "production" | "prod" => Environment::Production,
        other => {
            r.problems.push(format!(
                "ENVIRONMENT: {other:?} is not one of development, staging, production"
            ));
            Environment::Development
        }
    };
    let dev = environment.is_development();

    let data_dir = PathBuf::from(r.string("DATA_DIR", "./data"));
    let default_db = format!("sqlite://{}/preflight.db?mode=rwc", data_dir.display());
    let db_url = r.string("DATABASE_URL", &default_db);
    if !(db_url.starts_with("sqlite:")
        || db_url.starts_with("postgres://")
        || db_url.starts_with("postgresql://"))
    {
        r.problems
            .push("DATABASE_URL: must start with sqlite:, postgres:// or postgresql://".into());
    }
    let db = DbSettings {
        url: db_url,
        max_connections: r.parsed("DB_MAX_CONNECTIONS", 10, "a whole number"),
        min_connections: r.parsed("DB_MIN_CONNECTIONS", 1, "a whole number"),
        acquire_timeout: r.duration("DB_ACQUIRE_TIMEOUT", Duration::from_secs(5)),
        connect_timeout: r.duration("DB_CONNECT_TIMEOUT", Duration::from_secs(5)),
        idle_timeout: r.duration("DB_IDLE_TIMEOUT", Duration::from_secs(600)),
        statement_timeout: r.duration("DB_STATEMENT_TIMEOUT", Duration::from_secs(30)),
        log_queries: r.boolean("DB_LOG_QUERIES", false),
        slow_query_threshold: r.duration("DB_SLOW_QUERY_THRESHOLD", Duration::from_millis(500)),
    };
    if db.max_connections == 0 || db.min_connections > db.max_connections {
        r.problems
            .push("DB_MAX_CONNECTIONS must be ≥ 1 and ≥ DB_MIN_CONNECTIONS".into());
    }

    let log_format = match r
        .string("LOG_FORMAT", if dev { "pretty" } else { "json" })
        .as_str()
    {
        "json" => LogFormat::Json,
        "pretty" | "text" => LogFormat::Pretty,
        other => {
            r.problems
                .push(format!("LOG_FORMAT: {other:?} is not json or pretty"));
            LogFormat::Json
        }
    };

    // The other login limits default to this one (per address) and ten times it (per account).
    let login = r.rate("RATE_LIMIT_LOGIN", "10/15m");
    let login_text = format!("{}/{}s", login.burst, login.per.as_secs().max(1));
    let mut trusted_proxies = Vec::new();
    for p in r.list("TRUSTED_PROXIES") {
        let parsed = p
            .parse::<IpNet>()
            .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from));
        match parsed {
            Ok(net) => trusted_proxies.push(net),
            Err(_) => r.problems.push(format!(
                "TRUSTED_PROXIES: {p:?} is not an IP address or CIDR"
            )),
        }
    }

    let body_limit_kib: usize = r.parsed("BODY_LIMIT_KB", 1024, "a whole number of KiB");
    let settings = Settings {
        environment,
        host: r.parsed("HOST", [127, 0, 0, 1].into(), "an IP address"),
        port: r.parsed("PORT", 8000, "a port number"),
        public_url: r.raw("PUBLIC_URL"),
        migrate_on_start: r.boolean("MIGRATE_ON_START", dev),
        secret_key: r.secret("SECRET_KEY"),
        encryption_key: r.secret("ENCRYPTION_KEY"),
        encryption_key_previous: r
            .raw("ENCRYPTION_KEY_PREVIOUS")
            .map(|v| {
                v.split(',')
                    .map(|s| SecretString::from(s.trim().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        admin_email: r.string("ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL).to_lowercase(),
        admin_password: r
            .secret("ADMIN_PASSWORD")
            .unwrap_or_else(|| SecretString::from(DEFAULT_ADMIN_PASSWORD)),
        allowed_origins: r
            .list("ALLOWED_ORIGINS")
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect(),
        redis_url: r.secret("REDIS_URL"),
        redis_prefix: r.string("REDIS_PREFIX", "preflight:"),
        cache_ttl: r.duration("CACHE_TTL", Duration::from_secs(300)),
        metrics_token: r.secret("METRICS_TOKEN"),
        log_level: r.string("LOG_LEVEL", "info"),
        log_format,
        trusted_proxies,
        tls_cert: r.raw("TLS_CERT").map(PathBuf::from),
        tls_key: r.raw("TLS_KEY").map(PathBuf::from),
        http_redirect_port: r.optional("HTTP_REDIRECT_PORT", "a port number"),
        https_upstream: r.boolean("HTTPS_UPSTREAM", false),
        access_token_ttl: r.duration("ACCESS_TOKEN_TTL", Duration::from_secs(15 * 60)),
        refresh_token_ttl: r.duration("REFRESH_TOKEN_TTL", Duration::from_secs(14 * 86_400)),
        body_limit: body_limit_kib.saturating_mul(1024),
        request_timeout: r.duration("REQUEST_TIMEOUT", Duration::from_secs(30)),
        header_read_timeout: r.duration("HEADER_READ_TIMEOUT", Duration::from_secs(10)),
        shutdown_timeout: r.duration("SHUTDOWN_TIMEOUT", Duration::from_secs(30)),
        rate_limit: RateLimitSettings {
            enabled: r.boolean("RATE_LIMIT_ENABLED", true),
            anonymous: r.rate("RATE_LIMIT_ANONYMOUS", "120/m"),
            authenticated: r.rate("RATE_LIMIT_AUTHENTICATED", "1200/m"),
            login,
            login_address: r.rate("RATE_LIMIT_LOGIN_ADDRESS", &login_text),
            health: r.rate("RATE_LIMIT_HEALTH", "600/m"),
            login_account: r.rate(
                "RATE_LIMIT_LOGIN_ACCOUNT",
                &format!(
                    "{}/{}s",
                    login.burst.saturating_mul(10),
                    login.per.as_secs().max(1)
                ),
            ),
        },
        backup: BackupSettings {
            dir: PathBuf::from(r.string("BACKUP_DIR", &format!("{}/backups", data_dir.display()))),
            schedule: r.string("BACKUP_SCHEDULE", "0 3 * * *"),
            keep_daily: r.parsed("BACKUP_KEEP_DAILY", 7, "a whole number"),
            keep_weekly: r.parsed("BACKUP_KEEP_WEEKLY", 4, "a whole number"),
        },
        probe: probe(&mut r),
        db,
        data_dir,
    };
    if settings.tls_cert.is_some() != settings.tls_key.is_some() {
        r.problems
            .push("TLS_CERT and TLS_KEY must be set together".into());
    }
    if let Some(port) = settings.http_redirect_port {
        if settings.tls_cert.is_none() || settings.tls_key.is_none() {
            r.problems.push(
                "HTTP_REDIRECT_PORT needs native TLS (TLS_CERT and TLS_KEY); behind a \
                 TLS-terminating proxy, the proxy redirects plain HTTP"
                    .into(),
            );
        }
        if port != 0 && port == settings.port {
            r.problems
                .push(format!("HTTP_REDIRECT_PORT must differ from PORT ({port})"));
        }
    }
    if r.problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError::new(r.problems))
    }
}
