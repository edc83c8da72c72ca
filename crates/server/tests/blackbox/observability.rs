use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::harness::{self, ADMIN_EMAIL, ADMIN_PASSWORD, Options, TestApp, in_ci};

#[tokio::test]
async fn health_live_and_ready_report_components() {
    let app = TestApp::spawn().await;
    app.get("/health/live").expect_status(200).await;
    let body: Value = app.get("/health/ready").expect_json(200).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["components"]["database"]["status"], "ok");
    assert_eq!(body["components"]["migrations"]["status"], "ok");
    assert_eq!(
        body["components"].get("redis").is_some(),
        harness::use_redis()
    );
}

/// A TCP relay to Redis that the test can cut and restore, to take "Redis" down and back up.
pub async fn relay(listener: TcpListener, up: tokio::sync::watch::Receiver<bool>) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        let mut up = up.clone();
        tokio::spawn(async move {
            if !*up.borrow() {
                let _ = inbound.shutdown().await;
                return;
            }
            let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:6379").await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = up.wait_for(|v| !*v) => {}
            }
        });
    }
}

// Multi-threaded: the relay must keep running while the harness waits for start-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_naming_redis_while_it_is_down_and_200_when_back() {
    if !harness::redis_available() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::watch::channel(true);
    tokio::spawn(relay(listener, rx));
    let app = TestApp::spawn_with(
        Options {
            force_redis: true,
            ..Default::default()
        }
        .env("REDIS_URL", &format!("redis://127.0.0.1:{port}")),
    )
    .await;
    let ready = || app.get("/health/ready");
    ready().expect_status(200).await;

    tx.send(false).unwrap();
    let mut body = Value::Null;
    for _ in 0..50 {
        let res = ready().send().await;
        if res.status() == 503 {
            body = res.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(body["status"], "unavailable", "readiness turned 503");
    assert_eq!(body["components"]["redis"]["status"], "down");
    assert_eq!(body["components"]["database"]["status"], "ok");

    tx.send(true).unwrap();
    let mut back = false;
    for _ in 0..100 {
        if ready().status().await == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "readiness recovers when Redis is back");
}

#[tokio::test]
async fn ready_is_503_naming_the_database_while_postgres_refuses_and_200_when_back() {
    if !harness::use_postgres() || !harness::pg_available() {
        eprintln!("skipping: needs PREFLIGHT_TEST_DATABASE=postgres (run by scripts/test)");
        return;
    }
    let app = TestApp::spawn_with(
        Options::default()
            .env("DB_ACQUIRE_TIMEOUT", "1s")
            .env("DB_IDLE_TIMEOUT", "1s"),
    )
    .await;
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();
    let ready = || app.get("/health/ready");
    ready().expect_status(200).await;
    harness::psql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    harness::psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let mut body = Value::Null;
    for _ in 0..50 {
        let res = ready().send().await;
        if res.status() == 503 {
            body = res.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(body["components"]["database"]["status"], "down", "{body}");
    harness::psql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    let mut back = false;
    for _ in 0..50 {
        if ready().status().await == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "readiness recovers when the database is back");
}

#[tokio::test]
async fn metrics_require_the_token_and_pass_promtool() {
    // One login a minute per client: the second attempt is rejected by the rate limiter.
    let app = TestApp::spawn_with(Options::default().env("RATE_LIMIT_LOGIN", "1/m")).await;
    let admin = app.as_admin().await;
    app.post_json(
        "/api/v1/auth/login",
        &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
    )
    .expect_problem(429)
    .await;
    // The readiness overview twice: computed once, then served from the cache.
    for _ in 0..2 {
        admin.get("/api/v1/readiness").expect_status(200).await;
    }
    app.get("/nope").expect_problem(404).await;
    app.get("/metrics").expect_problem(401).await;
    app.get("/metrics").bearer("wrong").expect_status(401).await;
    let text = app.metrics().await;
    for name in [
        "preflight_http_requests_total{method=\"POST\",route=\"/api/v1/auth/login\",status=\"200\"}",
        "preflight_http_request_duration_seconds_bucket",
        "preflight_db_pool_connections",
        "preflight_db_pool_max_connections",
        "preflight_build_info",
        "route=\"unmatched\"",
        // Cache and rate-limit counters appear once used.
        "preflight_rate_limit_rejections_total{scope=\"login_ip\"} 1\n",
        "preflight_cache_misses_total{cache=\"app\"}",
        "preflight_cache_hits_total{cache=\"app\"}",
    ] {
        assert!(text.contains(name), "metrics contain {name}:\n{text}");
    }
    match Command::new("promtool")
        .arg("check")
        .arg("metrics")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let report = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success() && report.trim().is_empty(),
                "promtool check metrics reported:\n{report}"
            );
        }
        Err(_) => {
            assert!(!in_ci(), "promtool is required in CI");
            eprintln!("skipping promtool: not installed (apt-get install prometheus)");
        }
    }
}

#[tokio::test]
async fn logs_are_json_lines_with_request_fields_and_no_secrets() {
    let app = TestApp::spawn().await;
    let tokens = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refreshed: Value = app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
        .expect_json(200)
        .await;
    let admin = app.as_bearer(&access);
    let created: Value = admin
        .post_json("/api/v1/me/tokens", &json!({"name": "ci"}))
        .expect_json(201)
        .await;
    let api_token = created["token"].as_str().unwrap().to_owned();
    app.get("/api/v1/me")
        .bearer(&api_token)
        .expect_status(200)
        .await;
    app.post_json(
        "/api/v1/auth/login",
        &json!({"email": ADMIN_EMAIL, "password": "Wrong-Password-999"}),
    )
    .expect_problem(401)
    .await;
    admin
        .post_json(
            "/api/v1/users",
            &json!({"email": "sam@example.com", "password": "Sams-Secret-Pass-77", "role": "viewer"}),
        )
        .expect_status(201)
        .await;
    app.metrics().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = app.log_text();
    let secret_key = std::fs::read_to_string(app.data_dir.as_path().join("secret_key")).unwrap();
    let enc_key = std::fs::read_to_string(app.data_dir.as_path().join("encryption_key")).unwrap();
    for (what, secret) in [
        ("password", ADMIN_PASSWORD.to_owned()),
        ("wrong password", "Wrong-Password-999".to_owned()),
        ("new user's password", "Sams-Secret-Pass-77".to_owned()),
        ("access token", access.clone()),
        (
            "access token signature",
            access.rsplit('.').next().unwrap().to_owned(),
        ),
        ("refresh token", refresh.clone()),
        (
            "rotated refresh token",
            refreshed["refresh_token"].as_str().unwrap().to_owned(),
        ),
        ("API token", api_token.clone()),
        ("metrics token", app.metrics_token.clone()),
        ("SECRET_KEY", secret_key.trim().to_owned()),
        ("ENCRYPTION_KEY", enc_key.trim().to_owned()),
    ] {
        assert!(!logs.contains(&secret), "the {what} appears in the logs");
    }
    let mut request_lines = 0;
    for line in logs.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string() && v["message"].is_string(),
            "{line}"
        );
        if v["message"] == "request served" || v["message"] == "request failed" {
            request_lines += 1;
            for field in ["request_id", "method", "route", "status", "latency_ms"] {
                assert!(!v[field].is_null(), "{field} in {line}");
            }
        }
    }
    assert!(request_lines >= 7, "one line per request ({request_lines})");
}

#[tokio::test]
async fn docs_are_served_offline_and_describe_every_route() {
    let app = TestApp::spawn().await;
    let html = app.get("/docs/").expect_text(200).await;
    assert!(html.contains("swagger"), "Swagger UI page");
    let mut assets = vec![html.clone()];
    for asset in [
        "/docs/swagger-initializer.js",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
    ] {
        // Served from the binary.
        assets.push(app.get(asset).expect_text(200).await);
    }
    // No script, stylesheet or font is loaded from anywhere else.
    for text in &assets[..2] {
        for needle in [
            "src=\"http",
            "href=\"http",
            "src=\"//",
            "href=\"//",
            "cdn.",
            "unpkg",
            "jsdelivr",
        ] {
            assert!(
                !text.contains(needle),
                "docs reference an external URL ({needle})"
            );
        }
    }
    let doc: Value = app.get("/openapi.json").expect_json(200).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/me/tokens",
        "/api/v1/me/tokens/{id}",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/health/live",
        "/health/ready",
    ] {
        assert!(paths.contains_key(p), "openapi documents {p}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"];
    assert!(login["401"].is_object() && login["429"].is_object());
}
