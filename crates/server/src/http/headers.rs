//! Security headers on every response; HSTS only where HTTPS is in place (production). The
//! edge layer ([`super::edge`]) applies them.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

/// Whether to send `Strict-Transport-Security`.
#[derive(Clone, Copy)]
pub struct HeaderPolicy {
    pub hsts: bool,
}

impl HeaderPolicy {
    /// Adds the security headers to a response for a path under `/docs` (`is_docs`) or not.
    pub fn apply(&self, is_docs: bool, h: &mut HeaderMap) {
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        );
        // Swagger UI needs inline styles and its own scripts; everything else is JSON or our
        // pages (which set their own policy).
        let csp = if is_docs {
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
        } else {
            "default-src 'self'; frame-ancestors 'none'"
        };
        if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(csp),
            );
        }
        if self.hsts {
            h.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=63072000; includeSubDomains"),
            );
        }
    }
}
