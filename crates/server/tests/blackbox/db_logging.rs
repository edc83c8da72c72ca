//! What the database logging settings promise (issue #12, item 6): `DB_LOG_QUERIES=true`
//! logs each statement; with it off, statements slower than `DB_SLOW_QUERY_THRESHOLD` are
//! still warned about, and nothing else is logged per statement.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Options, TestApp};

/// The JSON log lines sqlx wrote about statements.
fn statement_lines(app: &TestApp) -> Vec<Value> {
    app.log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "sqlx::query")
        .collect()
}

async fn some_queries(app: &TestApp) {
    let admin = app.as_admin().await;
    admin.get("/api/v1/services").expect_status(200).await;
    // Log lines are read from the process's output by another thread.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn db_log_queries_logs_each_statement() {
    let app = TestApp::spawn_with(Options::default().env("DB_LOG_QUERIES", "true")).await;
    some_queries(&app).await;
    let lines = statement_lines(&app);
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "INFO" && l.to_string().to_lowercase().contains("select")),
        "no statement logged:\n{}",
        app.log_text()
    );
}

#[tokio::test]
async fn slow_statements_are_warned_with_query_logging_off() {
    let app = TestApp::spawn_with(
        Options::default()
            .env("DB_LOG_QUERIES", "false")
            .env("DB_SLOW_QUERY_THRESHOLD", "0ms"),
    )
    .await;
    some_queries(&app).await;
    let lines = statement_lines(&app);
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && l.to_string().contains("slow statement")),
        "no slow-statement warning:\n{}",
        app.log_text()
    );
    assert!(
        lines.iter().all(|l| l["level"] == "WARN"),
        "statements logged with DB_LOG_QUERIES=false: {lines:?}"
    );
}

/// `preflight doctor --json` against the database of `app`, with `extra` settings: its
/// findings by item.
fn doctor(app: &TestApp, extra: &[(&str, &str)]) -> std::collections::HashMap<String, Value> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_preflight"));
    cmd.args(["doctor", "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.database_url)
        .current_dir(&app.data_dir);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run preflight doctor");
    let report: Value = serde_json::from_slice(&out.stdout).expect("doctor --json");
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["item"].as_str().unwrap().to_owned(), f.clone()))
        .collect()
}

#[tokio::test]
async fn doctor_reads_indexes_pool_limit_and_timeouts_from_the_database() {
    let app = TestApp::spawn().await;
    let found = doctor(&app, &[]);
    for item in [
        "Indexes are created",
        "Connection pool fits the database's limit",
        "Timeouts are set",
    ] {
        assert_eq!(found[item]["status"], "ok", "{item}: {}", found[item]);
    }
    assert!(
        found["Timeouts are set"]["reason"]
            .as_str()
            .unwrap()
            .contains("read from the session"),
        "{}",
        found["Timeouts are set"]
    );

    // An index gone from the catalog is named.
    crate::checklist_support::sql(&app, "DROP INDEX ix_api_tokens_user_id");
    let found = doctor(&app, &[]);
    let indexes = &found["Indexes are created"];
    assert_eq!(indexes["status"], "failure", "{indexes}");
    assert!(
        indexes["reason"]
            .as_str()
            .unwrap()
            .contains("api_tokens.user_id"),
        "{indexes}"
    );

    // A pool larger than the server accepts (PostgreSQL only: SQLite has no such limit).
    if crate::harness::use_postgres() {
        let found = doctor(&app, &[("DB_MAX_CONNECTIONS", "100000")]);
        let pool = &found["Connection pool fits the database's limit"];
        assert_eq!(pool["status"], "failure", "{pool}");
    }
}
