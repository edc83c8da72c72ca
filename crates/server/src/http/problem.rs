//! Makes every error response problem+json, including those produced by the framework and
//! middleware (405, 413, 415, timeouts) and by panics. The edge layer ([`super::edge`])
//! applies [`rewrite_bare_error`] to every response.

use std::any::Any;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Rewrites an error response that is not already JSON into a problem document.
pub fn rewrite_bare_error(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json") || ct.starts_with("text/html"));
    // JSON is already a problem; HTML is an error page of the web UI.
    if is_json {
        return res;
    }
    let (parts, _body) = res.into_parts();
    let mut problem = ApiError::from_status(status);
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        problem = problem.detail("the request body exceeds the size limit");
    } else if status == StatusCode::METHOD_NOT_ALLOWED {
        problem = problem.detail("this route does not accept that method");
    }
    let mut new = problem.into_response();
    // Keep headers such as Allow, Retry-After and rate-limit headers; not those describing
    // the body that was dropped.
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH && k != header::CONTENT_ENCODING
        {
            new.headers_mut().append(k.clone(), v.clone());
        }
    }
    new
}

/// Fallback for unknown routes.
pub async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

/// Turns a handler panic into a 500 without internals; the panic message goes to the log only.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = msg, "handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal server error",
    )
    .into_response()
}
