//! `X-Request-Id`: accepted from the client when well-formed, generated otherwise, returned on
//! the response and available to logs and problem documents for the whole request (through
//! [`crate::request_context`]). The edge layer ([`super::edge`]) applies it.

use axum::extract::Request;
use axum::http::HeaderValue;

pub const HEADER: &str = "x-request-id";

/// Accepts only short, printable ids so a client cannot inject log lines or huge headers.
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The request's id: the client's when acceptable, a new UUIDv7 otherwise. The request's
/// header is set to it, so handlers reading the header see the id that is logged.
pub fn assign(req: &mut Request) -> (String, HeaderValue) {
    if let Some(value) = req.headers().get(HEADER)
        && let Ok(id) = value.to_str()
        && acceptable(id)
    {
        return (id.to_owned(), value.clone());
    }
    let id = uuid::Uuid::now_v7().to_string();
    // A UUID's text is always a valid header value.
    let value = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("unknown"));
    req.headers_mut().insert(HEADER, value.clone());
    (id, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_injection_and_oversize() {
        assert!(acceptable("0192f0c4-7b1e-7cc1-9d42-2b4a8e0d1c11"));
        assert!(!acceptable("abc\ndef"));
        assert!(!acceptable(&"a".repeat(129)));
        assert!(!acceptable(""));
    }

    #[test]
    fn keeps_a_good_id_and_replaces_a_bad_one() {
        let mut req = Request::builder()
            .header(HEADER, "client-id-1")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(assign(&mut req).0, "client-id-1");
        let mut req = Request::builder()
            .header(HEADER, "bad id")
            .body(axum::body::Body::empty())
            .unwrap();
        let (id, value) = assign(&mut req);
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert_eq!(req.headers()[HEADER], value);
    }
}
