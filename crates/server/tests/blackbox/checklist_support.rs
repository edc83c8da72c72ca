//! Helpers for the checklist, service, review and readiness tests.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{self, Call, Caller, TestApp};

/// A small checklist exercising sections, groups, an optional item, a comment requirement,
/// re-attestation and an automated check.
pub const SMALL: &str = "# Small checklist\n\
\n\
Intro paragraph.\n\
\n\
## Security\n\
\n\
### Keys\n\
- [ ] Secret key is set <!-- manual: requires_comment=true -->\n\
- [ ] Encryption key is set\n\
- [ ] Audit logging (optional)\n\
\n\
## Operations\n\
- [ ] Health checks work <!-- check: health -->\n\
- [ ] Backups are tested <!-- manual: re_attest_days=30 -->\n";

pub const K_SECRET: &str = "security/keys/secret-key-is-set";
pub const K_ENCRYPTION: &str = "security/keys/encryption-key-is-set";
pub const K_OPTIONAL: &str = "security/keys/audit-logging-optional";
pub const K_HEALTH: &str = "operations/health-checks-work";
pub const K_BACKUPS: &str = "operations/backups-are-tested";

/// Percent-encodes a path segment (item keys contain `/` and non-ASCII letters).
pub fn enc(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The reference seed documents (`examples/seed/`).
pub fn seed(lang: &str) -> Option<String> {
    let dir = std::env::var("PREFLIGHT_SEED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed"));
    let path = dir.join(format!("production-checklist.{lang}.md"));
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(_) => {
            assert!(!harness::in_ci(), "seed file {} is missing", path.display());
            eprintln!("skipping: {} not found", path.display());
            None
        }
    }
}

/// Imports `markdown` as a checklist template.
pub fn import(by: &Caller<'_>, markdown: &str) -> Call {
    by.post("/api/v1/checklists")
        .body("text/markdown; charset=utf-8", markdown.to_owned())
}

pub async fn import_ok(by: &Caller<'_>, markdown: &str) -> Value {
    import(by, markdown).expect_json(201).await
}

pub async fn create_service(by: &Caller<'_>, body: Value) -> Value {
    by.post_json("/api/v1/services", &body)
        .expect_json(201)
        .await
}

/// Attaches a checklist to a service: the new review.
pub async fn attach(by: &Caller<'_>, service: &str, checklist: &str) -> Value {
    by.post_json(
        &format!("/api/v1/services/{service}/reviews"),
        &json!({"checklist_id": checklist}),
    )
    .expect_json(201)
    .await
}

/// An action on one review item (`sign_off`, `waive`, ...).
pub fn act(by: &Caller<'_>, review: &str, key: &str, body: Value) -> Call {
    by.post_json(
        &format!("/api/v1/reviews/{review}/items/{}", enc(key)),
        &body,
    )
}

/// A service with the small checklist attached: (the admin, review id, service id).
pub async fn small_review(app: &TestApp) -> (Caller<'_>, String, String) {
    let admin = app.as_admin().await;
    let checklist = import_ok(&admin, SMALL).await;
    let service = create_service(
        &admin,
        json!({"name": format!("svc-{}", uuid::Uuid::new_v4().simple())}),
    )
    .await;
    let sid = service["id"].as_str().expect("service id").to_owned();
    let review = attach(&admin, &sid, checklist["id"].as_str().expect("id")).await;
    let rid = review["id"].as_str().expect("review id").to_owned();
    (admin, rid, sid)
}

pub fn item<'a>(review: &'a Value, key: &str) -> &'a Value {
    review["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["key"] == key))
        .unwrap_or_else(|| panic!("no item {key} in {review}"))
}

pub fn sqlite_path(app: &TestApp) -> String {
    app.database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .expect("path")
        .to_owned()
}

/// A UUID as an SQL literal: SQLite stores them as 16-byte blobs, PostgreSQL as `uuid`.
pub fn uuid_sql(id: &str) -> String {
    if harness::use_postgres() {
        format!("'{id}'")
    } else {
        format!("X'{}'", id.replace('-', ""))
    }
}

/// Runs SQL on the test's database with the CLI client and returns its output (on SQLite
/// waiting for the running server's write lock rather than failing at once).
pub fn sql(app: &TestApp, statement: &str) -> String {
    if harness::use_postgres() {
        return harness::psql_on(&app.database_url, statement);
    }
    let out = Command::new("sqlite3")
        .args([
            "-cmd",
            ".timeout 10000",
            sqlite_path(app).as_str(),
            statement,
        ])
        .output()
        .expect("sqlite3 CLI is required (apt-get install sqlite3)");
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Audit entries about one target, newest first.
pub async fn audit_of(by: &Caller<'_>, target_type: &str, target_id: &str) -> Vec<Value> {
    let page: Value = by
        .get(&format!(
            "/api/v1/audit?target_type={target_type}&target_id={target_id}&per_page=200"
        ))
        .expect_json(200)
        .await;
    page["items"].as_array().cloned().unwrap_or_default()
}
