//! The `tls` kind against HTTPS servers on 127.0.0.1 started by the tests, with certificates
//! made at test time by a test CA.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect};
use preflight_probe::{Engine, EngineConfig, Outcome, Report, Target};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, SupportedProtocolVersion};
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use url::Url;

use common::{assert_outcome, check};

const HSTS: &str = "max-age=31536000; includeSubDomains";
const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3_600);
static TLS12_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

// ---------------------------------------------------------------- certificates

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - 400 * DAY;
        params.not_after = now + 400 * DAY;
        let key = KeyPair::generate().expect("CA key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server certificate for `names`, valid from 100 days ago until `not_after`.
    fn leaf(&self, names: &[&str], not_after: OffsetDateTime) -> Leaf {
        let now = OffsetDateTime::now_utc();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = now - 100 * DAY;
        params.not_after = not_after;
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        }
    }
}

struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn in_days(days: u32) -> OffsetDateTime {
    // An hour of margin, so the whole days left do not depend on how long the test takes.
    OffsetDateTime::now_utc() + days * DAY + HOUR
}

// ---------------------------------------------------------------- servers

/// Hands axum the connections whose TLS handshake succeeded (each handshake runs in its own
/// task, so one stuck client does not hold up the others).
struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(connection) => connection,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

struct Https {
    hsts: Option<&'static str>,
    versions: &'static [&'static SupportedProtocolVersion],
}

impl Default for Https {
    fn default() -> Self {
        Self {
            hsts: Some(HSTS),
            versions: rustls::ALL_VERSIONS,
        }
    }
}

/// Serves HTTPS with `leaf` on a free port of 127.0.0.1 and returns its base URL.
async fn serve_https(leaf: Leaf, options: Https) -> Url {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(options.versions)
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .expect("server certificate");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("local addr");
    let (sender, incoming) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok((stream, peer)) = tcp.accept().await {
            let acceptor = acceptor.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                if let Ok(Ok(tls)) =
                    tokio::time::timeout(Duration::from_secs(5), acceptor.accept(stream)).await
                {
                    let _ = sender.send((tls, peer)).await;
                }
            });
        }
    });
    let hsts = options.hsts;
    let router = Router::new().fallback(move || async move {
        let mut response = "ok".into_response();
        if let Some(value) = hsts {
            response.headers_mut().insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(value),
            );
        }
        response
    });
    tokio::spawn(async move {
        let _ = axum::serve(TlsListener { incoming, addr }, router).await;
    });
    Url::parse(&format!("https://{addr}/")).expect("https URL")
}

/// Plain HTTP that 308-redirects everything to `to`.
async fn serve_redirect(to: &Url) -> Url {
    let to = to.to_string();
    common::serve(Router::new().fallback(move || async move { Redirect::permanent(&to) })).await
}

/// Plain HTTP that answers 200 instead of redirecting.
async fn serve_plain_ok() -> Url {
    common::serve(Router::new().fallback(|| async { "plain ok" })).await
}

/// A port of 127.0.0.1 where nothing listens.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    port
}

// ---------------------------------------------------------------- running

fn engine_trusting(roots: Vec<CertificateDer<'static>>) -> Engine {
    common::engine_with(EngineConfig {
        default_timeout: Duration::from_secs(5),
        extra_roots: roots,
        ..EngineConfig::default()
    })
}

fn target(https: &Url, plain: &Url) -> Target {
    let mut target = Target::new(https.clone());
    target.plain_http_url = Some(plain.clone());
    target
}

async fn run(engine: &Engine, definition: &str, target: &Target) -> Report {
    engine.run(&check(definition), target).await
}

#[track_caller]
fn fact<'r>(report: &'r Report, name: &str) -> &'r str {
    report.facts.get(name).map_or_else(
        || panic!("no fact {name}; facts: {:#?}", report.facts),
        String::as_str,
    )
}

#[track_caller]
fn assert_reason(report: &Report, wanted: &str) {
    assert!(
        report.reason.contains(wanted),
        "reason should contain {wanted:?}: {}",
        report.reason
    );
}

/// A well-configured HTTPS server with its redirecting plain listener.
async fn good_service(leaf: Leaf) -> Target {
    let https = serve_https(leaf, Https::default()).await;
    let plain = serve_redirect(&https).await;
    target(&https, &plain)
}

// ---------------------------------------------------------------- cases

#[tokio::test]
async fn valid_certificate_with_redirect_and_hsts_passes() {
    let ca = Ca::new("preflight test CA");
    let target = good_service(ca.leaf(&["localhost", "127.0.0.1"], in_days(90))).await;
    let report = run(&engine_trusting(vec![ca.der()]), "tls", &target).await;

    assert_outcome(&report, Outcome::Passed);
    assert_eq!(fact(&report, "days_left"), "90");
    assert_eq!(fact(&report, "tls_version"), "TLS 1.3");
    assert_eq!(fact(&report, "chain"), "valid for 127.0.0.1");
    assert_eq!(fact(&report, "sans"), "localhost, 127.0.0.1");
    assert_eq!(fact(&report, "subject"), "CN=localhost");
    assert_eq!(fact(&report, "issuer"), "CN=preflight test CA");
    assert_eq!(fact(&report, "hsts"), HSTS);
    assert!(fact(&report, "not_after").ends_with('Z'));
    assert!(fact(&report, "connected_address").starts_with("127.0.0.1:"));
    assert_reason(&report, "certificate valid for 127.0.0.1 until ");
    assert_reason(
        &report,
        "(90 days left), TLS 1.3, plain HTTP redirects to HTTPS",
    );
    assert_reason(&report, "HSTS max-age=31536000");
    // The plain HTTP request and the HSTS request are the evidence, HSTS header kept.
    assert_eq!(report.requests.len(), 2, "{:#?}", report.requests);
    assert_eq!(report.requests[0].status, Some(308));
    assert_eq!(
        report.requests[1]
            .headers
            .get("strict-transport-security")
            .map(String::as_str),
        Some(HSTS)
    );
}

#[tokio::test]
async fn tls12_only_server_passes_and_reports_the_version() {
    let ca = Ca::new("preflight test CA");
    let https = serve_https(
        ca.leaf(&["127.0.0.1"], in_days(90)),
        Https {
            versions: TLS12_ONLY,
            ..Https::default()
        },
    )
    .await;
    let plain = serve_redirect(&https).await;
    let report = run(
        &engine_trusting(vec![ca.der()]),
        "tls",
        &target(&https, &plain),
    )
    .await;

    assert_outcome(&report, Outcome::Passed);
    assert_eq!(fact(&report, "tls_version"), "TLS 1.2");
    assert_reason(&report, "TLS 1.2");
}

#[tokio::test]
async fn expired_certificate_fails_and_still_shows_its_dates() {
    let ca = Ca::new("preflight test CA");
    let expired = OffsetDateTime::now_utc() - 3 * DAY - HOUR;
    let target = good_service(ca.leaf(&["127.0.0.1"], expired)).await;
    let report = run(&engine_trusting(vec![ca.der()]), "tls", &target).await;

    assert_outcome(&report, Outcome::Failed);
    assert_reason(&report, "certificate expired 3 days ago (");
    assert_eq!(fact(&report, "days_left"), "-3");
    assert_eq!(fact(&report, "chain"), "the leaf certificate has expired");
    assert!(fact(&report, "not_after").ends_with('Z'));
    assert_eq!(fact(&report, "sans"), "127.0.0.1");
    // Nothing else is wrong with it, so nothing else is blamed on it.
    assert!(
        !report.reason.contains("unknown issuer"),
        "{}",
        report.reason
    );
    assert!(
        !report.reason.contains("not valid for host"),
        "{}",
        report.reason
    );
    assert_reason(&report, "HSTS not checked");
}

#[tokio::test]
async fn expired_certificate_from_an_unknown_ca_names_both() {
    let ca = Ca::new("preflight test CA");
    let stranger = Ca::new("some other CA");
    let expired = OffsetDateTime::now_utc() - 10 * DAY - HOUR;
    let target = good_service(stranger.leaf(&["127.0.0.1"], expired)).await;
    let report = run(&engine_trusting(vec![ca.der()]), "tls", &target).await;

    assert_outcome(&report, Outcome::Failed);
    assert_reason(&report, "unknown issuer");
    assert_reason(&report, "certificate expired 10 days ago");
}

#[tokio::test]
async fn certificate_for_another_host_fails_naming_the_host() {
    let ca = Ca::new("preflight test CA");
    let target = good_service(ca.leaf(&["other.example"], in_days(90))).await;
    let report = run(&engine_trusting(vec![ca.der()]), "tls", &target).await;

    assert_outcome(&report, Outcome::Failed);
    assert_reason(
        &report,
        "certificate is not valid for host 127.0.0.1 (it is for other.example)",
    );
    assert_eq!(fact(&report, "sans"), "other.example");
    // Its expiry is still reported, and fine.
    assert_eq!(fact(&report, "days_left"), "90");
    assert!(!report.reason.contains("expires"), "{}", report.reason);
}

#[tokio::test]
async fn certificate_expiring_within_min_days_fails() {
    let ca = Ca::new("preflight test CA");
    let target = good_service(ca.leaf(&["127.0.0.1"], in_days(5))).await;
    let report = run(&engine_trusting(vec![ca.der()]), "tls min_days=14", &target).await;

    assert_outcome(&report, Outcome::Failed);
    assert_reason(&report, "certificate expires in 5 days (");
    assert_reason(&report, "), fewer than the required 14");
    assert_eq!(fact(&report, "days_left"), "5");
    assert_eq!(fact(&report, "chain"), "valid for 127.0.0.1");

    // The same certificate meets a lower requirement.
    let report = run(&engine_trusting(vec![ca.der()]), "tls min_days=3", &target).await;
    assert_outcome(&report, Outcome::Passed);
}

#[tokio::test]
async fn untrusted_ca_fails_with_unknown_issuer() {
    let ca = Ca::new("preflight test CA");
    let target = good_service(ca.leaf(&["127.0.0.1"], in_days(90))).await;
    // This engine trusts another CA (and the system's), not the one that signed the leaf.
    let report = run(
        &engine_trusting(vec![Ca::new("another CA").der()]),
        "tls",
        &target,
    )
    .await;

    assert_outcome(&report, Outcome::Failed);
    assert_reason(&report, "certificate chain is not trusted: unknown issuer");
    assert_eq!(fact(&report, "issuer"), "CN=preflight test CA");
    assert_eq!(fact(&report, "days_left"), "90");
}

#[tokio::test]
async fn plain_http_answering_200_fails_naming_the_redirect() {
    let ca = Ca::new("preflight test CA");
    let https = serve_https(ca.leaf(&["127.0.0.1"], in_days(90)), Https::default()).await;
    let plain = serve_plain_ok().await;
    let report = run(
        &engine_trusting(vec![ca.der()]),
        "tls",
        &target(&https, &plain),
    )
    .await;

    assert_outcome(&report, Outcome::Failed);
    assert_eq!(
        report.reason,
        format!("plain HTTP on {plain} answered 200 instead of redirecting to HTTPS")
    );
}

#[tokio::test]
async fn redirect_to_another_host_fails() {
    let ca = Ca::new("preflight test CA");
    let https = serve_https(ca.leaf(&["127.0.0.1"], in_days(90)), Https::default()).await;
    let plain = serve_redirect(&Url::parse("https://elsewhere.example/").expect("url")).await;
    let report = run(
        &engine_trusting(vec![ca.der()]),
        "tls",
        &target(&https, &plain),
    )
    .await;

    assert_outcome(&report, Outcome::Failed);
    assert_reason(
        &report,
        "redirects to https://elsewhere.example/, another host than 127.0.0.1",
    );
}

#[tokio::test]
async fn closed_plain_port_is_a_failure_not_an_error() {
    let ca = Ca::new("preflight test CA");
    let https = serve_https(ca.leaf(&["127.0.0.1"], in_days(90)), Https::default()).await;
    let plain = Url::parse(&format!("http://127.0.0.1:{}/", closed_port().await)).expect("url");
    let report = run(
        &engine_trusting(vec![ca.der()]),
        "tls",
        &target(&https, &plain),
    )
    .await;

    assert_outcome(&report, Outcome::Failed);
    assert_reason(
        &report,
        &format!("plain HTTP on {plain} does not answer, so it does not redirect to HTTPS"),
    );
}

#[tokio::test]
async fn missing_hsts_fails_naming_hsts() {
    let ca = Ca::new("preflight test CA");
    let https = serve_https(
        ca.leaf(&["127.0.0.1"], in_days(90)),
        Https {
            hsts: None,
            ..Https::default()
        },
    )
    .await;
    let plain = serve_redirect(&https).await;
    let report = run(
        &engine_trusting(vec![ca.der()]),
        "tls",
        &target(&https, &plain),
    )
    .await;

    assert_outcome(&report, Outcome::Failed);
    assert_eq!(
        report.reason,
        format!("no Strict-Transport-Security (HSTS) header on {https}")
    );
    assert_eq!(fact(&report, "hsts"), "absent");
}

#[tokio::test]
async fn hsts_with_max_age_zero_fails() {
    let ca = Ca::new("preflight test CA");
    let https = serve_https(
        ca.leaf(&["127.0.0.1"], in_days(90)),
        Https {
            hsts: Some("max-age=0"),
            ..Https::default()
        },
    )
    .await;
    let plain = serve_redirect(&https).await;
    let report = run(
        &engine_trusting(vec![ca.der()]),
        "tls",
        &target(&https, &plain),
    )
    .await;

    assert_outcome(&report, Outcome::Failed);
    assert_reason(&report, "has max-age=0, which turns HSTS off");
}

#[tokio::test]
async fn nothing_listening_on_the_tls_port_is_an_error() {
    let ca = Ca::new("preflight test CA");
    let port = closed_port().await;
    let https = Url::parse(&format!("https://127.0.0.1:{port}/")).expect("url");
    let plain = serve_redirect(&https).await;
    let report = run(
        &engine_trusting(vec![ca.der()]),
        "tls",
        &target(&https, &plain),
    )
    .await;

    assert_outcome(&report, Outcome::Error);
    assert_reason(&report, &format!("could not connect to 127.0.0.1:{port}"));
}

#[tokio::test]
async fn a_server_that_never_speaks_tls_is_an_error() {
    // Accepts TCP and answers plain HTTP: the handshake fails.
    let plain = serve_plain_ok().await;
    let https = Url::parse(&format!(
        "https://127.0.0.1:{}/",
        plain.port().expect("port")
    ))
    .expect("url");
    let report = common::engine()
        .run(&check("tls"), &target(&https, &plain))
        .await;

    assert_outcome(&report, Outcome::Error);
    assert_reason(&report, "TLS handshake with 127.0.0.1:");
    // Where it connected is still evidence.
    assert!(fact(&report, "connected_address").starts_with("127.0.0.1:"));
}
