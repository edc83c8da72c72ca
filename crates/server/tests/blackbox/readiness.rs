//! Readiness caching (in-process and Redis), metrics, the read-only audit log, OpenAPI.

use serde_json::{Value, json};

use crate::checklist_support::*;
use crate::harness::{self, Options, TestApp};

use crate::harness::metric;

async fn write_is_visible_in_the_next_read(app: &TestApp) {
    let (admin, rid, sid) = small_review(app).await;
    let paths = [
        format!("/api/v1/reviews/{rid}/readiness"),
        format!("/api/v1/services/{sid}/readiness"),
        "/api/v1/readiness".to_owned(),
    ];
    let read = async |path: &str| -> Value { admin.get(path).expect_json(200).await };
    for path in &paths {
        // Twice: the second read is a cache hit.
        read(path).await;
        read(path).await;
    }
    let text = app.metrics().await;
    let hits = metric(&text, "preflight_cache_hits_total{cache=\"app\"}").unwrap_or(0.0);
    assert!(hits >= 3.0, "readiness is served from the cache: {hits}");
    for (n, key) in [K_SECRET, K_ENCRYPTION, K_HEALTH].iter().enumerate() {
        act(
            &admin,
            &rid,
            key,
            json!({"action": "sign_off", "comment": "ok"}),
        )
        .expect_status(200)
        .await;
        let passed = u64::try_from(n + 1).expect("small");
        let r = read(&paths[0]).await;
        assert_eq!(
            r["overall"]["counts"]["passed"], passed,
            "review readiness after write {n}"
        );
        let s = read(&paths[1]).await;
        assert_eq!(
            s["overall"]["counts"]["passed"], passed,
            "service readiness after write {n}"
        );
        let o = read(&paths[2]).await;
        assert_eq!(
            o["services"][0]["counts"]["passed"], passed,
            "overview after write {n}"
        );
    }
    // Detaching is a write too.
    admin
        .delete(&format!("/api/v1/reviews/{rid}"))
        .expect_status(204)
        .await;
    let o = read(&paths[2]).await;
    assert_eq!(o["services"][0]["reviews"], 0);
    assert_eq!(
        o["services"][0]["ready"], false,
        "nothing verified, not ready"
    );
    admin.get(&paths[0]).expect_problem(404).await;
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
    let service: Value = admin
        .get(&format!("/api/v1/services/{sid}"))
        .expect_json(200)
        .await;
    let name = service["name"].as_str().unwrap().to_owned();
    let ratio = format!("preflight_service_readiness_ratio{{service=\"{name}\"}}");
    let ready = format!("preflight_service_ready{{service=\"{name}\"}}");
    let pending = format!("preflight_checklist_items{{service=\"{name}\",state=\"pending\"}}");
    let text = app.metrics().await;
    assert_eq!(metric(&text, &ratio), Some(0.0), "{text}");
    assert_eq!(metric(&text, &ready), Some(0.0));
    assert_eq!(metric(&text, &pending), Some(5.0));
    for key in [K_SECRET, K_ENCRYPTION, K_HEALTH, K_BACKUPS] {
        act(
            &admin,
            &rid,
            key,
            json!({"action": "sign_off", "comment": "ok"}),
        )
        .expect_status(200)
        .await;
    }
    let text = app.metrics().await;
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
        text = again.metrics().await;
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
    let (_, viewer) = app.as_new_user("viewer").await;
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
        reqwest::Method::POST,
    ] {
        admin
            .request(method, "/api/v1/audit")
            .json(&json!({}))
            .expect_problem(405)
            .await;
    }
    let entries = audit_of(&viewer, "service", &sid).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["action"], "service.create");
    let entries = audit_of(&viewer, "review", &rid).await;
    assert_eq!(entries[0]["action"], "review.create");
    // Viewers do not see account entries; admins do.
    let all: Value = viewer
        .get("/api/v1/audit?per_page=200")
        .expect_json(200)
        .await;
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["target_type"] != "user")
    );
    let users: Value = admin
        .get("/api/v1/audit?target_type=user")
        .expect_json(200)
        .await;
    assert!(users["total"].as_u64().unwrap() >= 2);
    let page: Value = admin
        .get("/api/v1/audit?per_page=1&page=2")
        .expect_json(200)
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn openapi_documents_every_endpoint() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/openapi.json").expect_json(200).await;
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
