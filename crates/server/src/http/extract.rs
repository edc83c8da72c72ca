//! Extractors whose rejections are problem documents.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::error::ApiError;

/// `Json<T>` whose errors are problem+json: 400 malformed JSON, 415 wrong content type,
/// 422 missing or mistyped fields, 413 oversized body.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// The client's IP: the peer address, or the first untrusted hop of `X-Forwarded-For` when
/// the peer is a configured trusted proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Trusted proxy networks, placed in request extensions by the router.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub std::sync::Arc<Vec<IpNet>>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// Walks `X-Forwarded-For` from the right, skipping trusted proxies; a client can prepend
/// anything it likes, so only hops appended by trusted proxies count.
pub fn client_ip(peer: IpAddr, xff: Option<&str>, trusted: &TrustedProxies) -> IpAddr {
    if !trusted.trusts(peer) {
        return peer;
    }
    let Some(xff) = xff else { return peer };
    let mut candidate = peer;
    for hop in xff.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                candidate = ip;
                if !trusted.trusts(ip) {
                    return ip;
                }
            }
            Err(_) => return candidate,
        }
    }
    candidate
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip_from(&parts.extensions, &parts.headers)))
    }
}

/// Client IP of a request (see [`ClientIp`]), from its extensions and headers.
pub fn client_ip_from(
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
) -> IpAddr {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let trusted = extensions
        .get::<TrustedProxies>()
        .cloned()
        .unwrap_or_default();
    // A proxy may append a header line of its own instead of extending the last one: the
    // lines are one list, in order (RFC 9110 §5.3).
    let lines: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let xff = (!lines.is_empty()).then(|| lines.join(","));
    client_ip(peer, xff.as_deref(), &trusted)
}

/// [`client_ip_from`] for a whole request (middleware).
pub fn client_ip_of_request(req: &Request) -> IpAddr {
    client_ip_from(req.extensions(), req.headers())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn xff_ignored_from_untrusted_peer() {
        let t = TrustedProxies(std::sync::Arc::new(vec!["10.0.0.0/8".parse().unwrap()]));
        assert_eq!(
            client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &t),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn xff_honoured_from_trusted_proxy_rightmost_untrusted_wins() {
        let t = TrustedProxies(std::sync::Arc::new(vec!["10.0.0.0/8".parse().unwrap()]));
        // The client forged 6.6.6.6; the proxy appended the real address 198.51.100.7.
        assert_eq!(
            client_ip(ip("10.0.0.2"), Some("6.6.6.6, 198.51.100.7, 10.0.0.5"), &t),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), Some("garbage"), &t),
            ip("10.0.0.2")
        );
    }
}
