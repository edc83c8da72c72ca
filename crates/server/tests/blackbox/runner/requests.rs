//! On-demand runs: who may start them, what they answer, how they finish, their rate limit;
//! and a waiver standing over a failing check until it expires.

use std::time::Duration;

use serde_json::{Value, json};

use super::scheduled::urlencode;
use super::support::{app_with_runner, checklist, eventually, items, service_with, target};
use crate::harness::Caller;

async fn finished(caller: &Caller<'_>, location: &str) -> Value {
    eventually(Duration::from_secs(30), "the run to finish", || async {
        let run: Value = caller.get(location).expect_json(200).await;
        (run["status"] == "finished").then_some(run)
    })
    .await
}

#[tokio::test]
async fn editors_start_runs_viewers_read_them_and_runs_are_rate_limited() {
    let (base, hits) = target(Duration::ZERO).await;
    // A day between scheduled rounds: what runs here is what was asked for (the first
    // scheduled round is spread over the first seconds, so it may add one run per item).
    let app = app_with_runner(&[("PROBE_INTERVAL", "24h"), ("RATE_LIMIT_RUNS", "3/m")]).await;
    let admin = app.as_admin().await;
    let md = checklist(&[
        ("Status answers", "http path=/ok/2"),
        ("Orders answer", "http path=/bad/2"),
        ("Runbook reviewed", ""),
    ]);
    let (service, review) = service_with(&admin, "orders", &base, &md).await;
    let (_, viewer) = app.as_new_user("viewer").await;
    let (_, editor) = app.as_new_user("editor").await;

    viewer
        .post(&format!("/api/v1/services/{service}/runs"))
        .expect_problem(403)
        .await;

    let res = editor
        .post(&format!("/api/v1/services/{service}/runs"))
        .expect_status(202)
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/api/v1/runs/"), "{location}");
    let accepted: Value = res.json().await.unwrap();
    assert_eq!(accepted["total"], 2, "{accepted}");

    // Viewers read runs, with evidence.
    let run = finished(&viewer, &location).await;
    assert_eq!(
        (run["passed"].as_i64(), run["failed"].as_i64()),
        (Some(1), Some(1)),
        "{run}"
    );
    let lines = run["items"].as_array().unwrap();
    assert!(
        lines.iter().all(|l| l["run"]["trigger"] == "request"),
        "{run}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["run"]["evidence"]["requests"].is_array())
    );
    assert!(hits.of("/ok/2") >= 1 && hits.of("/bad/2") >= 1);

    // One item.
    let items = items(&admin, &review).await;
    let ok_key = urlencode(items["Status answers"]["key"].as_str().unwrap());
    let before = hits.of("/ok/2");
    let res = editor
        .post(&format!("/api/v1/reviews/{review}/items/{ok_key}/runs"))
        .expect_status(202)
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let run = finished(&viewer, &location).await;
    assert_eq!(run["total"], 1);
    assert_eq!(run["items"][0]["run"]["outcome"], "passed");
    assert!(hits.of("/ok/2") > before);

    // A manual item has nothing to run.
    let manual = urlencode(items["Runbook reviewed"]["key"].as_str().unwrap());
    editor
        .post(&format!("/api/v1/reviews/{review}/items/{manual}/runs"))
        .expect_problem(409)
        .await;

    // The third run request of the minute is the last one allowed.
    editor
        .post(&format!("/api/v1/services/{service}/runs"))
        .expect_status(202)
        .await;
    let problem = editor
        .post(&format!("/api/v1/services/{service}/runs"))
        .expect_problem(429)
        .await;
    assert!(problem["detail"].as_str().unwrap().contains("rate limit"));

    // Unknown runs are 404 problems.
    viewer
        .get("/api/v1/runs/00000000-0000-7000-8000-000000000000")
        .expect_problem(404)
        .await;
}

#[tokio::test]
async fn a_waiver_stands_over_a_failing_check_until_it_expires() {
    let (base, _hits) = target(Duration::ZERO).await;
    let app = app_with_runner(&[("PROBE_INTERVAL", "24h")]).await;
    let admin = app.as_admin().await;
    let md = checklist(&[("Orders answer", "http path=/bad/3")]);
    let (service, review) = service_with(&admin, "payments", &base, &md).await;

    let res = admin
        .post(&format!("/api/v1/services/{service}/runs"))
        .expect_status(202)
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    finished(&admin, &location).await;
    let item = &items(&admin, &review).await["Orders answer"];
    assert_eq!(item["state"], "failed");
    let key = urlencode(item["key"].as_str().unwrap());

    // An editor may not waive; an admin may, with a reason and an expiry.
    let (_, editor) = app.as_new_user("editor").await;
    let expires = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let waive =
        json!({"action": "waive", "reason": "vendor outage, ticket OPS-12", "expires_at": expires});
    editor
        .post_json(&format!("/api/v1/reviews/{review}/items/{key}"), &waive)
        .expect_problem(403)
        .await;
    admin
        .post_json(&format!("/api/v1/reviews/{review}/items/{key}"), &waive)
        .expect_status(200)
        .await;

    // The next run fails again; the waiver still decides.
    let res = admin
        .post(&format!("/api/v1/services/{service}/runs"))
        .expect_status(202)
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let run = finished(&admin, &location).await;
    assert_eq!(run["failed"], 1);
    let item = &items(&admin, &review).await["Orders answer"];
    assert_eq!(item["state"], "waived", "{item}");
    assert_eq!(item["last_run"]["outcome"], "failed");
    let readiness: Value = admin
        .get(&format!("/api/v1/services/{service}/readiness"))
        .expect_json(200)
        .await;
    assert_eq!(readiness["ready"], true, "{readiness}");
}
