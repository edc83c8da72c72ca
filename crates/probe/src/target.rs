//! What a check is run against: the service's base URL, its credentials and its monitoring
//! endpoints. Probes reach only the hosts named here.

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// A header sent with probe requests, e.g. `Authorization: Bearer …` for `/metrics`.
#[derive(Debug, Clone)]
pub struct Credential {
    /// Header name.
    pub header: String,
    /// Header value; never written to evidence, output or logs.
    pub value: SecretString,
    /// When set, the header is sent only to paths starting with this prefix.
    pub path_prefix: Option<String>,
}

impl Credential {
    /// A credential sent with every request to its host.
    pub fn header(header: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            header: header.into(),
            value: SecretString::from(value.into()),
            path_prefix: None,
        }
    }

    /// Restricts the credential to paths under `prefix`.
    pub fn for_paths(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// Whether the credential goes with a request to `url`, whose path is relative to `base`'s
    /// own path: `/metrics` matches `/metrics` and `/metrics/x` under the base, not `/metricsx`.
    pub(crate) fn applies_to(&self, base: &Url, url: &Url) -> bool {
        let Some(prefix) = self.path_prefix.as_deref() else {
            return true;
        };
        let base_path = base.path().trim_end_matches('/');
        let Some(relative) = url.path().strip_prefix(base_path) else {
            return false;
        };
        let prefix = prefix.trim_end_matches('/');
        relative == prefix
            || relative
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
            || prefix.is_empty()
    }
}

/// A monitoring server (Prometheus, Alertmanager, Loki, Grafana) and its credentials.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Base URL of the server's HTTP API.
    pub url: Url,
    /// Headers sent to it (e.g. a Grafana service-account token).
    pub credentials: Vec<Credential>,
}

impl Endpoint {
    /// An endpoint without credentials.
    pub fn new(url: Url) -> Self {
        Self {
            url,
            credentials: Vec::new(),
        }
    }
}

/// Why a target context was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Only http and https are probed.
    #[error("{what} \"{url}\" must be an http:// or https:// URL")]
    Scheme {
        /// Which URL.
        what: String,
        /// The URL as given (without credentials).
        url: String,
    },
    /// Credentials belong in headers, where they are kept out of evidence.
    #[error(
        "{what} must not carry a user name or password in the URL; give credentials as headers"
    )]
    UserInfo {
        /// Which URL.
        what: String,
    },
    /// A URL without a host.
    #[error("{what} \"{url}\" has no host")]
    NoHost {
        /// Which URL.
        what: String,
        /// The URL as given.
        url: String,
    },
}

/// Everything a check may need to know about the service it verifies.
#[derive(Debug, Clone)]
pub struct Target {
    /// The service's base URL; paths of checks are joined to it.
    pub base_url: Url,
    /// Where plain HTTP is served, for the `tls` redirect check (default: the base URL's host
    /// on port 80).
    pub plain_http_url: Option<Url>,
    /// Service name, used in evidence and as a default selector.
    pub name: Option<String>,
    /// Prometheus scrape job of the service (`prometheus_target`, `prometheus_rules`).
    pub job: Option<String>,
    /// LogQL stream selector of the service's logs (`loki_logs` default).
    pub log_selector: Option<String>,
    /// Headers for requests to the service.
    pub credentials: Vec<Credential>,
    /// Prometheus server.
    pub prometheus: Option<Endpoint>,
    /// Alertmanager server.
    pub alertmanager: Option<Endpoint>,
    /// Loki server.
    pub loki: Option<Endpoint>,
    /// Grafana server.
    pub grafana: Option<Endpoint>,
}

impl Target {
    /// A target with only a base URL.
    pub fn new(base_url: Url) -> Self {
        Self {
            base_url,
            plain_http_url: None,
            name: None,
            job: None,
            log_selector: None,
            credentials: Vec::new(),
            prometheus: None,
            alertmanager: None,
            loki: None,
            grafana: None,
        }
    }

    /// Refuses URLs a probe must not use: other schemes, user info, no host.
    pub fn validate(&self) -> Result<(), TargetError> {
        let mut urls: Vec<(&str, &Url)> = vec![("the target URL", &self.base_url)];
        if let Some(url) = &self.plain_http_url {
            urls.push(("the plain HTTP URL", url));
        }
        for (what, endpoint) in self.endpoints() {
            urls.push((what, &endpoint.url));
        }
        for (what, url) in urls {
            let shown = || {
                let mut clean = url.clone();
                let _ = clean.set_username("");
                let _ = clean.set_password(None);
                clean.to_string()
            };
            if !matches!(url.scheme(), "http" | "https") {
                return Err(TargetError::Scheme {
                    what: what.into(),
                    url: shown(),
                });
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(TargetError::UserInfo { what: what.into() });
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(TargetError::NoHost {
                    what: what.into(),
                    url: shown(),
                });
            }
        }
        Ok(())
    }

    fn endpoints(&self) -> Vec<(&'static str, &Endpoint)> {
        [
            ("the Prometheus URL", &self.prometheus),
            ("the Alertmanager URL", &self.alertmanager),
            ("the Loki URL", &self.loki),
            ("the Grafana URL", &self.grafana),
        ]
        .into_iter()
        .filter_map(|(what, endpoint)| endpoint.as_ref().map(|e| (what, e)))
        .collect()
    }

    /// The host names this context names: the only hosts a probe may reach.
    pub fn allowed_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = std::iter::once(&self.base_url)
            .chain(self.plain_http_url.as_ref())
            .chain(self.endpoints().into_iter().map(|(_, e)| &e.url))
            .filter_map(|url| url.host_str().map(normalise_host))
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// Every secret value of this context, to scrub from evidence.
    pub(crate) fn secrets(&self) -> Vec<String> {
        self.credentials
            .iter()
            .chain(
                self.endpoints()
                    .into_iter()
                    .flat_map(|(_, e)| &e.credentials),
            )
            .map(|c| c.value.expose_secret().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The credentials that go with a request to `url`: the service's for its own host, an
    /// endpoint's for the endpoint's host and path.
    pub(crate) fn credentials_for(&self, url: &Url) -> Vec<&Credential> {
        let same_origin = |base: &Url| {
            base.scheme() == url.scheme()
                && base.host_str() == url.host_str()
                && base.port_or_known_default() == url.port_or_known_default()
        };
        let mut found: Vec<&Credential> = Vec::new();
        if same_origin(&self.base_url) {
            found.extend(
                self.credentials
                    .iter()
                    .filter(|c| c.applies_to(&self.base_url, url)),
            );
        }
        for (_, endpoint) in self.endpoints() {
            if same_origin(&endpoint.url) && url.path().starts_with(endpoint.url.path()) {
                found.extend(
                    endpoint
                        .credentials
                        .iter()
                        .filter(|c| c.applies_to(&endpoint.url, url)),
                );
            }
        }
        found
    }
}

/// Host names compare case-insensitively and IPv6 literals without brackets.
pub(crate) fn normalise_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL")
    }

    #[test]
    fn refuses_user_info_and_other_schemes() {
        let with_password = Target::new(url("https://ci:hunter2@api.example.com"));
        let err = with_password.validate().expect_err("user info").to_string();
        assert!(
            err.contains("must not carry a user name or password"),
            "{err}"
        );
        assert!(!err.contains("hunter2"));
        let ftp = Target::new(url("ftp://files.example.com"));
        assert!(ftp.validate().is_err());
        assert!(Target::new(url("http://127.0.0.1:8080")).validate().is_ok());
    }

    #[test]
    fn credentials_go_only_to_their_own_host_and_paths() {
        let mut target = Target::new(url("http://127.0.0.1:8000"));
        target.credentials =
            vec![Credential::header("Authorization", "Bearer m").for_paths("/metrics")];
        let mut prometheus = Endpoint::new(url("http://127.0.0.1:9090"));
        prometheus.credentials = vec![Credential::header("X-Token", "p")];
        target.prometheus = Some(prometheus);
        assert_eq!(
            target
                .credentials_for(&url("http://127.0.0.1:8000/metrics"))
                .len(),
            1
        );
        assert!(
            target
                .credentials_for(&url("http://127.0.0.1:8000/api"))
                .is_empty()
        );
        let to_prom = target.credentials_for(&url("http://127.0.0.1:9090/api/v1/query"));
        assert_eq!(to_prom.len(), 1);
        assert_eq!(to_prom[0].header, "X-Token");
        assert_eq!(target.allowed_hosts(), vec!["127.0.0.1".to_owned()]);
        assert_eq!(target.secrets().len(), 2);
    }
}
