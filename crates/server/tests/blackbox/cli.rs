use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{self, TestApp};

fn preflight(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preflight"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run preflight")
}

#[test]
fn production_refuses_to_start_listing_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out = preflight(
        &["serve"],
        &[
            ("ENVIRONMENT", "production"),
            ("SECRET_KEY", "changeme"),
            ("ALLOWED_ORIGINS", "*"),
            ("DATA_DIR", dir.path().to_str().unwrap()),
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "SECRET_KEY",
        "ENCRYPTION_KEY",
        "ADMIN_PASSWORD",
        "ALLOWED_ORIGINS",
        "METRICS_TOKEN",
    ] {
        assert!(err.contains(needle), "the refusal names {needle}:\n{err}");
    }
    assert!(err.contains("refusing to start"));
    // Nothing was created: it refused before touching the database.
    assert!(!dir.path().join("preflight.db").exists());
}

#[test]
fn invalid_configuration_is_reported_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out = preflight(
        &["serve"],
        &[
            ("PORT", "eighty"),
            ("DB_MAX_CONNECTIONS", "-1"),
            ("RATE_LIMIT_LOGIN", "lots"),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in ["PORT", "DB_MAX_CONNECTIONS", "RATE_LIMIT_LOGIN"] {
        assert!(err.contains(needle), "{needle} in:\n{err}");
    }
}

#[test]
fn doctor_reports_security_and_database_items() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/d.db?mode=rwc", dir.path().display());
    // Development defaults: warnings, and a failure for the unmigrated database.
    let out = preflight(&["doctor", "--json"], &[("DATABASE_URL", &db)], dir.path());
    assert!(!out.status.success(), "pending migrations are a failure");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let find = |item: &str| {
        findings
            .iter()
            .find(|f| f["item"].as_str().unwrap().contains(item))
            .cloned()
            .unwrap_or_else(|| panic!("{item} in {report}"))
    };
    assert_eq!(find("All migrations are applied")["status"], "failure");
    assert_eq!(find("ADMIN_PASSWORD")["status"], "warning");
    assert_eq!(find("Database is reachable")["status"], "ok");
    assert!(
        findings
            .iter()
            .all(|f| f["section"] == "SECURITY" || f["section"] == "DATABASE")
    );

    let out = preflight(&["migrate", "up"], &[("DATABASE_URL", &db)], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = preflight(&["migrate", "status"], &[("DATABASE_URL", &db)], dir.path());
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 pending"));

    // A production configuration done right: no failure.
    let good = [
        ("DATABASE_URL", db.as_str()),
        ("ENVIRONMENT", "production"),
        ("SECRET_KEY", "Zq8v3LmN0pR5tY7wB2xC4dF6gH9jK1sA"),
        (
            "ENCRYPTION_KEY",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
        ("ADMIN_PASSWORD", "Correct-Horse-Battery-42"),
        ("ALLOWED_ORIGINS", "https://preflight.example.com"),
        ("METRICS_TOKEN", "a-long-random-metrics-token-123"),
        ("HTTPS_UPSTREAM", "true"),
    ];
    let out = preflight(&["doctor", "--json"], &good, dir.path());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failures: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "failure")
        .collect();
    // SQLite in production is flagged; everything else passes.
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0]["item"]
            .as_str()
            .unwrap()
            .contains("DATABASE_URL")
    );

    // Same keys, now equal to each other and weak: each one named.
    let out = preflight(
        &["doctor"],
        &[
            ("DATABASE_URL", &db),
            ("ENVIRONMENT", "production"),
            ("SECRET_KEY", "short"),
            ("ENCRYPTION_KEY", "short"),
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAILURE] SECRET_KEY"), "{text}");
    assert!(text.contains("equals SECRET_KEY"), "{text}");
}

#[tokio::test]
async fn healthcheck_command_probes_the_running_service() {
    let app = TestApp::spawn().await;
    let out = preflight(
        &["healthcheck", "--url", &app.url("/health/live")],
        &[],
        app.data_dir.as_path(),
    );
    assert!(out.status.success());
    let out = preflight(
        &["healthcheck", "--url", "http://127.0.0.1:9/health/live"],
        &[],
        app.data_dir.as_path(),
    );
    assert!(!out.status.success());
}

#[tokio::test]
async fn dev_keys_persist_across_restarts_with_private_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let opts = harness::Options {
        data_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let mut first = TestApp::spawn_with(opts.clone()).await;
    for key in ["secret_key", "encryption_key"] {
        let mode = std::fs::metadata(dir.path().join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key} is private");
    }
    let token = first.admin_token().await;
    let db = first.database_url.clone();
    // Stop the process but keep `first` (and its database) alive for the restart.
    first.terminate();
    let second = TestApp::spawn_with(harness::Options {
        database_url: Some(db),
        ..opts
    })
    .await;
    let status = second.get("/api/v1/me").bearer(&token).status().await;
    assert_eq!(
        status, 200,
        "a token from before the restart still verifies"
    );
}
