//! The shape of the `--config` TOML file, as serde reads it (unknown keys are errors). What
//! each key means is documented in the [parent module](super).

use std::path::PathBuf;

use preflight_domain::TimeSpan;
use serde::Deserialize;

use super::secrets::SecretValue;

/// The whole file; every table is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub target: TargetTable,
    pub prometheus: Option<EndpointTable>,
    pub alertmanager: Option<EndpointTable>,
    pub loki: Option<EndpointTable>,
    pub grafana: Option<EndpointTable>,
    pub network: NetworkTable,
    pub tls: TlsTable,
    pub limits: LimitsTable,
}

/// `[target]`: the service under check.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TargetTable {
    pub url: Option<String>,
    pub name: Option<String>,
    pub job: Option<String>,
    pub log_selector: Option<String>,
    pub plain_http_url: Option<String>,
    pub credentials: Vec<CredentialTable>,
}

/// `[prometheus]`, `[alertmanager]`, `[loki]`, `[grafana]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointTable {
    pub url: String,
    #[serde(default)]
    pub credentials: Vec<CredentialTable>,
}

/// `[[x.credentials]]`: one header sent with probe requests. Exactly one of `value`,
/// `value_env` and `value_file` gives the value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialTable {
    pub header: String,
    pub value: Option<SecretValue>,
    pub value_env: Option<String>,
    pub value_file: Option<PathBuf>,
    pub prefix: Option<String>,
    pub paths: Option<String>,
}

/// `[network]`: networks as `10.0.0.0/8` or single addresses.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkTable {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// `[tls]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsTable {
    pub ca_file: Option<PathBuf>,
}

/// `[limits]`: the engine's limits; unset keys keep the engine's defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsTable {
    pub timeout: Option<TimeSpan>,
    pub connect_timeout: Option<TimeSpan>,
    pub concurrency: Option<usize>,
    pub max_requests: Option<u32>,
    pub max_body_bytes: Option<usize>,
    pub per_host_concurrency: Option<usize>,
}
