//! One module per check kind; each turns what the target answered into a [`Verdict`].

mod alertmanager;
mod auth_required;
mod conditions;
mod cors;
mod grafana;
mod health;
mod http;
mod loki;
mod metrics;
mod monitoring;
mod openapi;
mod prometheus;
mod rate_limit;
mod security_headers;
mod tls;

use preflight_domain::{CheckSpec, MAX_BURST};

use crate::engine::EngineConfig;
use crate::error::ProbeError;
use crate::evidence::Outcome;
use crate::probe::Probe;

/// How a kind judged the target, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub outcome: Outcome,
    pub reason: String,
}

impl Verdict {
    pub fn pass(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Passed,
            reason: reason.into(),
        }
    }

    pub fn fail(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Failed,
            reason: reason.into(),
        }
    }

    pub fn error(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Error,
            reason: reason.into(),
        }
    }

    /// Passes when every problem list is empty, else fails naming them all.
    pub fn from_problems(problems: Vec<String>, passed: impl Into<String>) -> Self {
        if problems.is_empty() {
            Self::pass(passed)
        } else {
            Self::fail(problems.join("; "))
        }
    }
}

/// `": <first line of the body>"` for a failure sentence, or nothing for an empty body.
pub(crate) fn excerpt_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(400)]);
    let line: String = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take(160)
        .collect();
    if line.is_empty() {
        String::new()
    } else {
        format!(": {line}")
    }
}

/// Requests one run of `check` may send: a `rate_limit` burst its `burst`, the rest the
/// engine's per-check cap.
pub(crate) fn request_budget(check: &CheckSpec, config: &EngineConfig) -> u32 {
    match check {
        CheckSpec::RateLimit(spec) => spec.burst,
        // One request per listed path, never more than a burst may send.
        CheckSpec::AuthRequired(spec) => config
            .max_requests
            .max(u32::try_from(spec.paths.len()).unwrap_or(MAX_BURST))
            .min(MAX_BURST),
        _ => config.max_requests,
    }
}

/// Runs the kind's logic.
pub(crate) async fn run(check: &CheckSpec, probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    match check {
        CheckSpec::Http(spec) => http::run(spec, probe).await,
        CheckSpec::Health(spec) => health::run(spec, probe).await,
        CheckSpec::Metrics(spec) => metrics::run(spec, probe).await,
        CheckSpec::Openapi(spec) => openapi::run(spec, probe).await,
        CheckSpec::Cors(spec) => cors::run(spec, probe).await,
        CheckSpec::RateLimit(spec) => rate_limit::run(spec, probe).await,
        CheckSpec::AuthRequired(spec) => auth_required::run(spec, probe).await,
        CheckSpec::Tls(spec) => tls::run(spec, probe).await,
        CheckSpec::SecurityHeaders(spec) => security_headers::run(spec, probe).await,
        CheckSpec::PrometheusTarget(spec) => prometheus::target(spec, probe).await,
        CheckSpec::PrometheusRules(spec) => prometheus::rules(spec, probe).await,
        CheckSpec::Promql(spec) => prometheus::promql(spec, probe).await,
        CheckSpec::AlertmanagerReceivers(spec) => alertmanager::run(spec, probe).await,
        CheckSpec::LokiLogs(spec) => loki::run(spec, probe).await,
        CheckSpec::GrafanaDashboard(spec) => grafana::run(spec, probe).await,
    }
}
