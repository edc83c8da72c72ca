//! A service's probe settings in the API: how often its checks run and which monitoring
//! servers they ask. Header values sent to monitoring servers are write-only, like the
//! service's probe credentials: a read shows only their names. Changing an endpoint's URL
//! drops the headers stored for it unless the same request gives them again, so a secret is
//! never sent to a host other than the one it was saved for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::service_fields::{CredentialsInput, MAX_URL, header_map, validate_credentials};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::monitoring::{
    MonitoringHeaders, SealedMonitoring, StoredEndpoint, StoredMonitoring,
};
use crate::store::services::{Sealed, open, seal};

/// Shortest and longest interval between scheduled runs of a service's checks.
pub const INTERVAL_SECONDS: std::ops::RangeInclusive<i32> = 5..=86_400;
/// Longest scrape job and log selector, in characters (also in the schema).
pub const MAX_SELECTOR: usize = 1000;

/// A monitoring server of the service.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// Base URL of the server's HTTP API, e.g. `http://prometheus:9090`; at most 2048
    /// characters.
    #[schema(
        max_length = 2048,
        pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+([/?#][!-~]*)?$"
    )]
    pub url: String,
    /// Headers sent to it (write-only), e.g. a Grafana token: at most 20. Omitted: the
    /// headers already stored are kept if the URL is unchanged, dropped if it changed.
    #[serde(default)]
    #[schema(schema_with = endpoint_headers)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// Optional, and empty is the same as none.
fn endpoint_headers() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    header_map(0)
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .build()
}

/// The service's own monitoring servers; unset ones fall back to `PROMETHEUS_URL`,
/// `ALERTMANAGER_URL`, `LOKI_URL`, `GRAFANA_URL`. Replaces what was stored.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitoringInput {
    #[serde(default)]
    pub prometheus: Option<EndpointInput>,
    #[serde(default)]
    pub alertmanager: Option<EndpointInput>,
    #[serde(default)]
    pub loki: Option<EndpointInput>,
    #[serde(default)]
    pub grafana: Option<EndpointInput>,
    /// Prometheus scrape job of the service (default: its name); at most 1000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub job: Option<String>,
    /// LogQL stream selector of its logs (default: `{service="<name>"}`); at most 1000
    /// characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub log_selector: Option<String>,
}

impl MonitoringInput {
    fn endpoints(self) -> [(&'static str, Option<EndpointInput>); 4] {
        [
            ("prometheus", self.prometheus),
            ("alertmanager", self.alertmanager),
            ("loki", self.loki),
            ("grafana", self.grafana),
        ]
    }
}

/// A monitoring server as reads show it: never the header values.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointView {
    pub url: String,
    pub header_names: Vec<String>,
}

/// The service's own monitoring servers.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct MonitoringView {
    pub prometheus: Option<EndpointView>,
    pub alertmanager: Option<EndpointView>,
    pub loki: Option<EndpointView>,
    pub grafana: Option<EndpointView>,
    pub job: Option<String>,
    pub log_selector: Option<String>,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation("invalid service").field(field, message)
}

/// `probe_interval_seconds`: `None` keeps the default.
pub fn validate_interval(seconds: Option<i64>) -> ApiResult<Option<i32>> {
    let Some(s) = seconds else { return Ok(None) };
    match i32::try_from(s) {
        Ok(s) if INTERVAL_SECONDS.contains(&s) => Ok(Some(s)),
        _ => Err(invalid(
            "probe_interval_seconds",
            format!(
                "{} to {} seconds, or null for PROBE_INTERVAL",
                INTERVAL_SECONDS.start(),
                INTERVAL_SECONDS.end()
            ),
        )),
    }
}

fn endpoint_url(field: &str, url: &str) -> ApiResult<String> {
    let url = url.trim();
    let parsed = url::Url::parse(url).map_err(|e| invalid(field, format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(invalid(
            field,
            "must be an http:// or https:// URL with a host",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            field,
            "must not carry a user name or password; give credentials as headers",
        ));
    }
    if url.chars().count() > MAX_URL {
        return Err(invalid(field, format!("at most {MAX_URL} characters")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn text(field: &str, value: Option<String>) -> ApiResult<Option<String>> {
    let Some(v) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > MAX_SELECTOR || v.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("at most {MAX_SELECTOR} characters, no control characters"),
        ));
    }
    Ok(Some(v))
}

/// Validates `input` and seals its headers for service `id`. `current` is what is stored now
/// (for a PATCH): headers omitted for an endpoint whose URL is unchanged are kept.
pub fn seal_monitoring(
    state: &AppState,
    id: Uuid,
    input: MonitoringInput,
    current: Option<(&StoredMonitoring, MonitoringHeaders)>,
) -> ApiResult<SealedMonitoring> {
    let job = text("monitoring.job", input.job.clone())?;
    let log_selector = text("monitoring.log_selector", input.log_selector.clone())?;
    let mut stored = StoredMonitoring {
        endpoints: BTreeMap::new(),
        job,
        log_selector,
    };
    let mut headers: MonitoringHeaders = BTreeMap::new();
    for (name, endpoint) in input.endpoints() {
        let Some(endpoint) = endpoint else { continue };
        let field = format!("monitoring.{name}.url");
        let url = endpoint_url(&field, &endpoint.url)?;
        let given = match endpoint.headers {
            Some(h) if h.is_empty() => None,
            Some(h) => {
                validate_credentials(&CredentialsInput { headers: h.clone() }).map_err(|_| {
                    invalid(
                        &format!("monitoring.{name}.headers"),
                        "1 to 20 valid header names and values",
                    )
                })?;
                Some(h)
            }
            // Kept only while the URL stays the same.
            None => current.as_ref().and_then(|(stored, old)| {
                stored
                    .endpoints
                    .get(name)
                    .filter(|e| e.url == url)
                    .and_then(|_| old.get(name).cloned())
            }),
        };
        let header_names = given
            .as_ref()
            .map(|h| h.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(h) = given {
            headers.insert(name.to_owned(), h);
        }
        stored
            .endpoints
            .insert(name.to_owned(), StoredEndpoint { url, header_names });
    }
    let sealed_headers = if headers.is_empty() {
        None
    } else {
        Some(seal(
            &state.keyring,
            id,
            Sealed::MonitoringCredentials,
            &headers,
        )?)
    };
    Ok(SealedMonitoring {
        stored,
        sealed_headers,
    })
}

/// The stored clear part; `None` when the column holds nothing.
pub fn stored_monitoring(value: Option<&serde_json::Value>) -> Option<StoredMonitoring> {
    value.and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The stored header values (empty when none or unreadable with the configured keys).
pub fn open_monitoring_headers(
    state: &AppState,
    id: Uuid,
    sealed: Option<&str>,
) -> MonitoringHeaders {
    let Some(sealed) = sealed else {
        return BTreeMap::new();
    };
    open(&state.keyring, id, Sealed::MonitoringCredentials, sealed).unwrap_or_else(|error| {
        tracing::warn!(service = %id, %error, "monitoring headers cannot be decrypted");
        BTreeMap::new()
    })
}

/// What reads show.
pub fn monitoring_view(stored: Option<StoredMonitoring>) -> Option<MonitoringView> {
    let stored = stored?;
    let view = |name: &str| {
        stored.endpoints.get(name).map(|e| EndpointView {
            url: e.url.clone(),
            header_names: e.header_names.clone(),
        })
    };
    Some(MonitoringView {
        prometheus: view("prometheus"),
        alertmanager: view("alertmanager"),
        loki: view("loki"),
        grafana: view("grafana"),
        job: stored.job.clone(),
        log_selector: stored.log_selector.clone(),
    })
}
