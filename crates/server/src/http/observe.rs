//! Per-request metrics (count, latency histogram per route template and status) and one log
//! line per request. Never logs headers or bodies: they may carry secrets.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

pub async fn middleware(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    // Route templates, not raw paths, keep label cardinality bounded.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    metrics::gauge!("preflight_http_requests_in_flight").increment(1.0);
    let res = next.run(req).await;
    metrics::gauge!("preflight_http_requests_in_flight").decrement(1.0);
    let elapsed = start.elapsed();
    let status = res.status().as_u16().to_string();
    let labels = [
        ("method", method.clone()),
        ("route", route.clone()),
        ("status", status),
    ];
    metrics::counter!("preflight_http_requests_total", &labels).increment(1);
    metrics::histogram!("preflight_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    let latency_ms = (elapsed.as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    let request_id = crate::request_context::request_id().unwrap_or_default();
    let status = res.status().as_u16();
    if status >= 500 {
        tracing::error!(target: "preflight::http", request_id, method, route, status, latency_ms, "request failed");
    } else {
        tracing::info!(target: "preflight::http", request_id, method, route, status, latency_ms, "request served");
    }
    res
}
