//! Retention keeps the newest `PROBE_KEEP_RUNS` runs of each item and every failure younger
//! than `PROBE_KEEP_FAILURES`, and prunes exactly the rest.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use super::scheduled::urlencode;
use super::support::{
    all_ran, app_with_runner, checklist, eventually, new_uuid_sql, service_with, sql, target,
    time_literal,
};
use crate::checklist_support::uuid_sql;
use crate::harness::{Caller, TestApp};

/// Copies the item's real run as an older one with `outcome`.
fn fabricate(app: &TestApp, item: &str, days_ago: i64, outcome: &str) {
    let at = time_literal(Utc::now() - chrono::Duration::days(days_ago));
    sql(
        app,
        &format!(
            "INSERT INTO check_runs (id, review_item_id, review_id, service_id, item_key, kind, \
             trigger, started_at, finished_at, outcome, reason, evidence, duration_ms) \
             SELECT {}, review_item_id, review_id, service_id, item_key, kind, trigger, {at}, \
             {at}, '{outcome}', 'fabricated', evidence, duration_ms FROM check_runs \
             WHERE review_item_id = {} AND reason <> 'fabricated' LIMIT 1",
            new_uuid_sql(),
            uuid_sql(item)
        ),
    );
}

async fn history(admin: &Caller<'_>, review: &str, key: &str) -> Vec<(String, i64)> {
    let page: Value = admin
        .get(&format!(
            "/api/v1/reviews/{review}/items/{}/runs?per_page=50",
            urlencode(key)
        ))
        .expect_json(200)
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let started: chrono::DateTime<Utc> = r["started_at"].as_str().unwrap().parse().unwrap();
            let days = (Utc::now() - started).num_hours() / 24;
            (r["outcome"].as_str().unwrap().to_owned(), days)
        })
        .collect()
}

#[tokio::test]
async fn retention_keeps_the_newest_runs_and_recent_failures_and_prunes_the_rest() {
    let (base, _hits) = target(Duration::ZERO).await;
    let app = app_with_runner(&[
        ("PROBE_INTERVAL", "24h"),
        ("PROBE_KEEP_RUNS", "3"),
        ("PROBE_KEEP_FAILURES", "30d"),
        ("PROBE_RETENTION_INTERVAL", "1s"),
    ])
    .await;
    let admin = app.as_admin().await;
    let md = checklist(&[
        ("Status answers", "http path=/ok/4"),
        ("Orders answer", "http path=/bad/4"),
    ]);
    let (_, review) = service_with(&admin, "ledger", &base, &md).await;
    let items = all_ran(&admin, &review, Duration::from_secs(30)).await;
    let ok = &items["Status answers"];
    let bad = &items["Orders answer"];
    let (ok_id, ok_key) = (ok["id"].as_str().unwrap(), ok["key"].as_str().unwrap());
    let (bad_id, bad_key) = (bad["id"].as_str().unwrap(), bad["key"].as_str().unwrap());

    for days in 1..=5 {
        fabricate(&app, ok_id, days, "passed");
    }
    for (days, outcome) in [
        (1, "failed"),
        (2, "error"),
        (3, "passed"),
        (10, "failed"),
        (40, "failed"),
        (50, "error"),
    ] {
        fabricate(&app, bad_id, days, outcome);
    }

    // Passing item: the newest three (today's, 1 and 2 days old).
    let expect_ok = vec![
        ("passed".to_owned(), 0),
        ("passed".to_owned(), 1),
        ("passed".to_owned(), 2),
    ];
    // Failing item: the newest three, and the 10-day-old failure; not the older pass nor the
    // failures past 30 days.
    let expect_bad = vec![
        ("failed".to_owned(), 0),
        ("failed".to_owned(), 1),
        ("error".to_owned(), 2),
        ("failed".to_owned(), 10),
    ];
    eventually(Duration::from_secs(20), "retention to prune", || async {
        let ok = history(&admin, &review, ok_key).await;
        let bad = history(&admin, &review, bad_key).await;
        (ok == expect_ok && bad == expect_bad).then_some(())
    })
    .await;
    // And nothing more on later passes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(history(&admin, &review, ok_key).await, expect_ok);
    assert_eq!(history(&admin, &review, bad_key).await, expect_bad);
    // The item's latest run is still there.
    let latest = bad["last_run"]["run_id"].as_str().unwrap();
    admin
        .get(&format!("/api/v1/check-runs/{latest}"))
        .expect_status(200)
        .await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("preflight_check_runs_pruned_total"),
        "{metrics}"
    );
}
