//! Optimistic concurrency: resources carry a version, exposed as a strong ETag; writes may
//! send `If-Match` and get 412 when the resource changed meanwhile.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::error::ApiError;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn weak_etags_never_match() {
        assert!(check_if_match(&with("\"v3\""), 3).is_ok());
        assert!(check_if_match(&with("W/\"v3\""), 3).is_err());
        assert!(check_if_match(&with("W/\"v2\", \"v3\""), 3).is_ok());
        assert!(check_if_match(&with("*"), 3).is_ok());
    }
}
