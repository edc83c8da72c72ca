//! Typed automated-check definitions.
//!
//! A check is written in Markdown as `<!-- check: KIND key=value key2="quoted value" -->` and
//! stored as JSON tagged by `kind`. Both forms go through the same validation, so a check the
//! API accepts can always be written back into a document, and the other way round.

mod condition;
mod kinds;
mod observability;
mod params;
mod syntax;
mod timespan;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use condition::{CmpOp, Condition, Operand, Subject, ValueCondition};
pub use kinds::{
    AuthRequiredCheck, CorsCheck, HealthCheck, HttpCheck, HttpHeader, MAX_BURST, MetricsCheck,
    OpenapiCheck, RateLimitCheck, SecurityHeadersCheck, TIMEOUT_RANGE_MS, TlsCheck,
};
pub use observability::{
    AlertmanagerReceiversCheck, GrafanaDashboardCheck, LokiLogsCheck, PrometheusRulesCheck,
    PrometheusTargetCheck, PromqlCheck,
};
pub(crate) use syntax::tokenize;
pub use timespan::{TimeSpan, TimeUnit};

use kinds::{Kind, Timed};
use params::{Emitter, Params};

/// Why a check definition was refused; messages name the kind or parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The kind is not in [`kinds()`].
    #[error("unknown check kind \"{0}\" (known kinds: {known})", known = KINDS.join(", "))]
    UnknownKind(String),
    /// A parameter the kind does not take.
    #[error("unknown parameter \"{name}\" for check \"{kind}\" (expected: {expected})")]
    UnknownParameter {
        /// The check kind.
        kind: &'static str,
        /// The parameter given.
        name: String,
        /// The parameters the kind takes.
        expected: String,
    },
    /// A parameter with a bad value.
    #[error("parameter \"{name}\": {message}")]
    InvalidParameter {
        /// The parameter.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// A required parameter is absent.
    #[error("missing required parameter \"{name}\"")]
    MissingParameter {
        /// The parameter.
        name: String,
    },
    /// A single-valued parameter was given twice.
    #[error("parameter \"{name}\" is given more than once")]
    DuplicateParameter {
        /// The parameter.
        name: String,
    },
    /// The annotation text itself is malformed.
    #[error("{0}")]
    Syntax(String),
}

/// Generates [`CheckSpec`], its unvalidated serde twin and the per-kind dispatch, so that the
/// list of kinds is written once.
macro_rules! check_specs {
    ($($(#[$meta:meta])* $variant:ident($ty:ty) = $name:literal,)+) => {
        /// One automated check with typed, validated parameters.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case", try_from = "Unchecked")]
        pub enum CheckSpec {
            $($(#[$meta])* $variant($ty),)+
        }

        /// What JSON deserialises into before validation (serde has no validation hook).
        #[derive(Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        enum Unchecked {
            $($variant($ty),)+
        }

        const KINDS: &[&str] = &[$($name),+];

        impl TryFrom<Unchecked> for CheckSpec {
            type Error = CheckError;
            fn try_from(raw: Unchecked) -> Result<Self, CheckError> {
                match raw {
                    $(Unchecked::$variant(spec) => {
                        kinds::validate_timeout(spec.timeout())?;
                        spec.validated().map(CheckSpec::$variant)
                    })+
                }
            }
        }

        impl CheckSpec {
            /// The kind name as written in annotations and JSON.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(CheckSpec::$variant(_) => $name,)+
                }
            }

            /// Builds a check from a kind name and its `key=value` parameters.
            pub fn parse<K: AsRef<str>, V: AsRef<str>>(
                kind: &str,
                pairs: &[(K, V)],
            ) -> Result<Self, CheckError> {
                let pairs: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
                    .collect();
                match kind {
                    $($name => {
                        let params = Params::new($name, <$ty>::PARAMS, &pairs)?;
                        let mut spec = <$ty>::read(&params)?;
                        let timeout = params.parsed("timeout", "a duration such as 30s")?;
                        kinds::validate_timeout(timeout)?;
                        spec.set_timeout(timeout);
                        spec.validated().map(CheckSpec::$variant)
                    })+
                    _ => Err(CheckError::UnknownKind(kind.to_owned())),
                }
            }

            /// Re-checks every parameter (after a caller changed fields directly).
            pub fn validate(&self) -> Result<(), CheckError> {
                match self {
                    $(CheckSpec::$variant(spec) => {
                        kinds::validate_timeout(spec.timeout())?;
                        spec.clone().validated().map(|_| ())
                    })+
                }
            }

            /// The parameter names a kind accepts in annotations, `None` for an unknown kind.
            pub fn parameters(kind: &str) -> Option<&'static [&'static str]> {
                match kind {
                    $($name => Some(<$ty>::PARAMS),)+
                    _ => None,
                }
            }

            /// The per-check timeout override, when the definition gives one.
            pub fn timeout(&self) -> Option<std::time::Duration> {
                match self {
                    $(CheckSpec::$variant(spec) => spec.timeout().map(|t| t.to_std()),)+
                }
            }

            fn write_params(&self, e: &mut Emitter) {
                match self {
                    $(CheckSpec::$variant(spec) => {
                        spec.write(e);
                        e.push_opt("timeout", spec.timeout().as_ref());
                    })+
                }
            }
        }
    };
}

check_specs! {
    /// Generic HTTP request with conditions.
    Http(HttpCheck) = "http",
    /// Liveness and readiness endpoints.
    Health(HealthCheck) = "health",
    /// Prometheus metrics endpoint.
    Metrics(MetricsCheck) = "metrics",
    /// API docs and OpenAPI document.
    Openapi(OpenapiCheck) = "openapi",
    /// CORS refuses foreign origins.
    Cors(CorsCheck) = "cors",
    /// Rate limiting answers 429.
    RateLimit(RateLimitCheck) = "rate_limit",
    /// Endpoints refuse anonymous calls.
    AuthRequired(AuthRequiredCheck) = "auth_required",
    /// TLS certificate, protocol, redirect and HSTS.
    Tls(TlsCheck) = "tls",
    /// Security response headers.
    SecurityHeaders(SecurityHeadersCheck) = "security_headers",
    /// Prometheus scrapes the target.
    PrometheusTarget(PrometheusTargetCheck) = "prometheus_target",
    /// Alerting rules are loaded.
    PrometheusRules(PrometheusRulesCheck) = "prometheus_rules",
    /// A PromQL condition holds.
    Promql(PromqlCheck) = "promql",
    /// Alertmanager has real receivers.
    AlertmanagerReceivers(AlertmanagerReceiversCheck) = "alertmanager_receivers",
    /// Loki has recent log lines.
    LokiLogs(LokiLogsCheck) = "loki_logs",
    /// Grafana has the dashboard.
    GrafanaDashboard(GrafanaDashboardCheck) = "grafana_dashboard",
}

/// Every check kind, in catalogue order.
pub fn kinds() -> &'static [&'static str] {
    KINDS
}

impl CheckSpec {
    /// Parses `KIND key=value ...` (the inside of an annotation after `check:`).
    pub fn from_definition(text: &str) -> Result<Self, CheckError> {
        let text = text.trim();
        let (kind, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        if kind.is_empty() {
            return Err(CheckError::Syntax(
                "missing check kind after \"check:\"".into(),
            ));
        }
        if !KINDS.contains(&kind) {
            return Err(CheckError::UnknownKind(kind.to_owned()));
        }
        CheckSpec::parse(kind, &tokenize(rest)?)
    }

    /// Parses a whole `<!-- check: KIND key=value -->` comment.
    pub fn from_annotation(comment: &str) -> Result<Self, CheckError> {
        let inner = comment
            .trim()
            .strip_prefix("<!--")
            .and_then(|rest| rest.strip_suffix("-->"))
            .and_then(|inner| inner.trim().strip_prefix("check:"))
            .ok_or_else(|| CheckError::Syntax("expected <!-- check: KIND key=value -->".into()))?;
        Self::from_definition(inner)
    }

    /// `KIND key=value ...`, listing only parameters that differ from their defaults.
    pub fn to_definition(&self) -> String {
        let mut emitter = Emitter::default();
        self.write_params(&mut emitter);
        let params = emitter.finish();
        if params.is_empty() {
            self.kind().to_owned()
        } else {
            format!("{} {params}", self.kind())
        }
    }

    /// The Markdown annotation `<!-- check: KIND key=value -->`; [`Self::from_annotation`] reads it back.
    pub fn to_annotation(&self) -> String {
        format!("<!-- check: {} -->", self.to_definition())
    }
}

impl fmt::Display for CheckSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_definition())
    }
}

impl FromStr for CheckSpec {
    type Err = CheckError;
    fn from_str(text: &str) -> Result<Self, CheckError> {
        Self::from_definition(text)
    }
}

#[cfg(test)]
mod tests;
