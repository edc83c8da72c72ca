//! Regression tests of the security review's findings on request input (issue #12): bounds
//! on owners, text fields and pages, concurrent writes on SQLite, `X-Forwarded-For` lines,
//! `X-Request-Id` in the audit log and strong `If-Match`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::checklist_support::create_service;
use crate::harness::{Options, TestApp};

#[tokio::test]
async fn a_huge_owner_list_is_refused_quickly() {
    let app = TestApp::spawn_with(Options::default().env("BODY_LIMIT_KB", "4096")).await;
    let (_, editor) = app.as_new_user("editor").await;
    let owners: Vec<String> = (0..80_000).map(|i| format!("team-{i}")).collect();
    let started = Instant::now();
    let p = editor
        .post_json(
            "/api/v1/services",
            &json!({"name": "Owners", "owners": owners}),
        )
        .expect_problem(422)
        .await;
    assert!(p.to_string().contains("at most 50 owners"), "{p}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    // Duplicates within the cap are still merged.
    let s = create_service(
        &editor,
        json!({"name": "Dupes", "owners": ["a", "b", " a ", "b"]}),
    )
    .await;
    assert_eq!(s["owners"], json!(["a", "b"]));
}

#[tokio::test]
async fn description_and_contact_fields_are_bounded() {
    let app = TestApp::spawn().await;
    let (_, editor) = app.as_new_user("editor").await;
    let long = |n: usize| "x".repeat(n);
    let refused = [
        json!({"name": "S", "description": long(4001)}),
        json!({"name": "S", "contacts": [{"name": "A", "email": long(321)}]}),
        json!({"name": "S", "contacts": [{"name": "A", "phone": long(65)}]}),
        json!({"name": "S", "contacts": [{"name": "A", "role": long(201)}]}),
        json!({"name": "S", "contacts": [{"name": "A", "notes": long(2001)}]}),
    ];
    for body in refused {
        editor
            .post_json("/api/v1/services", &body)
            .expect_problem(422)
            .await;
    }
    let s = create_service(
        &editor,
        json!({"name": "S", "description": long(4000),
               "contacts": [{"name": "A", "email": long(320), "notes": long(2000)}]}),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    editor
        .patch(&format!("/api/v1/services/{id}"))
        .json(&json!({"description": long(4001)}))
        .expect_problem(422)
        .await;
}

#[tokio::test]
async fn forty_parallel_service_creations_all_succeed() {
    let app = TestApp::spawn().await;
    let (_, editor) = app.as_new_user("editor").await;
    let calls = (0..40).map(|i| {
        editor
            .post_json(
                "/api/v1/services",
                &json!({"name": format!("parallel-{i}"), "owners": ["team-a", "team-b"],
                        "contacts": [{"name": "On call"}]}),
            )
            .status()
    });
    let codes = futures::future::join_all(calls).await;
    assert!(codes.iter().all(|c| *c == 201), "{codes:?}");
    let page: Value = editor
        .get("/api/v1/services?per_page=200")
        .expect_json(200)
        .await;
    assert_eq!(page["total"], 40);
}

#[tokio::test]
async fn parallel_writes_that_read_first_queue_instead_of_failing() {
    // A refresh reads its token, then marks it used, in one transaction: on SQLite a deferred
    // transaction fails at once with "database is locked" when another writer went first.
    let app = TestApp::spawn_with(Options::default().env("RATE_LIMIT_LOGIN", "100/m")).await;
    let mut refresh_tokens = Vec::new();
    for _ in 0..30 {
        let tokens = app
            .login(crate::harness::ADMIN_EMAIL, crate::harness::ADMIN_PASSWORD)
            .await;
        refresh_tokens.push(tokens["refresh_token"].as_str().unwrap().to_owned());
    }
    let calls = refresh_tokens.iter().map(|t| {
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": t}))
            .status()
    });
    let codes = futures::future::join_all(calls).await;
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
}

#[tokio::test]
async fn a_huge_page_number_is_a_422_on_every_list() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let s = create_service(&admin, json!({"name": "Paged"})).await;
    let id = s["id"].as_str().unwrap();
    for path in [
        "/api/v1/services".to_owned(),
        "/api/v1/checklists".to_owned(),
        "/api/v1/users".to_owned(),
        "/api/v1/audit".to_owned(),
        format!("/api/v1/services/{id}/reviews"),
    ] {
        for page in ["9223372036854775807", "18446744073709551615", "1000001"] {
            admin
                .get(&format!("{path}?page={page}&per_page=200"))
                .expect_problem(422)
                .await;
        }
        admin
            .get(&format!("{path}?page=1000000&per_page=200"))
            .expect_status(200)
            .await;
    }
}

#[tokio::test]
async fn every_forwarded_for_line_is_read() {
    let app = TestApp::spawn_with(
        Options::default()
            .env("RATE_LIMIT_ANONYMOUS", "2/m")
            .env("TRUSTED_PROXIES", "127.0.0.1/32"),
    )
    .await;
    // The client forged the first line; the proxy appended the real address as a second.
    for i in 0..4 {
        let code = app
            .get("/api/v1/me")
            .header("x-forwarded-for", "203.0.113.66")
            .header("x-forwarded-for", &format!("198.51.100.{i}"))
            .status()
            .await;
        assert_eq!(code, 401, "client {i} has its own limit");
    }
}

#[tokio::test]
async fn a_malformed_request_id_never_reaches_the_audit_log() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    for (i, id) in ["x".repeat(129), "a b".to_owned(), "a\"b;c".to_owned()]
        .iter()
        .enumerate()
    {
        let res = admin
            .post_json("/api/v1/services", &json!({"name": format!("rid-{i}")}))
            .header("x-request-id", id)
            .expect_status(201)
            .await;
        assert_ne!(res.headers()["x-request-id"].as_bytes(), id.as_bytes());
    }
    let audit: Value = admin
        .get("/api/v1/audit?target_type=service&per_page=200")
        .expect_json(200)
        .await;
    let entries = audit["items"].as_array().unwrap();
    assert!(!entries.is_empty());
    for e in entries {
        let rid = e["request_id"].as_str().unwrap();
        assert!(rid.len() <= 128, "{rid}");
        assert!(
            rid.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)),
            "{rid}"
        );
    }
}

#[tokio::test]
async fn if_match_with_a_weak_etag_is_a_412() {
    let app = TestApp::spawn().await;
    let (_, editor) = app.as_new_user("editor").await;
    let s = create_service(&editor, json!({"name": "Tagged"})).await;
    let id = s["id"].as_str().unwrap();
    let res = editor
        .get(&format!("/api/v1/services/{id}"))
        .expect_status(200)
        .await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    editor
        .patch(&format!("/api/v1/services/{id}"))
        .if_match(&format!("W/{etag}"))
        .json(&json!({"description": "weak"}))
        .expect_problem(412)
        .await;
    editor
        .patch(&format!("/api/v1/services/{id}"))
        .if_match(&etag)
        .json(&json!({"description": "strong"}))
        .expect_status(200)
        .await;
}

#[tokio::test]
async fn a_new_base_url_drops_stored_credentials_unless_sent_again() {
    let app = TestApp::spawn().await;
    let (_, editor) = app.as_new_user("editor").await;
    let creds = json!({"headers": {"Authorization": "Bearer probe-secret"}});
    let s = create_service(
        &editor,
        json!({"name": "Probed", "base_url": "https://api.example.com", "credentials": creds}),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    let patch = async |body: Value| -> Value {
        editor
            .patch(&format!("/api/v1/services/{id}"))
            .json(&body)
            .expect_json(200)
            .await
    };
    // Other fields, and the same target spelled with a trailing slash, keep them.
    let kept = patch(json!({"description": "x"})).await;
    assert_eq!(kept["credentials"]["configured"], true);
    let kept = patch(json!({"base_url": "https://api.example.com/"})).await;
    assert_eq!(kept["credentials"]["configured"], true);
    // A new target drops them.
    let moved = patch(json!({"base_url": "https://attacker.example.net"})).await;
    assert_eq!(moved["credentials"]["configured"], false, "{moved}");
    assert_eq!(moved["credentials"]["header_names"], json!([]));
    // Sent again with the new target, they are kept.
    let both = patch(json!({"base_url": "https://api2.example.com", "credentials": creds})).await;
    assert_eq!(both["credentials"]["configured"], true);
    let cleared = patch(json!({"base_url": null})).await;
    assert_eq!(cleared["credentials"]["configured"], false);
}
