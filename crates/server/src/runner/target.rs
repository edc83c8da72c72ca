//! What a claimed item is run against: its check, and the service as a probe [`Target`] (base
//! URL, probe credentials, monitoring endpoints — the service's own or the server's defaults),
//! with credentials opened only here, in memory, for the run.

use std::collections::BTreeMap;

use preflight_domain::CheckSpec;
use preflight_probe::{Credential, Endpoint, Target};
use sea_orm::ConnectionTrait;
use serde::Deserialize;
use url::Url;

use crate::config::{MonitoringDefault, ProbeSettings};
use crate::db::entities::service;
use crate::state::AppState;
use crate::store::monitoring::{MonitoringHeaders, StoredMonitoring};
use crate::store::schedule::Claimed;
use crate::store::services::{self, Sealed};
use crate::store::{StoreError, StoreResult, reviews};

/// Everything one run needs.
pub struct Job {
    pub claimed: Claimed,
    pub check: CheckSpec,
    pub service: service::Model,
    /// `None` when the service cannot be probed; the run is an `error` saying why.
    pub target: Result<Target, String>,
}

/// Why a claimed item is not run at all.
pub enum Skip {
    /// The item, its review or its service is gone, or the item lost its check.
    Gone,
}

/// The stored shape of a service's probe credentials (what the service API seals).
#[derive(Deserialize)]
struct StoredCredentials {
    headers: BTreeMap<String, String>,
}

/// Loads the item and its service and builds the target.
pub async fn load<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    claimed: Claimed,
) -> StoreResult<Result<Job, Skip>> {
    let item = match reviews::item(db, claimed.review_item_id).await {
        Ok(item) => item,
        Err(StoreError::NotFound(_)) => return Ok(Err(Skip::Gone)),
        Err(e) => return Err(e),
    };
    let Some(check) = reviews::check_of(&item)? else {
        return Ok(Err(Skip::Gone));
    };
    let service = match services::find(db, claimed.service_id).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return Ok(Err(Skip::Gone)),
        Err(e) => return Err(e),
    };
    if !reviews::is_live(db, claimed.review_id).await? {
        return Ok(Err(Skip::Gone));
    }
    let target = target(state, &service);
    Ok(Ok(Job {
        claimed,
        check,
        service,
        target,
    }))
}

fn target(state: &AppState, service: &service::Model) -> Result<Target, String> {
    let Some(base) = service.base_url.as_deref() else {
        return Err(format!(
            "service {} has no base_url; set one to run its checks",
            service.name
        ));
    };
    let base_url = Url::parse(base)
        .map_err(|e| format!("the base_url of {} is not a URL: {e}", service.name))?;
    let mut target = Target::new(base_url);
    target.name = Some(service.name.clone());
    if let Some(sealed) = service.credentials.as_deref() {
        let stored: StoredCredentials =
            services::open(&state.keyring, service.id, Sealed::Credentials, sealed).map_err(
                |e| {
                    format!(
                        "the probe credentials of {} cannot be read: {e}",
                        service.name
                    )
                },
            )?;
        target.credentials = stored
            .headers
            .into_iter()
            .map(|(h, v)| Credential::header(h, v))
            .collect();
    }
    let monitoring: StoredMonitoring = service
        .monitoring
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let headers: MonitoringHeaders = match service.monitoring_credentials.as_deref() {
        Some(sealed) => services::open(
            &state.keyring,
            service.id,
            Sealed::MonitoringCredentials,
            sealed,
        )
        .map_err(|e| {
            format!(
                "the monitoring credentials of {} cannot be read: {e}",
                service.name
            )
        })?,
        None => BTreeMap::new(),
    };
    target.job = monitoring.job.clone();
    target.log_selector = monitoring.log_selector.clone();
    let probe = &state.settings.probe;
    let endpoint = |name: &str, default: &Option<MonitoringDefault>| {
        endpoint_of(name, &monitoring, &headers, default)
    };
    target.prometheus = endpoint("prometheus", &probe.prometheus)?;
    target.alertmanager = endpoint("alertmanager", &probe.alertmanager)?;
    target.loki = endpoint("loki", &probe.loki)?;
    target.grafana = endpoint("grafana", &probe.grafana)?;
    Ok(target)
}

/// The service's own endpoint `name`, else the server's default.
fn endpoint_of(
    name: &str,
    monitoring: &StoredMonitoring,
    headers: &MonitoringHeaders,
    default: &Option<MonitoringDefault>,
) -> Result<Option<Endpoint>, String> {
    if let Some(own) = monitoring.endpoints.get(name) {
        let url = Url::parse(&own.url).map_err(|e| format!("the {name} URL is not a URL: {e}"))?;
        let mut endpoint = Endpoint::new(url);
        if let Some(h) = headers.get(name) {
            endpoint.credentials = h
                .iter()
                .map(|(k, v)| Credential::header(k.clone(), v.clone()))
                .collect();
        }
        return Ok(Some(endpoint));
    }
    Ok(default.as_ref().map(|d| {
        use secrecy::ExposeSecret;
        let mut endpoint = Endpoint::new(d.url.clone());
        if let Some(token) = &d.token {
            endpoint.credentials = vec![Credential::header(
                "Authorization",
                format!("Bearer {}", token.expose_secret()),
            )];
        }
        endpoint
    }))
}

/// The probe engine's limits from the runner's settings.
pub fn engine_config(probe: &ProbeSettings) -> preflight_probe::EngineConfig {
    preflight_probe::EngineConfig {
        default_timeout: probe.timeout,
        concurrency: probe.concurrency,
        per_host_concurrency: probe.per_host_concurrency,
        network: preflight_probe::NetworkPolicy {
            allow: probe.allow_networks.clone(),
            deny: probe.deny_networks.clone(),
        },
        ..preflight_probe::EngineConfig::default()
    }
}
