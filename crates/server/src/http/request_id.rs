//! `X-Request-Id`: accepted from the client when well-formed, generated otherwise, returned on
//! the response and available to logs and problem documents for the whole request (through
//! [`crate::request_context`]).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::request_context;

pub const HEADER: &str = "x-request-id";

/// Accepts only short, printable ids so a client cannot inject log lines or huge headers.
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

pub async fn middleware(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(HEADER, v);
    }
    let mut res = request_context::scope(id.clone(), next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn rejects_injection_and_oversize() {
        assert!(acceptable("0192f0c4-7b1e-7cc1-9d42-2b4a8e0d1c11"));
        assert!(!acceptable("abc\ndef"));
        assert!(!acceptable(&"a".repeat(129)));
        assert!(!acceptable(""));
    }
}
