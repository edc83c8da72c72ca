//! Regression tests of the security review's findings on checklists (issue #12): imports are
//! bounded and parsed off the async workers, keys of duplicate items are assigned in linear
//! time, and a review at the item cap answers item calls quickly.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::checklist_support::{act, attach, create_service, import, import_ok};
use crate::harness::{Options, TestApp};

/// The most items one checklist may have (`preflight_domain::markdown::MAX_ITEMS`).
const MAX_ITEMS: usize = 2000;

#[tokio::test]
async fn an_import_past_the_item_cap_is_a_422_and_the_service_stays_live() {
    let app = TestApp::spawn_with(Options::default().env("BODY_LIMIT_KB", "4096")).await;
    let admin = app.as_admin().await;
    let source = format!("# Dupes\n{}", "- [ ] Same item\n".repeat(16_000));
    let started = Instant::now();
    let (p, live) = tokio::join!(import(&admin, &source).expect_problem(422), async {
        // Health answers while the import is parsed.
        tokio::time::sleep(Duration::from_millis(20)).await;
        app.get("/health/live").status().await
    });
    assert!(p.to_string().contains("more than 2000 task items"), "{p}");
    assert_eq!(live, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_review_at_the_item_cap_answers_item_calls_quickly() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let source = format!("# Big\n{}", "- [ ] Same item\n".repeat(MAX_ITEMS));
    let started = Instant::now();
    let checklist = import_ok(&admin, &source).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "import took {:?}",
        started.elapsed()
    );
    let service = create_service(&admin, json!({"name": "Big"})).await;
    let review = attach(
        &admin,
        service["id"].as_str().unwrap(),
        checklist["id"].as_str().unwrap(),
    )
    .await;
    let rid = review["id"].as_str().unwrap();
    let key = format!("same-item-{MAX_ITEMS}");
    let started = Instant::now();
    let item: Value = admin
        .get(&format!("/api/v1/reviews/{rid}/items/{key}"))
        .expect_json(200)
        .await;
    assert_eq!(item["key"], key.as_str());
    act(&admin, rid, &key, json!({"action": "sign_off"}))
        .expect_status(200)
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "item calls took {:?}",
        started.elapsed()
    );
}
