//! Readiness caching (in-process and Redis), metrics, the read-only audit log, OpenAPI.

use serde_json::{Value, json};

use crate::checklist_support::*;
use crate::harness::{self, Options, TestApp, assert_problem};

async fn metrics(app: &TestApp) -> String {
    app.client
        .get(app.url("/metrics"))
        .bearer_auth(&app.metrics_token)
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body")
}

fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn write_is_visible_in_the_next_read(app: &TestApp) {
    let (admin, rid, sid) = small_review(app).await;
    let paths = [
        format!("/api/v1/reviews/{rid}/readiness"),
        format!("/api/v1/services/{sid}/readiness"),
        "/api/v1/readiness".to_owned(),
    ];
    for path in &paths {
        // Twice: the second read is a cache hit.
        get_json(app, &admin, path).await;
        get_json(app, &admin, path).await;
    }
    let text = metrics(app).await;
    let hits = metric(&text, "preflight_cache_hits_total{cache=\"app\"}").unwrap_or(0.0);
    assert!(hits >= 3.0, "readiness is served from the cache: {hits}");
    for (n, key) in [K_SECRET, K_ENCRYPTION, K_HEALTH].iter().enumerate() {
        let res = act(
            app,
            &admin,
            &rid,
            key,
            json!({"action": "sign_off", "comment": "ok"}),
        )
        .await;
        assert_eq!(res.status(), 200);
        let passed = u64::try_from(n + 1).expect("small");
        let r = get_json(app, &admin, &paths[0]).await;
        assert_eq!(
            r["overall"]["counts"]["passed"], passed,
            "review readiness after write {n}"
        );
        let s = get_json(app, &admin, &paths[1]).await;
        assert_eq!(
            s["overall"]["counts"]["passed"], passed,
            "service readiness after write {n}"
        );
        let o = get_json(app, &admin, &paths[2]).await;
        assert_eq!(
            o["services"][0]["counts"]["passed"], passed,
            "overview after write {n}"
        );
    }
    // Detaching is a write too.
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/reviews/{rid}")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("DELETE review");
    assert_eq!(res.status(), 204);
    let o = get_json(app, &admin, &paths[2]).await;
    assert_eq!(o["services"][0]["reviews"], 0);
    assert_eq!(
        o["services"][0]["ready"], false,
        "nothing verified, not ready"
    );
    assert_problem(get(app, &admin, &paths[0]).await, 404).await;
}

#[tokio::test]
async fn a_write_is_visible_in_the_very_next_read_in_process() {
    let app = TestApp::spawn_with(Options::default()).await;
    write_is_visible_in_the_next_read(&app).await;
}

#[tokio::test]
async fn a_write_is_visible_in_the_very_next_read_with_redis() {
    if !harness::redis_available() {
        return;
    }
    let app = TestApp::spawn_with(Options {
        force_redis: true,
        ..Options::default()
    })
    .await;
    write_is_visible_in_the_next_read(&app).await;
}

#[tokio::test]
async fn readiness_gauges_follow_writes_and_are_set_at_start() {
    let mut app = TestApp::spawn().await;
    let (admin, rid, sid) = small_review(&app).await;
    let name = get_json(&app, &admin, &format!("/api/v1/services/{sid}")).await["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let ratio = format!("preflight_service_readiness_ratio{{service=\"{name}\"}}");
    let ready = format!("preflight_service_ready{{service=\"{name}\"}}");
    let pending = format!("preflight_checklist_items{{service=\"{name}\",state=\"pending\"}}");
    let text = metrics(&app).await;
    assert_eq!(metric(&text, &ratio), Some(0.0), "{text}");
    assert_eq!(metric(&text, &ready), Some(0.0));
    assert_eq!(metric(&text, &pending), Some(5.0));
    for key in [K_SECRET, K_ENCRYPTION, K_HEALTH, K_BACKUPS] {
        act(
            &app,
            &admin,
            &rid,
            key,
            json!({"action": "sign_off", "comment": "ok"}),
        )
        .await;
    }
    let text = metrics(&app).await;
    assert_eq!(
        metric(&text, &ready),
        Some(1.0),
        "the optional item does not block"
    );
    assert_eq!(metric(&text, &ratio), Some(0.8));
    assert_eq!(metric(&text, &pending), Some(1.0));

    // After a restart the gauges come from the database.
    app.terminate();
    let again = TestApp::spawn_with(Options {
        database_url: Some(app.database_url.clone()),
        data_dir: Some(app.data_dir.clone()),
        ..Options::default()
    })
    .await;
    let mut text = String::new();
    for _ in 0..50 {
        text = metrics(&again).await;
        if metric(&text, &ready).is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(metric(&text, &ready), Some(1.0), "{text}");
    assert_eq!(metric(&text, &ratio), Some(0.8));
}

#[tokio::test]
async fn the_audit_log_is_read_only_and_filtered_by_target() {
    let app = TestApp::spawn().await;
    let (admin, rid, sid) = small_review(&app).await;
    let (_, viewer) = app.user_token("viewer").await;
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
        reqwest::Method::POST,
    ] {
        let res = app
            .client
            .request(method, app.url("/api/v1/audit"))
            .bearer_auth(&admin)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_problem(res, 405).await;
    }
    let entries = audit_of(&app, &viewer, "service", &sid).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["action"], "service.create");
    let entries = audit_of(&app, &viewer, "review", &rid).await;
    assert_eq!(entries[0]["action"], "review.create");
    // Viewers do not see account entries; admins do.
    let all = get_json(&app, &viewer, "/api/v1/audit?per_page=200").await;
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["target_type"] != "user")
    );
    let users = get_json(&app, &admin, "/api/v1/audit?target_type=user").await;
    assert!(users["total"].as_u64().unwrap() >= 2);
    let page = get_json(&app, &admin, "/api/v1/audit?per_page=1&page=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn openapi_documents_every_endpoint() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected = [
        ("/api/v1/checklists", &["get", "post"][..]),
        ("/api/v1/checklists/{id}", &["get", "put", "delete"]),
        ("/api/v1/checklists/{id}/items/{key}/check", &["put"]),
        ("/api/v1/services", &["get", "post"]),
        ("/api/v1/services/{id}", &["get", "patch", "delete"]),
        ("/api/v1/services/{id}/reviews", &["get", "post"]),
        ("/api/v1/services/{id}/readiness", &["get"]),
        ("/api/v1/reviews/{id}", &["get", "delete"]),
        ("/api/v1/reviews/{id}/readiness", &["get"]),
        ("/api/v1/reviews/{id}/items/{key}", &["get", "post"]),
        ("/api/v1/reviews/{id}/items/{key}/check", &["put"]),
        ("/api/v1/readiness", &["get"]),
        ("/api/v1/audit", &["get"]),
    ];
    for (path, methods) in expected {
        for m in methods {
            assert!(
                doc["paths"][path][m].is_object(),
                "{m} {path} is documented"
            );
        }
    }
    let import = &doc["paths"]["/api/v1/checklists"]["post"]["requestBody"]["content"];
    assert!(
        import["text/markdown"].is_object(),
        "import takes text/markdown: {import}"
    );
}
