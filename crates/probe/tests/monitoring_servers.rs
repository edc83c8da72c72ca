//! `prometheus_target`, `prometheus_rules`, `promql` and `alertmanager_receivers` against the
//! REAL servers (Debian's `prometheus` 2.x and `prometheus-alertmanager` 0.2x), started by
//! each test on 127.0.0.1. Prometheus scrapes a small `/metrics` target served by the test
//! (job `demo`) and a closed port (job `broken`), with the test's rule file.
//!
//! Without the binaries the tests are skipped with a message, or fail with `CI=true`.

mod common;
#[path = "support/monitoring.rs"]
mod monitoring;

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{assert_outcome, run};
use monitoring::{Server, client, eventually, free_port};
use preflight_probe::{Endpoint, Outcome, Target};
use url::Url;

const RULES: &str = r#"groups:
  - name: demo.rules
    rules:
      - alert: DemoDown
        expr: up{job="demo"} == 0
        for: 1m
        labels:
          severity: critical
      - alert: DemoBuildInfoMissing
        expr: absent(demo_build_info)
        for: 5m
        labels:
          severity: warning
      - alert: BrokenDown
        expr: up{job="broken"} == 0
        labels:
          severity: critical
      - record: job:up:sum
        expr: sum by (job) (up)
"#;

/// The service under test: a `/metrics` endpoint in Prometheus text format.
async fn demo_app() -> Url {
    common::serve(Router::new().route(
        "/metrics",
        get(|| async {
            (
                [("content-type", "text/plain; version=0.0.4")],
                "# HELP demo_build_info Build of the demo service.\n\
                 # TYPE demo_build_info gauge\n\
                 demo_build_info{version=\"1.0.0\"} 1\n",
            )
        }),
    ))
    .await
}

fn address(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

/// A real Prometheus scraping the demo app and a closed port, once both have been scraped and
/// the rules evaluated since (`BrokenDown` firing; `DemoBuildInfoMissing`, pending until the
/// demo app's first scrape, back to inactive).
async fn scraping_prometheus(binary: &Path, app: &Url) -> Server {
    let closed = format!("127.0.0.1:{}", free_port());
    let server =
        monitoring::prometheus(binary, &[("demo", address(app)), ("broken", closed)], RULES).await;
    let http = client();
    let targets = server
        .url
        .join("/api/v1/targets?state=active")
        .expect("url");
    let rules = server.url.join("/api/v1/rules?type=alert").expect("url");
    eventually(
        "the first scrapes and rule evaluations",
        Duration::from_secs(60),
        || {
            let http = http.clone();
            let (targets, rules) = (targets.clone(), rules.clone());
            async move {
                let targets = http.get(targets).send().await.map_err(|e| e.to_string())?;
                let targets = targets.text().await.map_err(|e| e.to_string())?;
                let rules = http.get(rules).send().await.map_err(|e| e.to_string())?;
                let rules = rules.text().await.map_err(|e| e.to_string())?;
                let scraped =
                    targets.contains(r#""health":"up""#) && targets.contains(r#""health":"down""#);
                if scraped
                    && rules.contains(r#""state":"firing""#)
                    && !rules.contains(r#""state":"pending""#)
                {
                    Ok(())
                } else {
                    Err(format!("targets: {targets}\nrules: {rules}"))
                }
            }
        },
    )
    .await;
    server
}

fn target_for(app: &Url, prometheus: &Server, job: Option<&str>) -> Target {
    let mut target = Target::new(app.clone());
    target.job = job.map(str::to_owned);
    target.prometheus = Some(Endpoint::new(prometheus.url.clone()));
    target
}

#[tokio::test]
async fn prometheus_target_is_up_or_named_down_with_its_error() {
    let Some(binary) = monitoring::binary("prometheus") else {
        return;
    };
    let app = demo_app().await;
    let prometheus = scraping_prometheus(&binary, &app).await;

    // The service's job (from the target context) is scraped and up.
    let report = run(
        "prometheus_target",
        &target_for(&app, &prometheus, Some("demo")),
    )
    .await;
    assert_outcome(&report, Outcome::Passed);
    assert!(report.reason.contains("job \"demo\""), "{}", report.reason);
    assert_eq!(
        report.facts.get("matching_targets").map(String::as_str),
        Some("1")
    );
    assert_eq!(report.requests.len(), 1);
    assert!(
        report.requests[0]
            .url
            .ends_with("/api/v1/targets?state=active")
    );

    // Without any job, the target is found by the base URL's host:port in scrapeUrl.
    let report = run("prometheus_target", &target_for(&app, &prometheus, None)).await;
    assert_outcome(&report, Outcome::Passed);
    assert!(
        report.reason.starts_with(&format!(
            "Prometheus scrapes {}: 1 target up",
            address(&app)
        )),
        "{}",
        report.reason
    );

    // The check's job wins over the target's; a job scraping a closed port fails with the
    // health and Prometheus's lastError.
    let report = run(
        "prometheus_target job=broken",
        &target_for(&app, &prometheus, Some("demo")),
    )
    .await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report.reason.contains("job \"broken\""),
        "{}",
        report.reason
    );
    assert!(
        report.reason.contains("its target is not up"),
        "{}",
        report.reason
    );
    assert!(
        report.reason.contains("/metrics is down"),
        "{}",
        report.reason
    );
    assert!(
        report.reason.contains("connection refused"),
        "{}",
        report.reason
    );
    assert!(
        report.facts.contains_key("last_error"),
        "{:?}",
        report.facts
    );

    // A job Prometheus does not scrape: "no active target", with the jobs seen.
    let report = run(
        "prometheus_target job=billing",
        &target_for(&app, &prometheus, None),
    )
    .await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report.reason.starts_with("no active target"),
        "{}",
        report.reason
    );
    assert!(
        report.reason.contains("jobs seen: broken, demo"),
        "{}",
        report.reason
    );

    // No Prometheus configured: an error saying so, without any request.
    let report = run("prometheus_target", &Target::new(app.clone())).await;
    assert_outcome(&report, Outcome::Error);
    assert!(
        report.reason.contains("no Prometheus URL"),
        "{}",
        report.reason
    );
    assert!(report.requests.is_empty());
}

#[tokio::test]
async fn prometheus_rules_for_the_job_are_loaded_or_the_missing_are_named() {
    let Some(binary) = monitoring::binary("prometheus") else {
        return;
    };
    let app = demo_app().await;
    let prometheus = scraping_prometheus(&binary, &app).await;
    let demo = target_for(&app, &prometheus, Some("demo"));

    // DemoDown names job="demo"; DemoBuildInfoMissing names demo_build_info.
    let report = run(
        "prometheus_rules alerts=DemoDown,DemoBuildInfoMissing min_rules=2",
        &demo,
    )
    .await;
    assert_outcome(&report, Outcome::Passed);
    assert!(
        report.reason.contains("2 alerting rules for job \"demo\""),
        "{}",
        report.reason
    );
    assert_eq!(
        report.facts.get("alerting_rules").map(String::as_str),
        Some("3")
    );
    assert_eq!(
        report.facts.get("service_rules").map(String::as_str),
        Some("2")
    );
    assert_eq!(report.facts.get("inactive").map(String::as_str), Some("2"));
    assert!(report.requests[0].url.ends_with("/api/v1/rules?type=alert"));

    // An alert that is not loaded is named; the loaded one is not.
    let report = run("prometheus_rules alerts=DemoDown,DemoLatencyHigh", &demo).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report.reason.contains("not loaded: \"DemoLatencyHigh\""),
        "{}",
        report.reason
    );
    assert!(!report.reason.contains("\"DemoDown\""), "{}", report.reason);
    assert!(
        report.facts["alert_states"].contains("DemoDown: inactive"),
        "{:?}",
        report.facts
    );

    // Too few rules for the job; the firing one is reported.
    let broken = target_for(&app, &prometheus, Some("broken"));
    let report = run("prometheus_rules min_rules=2", &broken).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report
            .reason
            .contains("1 alerting rule for job \"broken\" loaded, at least 2 needed"),
        "{}",
        report.reason
    );
    assert_eq!(
        report.facts.get("firing_alerts").map(String::as_str),
        Some("BrokenDown")
    );
}

#[tokio::test]
async fn promql_conditions_hold_or_name_the_offending_series() {
    let Some(binary) = monitoring::binary("prometheus") else {
        return;
    };
    let app = demo_app().await;
    let prometheus = scraping_prometheus(&binary, &app).await;
    let target = target_for(&app, &prometheus, None);

    let report = run(r#"promql query='up{job="demo"}' condition="== 1""#, &target).await;
    assert_outcome(&report, Outcome::Passed);
    assert!(
        report
            .reason
            .contains("1 sample (value 1), which meets == 1"),
        "{}",
        report.reason
    );
    // The query is URL-encoded.
    assert!(
        report.requests[0]
            .url
            .contains("query=up%7Bjob%3D%22demo%22%7D"),
        "{}",
        report.requests[0].url
    );

    let report = run(r#"promql query='up{job="demo"}' condition="== 0""#, &target).await;
    assert_outcome(&report, Outcome::Failed);
    let series = format!(r#"up{{instance="{}", job="demo"}}"#, address(&app));
    assert!(report.reason.contains(&series), "{}", report.reason);
    assert!(
        report
            .reason
            .contains("has value 1, which does not meet == 0"),
        "{}",
        report.reason
    );

    // Every sample must meet the condition: the broken target's 0 fails `== 1`.
    let report = run(r#"promql query=up condition="== 1""#, &target).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report.reason.contains(r#"job="broken""#),
        "{}",
        report.reason
    );
    assert!(
        report.reason.contains("(1 of 2 samples fail)"),
        "{}",
        report.reason
    );

    // Scalars are samples too; NaN (the scalar of an empty vector) meets nothing.
    let report = run(
        r#"promql query='scalar(count(up))' condition=">= 2""#,
        &target,
    )
    .await;
    assert_outcome(&report, Outcome::Passed);
    let report = run(
        r#"promql query='scalar(up{job="nope"})' condition="!= 1""#,
        &target,
    )
    .await;
    assert_outcome(&report, Outcome::Failed);
    assert!(report.reason.contains("value NaN"), "{}", report.reason);

    let report = run(r#"promql query='up{job="nope"}'"#, &target).await;
    assert_outcome(&report, Outcome::Failed);
    assert_eq!(report.reason, "the query returned no sample");

    // Prometheus's own error text for a bad query; a range vector cannot be judged.
    let report = run(r#"promql query='up{job='"#, &target).await;
    assert_outcome(&report, Outcome::Error);
    assert!(
        report
            .reason
            .contains("Prometheus answered an error (bad_data)"),
        "{}",
        report.reason
    );
    assert!(report.reason.contains("parse error"), "{}", report.reason);
    let report = run("promql query='up[1m]'", &target).await;
    assert_outcome(&report, Outcome::Error);
    assert!(report.reason.contains("range vector"), "{}", report.reason);
}

const ROUTED_CONFIG: &str = r#"route:
  receiver: team
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
      routes:
        - matchers: ['team="db"']
          receiver: dba
    - matchers: ['alertname="Watchdog"']
      receiver: "null"
receivers:
  - name: team
    webhook_configs:
      - url: 'http://127.0.0.1:9/team'
  - name: oncall
    webhook_configs:
      - url: 'http://127.0.0.1:9/page'
        send_resolved: true
  - name: dba
    webhook_configs:
      - url: 'http://127.0.0.1:9/dba'
  - name: "null"
  - name: unused
    webhook_configs:
      - url: 'http://127.0.0.1:9/unused'
"#;

const NULL_ONLY_CONFIG: &str = r#"route:
  receiver: "null"
receivers:
  - name: "null"
"#;

fn alertmanager_target(server: &Server) -> Target {
    let mut target = Target::new(server.url.clone());
    target.alertmanager = Some(Endpoint::new(server.url.clone()));
    target
}

#[tokio::test]
async fn alertmanager_routes_to_receivers_with_integrations() {
    let Some(binary) = monitoring::binary("prometheus-alertmanager") else {
        return;
    };
    let server = monitoring::alertmanager(&binary, ROUTED_CONFIG).await;
    let target = alertmanager_target(&server);

    let report = run(
        "alertmanager_receivers receivers=oncall min_receivers=3",
        &target,
    )
    .await;
    assert_outcome(&report, Outcome::Passed);
    assert!(
        report.reason.contains("3 receivers with an integration"),
        "{}",
        report.reason
    );
    assert!(
        report.reason.contains("oncall (webhook)"),
        "{}",
        report.reason
    );
    assert_eq!(report.facts["routed_receivers"], "team, oncall, dba, null");
    assert_eq!(report.facts["routed_without_integration"], "null");
    assert!(report.requests[0].url.ends_with("/api/v2/status"));

    // A named receiver without integration, and one that does not exist.
    let report = run("alertmanager_receivers receivers=null,pager", &target).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report.reason.contains("receiver \"pager\" is not defined"),
        "{}",
        report.reason
    );
    assert!(
        report
            .reason
            .contains("receiver \"null\" has no integration"),
        "{}",
        report.reason
    );

    // `unused` is real but no route sends to it: it does not count.
    let report = run("alertmanager_receivers min_receivers=4", &target).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report
            .reason
            .contains("3 receivers with an integration, at least 4 needed"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn alertmanager_with_only_a_null_receiver_fails_naming_it() {
    let Some(binary) = monitoring::binary("prometheus-alertmanager") else {
        return;
    };
    let server = monitoring::alertmanager(&binary, NULL_ONLY_CONFIG).await;
    let report = run("alertmanager_receivers", &alertmanager_target(&server)).await;
    assert_outcome(&report, Outcome::Failed);
    assert!(
        report
            .reason
            .contains("0 receivers with an integration, at least 1 needed"),
        "{}",
        report.reason
    );
    assert!(
        report
            .reason
            .contains("routed receiver \"null\" has no integration"),
        "{}",
        report.reason
    );
}
