//! The kinds that ask the service itself: one passing and one failing target per kind, each an
//! axum app on 127.0.0.1 started by the test.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use common::{assert_outcome, run_at, serve};
use preflight_probe::Outcome;

fn ok_health() -> Router {
    Router::new()
        .route("/health/live", get(|| async { "ok" }))
        .route("/health/ready", get(|| async { "ok" }))
}

#[tokio::test]
async fn health_passes_when_both_endpoints_answer_2xx() {
    let base = serve(ok_health()).await;
    let report = run_at("health", &base).await;
    assert_outcome(&report, Outcome::Passed);
    assert_eq!(
        report.reason,
        "/health/live answered 200, /health/ready answered 200"
    );
    assert_eq!(report.requests.len(), 2);
    assert_eq!(report.requests[1].status, Some(200));
}

#[tokio::test]
async fn health_fails_naming_the_endpoint_and_its_answer() {
    let app = Router::new()
        .route("/health/live", get(|| async { "ok" }))
        .route(
            "/health/ready",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"status":"unavailable","failing":"database"}"#,
                )
            }),
        );
    let base = serve(app).await;
    let report = run_at("health", &base).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report
            .reason
            .starts_with("ready endpoint /health/ready answered 503: "),
        "{}",
        report.reason
    );
    assert!(report.reason.contains("database"));
    let excerpt = report.requests[1].body_excerpt.as_deref().unwrap_or("");
    assert!(excerpt.contains("unavailable"));
}

#[tokio::test]
async fn http_checks_status_headers_json_and_latency() {
    let app = Router::new().route(
        "/api/status",
        get(|| async {
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::ETAG, "\"v1\""),
                ],
                r#"{"status":"ok","version":3}"#,
            )
        }),
    );
    let base = serve(app).await;
    let passing = run_at(
        r#"http path=/api/status status=200 condition="body.$.status == ok" condition="header.etag exists" condition="latency < 2s""#,
        &base,
    )
    .await;
    assert_outcome(&passing, Outcome::Passed);
    assert!(
        passing.reason.contains("all 3 conditions hold"),
        "{}",
        passing.reason
    );
    assert_eq!(
        passing.requests[0].headers.get("etag").map(String::as_str),
        Some("\"v1\"")
    );

    let failing = run_at(
        r#"http path=/api/status condition="body.$.version >= 4" condition="header.content-type contains html""#,
        &base,
    )
    .await;
    assert_outcome(&failing, Outcome::Failed);
    assert!(
        failing
            .reason
            .contains("body.$.version is 3, which is not >= 4"),
        "{}",
        failing.reason
    );
    assert!(
        failing
            .reason
            .contains("header content-type is \"application/json\"")
    );

    let missing = run_at("http path=/nope", &base).await;
    assert_outcome(&missing, Outcome::Failed);
    assert!(
        missing.reason.ends_with("expected a 2xx status, got 404"),
        "{}",
        missing.reason
    );
}

fn metrics_app(body: &'static str) -> Router {
    Router::new().route(
        "/metrics",
        get(move || async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }),
    )
}

#[tokio::test]
async fn metrics_pass_with_valid_exposition_and_required_names() {
    let body = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{route=\"/\"} 7\n# TYPE latency_seconds histogram\nlatency_seconds_bucket{le=\"+Inf\"} 7\nlatency_seconds_sum 0.3\nlatency_seconds_count 7\n";
    let base = serve(metrics_app(body)).await;
    let report = run_at("metrics require=http_requests_total,latency_seconds", &base).await;
    assert_outcome(&report, Outcome::Passed);
    assert!(
        report.reason.contains("including all 2 required"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn metrics_fail_on_invalid_text_or_a_missing_name() {
    let base = serve(metrics_app("up 1\n")).await;
    let missing = run_at("metrics require=preflight_build_info", &base).await;
    assert_outcome(&missing, Outcome::Failed);
    assert_eq!(
        missing.reason,
        "/metrics lacks the required metrics preflight_build_info"
    );

    let html = serve(metrics_app("<!doctype html><p>login</p>\n")).await;
    let invalid = run_at("metrics", &html).await;
    assert_outcome(&invalid, Outcome::Failed);
    assert!(
        invalid
            .reason
            .contains("line 1 is not Prometheus text exposition"),
        "{}",
        invalid.reason
    );
}

fn openapi_app(document: &'static str) -> Router {
    Router::new()
        .route(
            "/docs",
            get(|| async { Html("<!doctype html><title>API</title>") }),
        )
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
}

#[tokio::test]
async fn openapi_passes_with_html_docs_and_a_valid_document() {
    let doc = r#"{"openapi":"3.1.0","info":{"title":"Billing","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"description":"ok"}}}}}}"#;
    let base = serve(openapi_app(doc)).await;
    let report = run_at("openapi", &base).await;
    assert_outcome(&report, Outcome::Passed);
    assert!(
        report
            .reason
            .contains("valid OpenAPI 3.1.0 document (\"Billing\", 1 paths)"),
        "{}",
        report.reason
    );
    assert_eq!(report.facts.get("paths").map(String::as_str), Some("1"));
}

#[tokio::test]
async fn openapi_fails_on_a_document_that_is_not_openapi_3() {
    let base = serve(openapi_app(r#"{"swagger":"2.0","info":{"title":"old"}}"#)).await;
    let report = run_at("openapi", &base).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report.reason.contains("Swagger 2.0 is not OpenAPI 3"),
        "{}",
        report.reason
    );
}

/// Answers CORS the way a misconfigured or a correct server would.
fn cors_app(allow_any: bool) -> Router {
    Router::new().route(
        "/",
        any(move |headers: HeaderMap| async move {
            let origin = headers.get(header::ORIGIN).cloned();
            let mut response = "ok".into_response();
            let allowed = HeaderValue::from_static("https://app.example.com");
            let value = if allow_any {
                Some(HeaderValue::from_static("*"))
            } else {
                origin.filter(|o| o == allowed)
            };
            if let Some(value) = value {
                response
                    .headers_mut()
                    .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            }
            response
        }),
    )
}

#[tokio::test]
async fn cors_passes_for_an_allow_list() {
    let base = serve(cors_app(false)).await;
    let report = run_at("cors allowed=https://app.example.com", &base).await;
    assert_outcome(&report, Outcome::Passed);
    assert!(report.reason.contains("and allows https://app.example.com"));
    assert_eq!(report.requests.len(), 3);
    assert_eq!(report.requests[1].method, "OPTIONS");
}

#[tokio::test]
async fn cors_fails_for_a_wildcard() {
    let base = serve(cors_app(true)).await;
    let report = run_at("cors", &base).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report
            .reason
            .contains("Access-Control-Allow-Origin: * (any site may call the API)"),
        "{}",
        report.reason
    );
    assert_eq!(
        report.requests[0]
            .headers
            .get("access-control-allow-origin")
            .map(String::as_str),
        Some("*")
    );
}

fn limited_app(limit: u32, retry_after: bool) -> (Router, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/login",
        any(move || {
            let counter = counter.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                if n > limit {
                    let mut response = StatusCode::TOO_MANY_REQUESTS.into_response();
                    if retry_after {
                        response
                            .headers_mut()
                            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
                    }
                    response
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }
        }),
    );
    (app, hits)
}

#[tokio::test]
async fn rate_limit_passes_and_stops_at_the_first_429() {
    let (app, hits) = limited_app(5, true);
    let base = serve(app).await;
    let report = run_at("rate_limit path=/login method=POST burst=50", &base).await;
    assert_outcome(&report, Outcome::Passed);
    assert_eq!(
        report.reason,
        "POST /login answered 429 with Retry-After: 30 after 6 of at most 50 requests"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        6,
        "the burst stops at the first 429"
    );
    assert_eq!(report.requests.len(), 6);
}

#[tokio::test]
async fn rate_limit_fails_without_429_or_without_retry_after() {
    let (app, hits) = limited_app(1000, true);
    let base = serve(app).await;
    let report = run_at("rate_limit path=/login burst=30", &base).await;
    assert_outcome(&report, Outcome::Failed);
    assert_eq!(
        report.reason,
        "expected 429 within 30 requests to GET /login, got 30 × 401"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 30, "never more than the burst");

    let (app, _) = limited_app(2, false);
    let base = serve(app).await;
    let report = run_at("rate_limit path=/login burst=10", &base).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report.reason.contains("without a Retry-After header"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn auth_required_passes_and_fails_naming_the_open_path() {
    let app = Router::new()
        .route(
            "/api/me",
            get(|headers: HeaderMap| async move {
                if headers.contains_key(header::AUTHORIZATION) {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }),
        )
        .route("/api/admin", get(|| async { StatusCode::FORBIDDEN }))
        .route("/api/open", get(|| async { "everyone" }));
    let base = serve(app).await;
    // Credentials of the target are never sent by this kind.
    let mut target = preflight_probe::Target::new(base.clone());
    target.credentials = vec![preflight_probe::Credential::header(
        "Authorization",
        "Bearer t",
    )];
    let passing = common::run("auth_required paths=/api/me,/api/admin", &target).await;
    assert_outcome(&passing, Outcome::Passed);
    assert_eq!(passing.reason, "all 2 paths refused anonymous requests");

    let failing = common::run("auth_required paths=/api/me,/api/open", &target).await;
    assert_outcome(&failing, Outcome::Failed);
    assert_eq!(
        failing.reason,
        "GET /api/open answered 200 without credentials"
    );
}

fn headers_app(secure: bool) -> Router {
    Router::new().route(
        "/",
        get(move || async move {
            let mut response: Response = "home".into_response();
            if secure {
                let h = response.headers_mut();
                h.insert(
                    "x-content-type-options",
                    HeaderValue::from_static("nosniff"),
                );
                h.insert(
                    "content-security-policy",
                    HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
                );
                h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
            }
            response
        }),
    )
}

#[tokio::test]
async fn security_headers_pass_and_fail_naming_each_missing_header() {
    let base = serve(headers_app(true)).await;
    let passing = run_at("security_headers", &base).await;
    assert_outcome(&passing, Outcome::Passed);
    assert_eq!(
        passing.requests[0]
            .headers
            .get("referrer-policy")
            .map(String::as_str),
        Some("no-referrer")
    );

    let base = serve(headers_app(false)).await;
    let failing = run_at("security_headers", &base).await;
    assert_outcome(&failing, Outcome::Failed);
    for missing in [
        "X-Content-Type-Options is missing",
        "no frame protection",
        "Referrer-Policy is missing",
    ] {
        assert!(
            failing.reason.contains(missing),
            "{missing}: {}",
            failing.reason
        );
    }
}
