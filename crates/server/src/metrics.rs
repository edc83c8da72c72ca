//! Prometheus exposition at `/metrics`, protected by `METRICS_TOKEN`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;

use crate::error::ApiError;
use crate::state::AppState;

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the global recorder; returns `None` if one is already installed (tests).
pub fn install() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
        .ok()?;
    let handle = builder.install_recorder().ok()?;
    describe();
    let version = env!("CARGO_PKG_VERSION");
    let revision = option_env!("PREFLIGHT_REVISION").unwrap_or("unknown");
    metrics::gauge!("preflight_build_info", "version" => version, "revision" => revision).set(1.0);
    Some(handle)
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "preflight_http_requests_total",
        "HTTP requests served, by route template and status."
    );
    describe_histogram!(
        "preflight_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency, by route template and status."
    );
    describe_gauge!(
        "preflight_http_requests_in_flight",
        "HTTP requests being served."
    );
    describe_gauge!(
        "preflight_db_pool_connections",
        "Database pool connections by state."
    );
    describe_gauge!(
        "preflight_db_pool_max_connections",
        "Configured maximum database pool size."
    );
    describe_gauge!("preflight_build_info", "Build information; always 1.");
    describe_counter!("preflight_auth_logins_total", "Login attempts by result.");
    preflight_kv::describe_metrics();
    crate::backup::runs::describe();
    crate::runner::metrics::describe();
}

/// `GET /metrics`: open only in development while `METRICS_TOKEN` is unset.
pub async fn handler(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match &state.settings.metrics_token {
        Some(token) => {
            let presented = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            let ok = presented.is_some_and(|p| {
                preflight_security::constant_time_eq(p.as_bytes(), token.expose_secret().as_bytes())
            });
            if !ok {
                return ApiError::unauthorized(
                    "/metrics requires Authorization: Bearer <METRICS_TOKEN>",
                )
                .into_response();
            }
        }
        None if !state.settings.environment.is_development() => {
            return ApiError::forbidden("METRICS_TOKEN is not configured").into_response();
        }
        None => {}
    }
    let Some(handle) = &state.metrics else {
        return ApiError::unavailable("metrics recorder is not installed").into_response();
    };
    crate::db::record_pool_metrics(&state.db, state.settings.db.max_connections);
    if let Err(e) = crate::backup::runs::refresh_metrics(&state.db).await {
        tracing::warn!(error = %e, "could not read backup runs for metrics");
    }
    let mut res = handle.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}
