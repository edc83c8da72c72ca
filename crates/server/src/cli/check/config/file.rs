//! The shape of the `--config` TOML file, as serde reads it (unknown keys are errors). What
//! each key means is documented in the [parent module](super).

use std::fmt;
use std::path::PathBuf;

use preflight_domain::TimeSpan;
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

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

/// A literal `value = "..."`. Its deserializer refuses anything but a string without quoting
/// what it found, so a type error cannot print the secret.
pub struct SecretValue(pub SecretString);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([redacted])")
    }
}

impl<'de> de::Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

const NOT_A_STRING: &str = "a credential value must be a string";

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = SecretValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretValue, E> {
        Ok(SecretValue(SecretString::from(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<SecretValue, E> {
        Ok(SecretValue(SecretString::from(v)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretValue, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretValue, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<SecretValue, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretValue, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<SecretValue, A::Error> {
        Err(de::Error::custom(NOT_A_STRING))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<SecretValue, A::Error> {
        Err(de::Error::custom(NOT_A_STRING))
    }
}
