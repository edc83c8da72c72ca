//! Optimistic concurrency: resources carry a version, exposed as a strong ETag; writes may
//! send `If-Match` and get 412 when the resource changed meanwhile.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::readiness::cache::Document;

pub fn etag(version: i32) -> HeaderValue {
    // A formatted integer is always a valid header value.
    HeaderValue::from_str(&format!("\"v{version}\"")).unwrap_or(HeaderValue::from_static("\"v0\""))
}

/// Checks `If-Match` (when sent) against the current version.
pub fn check_if_match(headers: &HeaderMap, current: i32) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(());
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::bad_request("If-Match is not valid ASCII"))?;
    let expected = format!("\"v{current}\"");
    // RFC 9110 §13.1.1: If-Match uses the strong comparison, so a weak tag never matches.
    let matches = value
        .split(',')
        .map(str::trim)
        .any(|v| v == "*" || v == expected);
    if matches {
        Ok(())
    } else {
        Err(ApiError::precondition_failed(format!(
            "the resource has changed (current ETag {expected}); fetch it again"
        )))
    }
}

/// Whether `If-None-Match` names `etag` (RFC 9110 §13.1.2: the weak comparison, so `W/` is
/// ignored; `*` matches any current representation).
fn none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|v| v == "*" || v.strip_prefix("W/").unwrap_or(v) == etag)
}

/// A cached JSON document as the answer to a GET: its bytes with their ETag, or 304 when the
/// client already holds them. The ETag is weak (`W/`): the compression layer may send the
/// same document gzip-encoded, a different representation byte for byte (RFC 9110 §8.8.3).
/// `private, no-cache`: the request is authenticated, and a client must revalidate before
/// reusing the answer.
pub fn serve_document(headers: &HeaderMap, doc: &Document) -> Response {
    let etag = HeaderValue::from_str(&format!("W/{}", doc.etag()))
        .unwrap_or(HeaderValue::from_static("W/\"\""));
    let cache_control = HeaderValue::from_static("private, no-cache");
    if none_match_hits(headers, doc.etag()) {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache_control)],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache_control),
        ],
        doc.body(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn if_none_match_uses_the_weak_comparison() {
        let h = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(none_match_hits(&h("\"ab\""), "\"ab\""));
        assert!(none_match_hits(&h("W/\"ab\""), "\"ab\""));
        assert!(none_match_hits(&h("\"x\", \"ab\""), "\"ab\""));
        assert!(none_match_hits(&h("*"), "\"ab\""));
        assert!(!none_match_hits(&h("\"x\""), "\"ab\""));
        assert!(!none_match_hits(&HeaderMap::new(), "\"ab\""));
    }

    #[test]
    fn weak_etags_never_match() {
        assert!(check_if_match(&with("\"v3\""), 3).is_ok());
        assert!(check_if_match(&with("W/\"v3\""), 3).is_err());
        assert!(check_if_match(&with("W/\"v2\", \"v3\""), 3).is_ok());
        assert!(check_if_match(&with("*"), 3).is_ok());
    }
}
