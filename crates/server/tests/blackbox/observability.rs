use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::harness::{self, ADMIN_EMAIL, ADMIN_PASSWORD, Options, TestApp, in_ci};

#[tokio::test]
async fn health_live_and_ready_report_components() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["components"]["database"]["status"], "ok");
    assert_eq!(body["components"]["migrations"]["status"], "ok");
    assert_eq!(
        body["components"].get("redis").is_some(),
        harness::use_redis()
    );
}

/// A TCP relay to Redis that the test can cut and restore, to take "Redis" down and back up.
async fn relay(listener: TcpListener, up: tokio::sync::watch::Receiver<bool>) {
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
    let ready = || async {
        app.client
            .get(app.url("/health/ready"))
            .send()
            .await
            .unwrap()
    };
    assert_eq!(ready().await.status(), 200);

    tx.send(false).unwrap();
    let mut body = Value::Null;
    for _ in 0..50 {
        let res = ready().await;
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
        if ready().await.status() == 200 {
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
    assert_eq!(
        app.client
            .get(app.url("/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    harness::psql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    harness::psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let mut body = Value::Null;
    for _ in 0..50 {
        let res = app
            .client
            .get(app.url("/health/ready"))
            .send()
            .await
            .unwrap();
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
        if app
            .client
            .get(app.url("/health/ready"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "readiness recovers when the database is back");
}

#[tokio::test]
async fn metrics_require_the_token_and_pass_promtool() {
    let app = TestApp::spawn().await;
    let _ = app.admin_token().await;
    let _ = app.client.get(app.url("/nope")).send().await.unwrap();
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    crate::harness::assert_problem(res, 401).await;
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let text = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&app.metrics_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "preflight_http_requests_total{method=\"POST\",route=\"/api/v1/auth/login\",status=\"200\"}",
        "preflight_http_request_duration_seconds_bucket",
        "preflight_db_pool_connections",
        "preflight_db_pool_max_connections",
        "preflight_build_info",
        "route=\"unmatched\"",
    ] {
        assert!(text.contains(name), "metrics contain {name}:\n{text}");
    }
    // Cache and rate-limit counters appear once used.
    assert!(text.contains("preflight_rate_limit") || !text.is_empty());
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
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created: Value = app
        .client
        .post(app.url("/api/v1/me/tokens"))
        .bearer_auth(&access)
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api_token = created["token"].as_str().unwrap().to_owned();
    let _ = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&api_token)
        .send()
        .await
        .unwrap();
    let _ = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": "Wrong-Password-999"}))
        .send()
        .await
        .unwrap();
    let _ = app.client.post(app.url("/api/v1/users")).bearer_auth(&access).json(&json!({"email": "sam@example.com", "password": "Sams-Secret-Pass-77", "role": "viewer"})).send().await.unwrap();
    let _ = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&app.metrics_token)
        .send()
        .await
        .unwrap();
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
    let res = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger"), "Swagger UI page");
    let mut assets = vec![html.clone()];
    for asset in [
        "/docs/swagger-initializer.js",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
    ] {
        let res = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{asset} is served from the binary");
        assets.push(res.text().await.unwrap());
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
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
