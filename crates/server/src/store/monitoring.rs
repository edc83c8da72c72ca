//! A service's probe settings as stored: its monitoring endpoints in clear (URLs, the names of
//! the headers sent to each, the scrape job and log selector) and the header values sealed in
//! `services.monitoring_credentials`, never shown again once saved.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The monitoring servers a service's checks may ask, each optional (the global default of
/// `PROMETHEUS_URL`, ... applies when unset).
pub const ENDPOINTS: [&str; 4] = ["prometheus", "alertmanager", "loki", "grafana"];

/// One monitoring endpoint as stored in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEndpoint {
    pub url: String,
    #[serde(default)]
    pub header_names: Vec<String>,
}

/// `services.monitoring`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMonitoring {
    /// Endpoint name (one of [`ENDPOINTS`]) → endpoint.
    #[serde(default)]
    pub endpoints: BTreeMap<String, StoredEndpoint>,
    /// Prometheus scrape job of the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// LogQL stream selector of the service's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_selector: Option<String>,
}

/// `services.monitoring_credentials`, once opened: endpoint name → header → value.
pub type MonitoringHeaders = BTreeMap<String, BTreeMap<String, String>>;

/// Monitoring settings to store: the clear part and the sealed headers (`None`: no headers).
#[derive(Debug, Clone)]
pub struct SealedMonitoring {
    pub stored: StoredMonitoring,
    pub sealed_headers: Option<String>,
}
