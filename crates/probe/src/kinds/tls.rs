//! `tls`: the certificate chain is valid for the host, the leaf certificate is valid for at
//! least `min_days` more days (its dates are reported even when it has already expired), the
//! negotiated protocol is TLS 1.2 or newer, plain HTTP redirects to HTTPS, and HTTPS answers
//! carry HSTS.
//!
//! The handshake accepts whatever chain the server presents and records it; the chain is then
//! judged with the engine's verifier (system roots and the configured extra roots). That way an
//! expired, misnamed or untrusted certificate can still be read and reported, instead of the
//! handshake failing with no certificate to show. Nothing is sent over that connection.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use preflight_domain::TlsCheck;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, ProtocolVersion, SignatureScheme};
use tokio::io::AsyncWriteExt;
use url::Url;
use x509_parser::extensions::GeneralName;

use super::Verdict;
use crate::error::{ProbeError, format_duration};
use crate::probe::{Probe, Request};
use crate::target::{Target, normalise_host};

/// Seconds in a day, for whole-day arithmetic on certificate dates.
const DAY: i64 = 86_400;

/// How long a polite close of the handshake connection may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) async fn run(spec: &TlsCheck, probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    let place = Place::of(spec, probe.target())?;
    let session = handshake(probe, &place).await?;

    let mut problems = Vec::new();
    let mut good = Vec::new();

    let Some(leaf_der) = session.chain.first() else {
        return Ok(Verdict::fail(format!(
            "{} presented no certificate",
            session.addr
        )));
    };
    probe.fact("chain_length", session.chain.len().to_string());
    let now = Utc::now();
    let leaf = read_leaf(leaf_der);
    match &leaf {
        Ok(leaf) => leaf.record(probe),
        Err(e) => problems.push(e.clone()),
    }

    // 1. The chain, judged by the engine's verifier for the host.
    let chain = judge_chain(probe, &place, &session, leaf.as_ref().ok(), now);
    let chain_valid = match &chain {
        Chain::Valid => {
            probe.fact("chain", format!("valid for {}", place.host));
            true
        }
        Chain::LeafExpired { also } => {
            match also {
                Some(also) => {
                    probe.fact("chain", format!("the leaf certificate has expired; {also}"));
                    problems.push(also.clone());
                }
                None => probe.fact("chain", "the leaf certificate has expired"),
            }
            false
        }
        Chain::Invalid(words) => {
            probe.fact("chain", words.clone());
            problems.push(words.clone());
            false
        }
    };

    // 2. The leaf's expiry.
    if let Ok(leaf) = &leaf {
        match leaf.expiry(now, spec.min_days) {
            Ok(words) => good.push(if chain_valid {
                format!("certificate valid for {} {words}", place.host)
            } else {
                format!("certificate {words}")
            }),
            Err(words) => problems.push(words),
        }
    }

    // 3. The protocol version. rustls implements only TLS 1.2 and 1.3, so this client cannot
    // even offer SSLv3, TLS 1.0 or 1.1: whether a server would still accept those older
    // versions cannot be found out (or tested) with rustls. What is checked is the version
    // actually negotiated.
    match session.version {
        Some(ProtocolVersion::TLSv1_3) => good.push("TLS 1.3".to_owned()),
        Some(ProtocolVersion::TLSv1_2) => good.push("TLS 1.2".to_owned()),
        other => problems.push(format!(
            "the server negotiated {}, older than TLS 1.2",
            other.map_or_else(
                || "no known protocol version".to_owned(),
                |v| format!("{v:?}")
            )
        )),
    }
    if let Some(version) = session.version {
        probe.fact("tls_version", version_name(version));
    }
    if let Some(suite) = &session.cipher_suite {
        probe.fact("cipher_suite", suite.clone());
    }

    // 4. Plain HTTP redirects to HTTPS.
    match plain_redirect(probe, &place).await? {
        Ok(words) => good.push(words),
        Err(words) => problems.push(words),
    }

    // 5. HSTS on the HTTPS answer. No request goes to a host whose certificate is not valid:
    // the engine's HTTP client would refuse it anyway, and the certificate is already failed.
    if chain_valid {
        match hsts(probe, &place).await? {
            Ok(words) => good.push(words),
            Err(words) => problems.push(words),
        }
    } else {
        let words =
            "HSTS not checked (no HTTPS request is sent while the certificate is not valid)";
        probe.fact("hsts", words);
        problems.push(words.to_owned());
    }

    Ok(Verdict::from_problems(problems, good.join(", ")))
}

/// Where the check goes: the host, its TLS port, the HTTPS URL asked for HSTS and the plain
/// HTTP URL asked for the redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    /// Normalised host (lower case, IPv6 without brackets).
    host: String,
    /// The host as written in a URL (IPv6 in brackets).
    url_host: String,
    port: u16,
    https_url: Url,
    plain_url: Url,
}

impl Place {
    fn of(spec: &TlsCheck, target: &Target) -> Result<Self, ProbeError> {
        let base = &target.base_url;
        let base_host = base
            .host_str()
            .map(normalise_host)
            .ok_or_else(|| ProbeError::Config(format!("{base} has no host")))?;
        let host = match &spec.host {
            Some(host) => normalise_host(host.trim()),
            None => base_host.clone(),
        };
        if host.is_empty() {
            return Err(ProbeError::Config("the tls check's host is empty".into()));
        }
        let same_host = host == base_host;
        let https_base = same_host && base.scheme() == "https";
        let port = if https_base {
            base.port_or_known_default().unwrap_or(443)
        } else {
            443
        };
        let url_host = if host.parse::<Ipv6Addr>().is_ok() {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let parse = |text: String| {
            Url::parse(&text)
                .map_err(|_| ProbeError::Config(format!("\"{host}\" is not a host name")))
        };
        let https_url = if https_base {
            base.clone()
        } else {
            parse(format!("https://{url_host}:{port}/"))?
        };
        let plain_url = match (&target.plain_http_url, same_host) {
            (Some(url), true) => url.clone(),
            _ => parse(format!("http://{url_host}:80/"))?,
        };
        Ok(Self {
            host,
            url_host,
            port,
            https_url,
            plain_url,
        })
    }
}

/// What the handshake showed.
struct Session {
    addr: SocketAddr,
    server_name: ServerName<'static>,
    version: Option<ProtocolVersion>,
    cipher_suite: Option<String>,
    /// Leaf first, then the intermediates, as presented.
    chain: Vec<CertificateDer<'static>>,
    ocsp: Vec<u8>,
}

/// Connects through the probe and completes a handshake that accepts any chain, keeping it.
async fn handshake(probe: &Probe<'_>, place: &Place) -> Result<Session, ProbeError> {
    let server_name = ServerName::try_from(place.host.clone())
        .map_err(|_| ProbeError::Config(format!("\"{}\" is not a host name", place.host)))?;
    let recorder = Arc::new(Recorder {
        real: probe.engine.verifier.clone(),
        presented: Mutex::new(None),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(probe.engine.provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ProbeError::Config(format!("TLS cannot be set up: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    // A resumed session presents no certificate: every run does a full handshake.
    config.resumption = rustls::client::Resumption::disabled();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));

    let (tcp, addr) = probe.connect(&place.url_host, place.port).await?;
    probe.fact("connected_address", addr.to_string());
    let limit = probe.engine.config.connect_timeout;
    let mut stream = tokio::time::timeout(limit, connector.connect(server_name.clone(), tcp))
        .await
        .map_err(|_| {
            ProbeError::Unreachable(format!(
                "no TLS handshake with {addr} within {}",
                format_duration(limit)
            ))
        })?
        .map_err(|e| ProbeError::Unreachable(format!("TLS handshake with {addr} failed: {e}")))?;
    let (_, connection) = stream.get_ref();
    let version = connection.protocol_version();
    let cipher_suite = connection
        .negotiated_cipher_suite()
        .map(|suite| format!("{:?}", suite.suite()));
    // Close politely; the answer to that does not matter.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, stream.shutdown()).await;

    let presented = recorder
        .presented
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let (chain, ocsp) = presented.map_or_else(|| (Vec::new(), Vec::new()), |p| (p.chain, p.ocsp));
    Ok(Session {
        addr,
        server_name,
        version,
        cipher_suite,
        chain,
        ocsp,
    })
}

/// A chain as the server presented it.
#[derive(Debug)]
struct Presented {
    chain: Vec<CertificateDer<'static>>,
    ocsp: Vec<u8>,
}

/// Accepts the presented chain for the handshake and keeps it to be judged afterwards; the
/// handshake signatures are still verified, by the engine's verifier.
#[derive(Debug)]
struct Recorder {
    real: Arc<rustls_platform_verifier::Verifier>,
    presented: Mutex<Option<Presented>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|cert| cert.clone().into_owned())
            .collect();
        *self.presented.lock().unwrap_or_else(|p| p.into_inner()) = Some(Presented {
            chain,
            ocsp: ocsp_response.to_vec(),
        });
        // Accepted for this handshake only: `judge_chain` verifies it right after, and no
        // request is ever sent over this connection.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.real.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.real.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.real.supported_verify_schemes()
    }
}

/// What the leaf certificate says about itself.
struct Leaf {
    subject: String,
    issuer: String,
    names: Vec<String>,
    not_after: DateTime<Utc>,
}

fn read_leaf(der: &CertificateDer<'_>) -> Result<Leaf, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("the server's certificate cannot be read: {e}"))?;
    let names = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext.value.general_names.iter().filter_map(name_of).collect(),
        _ => Vec::new(),
    };
    let not_after = DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
        .ok_or_else(|| "the server's certificate has an expiry date out of range".to_owned())?;
    Ok(Leaf {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_after,
    })
}

fn name_of(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(dns) => Some((*dns).to_owned()),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(*bytes)
                .ok()
                .map(|b| Ipv4Addr::from(b).to_string()),
            16 => <[u8; 16]>::try_from(*bytes)
                .ok()
                .map(|b| Ipv6Addr::from(b).to_string()),
            _ => None,
        },
        _ => None,
    }
}

impl Leaf {
    fn record(&self, probe: &Probe<'_>) {
        let or_empty = |text: &str| {
            if text.is_empty() {
                "(empty)".to_owned()
            } else {
                text.to_owned()
            }
        };
        probe.fact("subject", or_empty(&self.subject));
        probe.fact("issuer", or_empty(&self.issuer));
        probe.fact("sans", or_empty(&self.names.join(", ")));
        probe.fact(
            "not_after",
            self.not_after.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
        let days_left = (self.not_after - Utc::now()).num_seconds() / DAY;
        probe.fact("days_left", days_left.to_string());
    }

    /// `Ok("until <date> (<n> days left)")` when it lasts at least `min_days`, else the problem.
    fn expiry(&self, now: DateTime<Utc>, min_days: u32) -> Result<String, String> {
        let date = self.not_after.format("%Y-%m-%d");
        let seconds_left = (self.not_after - now).num_seconds();
        if seconds_left < 0 {
            let ago = -seconds_left / DAY;
            return Err(if ago == 0 {
                format!("certificate expired less than a day ago ({date})")
            } else {
                format!("certificate expired {} ago ({date})", days(ago))
            });
        }
        let left = seconds_left / DAY;
        if left < i64::from(min_days) {
            let when = if left == 0 {
                "in less than a day".to_owned()
            } else {
                format!("in {}", days(left))
            };
            return Err(format!(
                "certificate expires {when} ({date}), fewer than the required {min_days}"
            ));
        }
        Ok(format!("until {date} ({} left)", days(left)))
    }
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".to_owned()
    } else {
        format!("{n} days")
    }
}

fn version_name(version: ProtocolVersion) -> String {
    match version {
        ProtocolVersion::TLSv1_3 => "TLS 1.3".to_owned(),
        ProtocolVersion::TLSv1_2 => "TLS 1.2".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The engine verifier's judgement of the presented chain.
enum Chain {
    Valid,
    /// The leaf is past its expiry date (reported by the expiry aspect); `also` is what else
    /// is wrong with the chain at the last moment the leaf was valid.
    LeafExpired {
        also: Option<String>,
    },
    Invalid(String),
}

fn judge_chain(
    probe: &Probe<'_>,
    place: &Place,
    session: &Session,
    leaf: Option<&Leaf>,
    now: DateTime<Utc>,
) -> Chain {
    let Some((end_entity, intermediates)) = session.chain.split_first() else {
        return Chain::Invalid("the server presented no certificate".into());
    };
    let verify = |at: UnixTime| {
        probe.engine.verifier.verify_server_cert(
            end_entity,
            intermediates,
            &session.server_name,
            &session.ocsp,
            at,
        )
    };
    let error = match verify(UnixTime::now()) {
        Ok(_) => return Chain::Valid,
        Err(error) => error,
    };
    let leaf_expired = leaf.filter(|leaf| leaf.not_after < now);
    match (leaf_expired, is_time_error(&error)) {
        (Some(leaf), true) => {
            // Expired is the first thing the verifier reports; look for anything else wrong
            // at the last second the leaf was still valid.
            let last_valid = u64::try_from(leaf.not_after.timestamp() - 1)
                .map(|secs| UnixTime::since_unix_epoch(Duration::from_secs(secs)));
            let also = match last_valid.map(verify) {
                Ok(Err(other)) if !is_time_error(&other) => {
                    Some(chain_words(&other, &place.host, Some(&leaf.names)))
                }
                _ => None,
            };
            Chain::LeafExpired { also }
        }
        _ => Chain::Invalid(chain_words(
            &error,
            &place.host,
            leaf.map(|leaf| leaf.names.as_slice()),
        )),
    }
}

fn is_time_error(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::InvalidCertificate(
            CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. }
        )
    )
}

/// The verifier's refusal in words a service owner reads; `names` are the leaf's SANs.
fn chain_words(error: &rustls::Error, host: &str, names: Option<&[String]>) -> String {
    let date = |time: &UnixTime| {
        i64::try_from(time.as_secs())
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .map_or_else(String::new, |d| format!(" on {}", d.format("%Y-%m-%d")))
    };
    let rustls::Error::InvalidCertificate(error) = error else {
        return format!("the certificate chain could not be verified: {error}");
    };
    match error {
        CertificateError::UnknownIssuer => {
            "certificate chain is not trusted: unknown issuer (no trusted certificate authority signed it)"
                .to_owned()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            // The names come from the certificate as read here: the verifier's `presented`
            // list is written for debugging (`DnsName("…")`).
            let mut words = format!("certificate is not valid for host {host}");
            match names {
                None => {}
                Some([]) => words.push_str(" (it names no host)"),
                Some(names) => {
                    let _ = write!(words, " (it is for {})", names.join(", "));
                }
            }
            words
        }
        CertificateError::Expired => "a certificate in the chain has expired".to_owned(),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("a certificate in the chain expired{}", date(not_after))
        }
        CertificateError::NotValidYet => "certificate is not valid yet".to_owned(),
        CertificateError::NotValidYetContext { not_before, .. } => {
            format!("certificate is not valid yet (valid from{})", date(not_before))
        }
        CertificateError::Revoked => "certificate has been revoked".to_owned(),
        CertificateError::BadSignature => "certificate chain has a bad signature".to_owned(),
        CertificateError::BadEncoding => "certificate cannot be parsed".to_owned(),
        other => format!("certificate chain is not valid: {other}"),
    }
}

/// `Ok(words)` when plain HTTP redirects to HTTPS on the same host, else `Err(problem)`.
/// A plain port that does not answer is a failure of this aspect, not an error of the check.
async fn plain_redirect(
    probe: &Probe<'_>,
    place: &Place,
) -> Result<Result<String, String>, ProbeError> {
    let url = &place.plain_url;
    let response = match probe
        .send(Request::get(url.clone()).no_redirects().anonymous())
        .await
    {
        Ok(response) => response,
        Err(ProbeError::Unreachable(why)) => {
            let words = format!(
                "plain HTTP on {url} does not answer, so it does not redirect to HTTPS ({why})"
            );
            probe.fact("redirect", format!("no answer from {url}"));
            return Ok(Err(words));
        }
        Err(other) => return Err(other),
    };
    let status = response.status.as_u16();
    if !response.status.is_redirection() {
        probe.fact("redirect", format!("{url} answered {status}"));
        return Ok(Err(format!(
            "plain HTTP on {url} answered {status} instead of redirecting to HTTPS"
        )));
    }
    let Some(location) = response.header("location") else {
        probe.fact(
            "redirect",
            format!("{url} answered {status} without Location"),
        );
        return Ok(Err(format!(
            "plain HTTP on {url} answered {status} without a Location header instead of redirecting to HTTPS"
        )));
    };
    probe.fact("redirect", format!("{url} answered {status} to {location}"));
    let Ok(to) = url.join(location) else {
        return Ok(Err(format!(
            "plain HTTP on {url} redirects to \"{location}\", which is not a URL"
        )));
    };
    if to.scheme() != "https" {
        return Ok(Err(format!(
            "plain HTTP on {url} redirects to {to}, not to HTTPS"
        )));
    }
    if to.host_str().map(normalise_host).as_deref() != Some(place.host.as_str()) {
        return Ok(Err(format!(
            "plain HTTP on {url} redirects to {to}, another host than {}",
            place.host
        )));
    }
    Ok(Ok("plain HTTP redirects to HTTPS".to_owned()))
}

/// `Ok(words)` when the HTTPS answer carries HSTS with a positive max-age, else `Err(problem)`.
async fn hsts(probe: &Probe<'_>, place: &Place) -> Result<Result<String, String>, ProbeError> {
    let url = &place.https_url;
    let request = Request::get(url.clone())
        .no_redirects()
        .anonymous()
        .record(["strict-transport-security"]);
    let response = match probe.send(request).await {
        Ok(response) => response,
        Err(ProbeError::Unreachable(why)) => {
            probe.fact("hsts", format!("no answer from {url}"));
            return Ok(Err(format!("HSTS could not be checked: {why}")));
        }
        Err(other) => return Err(other),
    };
    let Some(value) = response.header("strict-transport-security") else {
        probe.fact("hsts", "absent");
        return Ok(Err(format!(
            "no Strict-Transport-Security (HSTS) header on {url}"
        )));
    };
    probe.fact("hsts", value.to_owned());
    match max_age(value) {
        Some(0) => Ok(Err(format!(
            "Strict-Transport-Security on {url} has max-age=0, which turns HSTS off"
        ))),
        Some(age) => Ok(Ok(format!("HSTS max-age={age}"))),
        None => Ok(Err(format!(
            "Strict-Transport-Security on {url} has no valid max-age (\"{value}\")"
        ))),
    }
}

/// The `max-age` directive of a Strict-Transport-Security value (RFC 6797 §6.1).
fn max_age(value: &str) -> Option<u64> {
    value.split(';').find_map(|directive| {
        let (name, age) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        age.trim().trim_matches('"').parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL")
    }

    #[test]
    fn https_base_url_gives_host_and_port() {
        let target = Target::new(url("https://API.example.com:8443/app/"));
        let place = Place::of(&TlsCheck::default(), &target).expect("place");
        assert_eq!(place.host, "api.example.com");
        assert_eq!(place.port, 8443);
        assert_eq!(
            place.https_url.as_str(),
            "https://api.example.com:8443/app/"
        );
        assert_eq!(place.plain_url.as_str(), "http://api.example.com/");
    }

    #[test]
    fn http_base_url_probes_https_on_443() {
        let mut target = Target::new(url("http://127.0.0.1:8000"));
        target.plain_http_url = Some(url("http://127.0.0.1:8080/"));
        let place = Place::of(&TlsCheck::default(), &target).expect("place");
        assert_eq!(place.port, 443);
        assert_eq!(place.https_url.as_str(), "https://127.0.0.1/");
        assert_eq!(place.plain_url.as_str(), "http://127.0.0.1:8080/");
        assert!(place.host.parse::<std::net::IpAddr>().is_ok());
    }

    #[test]
    fn host_parameter_and_ipv6() {
        let target = Target::new(url("https://[::1]:9443"));
        let place = Place::of(&TlsCheck::default(), &target).expect("place");
        assert_eq!(place.host, "::1");
        assert_eq!(place.url_host, "[::1]");
        assert_eq!(place.port, 9443);
        let other = TlsCheck {
            host: Some("Edge.Example.com".into()),
            ..TlsCheck::default()
        };
        let place = Place::of(&other, &target).expect("place");
        assert_eq!(place.host, "edge.example.com");
        assert_eq!(place.port, 443);
        assert_eq!(place.https_url.as_str(), "https://edge.example.com/");
    }

    #[test]
    fn reads_max_age() {
        assert_eq!(
            max_age("max-age=31536000; includeSubDomains"),
            Some(31_536_000)
        );
        assert_eq!(max_age("includeSubDomains; Max-Age=\"600\""), Some(600));
        assert_eq!(max_age("max-age=0"), Some(0));
        assert_eq!(max_age("includeSubDomains"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    #[test]
    fn expiry_words() {
        let now = Utc::now();
        let leaf = |days: i64| Leaf {
            subject: String::new(),
            issuer: String::new(),
            names: Vec::new(),
            not_after: now + chrono::Duration::days(days) + chrono::Duration::hours(1),
        };
        let ok = leaf(30).expiry(now, 14).expect("lasts");
        assert!(ok.contains("30 days left"), "{ok}");
        let soon = leaf(3).expiry(now, 14).expect_err("too soon");
        assert!(soon.contains("expires in 3 days ("), "{soon}");
        assert!(soon.ends_with("fewer than the required 14"), "{soon}");
        let gone = leaf(-5).expiry(now, 14).expect_err("expired");
        assert!(
            gone.starts_with("certificate expired 4 days ago ("),
            "{gone}"
        );
        assert!(leaf(0).expiry(now, 0).is_ok());
    }
}
