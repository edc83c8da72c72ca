//! Parameters of each check kind: defaults, annotation reading/writing and validation.
//!
//! Field names are the annotation parameter names, except for repeatable `http` parameters
//! whose JSON fields are plural (`header=` → `headers`, `condition=` → `conditions`).

use serde::{Deserialize, Serialize};

use super::CheckError;
use super::condition::Condition;
use super::params::{self, Emitter, Params, missing, problem, within};
use super::timespan::TimeSpan;

/// What every kind implements so that [`super::CheckSpec`] can dispatch generically.
pub trait Kind: Sized + Default {
    /// Parameter names accepted in an annotation.
    const PARAMS: &'static [&'static str];
    /// Reads the parameters over the defaults (validation follows separately).
    fn read(p: &Params<'_>) -> Result<Self, CheckError>;
    /// Writes the parameters that differ from the defaults.
    fn write(&self, e: &mut Emitter);
    /// Checks every field and normalises (e.g. upper-case methods); JSON input goes through here too.
    fn validated(self) -> Result<Self, CheckError>;
}

/// Bounds of the per-check `timeout=` override: long enough for a slow burst, short enough
/// that a stuck probe never holds a scheduler slot for long.
pub const TIMEOUT_RANGE_MS: (u64, u64) = (100, 300_000);

/// The `timeout=` parameter every kind accepts (read and written by [`super::CheckSpec`]).
pub trait Timed {
    /// The per-check timeout, when one was given.
    fn timeout(&self) -> Option<TimeSpan>;
    /// Sets (or clears) the per-check timeout.
    fn set_timeout(&mut self, timeout: Option<TimeSpan>);
}

macro_rules! timed {
    ($($ty:ty),+ $(,)?) => {
        $(impl Timed for $ty {
            fn timeout(&self) -> Option<TimeSpan> {
                self.timeout
            }
            fn set_timeout(&mut self, timeout: Option<TimeSpan>) {
                self.timeout = timeout;
            }
        })+
    };
}

timed!(
    HttpCheck,
    HealthCheck,
    MetricsCheck,
    OpenapiCheck,
    CorsCheck,
    RateLimitCheck,
    AuthRequiredCheck,
    TlsCheck,
    SecurityHeadersCheck,
    super::observability::PrometheusTargetCheck,
    super::observability::PrometheusRulesCheck,
    super::observability::PromqlCheck,
    super::observability::AlertmanagerReceiversCheck,
    super::observability::LokiLogsCheck,
    super::observability::GrafanaDashboardCheck,
);

/// Checks a `timeout=` value against [`TIMEOUT_RANGE_MS`].
pub fn validate_timeout(timeout: Option<TimeSpan>) -> Result<(), CheckError> {
    let Some(span) = timeout else { return Ok(()) };
    let (min, max) = TIMEOUT_RANGE_MS;
    if (min..=max).contains(&span.as_millis()) {
        Ok(())
    } else {
        Err(problem(
            "timeout",
            format!("{span} must be between 100ms and 5m"),
        ))
    }
}

/// One request header sent by an `http` check (`header="Accept: application/json"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// `http`: one request, then every condition must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpCheck {
    /// Request method (default GET).
    pub method: String,
    /// Request path (default `/`).
    pub path: String,
    /// Expected status; when absent and no `status` condition is given, any 2xx passes.
    pub status: Option<u16>,
    /// Extra request headers.
    pub headers: Vec<HttpHeader>,
    /// Conditions on the response; all must hold.
    pub conditions: Vec<Condition>,
    /// Per-check timeout (`timeout=30s`); without it the engine default applies.
    pub timeout: Option<TimeSpan>,
}

impl Default for HttpCheck {
    fn default() -> Self {
        Self {
            method: "GET".into(),
            path: "/".into(),
            status: None,
            headers: Vec::new(),
            conditions: Vec::new(),
            timeout: None,
        }
    }
}

impl Kind for HttpCheck {
    const PARAMS: &'static [&'static str] = &["method", "path", "status", "header", "condition"];

    fn read(p: &Params<'_>) -> Result<Self, CheckError> {
        let d = Self::default();
        let headers = p
            .repeated("header")
            .into_iter()
            .map(|raw| {
                let (name, value) = raw.split_once(':').ok_or_else(|| {
                    problem("header", format!("\"{raw}\" must be \"Name: value\""))
                })?;
                Ok(HttpHeader {
                    name: name.trim().to_owned(),
                    value: value.trim().to_owned(),
                })
            })
            .collect::<Result<_, CheckError>>()?;
        let conditions = p
            .repeated("condition")
            .into_iter()
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            method: p.string("method")?.unwrap_or(d.method),
            path: p.string("path")?.unwrap_or(d.path),
            status: p.parsed("status", "an HTTP status code")?,
            headers,
            conditions,
            ..Self::default()
        })
    }

    fn write(&self, e: &mut Emitter) {
        let d = Self::default();
        e.push_unless("method", &self.method, &d.method);
        e.push_unless("path", &self.path, &d.path);
        e.push_opt("status", self.status.as_ref());
        for header in &self.headers {
            e.push("header", format!("{}: {}", header.name, header.value));
        }
        for condition in &self.conditions {
            e.push("condition", condition);
        }
    }

    fn validated(mut self) -> Result<Self, CheckError> {
        self.method = params::method("method", &self.method)?;
        params::path("path", &self.path)?;
        if let Some(code) = self.status
            && !(100..=599).contains(&code)
        {
            return Err(problem(
                "status",
                format!("{code} is not an HTTP status code"),
            ));
        }
        for header in &self.headers {
            let token_ok = !header.name.is_empty()
                && header
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
            if !token_ok {
                return Err(problem(
                    "header",
                    format!("\"{}\" is not a header name", header.name),
                ));
            }
            params::text("header", &header.value)?;
        }
        Ok(self)
    }
}

/// Declares a kind whose parameters are all paths with defaults (health, openapi, ...).
macro_rules! path_kind {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident = $default:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: String,)+
            /// Per-check timeout (`timeout=30s`); without it the engine default applies.
            pub timeout: Option<TimeSpan>,
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $($field: $default.into(),)+ timeout: None }
            }
        }

        impl Kind for $name {
            const PARAMS: &'static [&'static str] = &[$(stringify!($field)),+];

            fn read(p: &Params<'_>) -> Result<Self, CheckError> {
                let d = Self::default();
                Ok(Self { $($field: p.string(stringify!($field))?.unwrap_or(d.$field),)+ timeout: None })
            }

            fn write(&self, e: &mut Emitter) {
                let d = Self::default();
                $(e.push_unless(stringify!($field), &self.$field, &d.$field);)+
            }

            fn validated(self) -> Result<Self, CheckError> {
                $(params::path(stringify!($field), &self.$field)?;)+
                Ok(self)
            }
        }
    };
}

path_kind!(
    /// `health`: liveness and readiness endpoints answer 2xx.
    HealthCheck {
        /// Liveness endpoint.
        live = "/health/live",
        /// Readiness endpoint.
        ready = "/health/ready",
    }
);

path_kind!(
    /// `openapi`: the docs page answers HTML and the document is valid OpenAPI 3.
    OpenapiCheck {
        /// Human-readable docs page.
        docs = "/docs",
        /// The OpenAPI document.
        spec = "/openapi.json",
    }
);

path_kind!(
    /// `security_headers`: X-Content-Type-Options, frame protection and Referrer-Policy are set.
    SecurityHeadersCheck {
        /// Page whose response headers are inspected.
        path = "/",
    }
);

/// `metrics`: Prometheus text exposition, optionally with required metric names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsCheck {
    /// Metrics endpoint.
    pub path: String,
    /// Metric names that must be exposed.
    pub require: Vec<String>,
    /// Per-check timeout (`timeout=30s`); without it the engine default applies.
    pub timeout: Option<TimeSpan>,
}

impl Default for MetricsCheck {
    fn default() -> Self {
        Self {
            path: "/metrics".into(),
            require: Vec::new(),
            timeout: None,
        }
    }
}

impl Kind for MetricsCheck {
    const PARAMS: &'static [&'static str] = &["path", "require"];

    fn read(p: &Params<'_>) -> Result<Self, CheckError> {
        Ok(Self {
            path: p.string("path")?.unwrap_or_else(|| Self::default().path),
            require: p.list("require"),
            ..Self::default()
        })
    }

    fn write(&self, e: &mut Emitter) {
        e.push_unless("path", &self.path, &Self::default().path);
        e.push_list("require", &self.require);
    }

    fn validated(self) -> Result<Self, CheckError> {
        params::path("path", &self.path)?;
        for metric in &self.require {
            let mut chars = metric.chars();
            let valid = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !valid {
                return Err(problem(
                    "require",
                    format!("\"{metric}\" is not a Prometheus metric name"),
                ));
            }
        }
        Ok(self)
    }
}

/// `cors`: a foreign origin is refused; an allowed origin (when given) is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsCheck {
    /// Path requested with an `Origin` header.
    pub path: String,
    /// An origin that must NOT be allowed.
    pub origin: String,
    /// An origin that must be allowed (defaults to none: only the refusal is checked).
    pub allowed: Option<String>,
    /// Per-check timeout (`timeout=30s`); without it the engine default applies.
    pub timeout: Option<TimeSpan>,
}

impl Default for CorsCheck {
    fn default() -> Self {
        Self {
            path: "/".into(),
            origin: "https://preflight-probe.invalid".into(),
            allowed: None,
            timeout: None,
        }
    }
}

impl Kind for CorsCheck {
    const PARAMS: &'static [&'static str] = &["path", "origin", "allowed"];

    fn read(p: &Params<'_>) -> Result<Self, CheckError> {
        let d = Self::default();
        Ok(Self {
            path: p.string("path")?.unwrap_or(d.path),
            origin: p.string("origin")?.unwrap_or(d.origin),
            allowed: p.string("allowed")?,
            ..Self::default()
        })
    }

    fn write(&self, e: &mut Emitter) {
        let d = Self::default();
        e.push_unless("path", &self.path, &d.path);
        e.push_unless("origin", &self.origin, &d.origin);
        e.push_opt("allowed", self.allowed.as_ref());
    }

    fn validated(self) -> Result<Self, CheckError> {
        params::path("path", &self.path)?;
        params::origin("origin", &self.origin)?;
        if let Some(allowed) = &self.allowed {
            params::origin("allowed", allowed)?;
        }
        Ok(self)
    }
}

/// Most requests a `rate_limit` burst may send: a probe must never become a load test.
pub const MAX_BURST: u32 = 1000;

/// `rate_limit`: a bounded burst meets 429 with `Retry-After` before `burst` requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitCheck {
    /// Path hammered by the burst.
    pub path: String,
    /// Request method.
    pub method: String,
    /// Most requests sent (1..=1000); a 429 must come before this.
    pub burst: u32,
    /// Per-check timeout (`timeout=30s`); without it the engine default applies.
    pub timeout: Option<TimeSpan>,
}

impl Default for RateLimitCheck {
    fn default() -> Self {
        Self {
            path: "/".into(),
            method: "GET".into(),
            burst: 50,
            timeout: None,
        }
    }
}

impl Kind for RateLimitCheck {
    const PARAMS: &'static [&'static str] = &["path", "method", "burst"];

    fn read(p: &Params<'_>) -> Result<Self, CheckError> {
        let d = Self::default();
        Ok(Self {
            path: p.string("path")?.unwrap_or(d.path),
            method: p.string("method")?.unwrap_or(d.method),
            burst: p.parsed("burst", "a whole number")?.unwrap_or(d.burst),
            ..Self::default()
        })
    }

    fn write(&self, e: &mut Emitter) {
        let d = Self::default();
        e.push_unless("path", &self.path, &d.path);
        e.push_unless("method", &self.method, &d.method);
        e.push_unless("burst", &self.burst, &d.burst);
    }

    fn validated(mut self) -> Result<Self, CheckError> {
        params::path("path", &self.path)?;
        self.method = params::method("method", &self.method)?;
        within("burst", self.burst, 1, MAX_BURST)?;
        Ok(self)
    }
}

/// `auth_required`: every listed path answers 401 or 403 without credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthRequiredCheck {
    /// Paths that must refuse anonymous requests (required, at least one).
    pub paths: Vec<String>,
    /// Request method.
    pub method: String,
    /// Per-check timeout (`timeout=30s`); without it the engine default applies.
    pub timeout: Option<TimeSpan>,
}

impl Default for AuthRequiredCheck {
    fn default() -> Self {
        Self {
            paths: Vec::new(),
            method: "GET".into(),
            timeout: None,
        }
    }
}

impl Kind for AuthRequiredCheck {
    const PARAMS: &'static [&'static str] = &["paths", "method"];

    fn read(p: &Params<'_>) -> Result<Self, CheckError> {
        Ok(Self {
            paths: p.list("paths"),
            method: p
                .string("method")?
                .unwrap_or_else(|| Self::default().method),
            ..Self::default()
        })
    }

    fn write(&self, e: &mut Emitter) {
        e.push_list("paths", &self.paths);
        e.push_unless("method", &self.method, &Self::default().method);
    }

    fn validated(mut self) -> Result<Self, CheckError> {
        if self.paths.is_empty() {
            return Err(missing("paths"));
        }
        for path in &self.paths {
            params::path("paths", path)?;
        }
        self.method = params::method("method", &self.method)?;
        Ok(self)
    }
}

/// `tls`: valid chain, leaf expiry beyond `min_days`, TLS >= 1.2, HTTP→HTTPS redirect, HSTS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsCheck {
    /// Days the leaf certificate must still be valid (0..=3650).
    pub min_days: u32,
    /// Host to check; defaults to the service's base URL host.
    pub host: Option<String>,
    /// Per-check timeout (`timeout=30s`); without it the engine default applies.
    pub timeout: Option<TimeSpan>,
}

impl Default for TlsCheck {
    fn default() -> Self {
        Self {
            min_days: 14,
            host: None,
            timeout: None,
        }
    }
}

impl Kind for TlsCheck {
    const PARAMS: &'static [&'static str] = &["min_days", "host"];

    fn read(p: &Params<'_>) -> Result<Self, CheckError> {
        Ok(Self {
            min_days: p
                .parsed("min_days", "a whole number of days")?
                .unwrap_or(Self::default().min_days),
            host: p.string("host")?,
            ..Self::default()
        })
    }

    fn write(&self, e: &mut Emitter) {
        e.push_unless("min_days", &self.min_days, &Self::default().min_days);
        e.push_opt("host", self.host.as_ref());
    }

    fn validated(self) -> Result<Self, CheckError> {
        within("min_days", self.min_days, 0, 3650)?;
        if let Some(host) = &self.host {
            params::name("host", host)?;
            if host.contains(['/', ':']) {
                return Err(problem(
                    "host",
                    format!("\"{host}\" must be a bare host name"),
                ));
            }
        }
        Ok(self)
    }
}
