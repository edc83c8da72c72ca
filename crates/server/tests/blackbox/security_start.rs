//! Regression tests of the security review's start-up findings (issue #12): the development
//! admin password in production, and plain HTTP in production.

use std::process::{Command, Output};

use crate::harness::{ADMIN_EMAIL, Options, TestApp};

const STRONG: &str = "Correct-Horse-Battery-42";

fn production_env(db: &str, data_dir: &std::path::Path) -> Vec<(String, String)> {
    [
        ("ENVIRONMENT", "production"),
        ("DATABASE_URL", db),
        ("DATA_DIR", data_dir.to_str().unwrap()),
        ("SECRET_KEY", "Zq8v3LmN0pR5tY7wB2xC4dF6gH9jK1sA"),
        (
            "ENCRYPTION_KEY",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
        ("ADMIN_EMAIL", ADMIN_EMAIL),
        ("ADMIN_PASSWORD", STRONG),
        ("ALLOWED_ORIGINS", "https://preflight.example.com"),
        ("METRICS_TOKEN", "a-long-random-metrics-token-123"),
        ("HTTPS_UPSTREAM", "true"),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("MIGRATE_ON_START", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn run(args: &[&str], env: &[(String, String)], dir: &std::path::Path) -> Output {
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

#[tokio::test]
async fn production_refuses_an_admin_left_with_the_development_password() {
    // First started in development with the default password, as `preflight serve` does
    // without configuration.
    let mut dev = TestApp::spawn_with(
        Options::default()
            .env("ADMIN_EMAIL", "admin@preflight.local")
            .env("ADMIN_PASSWORD", "preflight-admin"),
    )
    .await;
    let db = dev.database_url.clone();
    let dir = dev.data_dir.clone();
    dev.terminate();

    let env = production_env(&db, &dir);
    let out = run(&["serve"], &env, &dir);
    assert!(!out.status.success(), "production started");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admin@preflight.local"), "{err}");
    assert!(err.contains("development password"), "{err}");

    let out = run(&["doctor"], &env, &dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAILURE] No admin has the development password: admin@preflight.local"),
        "{text}"
    );
}

#[test]
fn production_refuses_plain_http_without_a_declared_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/p.db?mode=rwc", dir.path().display());
    let mut env = production_env(&db, dir.path());
    env.retain(|(k, _)| k != "HTTPS_UPSTREAM");
    let out = run(&["serve"], &env, dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTPS_UPSTREAM=true"), "{err}");
}
