//! Readiness under concurrent reads: a miss is computed once however many clients arrive
//! together, a write drops only what it changed, and answers carry a weak ETag honoured by
//! `If-None-Match`.

use serde_json::{Value, json};

use crate::checklist_support::*;
use crate::harness::{Caller, TestApp};

/// `preflight_readiness_computed_total` of `scope`, 0 before the first computation.
async fn computed(app: &TestApp, scope: &str) -> u64 {
    let text = app.metrics().await;
    let prefix = format!("preflight_readiness_computed_total{{scope=\"{scope}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// 32 clients reading `path` at the same moment; every answer's body.
async fn read_together(caller: &Caller<'_>, path: &str) -> Vec<Value> {
    let reads = (0..32).map(|_| caller.get(path).expect_json::<Value>(200));
    futures::future::join_all(reads).await
}

#[tokio::test]
async fn concurrent_cold_reads_compute_once_and_a_write_recomputes_only_its_service() {
    let app = TestApp::spawn().await;
    let (admin, rid, changed) = small_review(&app).await;
    let other = create_service(&admin, json!({"name": "other"})).await["id"]
        .as_str()
        .expect("service id")
        .to_owned();
    let service_path = format!("/api/v1/services/{changed}/readiness");

    // Cold: 32 clients at once, one computation each of the service and the overview.
    let before = computed(&app, "service").await;
    let answers = read_together(&admin, &service_path).await;
    assert_eq!(computed(&app, "service").await - before, 1);
    assert!(answers.iter().all(|a| a["service_id"] == changed.as_str()));
    let (overviews, summaries) = (
        computed(&app, "overview").await,
        computed(&app, "summary").await,
    );
    let answers = read_together(&admin, "/api/v1/readiness").await;
    assert_eq!(computed(&app, "overview").await - overviews, 1);
    assert_eq!(
        computed(&app, "summary").await - summaries,
        2,
        "both services' lines"
    );
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "every client sees one result"
    );
    admin
        .get(&format!("/api/v1/services/{other}/readiness"))
        .expect_status(200)
        .await;

    // A sign-off on one service: its entries and the overview are recomputed, once; the
    // other service's readiness and overview line are still served from the cache.
    act(
        &admin,
        &rid,
        K_SECRET,
        json!({"action": "sign_off", "comment": "ok"}),
    )
    .expect_status(200)
    .await;
    let (services, overviews, summaries) = (
        computed(&app, "service").await,
        computed(&app, "overview").await,
        computed(&app, "summary").await,
    );
    let answers = read_together(&admin, "/api/v1/readiness").await;
    assert_eq!(computed(&app, "overview").await - overviews, 1);
    assert_eq!(
        computed(&app, "summary").await - summaries,
        1,
        "only the changed line"
    );
    let line = answers[0]["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["service_id"] == changed.as_str()))
        .expect("the changed service's line")
        .clone();
    assert_eq!(line["counts"]["passed"], 1, "the write is visible at once");
    admin
        .get(&format!("/api/v1/services/{other}/readiness"))
        .expect_status(200)
        .await;
    assert_eq!(
        computed(&app, "service").await,
        services,
        "the other service stayed cached"
    );
    let answers = read_together(&admin, &service_path).await;
    assert_eq!(computed(&app, "service").await - services, 1);
    assert!(
        answers
            .iter()
            .all(|a| a["overall"]["counts"]["passed"] == 1)
    );
}

#[tokio::test]
async fn readiness_answers_carry_an_etag_and_if_none_match_gets_304() {
    let app = TestApp::spawn().await;
    let (admin, rid, sid) = small_review(&app).await;
    for path in [
        "/api/v1/readiness".to_owned(),
        format!("/api/v1/services/{sid}/readiness"),
        format!("/api/v1/reviews/{rid}/readiness"),
    ] {
        let res = admin.get(&path).expect_status(200).await;
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        assert!(
            etag.starts_with("W/\"") && etag.ends_with('"'),
            "{path}: weak ETag {etag}"
        );
        assert_eq!(res.headers()["content-type"], "application/json");
        let again = admin.get(&path).header("if-none-match", &etag).send().await;
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
        assert!(again.bytes().await.unwrap().is_empty());
        let other = admin
            .get(&path)
            .header("if-none-match", "\"0000\"")
            .send()
            .await;
        assert_eq!(other.status(), 200, "{path}: another ETag gets the body");
    }
    // A write changes the answer and so its ETag.
    let etag_of = async |caller: &Caller<'_>| {
        caller
            .get("/api/v1/readiness")
            .expect_status(200)
            .await
            .headers()["etag"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let before = etag_of(&admin).await;
    act(
        &admin,
        &rid,
        K_SECRET,
        json!({"action": "sign_off", "comment": "ok"}),
    )
    .expect_status(200)
    .await;
    let after = etag_of(&admin).await;
    assert_ne!(before, after);
    let res = admin
        .get("/api/v1/readiness")
        .header("if-none-match", &before)
        .send()
        .await;
    assert_eq!(res.status(), 200, "a stale ETag gets the new body");
}
