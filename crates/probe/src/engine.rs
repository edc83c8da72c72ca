//! The engine: shared HTTP clients, concurrency limits and the network policy; runs one check
//! or many against a target and returns a [`Report`] each.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::{Stream, StreamExt};
use preflight_domain::CheckSpec;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ProbeError;
use crate::evidence::Report;
use crate::kinds;
use crate::policy::{NetworkPolicy, Refusal};
use crate::probe::Probe;
use crate::target::Target;

/// `User-Agent` of every probe request.
pub const USER_AGENT: &str = concat!("preflight/", env!("CARGO_PKG_VERSION"));

/// Limits and rules of an engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Timeout of a check without its own `timeout=` parameter.
    pub default_timeout: Duration,
    /// Timeout to establish one TCP connection.
    pub connect_timeout: Duration,
    /// Most bytes read from one response body; the rest is left unread.
    pub max_body_bytes: usize,
    /// Most requests one check sends (a `rate_limit` burst may send up to its `burst`).
    pub max_requests: u32,
    /// Most checks running at once.
    pub concurrency: usize,
    /// Most requests in flight to one host and port.
    pub per_host_concurrency: usize,
    /// The operator's network rules.
    pub network: NetworkPolicy,
    /// Certificate authorities trusted beside the system's (e.g. an internal CA).
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            default_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_body_bytes: 2 * 1024 * 1024,
            max_requests: 10,
            concurrency: 16,
            per_host_concurrency: 4,
            network: NetworkPolicy::default(),
            extra_roots: Vec::new(),
        }
    }
}

impl EngineConfig {
    /// Adds every certificate of a PEM file to the trusted roots.
    pub fn add_roots_pem(&mut self, pem: &[u8]) -> Result<usize, EngineError> {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| EngineError(format!("unreadable CA certificate: {e}")))?;
            self.extra_roots.push(cert);
            added += 1;
        }
        if added == 0 {
            return Err(EngineError("the CA file holds no PEM certificate".into()));
        }
        Ok(added)
    }
}

/// The engine could not be built (bad TLS roots, HTTP client set-up).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct EngineError(pub String);

/// Runs checks. Cheap to clone; clones share clients and limits.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: EngineConfig,
    /// Follows redirects within the same origin only.
    pub(crate) follow: reqwest::Client,
    /// Never follows redirects (the answer itself is the evidence).
    pub(crate) no_follow: reqwest::Client,
    /// Certificate verification for the `tls` kind, with the same roots as the clients.
    pub(crate) verifier: Arc<rustls_platform_verifier::Verifier>,
    pub(crate) provider: Arc<rustls::crypto::CryptoProvider>,
    global: Arc<Semaphore>,
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Why a redirect was not followed; found again in the error's source chain.
#[derive(Debug, thiserror::Error)]
#[error(
    "redirect from {from} to {to} refused: redirects are followed only within the same origin (scheme, host and port)"
)]
pub(crate) struct CrossOriginRedirect {
    from: String,
    to: String,
}

/// Most redirect hops followed for one request.
const MAX_REDIRECTS: usize = 5;

/// A DNS resolver that returns only the addresses the policy allows, so the address that was
/// checked is the one connected to: there is no second lookup to rebind.
struct PolicyResolver {
    policy: NetworkPolicy,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve_allowed(&policy, &host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Resolves `host` and keeps the allowed addresses; when none is allowed, the refusal of the
/// first one is the error.
pub(crate) async fn resolve_allowed(
    policy: &NetworkPolicy,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, ResolveError> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| ResolveError::Lookup(format!("could not resolve {host}: {e}")))?
        .collect();
    let mut first_refusal = None;
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|addr| match policy.check(addr.ip()) {
            Ok(()) => true,
            Err(refusal) => {
                first_refusal.get_or_insert(refusal);
                false
            }
        })
        .collect();
    match (allowed.is_empty(), first_refusal) {
        (false, _) => Ok(allowed),
        (true, Some(refusal)) => Err(ResolveError::Refused(refusal)),
        (true, None) => Err(ResolveError::Lookup(format!("{host} has no address"))),
    }
}

/// A failed resolution: not found, or every address refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError {
    #[error("{0}")]
    Lookup(String),
    #[error(transparent)]
    Refused(Refusal),
}

impl From<ResolveError> for ProbeError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Lookup(message) => ProbeError::Unreachable(message),
            ResolveError::Refused(refusal) => ProbeError::Refused(refusal.to_string()),
        }
    }
}

fn client(
    config: &EngineConfig,
    redirect: reqwest::redirect::Policy,
) -> Result<reqwest::Client, EngineError> {
    let mut roots = Vec::new();
    for der in &config.extra_roots {
        roots.push(
            reqwest::Certificate::from_der(der)
                .map_err(|e| EngineError(format!("unusable CA certificate: {e}")))?,
        );
    }
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        // Probes go straight to the target: a proxy would escape the network policy.
        .no_proxy()
        .connect_timeout(config.connect_timeout)
        .dns_resolver(Arc::new(PolicyResolver {
            policy: config.network.clone(),
        }))
        .redirect(redirect)
        .tls_certs_merge(roots)
        .tls_info(true)
        .pool_max_idle_per_host(config.per_host_concurrency)
        .build()
        .map_err(|e| EngineError(format!("could not build the HTTP client: {e}")))
}

/// Follows a redirect only to the same origin (scheme, host and port): reqwest keeps custom
/// headers across redirects, so a credential must never follow one to another port or to
/// plain HTTP.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let origin = |u: &url::Url| {
            (
                u.scheme().to_owned(),
                u.host_str().map(str::to_owned),
                u.port_or_known_default(),
            )
        };
        let first = attempt.previous().first().map(origin);
        let next = origin(attempt.url());
        if first.is_some_and(|first| first != next) {
            let from = attempt
                .previous()
                .last()
                .map(ToString::to_string)
                .unwrap_or_default();
            let to = attempt.url().to_string();
            attempt.error(CrossOriginRedirect { from, to })
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

impl Engine {
    /// Builds the clients and limits.
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
            config.extra_roots.iter().cloned(),
            provider.clone(),
        )
        .map_err(|e| EngineError(format!("could not load the trusted certificates: {e}")))?;
        let follow = client(&config, same_origin_redirects())?;
        let no_follow = client(&config, reqwest::redirect::Policy::none())?;
        let global = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                follow,
                no_follow,
                verifier: Arc::new(verifier),
                provider,
                global,
                per_host: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The engine's limits.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Runs one check against a target. Never fails: a check that cannot be carried out is
    /// an `error` outcome with the reason.
    pub async fn run(&self, check: &CheckSpec, target: &Target) -> Report {
        let _slot = self.inner.global.clone().acquire_owned().await;
        let started_at = Utc::now();
        let clock = Instant::now();
        let timeout = check.timeout().unwrap_or(self.inner.config.default_timeout);
        let probe = Probe::new(
            &self.inner,
            target,
            kinds::request_budget(check, &self.inner.config),
        );
        let verdict = match target.validate() {
            Err(e) => kinds::Verdict::error(e.to_string()),
            Ok(()) => match tokio::time::timeout(timeout, kinds::run(check, &probe)).await {
                Ok(Ok(verdict)) => verdict,
                Ok(Err(e)) => kinds::Verdict::error(e.to_string()),
                Err(_) => {
                    probe.record_timeout(timeout);
                    kinds::Verdict::error(ProbeError::Timeout(timeout).to_string())
                }
            },
        };
        let (requests, facts) = probe.finish();
        let mut report = Report {
            kind: check.kind().to_owned(),
            check: check.to_definition(),
            outcome: verdict.outcome,
            reason: verdict.reason,
            started_at,
            duration_ms: clock.elapsed().as_secs_f64() * 1000.0,
            requests,
            facts,
        };
        report.scrub(&target.secrets());
        tracing::debug!(
            kind = report.kind,
            outcome = report.outcome.as_str(),
            duration_ms = report.duration_ms,
            "check run"
        );
        report
    }

    /// Runs many checks against one target, at most `concurrency` at a time, yielding each
    /// report with its key as soon as it is done.
    pub fn run_all<'a, K: 'a>(
        &'a self,
        checks: Vec<(K, CheckSpec)>,
        target: &'a Target,
    ) -> impl Stream<Item = (K, Report)> + 'a {
        let concurrency = self.inner.config.concurrency.max(1);
        futures::stream::iter(checks)
            .map(move |(key, check)| async move {
                let report = self.run(&check, target).await;
                (key, report)
            })
            .buffer_unordered(concurrency)
    }
}

impl Inner {
    /// Waits for a free request slot on `host:port`.
    pub(crate) async fn host_permit(&self, host_port: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut map = self.per_host.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(host_port.to_owned())
                .or_insert_with(|| {
                    Arc::new(Semaphore::new(self.config.per_host_concurrency.max(1)))
                })
                .clone()
        };
        semaphore.acquire_owned().await.ok()
    }
}
