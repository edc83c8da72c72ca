//! A scheduled round against local targets sets states and evidence, with an audit entry by
//! the probe for each change of state, readiness and metrics following.

use std::time::Duration;

use serde_json::Value;

use super::support::{all_ran, app_with_runner, checklist, service_with, target};

#[tokio::test]
async fn a_scheduled_round_sets_states_evidence_audit_and_readiness() {
    let (base, hits) = target(Duration::from_millis(20)).await;
    let app = app_with_runner(&[("PROBE_INTERVAL", "5s")]).await;
    let admin = app.as_admin().await;
    let md = checklist(&[
        ("Status answers", "http path=/ok/1"),
        ("Orders answer", "http path=/bad/1"),
        ("Runbook reviewed", ""),
    ]);
    let (service, review) = service_with(&admin, "billing", &base, &md).await;
    // Read (and cache) readiness before any run: everything pending.
    let before: Value = admin
        .get(&format!("/api/v1/services/{service}/readiness"))
        .expect_json(200)
        .await;
    assert_eq!(before["overall"]["counts"]["pending"], 3, "{before}");

    let items = all_ran(&admin, &review, Duration::from_secs(40)).await;
    let ok = &items["Status answers"];
    let bad = &items["Orders answer"];
    assert_eq!(ok["state"], "passed", "{ok}");
    assert_eq!(ok["last_run"]["outcome"], "passed");
    assert_eq!(bad["state"], "failed", "{bad}");
    assert_eq!(bad["last_run"]["outcome"], "failed");
    let reason = bad["last_run"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("500"),
        "the reason names the status: {reason}"
    );
    assert_eq!(items["Runbook reviewed"]["state"], "pending");
    assert!(hits.of("/ok/1") >= 1 && hits.of("/bad/1") >= 1);

    // The evidence of the latest run: what was asked and what came back.
    let run_id = bad["last_run"]["run_id"].as_str().unwrap();
    let run: Value = admin
        .get(&format!("/api/v1/check-runs/{run_id}"))
        .expect_json(200)
        .await;
    assert_eq!(run["outcome"], "failed");
    assert_eq!(run["trigger"], "schedule");
    let exchange = &run["evidence"]["requests"][0];
    assert_eq!(exchange["status"], 500);
    assert!(exchange["url"].as_str().unwrap().ends_with("/bad/1"));
    assert!(
        exchange["body_excerpt"]
            .as_str()
            .unwrap()
            .contains("database unreachable")
    );

    // History per item and per service.
    let key = bad["key"].as_str().unwrap();
    let history: Value = admin
        .get(&format!(
            "/api/v1/reviews/{review}/items/{}/runs?per_page=5",
            urlencode(key)
        ))
        .expect_json(200)
        .await;
    assert!(history["total"].as_u64().unwrap() >= 1);
    assert_eq!(history["items"][0]["id"], run_id);
    let service_runs: Value = admin
        .get(&format!("/api/v1/services/{service}/runs"))
        .expect_json(200)
        .await;
    assert!(service_runs["total"].as_u64().unwrap() >= 2);

    // Each change of state made by a run is an audit entry whose actor is the probe.
    let audit: Value = admin
        .get("/api/v1/audit?action=review_item.check_run")
        .expect_json(200)
        .await;
    let entries = audit["items"].as_array().unwrap();
    assert!(entries.len() >= 2, "{audit}");
    assert!(entries.iter().all(|e| e["actor"] == "probe"), "{audit}");

    // Readiness follows (its cache dropped, within a second of the change): one required item
    // failed, one pending.
    let readiness: Value = super::support::eventually(
        Duration::from_secs(10),
        "readiness to follow the runs",
        || async {
            let r: Value = admin
                .get(&format!("/api/v1/services/{service}/readiness"))
                .expect_json(200)
                .await;
            (r["overall"]["counts"]["passed"] == 1).then_some(r)
        },
    )
    .await;
    let counts = &readiness["overall"]["counts"];
    assert_eq!(counts["failed"], 1, "{readiness}");
    assert_eq!(counts["pending"], 1, "{readiness}");
    assert_eq!(readiness["ready"], false);
    // The gauges follow too (refreshed within a second of a change).
    super::support::eventually(
        Duration::from_secs(10),
        "the gauges to follow the runs",
        || async {
            let metrics = app.metrics().await;
            metrics
                .lines()
                .any(|l| {
                    l.starts_with("preflight_checklist_items{")
                        && l.contains("state=\"failed\"")
                        && l.ends_with(" 1")
                })
                .then_some(())
        },
    )
    .await;

    // The next round runs again (interval 5 s ± 10%).
    let first = hits.of("/ok/1");
    super::support::eventually(Duration::from_secs(20), "a second round", || async {
        (hits.of("/ok/1") > first).then_some(())
    })
    .await;

    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"preflight_check_runs_total{kind="http",outcome="failed"}"#),
        "{metrics}"
    );
    for name in [
        "preflight_check_run_duration_seconds_bucket",
        "preflight_scheduler_lag_seconds",
        "preflight_scheduler_queue_depth",
        "preflight_check_runs_in_flight",
        "preflight_checks_due",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
}

/// A key as a path segment (`/` as `%2F`).
pub fn urlencode(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | '~' => c.to_string(),
            other => {
                let mut buf = [0; 4];
                other
                    .encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}
