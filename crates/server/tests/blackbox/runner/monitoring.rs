//! A service's probe settings: its interval and monitoring endpoints are validated, header
//! values are never shown again and do not follow a changed URL, and the runner sends each
//! check to the service's own endpoint with its headers, or to the server's default.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};

use super::support::{all_ran, app_with_runner, checklist, service_with, target};

/// A Grafana whose search finds one dashboard per service and records the credential of each
/// search (the `Authorization` or `X-Token` header).
async fn grafana() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    async fn search(
        State(seen): State<Arc<Mutex<Vec<String>>>>,
        headers: HeaderMap,
    ) -> Json<Value> {
        let credential = ["authorization", "x-token"]
            .iter()
            .filter_map(|h| Some(format!("{h}: {}", headers.get(*h)?.to_str().ok()?)))
            .collect::<Vec<_>>()
            .join(", ");
        seen.lock().unwrap().push(credential);
        Json(json!([
            {"uid": "a", "title": "alpha overview", "type": "dash-db"},
            {"uid": "b", "title": "beta overview", "type": "dash-db"}
        ]))
    }
    let router = Router::new()
        .route("/api/search", get(search))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn probe_settings_are_validated_masked_and_used_by_the_runner() {
    let (own_grafana, own_seen) = grafana().await;
    let (default_grafana, default_seen) = grafana().await;
    let (base, _hits) = target(Duration::ZERO).await;
    let app = app_with_runner(&[
        ("PROBE_INTERVAL", "24h"),
        ("GRAFANA_URL", &default_grafana),
        ("GRAFANA_TOKEN", "default-grafana-token"),
    ])
    .await;
    let admin = app.as_admin().await;

    // Validation.
    for (body, field) in [
        (
            json!({"name": "x1", "probe_interval_seconds": 4}),
            "probe_interval_seconds",
        ),
        (
            json!({"name": "x2", "monitoring": {"grafana": {"url": "ftp://grafana"}}}),
            "monitoring.grafana.url",
        ),
        (
            json!({"name": "x3", "monitoring": {"loki": {"url": "http://user:pw@loki:3100"}}}),
            "monitoring.loki.url",
        ),
    ] {
        let problem = admin
            .post_json("/api/v1/services", &body)
            .expect_problem(422)
            .await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }

    // Saved, shown without the header value.
    let (alpha, review) = service_with(
        &admin,
        "alpha",
        &base,
        &checklist(&[("Dashboard exists", "grafana_dashboard")]),
    )
    .await;
    let patched = admin
        .patch(&format!("/api/v1/services/{alpha}"))
        .json(&json!({
            "probe_interval_seconds": 30,
            "monitoring": {"grafana": {"url": own_grafana, "headers": {"X-Token": "own-grafana-secret"}}, "job": "alpha-api"}
        }))
        .expect_json::<Value>(200)
        .await;
    assert_eq!(patched["probe_interval_seconds"], 30);
    assert_eq!(
        patched["monitoring"]["grafana"]["header_names"],
        json!(["X-Token"])
    );
    assert_eq!(patched["monitoring"]["job"], "alpha-api");
    let shown: Value = admin
        .get(&format!("/api/v1/services/{alpha}"))
        .expect_json(200)
        .await;
    assert!(!shown.to_string().contains("own-grafana-secret"), "{shown}");
    let audit: Value = admin
        .get("/api/v1/audit?per_page=200")
        .expect_json(200)
        .await;
    assert!(!audit.to_string().contains("own-grafana-secret"));

    // The runner asks the service's own Grafana with its header; a service without one asks
    // the default with GRAFANA_TOKEN.
    let (beta, beta_review) = service_with(
        &admin,
        "beta",
        &base,
        &checklist(&[("Dashboard exists", "grafana_dashboard")]),
    )
    .await;
    for service in [&alpha, &beta] {
        admin
            .post(&format!("/api/v1/services/{service}/runs"))
            .expect_status(202)
            .await;
    }
    let items = all_ran(&admin, &review, Duration::from_secs(30)).await;
    assert_eq!(
        items["Dashboard exists"]["state"], "passed",
        "{:?}",
        items["Dashboard exists"]
    );
    let items = all_ran(&admin, &beta_review, Duration::from_secs(30)).await;
    assert_eq!(items["Dashboard exists"]["state"], "passed");
    assert!(
        own_seen
            .lock()
            .unwrap()
            .iter()
            .any(|c| c == "x-token: own-grafana-secret"),
        "{:?}",
        own_seen.lock().unwrap()
    );
    assert!(
        default_seen
            .lock()
            .unwrap()
            .iter()
            .any(|c| c == "authorization: Bearer default-grafana-token"),
        "{:?}",
        default_seen.lock().unwrap()
    );
    // Evidence never carries the secrets.
    let runs: Value = admin
        .get(&format!("/api/v1/services/{alpha}/runs"))
        .expect_json(200)
        .await;
    assert!(!runs.to_string().contains("own-grafana-secret"));

    // Same URL without headers keeps them; a new URL drops them.
    let kept: Value = admin
        .patch(&format!("/api/v1/services/{alpha}"))
        .json(&json!({"monitoring": {"grafana": {"url": own_grafana}}}))
        .expect_json(200)
        .await;
    assert_eq!(
        kept["monitoring"]["grafana"]["header_names"],
        json!(["X-Token"])
    );
    let moved: Value = admin
        .patch(&format!("/api/v1/services/{alpha}"))
        .json(&json!({"monitoring": {"grafana": {"url": "http://127.0.0.1:9/grafana"}}, "probe_interval_seconds": null}))
        .expect_json(200)
        .await;
    assert_eq!(
        moved["monitoring"]["grafana"]["header_names"],
        json!([]),
        "{moved}"
    );
    assert!(moved["probe_interval_seconds"].is_null());
}
