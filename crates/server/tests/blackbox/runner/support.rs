//! Local probe targets that count the requests they get, and helpers to set a service up with
//! automated items and wait for their runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

pub use crate::checklist_support::sql;
use crate::harness::{Caller, Options, TestApp};

/// Requests per path a target has answered.
#[derive(Clone, Default)]
pub struct Hits(Arc<Mutex<HashMap<String, u32>>>);

impl Hits {
    pub fn of(&self, path: &str) -> u32 {
        self.0.lock().unwrap().get(path).copied().unwrap_or(0)
    }
    pub fn all(&self) -> HashMap<String, u32> {
        self.0.lock().unwrap().clone()
    }
    fn hit(&self, path: String) {
        *self.0.lock().unwrap().entry(path).or_default() += 1;
    }
}

#[derive(Clone)]
struct Target {
    hits: Hits,
    delay: Duration,
}

async fn ok(State(t): State<Target>, Path(n): Path<String>) -> StatusCode {
    t.hits.hit(format!("/ok/{n}"));
    tokio::time::sleep(t.delay).await;
    StatusCode::OK
}

async fn bad(State(t): State<Target>, Path(n): Path<String>) -> (StatusCode, &'static str) {
    t.hits.hit(format!("/bad/{n}"));
    tokio::time::sleep(t.delay).await;
    (StatusCode::INTERNAL_SERVER_ERROR, "database unreachable")
}

/// A target on 127.0.0.1: `/ok/{n}` answers 200, `/bad/{n}` 500, each after `delay`.
pub async fn target(delay: Duration) -> (String, Hits) {
    let hits = Hits::default();
    let router = Router::new()
        .route("/ok/{n}", get(ok))
        .route("/bad/{n}", get(bad))
        .with_state(Target {
            hits: hits.clone(),
            delay,
        });
    // The target gets a runtime on its own thread: tests block theirs while a child process
    // exits (`TestApp::terminate`), and the checks in flight then must still get their answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = axum::serve(listener, router).await;
        });
    });
    (format!("http://{addr}"), hits)
}

/// An app whose check runner is on, with `env` on top.
pub async fn app_with_runner(env: &[(&str, &str)]) -> TestApp {
    let mut opts = Options::default().env("PROBE_SCHEDULER", "true");
    for (k, v) in env {
        opts = opts.env(k, v);
    }
    TestApp::spawn_with(opts).await
}

/// A checklist whose items are `(title, annotation)`; an empty annotation is a manual item.
pub fn checklist(items: &[(&str, &str)]) -> String {
    let mut md = String::from("# Runner test\n\n## Checks\n\n");
    for (title, check) in items {
        if check.is_empty() {
            md.push_str(&format!("- [ ] {title}\n"));
        } else {
            md.push_str(&format!("- [ ] {title} <!-- check: {check} -->\n"));
        }
    }
    md
}

/// Registers a service at `base_url`, imports `markdown` and attaches it; returns
/// (service id, review id).
pub async fn service_with(
    admin: &Caller<'_>,
    name: &str,
    base_url: &str,
    markdown: &str,
) -> (String, String) {
    let service: Value = admin
        .post_json(
            "/api/v1/services",
            &json!({"name": name, "base_url": base_url, "environment": "staging"}),
        )
        .expect_json(201)
        .await;
    let service = service["id"].as_str().unwrap().to_owned();
    // Checklist names are unique: each service gets its own.
    let markdown = markdown.replacen("# Runner test", &format!("# {name} checks"), 1);
    let checklist: Value = admin
        .post("/api/v1/checklists")
        .markdown(&markdown)
        .expect_json(201)
        .await;
    let review: Value = admin
        .post_json(
            &format!("/api/v1/services/{service}/reviews"),
            &json!({"checklist_id": checklist["id"]}),
        )
        .expect_json(201)
        .await;
    (service, review["id"].as_str().unwrap().to_owned())
}

/// The review's items by their text.
pub async fn items(admin: &Caller<'_>, review: &str) -> HashMap<String, Value> {
    let review: Value = admin
        .get(&format!("/api/v1/reviews/{review}"))
        .expect_json(200)
        .await;
    review["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| (item["text"].as_str().unwrap().to_owned(), item.clone()))
        .collect()
}

/// Polls `probe` every 200 ms until it returns `Some`, failing after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until every automated item of the review has a latest run; returns the items.
pub async fn all_ran(admin: &Caller<'_>, review: &str, limit: Duration) -> HashMap<String, Value> {
    eventually(limit, "every automated item to run", || async {
        let items = items(admin, review).await;
        let done = items
            .values()
            .filter(|i| !i["check"].is_null())
            .all(|i| !i["last_run"].is_null());
        done.then_some(items)
    })
    .await
}

/// A fresh UUID generated by the app's database.
pub fn new_uuid_sql() -> &'static str {
    if crate::harness::use_postgres() {
        "gen_random_uuid()"
    } else {
        "randomblob(16)"
    }
}

/// A moment as a literal of the app's database (the text sqlx writes on SQLite).
pub fn time_literal(at: chrono::DateTime<chrono::Utc>) -> String {
    let text = at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, false);
    if crate::harness::use_postgres() {
        format!("'{text}'::timestamptz")
    } else {
        format!("'{text}'")
    }
}
