use serde_json::json;

use crate::harness::{self, ADMIN_EMAIL, Options, TestApp, assert_problem};

#[tokio::test]
async fn login_burst_meets_429_with_retry_after_and_ratelimit_headers() {
    let app = TestApp::spawn_with(Options::default().env("RATE_LIMIT_LOGIN", "3/m")).await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..6 {
        let res = app
            .post_json(
                "/api/v1/auth/login",
                &json!({"email": ADMIN_EMAIL, "password": "Wrong-Password-999"}),
            )
            .send()
            .await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            limited = Some(res);
            break;
        }
    }
    assert_eq!(statuses, vec![401, 401, 401, 429]);
    let res = limited.unwrap();
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert!(res.headers().get("ratelimit").is_some());
    assert!(res.headers().get("ratelimit-policy").is_some());
    let p = assert_problem(res, 429).await;
    assert_eq!(p["type"], "urn:preflight:problem:rate-limited");
}

#[tokio::test]
async fn malformed_login_attempts_count_against_the_ip_limit() {
    // What a brute-force tool or a probe sends: bodies the handler refuses. Each one still
    // counts against the client's IP, so the limit answers 429 before the budget is exceeded,
    // and a well-formed attempt from the same IP is then refused too.
    let app = TestApp::spawn_with(Options::default().env("RATE_LIMIT_LOGIN", "3/m")).await;
    let login = || app.post("/api/v1/auth/login");
    let statuses = vec![
        login().json(&json!({})).status().await,
        login().body("application/json", "{not json").status().await,
        login()
            .json(&json!({"email": "", "password": ""}))
            .status()
            .await,
    ];
    assert_eq!(statuses, vec![422, 400, 422], "refused by validation");
    let res = login().json(&json!({})).send().await;
    assert!(res.headers().contains_key("retry-after"));
    let p = assert_problem(res, 429).await;
    assert_eq!(p["type"], "urn:preflight:problem:rate-limited");
    let status = login()
        .json(&json!({"email": ADMIN_EMAIL, "password": harness::ADMIN_PASSWORD}))
        .status()
        .await;
    assert_eq!(status, 429, "the IP's budget is spent, whatever the body");
}

#[tokio::test]
async fn anonymous_calls_are_limited_per_ip_and_health_is_exempt() {
    let app = TestApp::spawn_with(Options::default().env("RATE_LIMIT_ANONYMOUS", "5/m")).await;
    let mut codes = Vec::new();
    for _ in 0..7 {
        codes.push(app.get("/api/v1/me").status().await);
    }
    assert_eq!(&codes[..5], &[401; 5]);
    assert_eq!(codes[5], 429);
    for _ in 0..10 {
        assert_eq!(app.get("/health/live").status().await, 200);
    }
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    // Untrusted peer: spoofed X-Forwarded-For does not buy a fresh bucket.
    let app = TestApp::spawn_with(Options::default().env("RATE_LIMIT_ANONYMOUS", "2/m")).await;
    let mut last = 0;
    for i in 0..3 {
        last = app
            .get("/api/v1/me")
            .header("x-forwarded-for", &format!("198.51.100.{i}"))
            .status()
            .await;
    }
    assert_eq!(last, 429);
    // Trusted proxy (loopback): each forwarded client has its own bucket.
    let app = TestApp::spawn_with(
        Options::default()
            .env("RATE_LIMIT_ANONYMOUS", "2/m")
            .env("TRUSTED_PROXIES", "127.0.0.1/32"),
    )
    .await;
    for i in 0..4 {
        let code = app
            .get("/api/v1/me")
            .header("x-forwarded-for", &format!("198.51.100.{i}"))
            .status()
            .await;
        assert_eq!(code, 401, "client {i} has its own limit");
    }
}

#[tokio::test]
async fn two_instances_on_one_redis_share_one_limit() {
    if !harness::redis_available() {
        return;
    }
    let prefix = format!("pftest:{}:", uuid::Uuid::new_v4().simple());
    let a = TestApp::spawn_with(
        Options {
            force_redis: true,
            redis_prefix: Some(prefix.clone()),
            ..Default::default()
        }
        .env("RATE_LIMIT_LOGIN", "4/m"),
    )
    .await;
    let b = TestApp::spawn_with(
        Options {
            force_redis: true,
            redis_prefix: Some(prefix),
            database_url: Some(a.database_url.clone()),
            ..Default::default()
        }
        .env("RATE_LIMIT_LOGIN", "4/m"),
    )
    .await;
    let attempt = |app: &TestApp| {
        app.post_json(
            "/api/v1/auth/login",
            &json!({"email": ADMIN_EMAIL, "password": "Wrong-Password-999"}),
        )
    };
    let mut codes = Vec::new();
    for app in [&a, &b, &a, &b, &a, &b] {
        codes.push(attempt(app).status().await);
    }
    assert_eq!(
        codes,
        vec![401, 401, 401, 401, 429, 429],
        "one budget of 4 across both instances"
    );
}
