//! Several replicas on one PostgreSQL database: each due check runs once per round, counted
//! from the targets' own request logs; a replica killed mid-round loses its claims when their
//! leases run out and another replica completes the round.

use std::time::Duration;

use serde_json::Value;

use super::support::{Hits, all_ran, checklist, eventually, service_with, sql, target};
use crate::harness::{self, Options, TestApp};

fn replica_options(database_url: Option<String>, env: &[(&str, &str)]) -> Options {
    let mut opts = Options {
        database_url,
        ..Options::default()
    }
    .env("PROBE_SCHEDULER", "true");
    for (k, v) in env {
        opts = opts.env(k, v);
    }
    opts
}

/// `services` services of `per_service` automated items each, all on one target; returns the
/// review ids.
async fn populate(app: &TestApp, base: &str, services: usize, per_service: usize) -> Vec<String> {
    let admin = app.as_admin().await;
    let mut reviews = Vec::new();
    for s in 0..services {
        let titles: Vec<(String, String)> = (0..per_service)
            .map(|i| {
                let n = s * per_service + i;
                (
                    format!("Endpoint {n} answers"),
                    format!("http path=/ok/{n}"),
                )
            })
            .collect();
        let items: Vec<(&str, &str)> = titles
            .iter()
            .map(|(t, c)| (t.as_str(), c.as_str()))
            .collect();
        let (_, review) = service_with(&admin, &format!("svc-{s}"), base, &checklist(&items)).await;
        reviews.push(review);
    }
    reviews
}

fn assert_each_once(hits: &Hits, total: usize) {
    let all = hits.all();
    for n in 0..total {
        assert_eq!(
            all.get(&format!("/ok/{n}")).copied(),
            Some(1),
            "check {n} ran {:?} times",
            all.get(&format!("/ok/{n}"))
        );
    }
    assert_eq!(all.len(), total);
}

#[tokio::test]
async fn two_replicas_run_every_check_of_a_round_exactly_once() {
    if !harness::use_postgres() || !harness::pg_available() {
        eprintln!(
            "skipping: replicas share a PostgreSQL database (PREFLIGHT_TEST_DATABASE=postgres)"
        );
        return;
    }
    let (base, hits) = target(Duration::from_millis(20)).await;
    // One round: the next is a day away.
    // Small queues, so that neither replica can claim the whole round at once.
    let env = [
        ("PROBE_INTERVAL", "24h"),
        ("PROBE_CONCURRENCY", "8"),
        ("PROBE_QUEUE", "8"),
    ];
    let first = TestApp::spawn_with(replica_options(None, &env)).await;
    let second = TestApp::spawn_with(replica_options(Some(first.database_url.clone()), &env)).await;
    let reviews = populate(&first, &base, 4, 50).await;
    let admin = second.as_admin().await;
    for review in &reviews {
        all_ran(&admin, review, Duration::from_secs(60)).await;
    }
    // Anything still in flight has been recorded once every item has a run.
    assert_each_once(&hits, 200);
    let runs = sql(&first, "SELECT COUNT(*) FROM check_runs");
    assert_eq!(runs, "200");
    // Both replicas took part: each counts the runs it recorded.
    let mut recorded = Vec::new();
    for app in [&first, &second] {
        let metrics = app.metrics().await;
        let n: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("preflight_check_runs_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        recorded.push(n);
    }
    assert_eq!(recorded.iter().sum::<f64>(), 200.0, "{recorded:?}");
    assert!(recorded.iter().all(|&n| n > 0.0), "{recorded:?}");
}

#[tokio::test]
async fn a_replica_killed_mid_round_loses_its_claims_and_another_completes_the_round() {
    if !harness::use_postgres() || !harness::pg_available() {
        eprintln!(
            "skipping: replicas share a PostgreSQL database (PREFLIGHT_TEST_DATABASE=postgres)"
        );
        return;
    }
    // Slow answers, so that the first replica is mid-round when it is killed.
    let (base, hits) = target(Duration::from_millis(1500)).await;
    let env = [
        ("PROBE_INTERVAL", "24h"),
        ("PROBE_CONCURRENCY", "4"),
        ("PROBE_LEASE", "3s"),
    ];
    let mut doomed = TestApp::spawn_with(replica_options(None, &env)).await;
    let database_url = doomed.database_url.clone();
    let reviews = populate(&doomed, &base, 1, 30).await;
    eventually(
        Duration::from_secs(30),
        "the first replica to be mid-round",
        || async {
            let n: usize = hits.all().values().map(|&v| v as usize).sum();
            (n >= 4).then_some(())
        },
    )
    .await;
    doomed.child.kill().unwrap();
    let _ = doomed.child.wait();
    let held: i64 = sql(
        &doomed,
        "SELECT COUNT(*) FROM check_schedule WHERE lease_owner IS NOT NULL",
    )
    .parse()
    .unwrap();
    assert!(held > 0, "the killed replica held claims");

    let survivor = TestApp::spawn_with(replica_options(Some(database_url), &env)).await;
    let admin = survivor.as_admin().await;
    let items = all_ran(&admin, &reviews[0], Duration::from_secs(90)).await;
    assert_eq!(items.len(), 30);
    let ran: Vec<&Value> = items.values().filter(|i| i["state"] == "passed").collect();
    assert_eq!(ran.len(), 30, "every check of the round passed");
    // Checks the killed replica had started ran again; none ran more than twice.
    let all = hits.all();
    assert_eq!(all.len(), 30);
    assert!(all.values().all(|&n| (1..=2).contains(&n)), "{all:?}");
    drop(doomed);
}

#[tokio::test]
async fn shutdown_finishes_running_checks_and_releases_the_rest() {
    let (base, hits) = target(Duration::from_millis(1500)).await;
    let mut app = super::support::app_with_runner(&[
        ("PROBE_INTERVAL", "24h"),
        ("PROBE_CONCURRENCY", "2"),
        ("SHUTDOWN_TIMEOUT", "10s"),
    ])
    .await;
    populate(&app, &base, 1, 10).await;
    eventually(Duration::from_secs(30), "two checks in flight", || async {
        let n: u32 = hits.all().values().sum();
        (n >= 2).then_some(())
    })
    .await;
    let status = app.terminate();
    assert!(status.success(), "{status:?}\n{}", app.log_text());
    let held = sql(
        &app,
        "SELECT COUNT(*) FROM check_schedule WHERE lease_owner IS NOT NULL",
    );
    assert_eq!(held, "0", "every claim released:\n{}", app.log_text());
    // The checks that were running when the signal came were recorded.
    let recorded: u32 = sql(&app, "SELECT COUNT(*) FROM check_runs")
        .parse()
        .unwrap();
    let started: u32 = hits.all().values().sum();
    assert!(
        recorded >= 2 && recorded == started,
        "{recorded} recorded, {started} started:\n{}",
        app.log_text()
    );
}
