//! Several replicas started at once on one fresh PostgreSQL database and one Redis (issue
//! #12): all come up (migrations and seeding take turns), they share one login limit exactly,
//! and a write on one is read on another.

use serde_json::{Value, json};

use crate::checklist_support::create_service;
use crate::harness::{self, ADMIN_EMAIL, Options, PgDatabase, TestApp};

#[tokio::test]
async fn three_replicas_started_together_share_one_database_and_one_limit() {
    if !harness::use_postgres() || !harness::pg_available() || !harness::redis_available() {
        eprintln!("skipping: needs PREFLIGHT_TEST_DATABASE=postgres and Redis");
        return;
    }
    let db = PgDatabase::create();
    let prefix = format!("pftest:{}:", uuid::Uuid::new_v4().simple());
    let options = Options {
        database_url: Some(db.url.clone()),
        force_redis: true,
        redis_prefix: Some(prefix),
        ..Default::default()
    }
    .env("MIGRATE_ON_START", "true")
    .env("RATE_LIMIT_LOGIN", "4/m")
    // The guesses below come from one client address, the admin's logins from another.
    .env("TRUSTED_PROXIES", "127.0.0.1/32");
    // Each start blocks until its process listens: start them on threads of their own, so
    // the three processes really start at the same moment.
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let options = options.clone();
            std::thread::spawn(move || futures::executor::block_on(TestApp::spawn_with(options)))
        })
        .collect();
    let replicas: Vec<TestApp> = starts
        .into_iter()
        .map(|s| s.join().expect("a replica started"))
        .collect();
    let [a, b, c] = &replicas[..] else {
        unreachable!("three replicas")
    };

    // The login limit (4 per minute) is one budget across the three.
    let mut codes = Vec::new();
    for app in [a, b, c, a, b, c] {
        codes.push(
            app.post_json(
                "/api/v1/auth/login",
                &json!({"email": ADMIN_EMAIL, "password": "Wrong-Password-999"}),
            )
            .header("x-forwarded-for", "198.51.100.1")
            .status()
            .await,
        );
    }
    assert_eq!(codes, [401, 401, 401, 401, 429, 429]);

    // Seeding ran once: one admin, one built-in template.
    let token = |app: &TestApp| {
        let call = app
            .post_json(
                "/api/v1/auth/login",
                &json!({"email": ADMIN_EMAIL, "password": harness::ADMIN_PASSWORD}),
            )
            .header("x-forwarded-for", "198.51.100.2");
        async move {
            let tokens: Value = call.expect_json(200).await;
            tokens["access_token"].as_str().unwrap().to_owned()
        }
    };
    let on_a = a.as_bearer(&token(a).await);
    let on_b = b.as_bearer(&token(b).await);
    let on_c = c.as_bearer(&token(c).await);
    let users: Value = on_a.get("/api/v1/users").expect_json(200).await;
    assert_eq!(users["total"], 1, "{users}");
    let templates: Value = on_b.get("/api/v1/checklists").expect_json(200).await;
    let builtins = templates["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["builtin"] == true)
        .count();
    assert_eq!(builtins, 1, "{templates}");

    // A write on one replica is read on the others at once.
    let created = create_service(&on_a, json!({"name": "Written on A"})).await;
    let id = created["id"].as_str().unwrap();
    let read: Value = on_b
        .get(&format!("/api/v1/services/{id}"))
        .expect_json(200)
        .await;
    assert_eq!(read["name"], "Written on A");
    let listed: Value = on_c
        .get("/api/v1/services?name=written")
        .expect_json(200)
        .await;
    assert_eq!(listed["total"], 1);
    drop(replicas);
    drop(db);
}
