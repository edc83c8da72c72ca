//! One check run's access to the network: every request goes through here, so the host rule,
//! the network policy, the request budget, the per-host limit, the byte cap and the evidence
//! record are applied in one place.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use secrecy::ExposeSecret;
use url::Url;

use crate::engine::{CrossOriginRedirect, Inner, ResolveError, resolve_allowed};
use crate::error::{ProbeError, format_duration};
use crate::evidence::{EXCERPT_BYTES, Exchange, excerpt};
use crate::policy::Refusal;
use crate::target::{Endpoint, Target, normalise_host};

/// Response headers always kept in evidence when present.
const RECORDED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "location",
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "www-authenticate",
];

/// A request a check wants to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: Url,
    /// Extra headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Request body.
    pub body: Option<Bytes>,
    /// Send the target's (or endpoint's) credentials.
    pub credentials: bool,
    /// Follow redirects within the same origin (scheme, host and port).
    pub follow_redirects: bool,
    /// Response headers to keep in evidence beyond the usual ones.
    pub record: Vec<String>,
    /// Keep a body excerpt in evidence (off for the many identical requests of a burst).
    pub excerpt: bool,
}

impl Request {
    /// A GET with credentials, following same-origin redirects.
    pub fn get(url: Url) -> Self {
        Self::new(Method::GET, url)
    }

    /// A request with credentials, following same-origin redirects.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            body: None,
            credentials: true,
            follow_redirects: true,
            record: Vec::new(),
            excerpt: true,
        }
    }

    /// Adds a header (ignored when the name or value is not valid HTTP).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            self.headers.push((name, value));
        }
        self
    }

    /// Sends no credentials.
    pub fn anonymous(mut self) -> Self {
        self.credentials = false;
        self
    }

    /// Returns redirects as they are instead of following them.
    pub fn no_redirects(mut self) -> Self {
        self.follow_redirects = false;
        self
    }

    /// Keeps no body excerpt in evidence.
    pub fn without_excerpt(mut self) -> Self {
        self.excerpt = false;
        self
    }

    /// Sets the request body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Keeps these response headers in evidence.
    pub fn record<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.record
            .extend(names.into_iter().map(|n| n.into().to_ascii_lowercase()));
        self
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, at most the engine's byte cap.
    pub body: Bytes,
    /// True when the body was longer than the cap.
    pub truncated: bool,
    /// Time to the end of the (capped) body.
    pub elapsed: Duration,
    /// The server's leaf certificate (DER) when the request went over TLS.
    pub peer_certificate: Option<Vec<u8>>,
}

impl Response {
    /// A header as text (the first value), when present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; refuses a truncated body.
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, String> {
        if self.truncated {
            return Err(format!(
                "the {what} is larger than the {} bytes a probe reads",
                self.body.len()
            ));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("the {what} is not the expected JSON: {e}"))
    }
}

/// A response as read off the wire, before it is recorded.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    truncated: bool,
    final_url: Url,
    peer_certificate: Option<Vec<u8>>,
}

#[derive(Default)]
struct Record {
    requests: Vec<Exchange>,
    facts: BTreeMap<String, String>,
    in_flight: Option<(String, String, Instant)>,
}

/// One check run's network access and evidence record.
pub struct Probe<'a> {
    pub(crate) engine: &'a Inner,
    target: &'a Target,
    allowed_hosts: Vec<String>,
    budget: u32,
    sent: AtomicU32,
    record: Arc<Mutex<Record>>,
}

/// Monitoring servers a check may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monitor {
    /// Prometheus.
    Prometheus,
    /// Alertmanager.
    Alertmanager,
    /// Loki.
    Loki,
    /// Grafana.
    Grafana,
}

impl Monitor {
    /// The server's name in sentences.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Monitor::Prometheus => "Prometheus",
            Monitor::Alertmanager => "Alertmanager",
            Monitor::Loki => "Loki",
            Monitor::Grafana => "Grafana",
        }
    }

    fn setting(self) -> &'static str {
        match self {
            Monitor::Prometheus => "prometheus",
            Monitor::Alertmanager => "alertmanager",
            Monitor::Loki => "loki",
            Monitor::Grafana => "grafana",
        }
    }
}

impl<'a> Probe<'a> {
    pub(crate) fn new(engine: &'a Inner, target: &'a Target, budget: u32) -> Self {
        Self {
            engine,
            target,
            allowed_hosts: target.allowed_hosts(),
            budget,
            sent: AtomicU32::new(0),
            record: Arc::new(Mutex::new(Record::default())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The target context.
    pub fn target(&self) -> &Target {
        self.target
    }

    /// A path (with optional query) on the target, under the base URL's own path.
    pub fn url(&self, path: &str) -> Result<Url, ProbeError> {
        join(&self.target.base_url, path)
    }

    /// The monitoring endpoint, or a configuration error naming the setting.
    pub fn endpoint(&self, which: Monitor) -> Result<&'a Endpoint, ProbeError> {
        let endpoint = match which {
            Monitor::Prometheus => &self.target.prometheus,
            Monitor::Alertmanager => &self.target.alertmanager,
            Monitor::Loki => &self.target.loki,
            Monitor::Grafana => &self.target.grafana,
        };
        endpoint.as_ref().ok_or_else(|| {
            ProbeError::Config(format!(
                "no {} URL is configured for this target (set [{}] url in the check configuration)",
                which.name(),
                which.setting()
            ))
        })
    }

    /// A path (with optional query) on a monitoring endpoint.
    pub fn endpoint_url(&self, which: Monitor, path: &str) -> Result<Url, ProbeError> {
        join(&self.endpoint(which)?.url, path)
    }

    /// Records a finding that is not an HTTP exchange.
    pub fn fact(&self, name: &str, value: impl Into<String>) {
        self.lock().facts.insert(name.to_owned(), value.into());
    }

    /// Takes one request from the budget.
    fn spend(&self) -> Result<(), ProbeError> {
        let sent = self.sent.fetch_add(1, Ordering::Relaxed);
        if sent >= self.budget {
            return Err(ProbeError::Budget(self.budget));
        }
        Ok(())
    }

    /// Refuses hosts the target context does not name, and refused IP literals.
    fn admit(&self, url: &Url) -> Result<(String, u16), ProbeError> {
        let host = url
            .host_str()
            .map(normalise_host)
            .ok_or_else(|| ProbeError::Config(format!("{url} has no host")))?;
        if !self.allowed_hosts.contains(&host) {
            return Err(ProbeError::Refused(format!(
                "{host} is refused: probes reach only the hosts the target names ({})",
                self.allowed_hosts.join(", ")
            )));
        }
        // Names are checked when they are resolved; literals never are, so check them here.
        if let Ok(ip) = host.parse::<IpAddr>() {
            self.engine
                .config
                .network
                .check(ip)
                .map_err(|r| ProbeError::Refused(r.to_string()))?;
        }
        let port = url.port_or_known_default().unwrap_or(80);
        Ok((host, port))
    }

    /// Sends a request within every rule and records the exchange.
    pub async fn send(&self, request: Request) -> Result<Response, ProbeError> {
        let (host, port) = self.admit(&request.url)?;
        self.spend()?;
        let _permit = self.engine.host_permit(&format!("{host}:{port}")).await;
        let client = if request.follow_redirects {
            &self.engine.follow
        } else {
            &self.engine.no_follow
        };
        let mut builder = client.request(request.method.clone(), request.url.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if request.credentials {
            for credential in self.target.credentials_for(&request.url) {
                if let (Ok(name), Ok(mut value)) = (
                    HeaderName::try_from(credential.header.as_str()),
                    HeaderValue::try_from(credential.value.expose_secret()),
                ) {
                    value.set_sensitive(true);
                    builder = builder.header(name, value);
                }
            }
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let method = request.method.to_string();
        let shown_url = request.url.to_string();
        let clock = Instant::now();
        self.lock().in_flight = Some((method.clone(), shown_url.clone(), clock));
        let result = self.exchange(builder).await;
        let elapsed = clock.elapsed();
        let mut record = self.lock();
        record.in_flight = None;
        match result {
            Ok(Answer {
                status,
                headers,
                body,
                truncated,
                final_url,
                peer_certificate,
            }) => {
                let kept = keep_headers(&headers, &request.record);
                record.requests.push(Exchange {
                    method,
                    url: shown_url,
                    redirected_to: (final_url != request.url).then(|| final_url.to_string()),
                    status: Some(status.as_u16()),
                    headers: kept,
                    body_excerpt: (request.excerpt && !body.is_empty())
                        .then(|| excerpt(&body, EXCERPT_BYTES)),
                    body_bytes: body.len() as u64,
                    body_truncated: truncated,
                    elapsed_ms: elapsed.as_secs_f64() * 1000.0,
                    error: None,
                });
                Ok(Response {
                    status,
                    headers,
                    body,
                    truncated,
                    elapsed,
                    peer_certificate,
                })
            }
            Err(e) => {
                record.requests.push(Exchange {
                    method,
                    url: shown_url,
                    redirected_to: None,
                    status: None,
                    headers: BTreeMap::new(),
                    body_excerpt: None,
                    body_bytes: 0,
                    body_truncated: false,
                    elapsed_ms: elapsed.as_secs_f64() * 1000.0,
                    error: Some(e.to_string()),
                });
                Err(e)
            }
        }
    }

    async fn exchange(&self, builder: reqwest::RequestBuilder) -> Result<Answer, ProbeError> {
        let mut response = builder.send().await.map_err(classify)?;
        let status = response.status();
        let headers = response.headers().clone();
        let final_url = response.url().clone();
        let peer_certificate = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .map(<[u8]>::to_vec);
        let cap = self.engine.config.max_body_bytes;
        let mut body = BytesMut::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            let room = cap - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            headers,
            body: body.freeze(),
            truncated,
            final_url,
            peer_certificate,
        })
    }

    /// Opens a TCP connection to `host:port` within every rule (for the `tls` kind), returning
    /// the address connected to.
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> Result<(tokio::net::TcpStream, SocketAddr), ProbeError> {
        let url = Url::parse(&format!("tcp://{host}:{port}"))
            .map_err(|_| ProbeError::Config(format!("\"{host}\" is not a host name")))?;
        let (host, port) = self.admit(&url).map(|(h, _)| (h, port))?;
        self.spend()?;
        let addrs = resolve_allowed(&self.engine.config.network, &host, port)
            .await
            .map_err(ProbeError::from)?;
        let mut last = None;
        for addr in addrs {
            match tokio::time::timeout(
                self.engine.config.connect_timeout,
                tokio::net::TcpStream::connect(addr),
            )
            .await
            {
                Ok(Ok(stream)) => return Ok((stream, addr)),
                Ok(Err(e)) => last = Some(format!("could not connect to {addr}: {e}")),
                Err(_) => {
                    last = Some(format!(
                        "could not connect to {addr} within {}",
                        format_duration(self.engine.config.connect_timeout)
                    ))
                }
            }
        }
        Err(ProbeError::Unreachable(
            last.unwrap_or_else(|| format!("{host} has no address")),
        ))
    }

    /// Records the request that was cut short by the check's timeout.
    pub(crate) fn record_timeout(&self, timeout: Duration) {
        let mut record = self.lock();
        if let Some((method, url, clock)) = record.in_flight.take() {
            record.requests.push(Exchange {
                method,
                url,
                redirected_to: None,
                status: None,
                headers: BTreeMap::new(),
                body_excerpt: None,
                body_bytes: 0,
                body_truncated: false,
                elapsed_ms: clock.elapsed().as_secs_f64() * 1000.0,
                error: Some(format!("no answer within {}", format_duration(timeout))),
            });
        }
    }

    pub(crate) fn finish(&self) -> (Vec<Exchange>, BTreeMap<String, String>) {
        let mut record = self.lock();
        (
            std::mem::take(&mut record.requests),
            std::mem::take(&mut record.facts),
        )
    }
}

/// Joins a path (and query) to a base URL, keeping the base's own path as a prefix.
fn join(base: &Url, path: &str) -> Result<Url, ProbeError> {
    let prefix = base.path().trim_end_matches('/');
    let joined = format!("{prefix}{path}");
    let mut url = base.clone();
    let (path_part, query) = match joined.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (joined, None),
    };
    url.set_path(&path_part);
    url.set_query(query.as_deref());
    url.set_fragment(None);
    if url.scheme() != base.scheme() || url.host() != base.host() {
        return Err(ProbeError::Config(format!("{path} is not a path")));
    }
    Ok(url)
}

fn keep_headers(headers: &HeaderMap, extra: &[String]) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            RECORDED_HEADERS.contains(&name)
                || name.starts_with("access-control-")
                || extra.iter().any(|e| e == name)
        })
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Turns a client error into a sentence: refusals name their rule, the rest their root cause.
fn classify(error: reqwest::Error) -> ProbeError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    let mut root = error.to_string();
    while let Some(current) = source {
        if let Some(redirect) = current.downcast_ref::<CrossOriginRedirect>() {
            return ProbeError::Refused(redirect.to_string());
        }
        if let Some(resolve) = current.downcast_ref::<ResolveError>() {
            return match resolve {
                ResolveError::Refused(refusal) => ProbeError::Refused(refusal.to_string()),
                ResolveError::Lookup(message) => ProbeError::Unreachable(message.clone()),
            };
        }
        if let Some(refusal) = current.downcast_ref::<Refusal>() {
            return ProbeError::Refused(refusal.to_string());
        }
        root = current.to_string();
        source = current.source();
    }
    let url = error.url().map(ToString::to_string).unwrap_or_default();
    if error.is_timeout() {
        ProbeError::Unreachable(format!("{url} timed out: {root}"))
    } else if error.is_connect() {
        ProbeError::Unreachable(format!("could not connect to {url}: {root}"))
    } else {
        ProbeError::Unreachable(format!("request to {url} failed: {root}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_under_the_base_path() {
        let base = Url::parse("https://h.example/app/").expect("url");
        assert_eq!(
            join(&base, "/metrics").expect("joins").as_str(),
            "https://h.example/app/metrics"
        );
        let root = Url::parse("http://127.0.0.1:9090").expect("url");
        assert_eq!(
            join(&root, "/api/v1/query?query=up")
                .expect("joins")
                .as_str(),
            "http://127.0.0.1:9090/api/v1/query?query=up"
        );
    }
}
