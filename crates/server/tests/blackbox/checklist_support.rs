//! Helpers for the checklist, service, review and readiness tests.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{self, TestApp};

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

pub async fn import(app: &TestApp, token: &str, markdown: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/checklists"))
        .bearer_auth(token)
        .header("content-type", "text/markdown; charset=utf-8")
        .body(markdown.to_owned())
        .send()
        .await
        .expect("import request")
}

pub async fn import_ok(app: &TestApp, token: &str, markdown: &str) -> Value {
    let res = import(app, token, markdown).await;
    assert_eq!(res.status(), 201, "import failed: {:?}", res.text().await);
    res.json().await.expect("checklist json")
}

pub async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
}

pub async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let res = get(app, token, path).await;
    assert_eq!(res.status(), 200, "GET {path}: {:?}", res.text().await);
    res.json().await.expect("json")
}

pub async fn post_json(app: &TestApp, token: &str, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("POST")
}

pub async fn create_service(app: &TestApp, token: &str, body: Value) -> Value {
    let res = post_json(app, token, "/api/v1/services", &body).await;
    assert_eq!(res.status(), 201, "create service: {:?}", res.text().await);
    res.json().await.expect("service json")
}

pub async fn attach(app: &TestApp, token: &str, service: &str, checklist: &str) -> Value {
    let res = post_json(
        app,
        token,
        &format!("/api/v1/services/{service}/reviews"),
        &json!({"checklist_id": checklist}),
    )
    .await;
    assert_eq!(res.status(), 201, "attach: {:?}", res.text().await);
    res.json().await.expect("review json")
}

pub async fn act(
    app: &TestApp,
    token: &str,
    review: &str,
    key: &str,
    body: Value,
) -> reqwest::Response {
    post_json(
        app,
        token,
        &format!("/api/v1/reviews/{review}/items/{}", enc(key)),
        &body,
    )
    .await
}

/// A service with the small checklist attached: (admin token, review id, service id).
pub async fn small_review(app: &TestApp) -> (String, String, String) {
    let admin = app.admin_token().await;
    let checklist = import_ok(app, &admin, SMALL).await;
    let service = create_service(
        app,
        &admin,
        json!({"name": format!("svc-{}", uuid::Uuid::new_v4().simple())}),
    )
    .await;
    let sid = service["id"].as_str().expect("service id").to_owned();
    let review = attach(app, &admin, &sid, checklist["id"].as_str().expect("id")).await;
    (
        admin,
        review["id"].as_str().expect("review id").to_owned(),
        sid,
    )
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

/// Runs SQL on the test's database with the CLI client and returns its output.
pub fn sql(app: &TestApp, statement: &str) -> String {
    if harness::use_postgres() {
        return harness::psql_on(&app.database_url, statement);
    }
    let out = Command::new("sqlite3")
        .args([sqlite_path(app).as_str(), statement])
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
pub async fn audit_of(
    app: &TestApp,
    token: &str,
    target_type: &str,
    target_id: &str,
) -> Vec<Value> {
    let page = get_json(
        app,
        token,
        &format!("/api/v1/audit?target_type={target_type}&target_id={target_id}&per_page=200"),
    )
    .await;
    page["items"].as_array().cloned().unwrap_or_default()
}
