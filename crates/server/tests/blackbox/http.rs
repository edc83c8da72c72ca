use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{ORIGIN, TestApp};

#[tokio::test]
async fn bad_input_gets_problem_json_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let post = |body: &'static str, ct: &str| admin.post("/api/v1/users").body(ct, body);
    // Malformed JSON → 400.
    let p = post("{\"email\": ", "application/json")
        .expect_problem(400)
        .await;
    assert!(p["detail"].is_string());
    // Wrong type → 422.
    let p = post(
        r#"{"email": 5, "password": "x", "role": "viewer"}"#,
        "application/json",
    )
    .expect_problem(422)
    .await;
    assert!(p["detail"].as_str().unwrap().contains("email"), "{p}");
    // Missing field → 422.
    post(r#"{"email": "a@example.com"}"#, "application/json")
        .expect_problem(422)
        .await;
    // Unknown content type → 415.
    post("email=a", "application/x-www-form-urlencoded")
        .expect_problem(415)
        .await;
    // Oversized body → 413.
    let big = format!("{{\"email\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    // The server closes the connection after refusing the body: send it on a connection of
    // its own, so the next request does not land on a dead connection.
    admin
        .post("/api/v1/users")
        .body("application/json", big)
        .on_fresh_connection()
        .expect_problem(413)
        .await;
    // Unknown route → 404; wrong method → 405.
    app.get("/api/v1/nope").expect_problem(404).await;
    app.delete("/health/live").expect_problem(405).await;
    // Unknown id shape → 400, not 500.
    admin
        .get("/api/v1/users/not-a-uuid")
        .expect_problem(400)
        .await;
    // Bad pagination → 422 (or 400 for non-numbers).
    admin
        .get("/api/v1/users?per_page=100000")
        .expect_problem(422)
        .await;
    admin
        .get("/api/v1/users?page=abc")
        .expect_problem(400)
        .await;

    // Nothing was created.
    let list: Value = admin.get("/api/v1/users").expect_json(200).await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn cors_allows_listed_origin_only_and_answers_preflight() {
    let app = TestApp::spawn().await;
    let res = app
        .get("/health/live")
        .header("origin", ORIGIN)
        .expect_status(200)
        .await;
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    let res = app
        .get("/health/live")
        .header("origin", "https://evil.example.net")
        .expect_status(200)
        .await;
    assert!(res.headers().get("access-control-allow-origin").is_none());

    let preflight = |origin: &str| {
        app.request(reqwest::Method::OPTIONS, "/api/v1/auth/login")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
    };
    let res = preflight(ORIGIN)
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .expect_status(200)
        .await;
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    let methods = res.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"));
    let res = preflight("https://evil.example.net").send().await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn security_headers_request_id_and_compression() {
    let app = TestApp::spawn().await;
    let res = app
        .get("/health/live")
        .header("x-request-id", "trace-abc-123")
        .expect_status(200)
        .await;
    let h = res.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-request-id"], "trace-abc-123");
    assert!(
        h.get("strict-transport-security").is_none(),
        "no HSTS in development"
    );
    // A malformed id is replaced, not echoed.
    let res = app
        .get("/health/live")
        .header("x-request-id", "bad id with spaces")
        .expect_status(200)
        .await;
    assert_ne!(res.headers()["x-request-id"], "bad id with spaces");
    // Generated ids show up in problem documents and logs.
    let res = app.get("/nope").expect_status(404).await;
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["request_id"], rid.as_str());
    // So do the problems made of bare errors (the router's 405). (A 413 is not sent here:
    // the server answers before reading the body, and the client may see the reset first.)
    let res = app.delete("/health/live").expect_status(405).await;
    let bare_rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["request_id"], bare_rid.as_str(), "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.log_text().contains(&rid));

    // Compression on request.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let res = raw
        .get(app.url("/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn hsts_in_production_behind_https() {
    let app = TestApp::spawn_with(
        crate::harness::Options::default()
            .env("ENVIRONMENT", "production")
            .env("SECRET_KEY", "Zq8v3LmN0pR5tY7wB2xC4dF6gH9jK1sA")
            .env(
                "ENCRYPTION_KEY",
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            )
            .env("MIGRATE_ON_START", "true")
            .env("HTTPS_UPSTREAM", "true"),
    )
    .await;
    let res = app.get("/health/live").expect_status(200).await;
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut app = TestApp::spawn().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Start a request whose body is still arriving when SIGTERM lands.
    let body =
        json!({"email": crate::harness::ADMIN_EMAIL, "password": crate::harness::ADMIN_PASSWORD})
            .to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = app.child.id();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // New connections are refused while the in-flight one is drained.
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "in-flight request completed: {response}"
    );
    assert!(response.contains("access_token"));
    let status = app.terminate();
    assert!(status.success(), "clean exit after drain: {status:?}");
}

#[tokio::test]
async fn native_tls_serves_https_when_cert_and_key_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl CLI");
    assert!(status.success());
    let app = TestApp::spawn_with(
        crate::harness::Options::default()
            .env("TLS_CERT", cert.to_str().unwrap())
            .env("TLS_KEY", key.to_str().unwrap()),
    )
    .await;
    assert!(app.base.starts_with("https://"));
    app.get("/health/live").expect_status(200).await;
    // Plain HTTP to the TLS port does not get an answer.
    let plain = app.base.replace("https://", "http://");
    let answer = reqwest::get(format!("{plain}/health/live")).await;
    assert!(
        answer.is_err(),
        "plain HTTP to the TLS port got an answer: {answer:?}"
    );
    let tokens = app
        .login(crate::harness::ADMIN_EMAIL, crate::harness::ADMIN_PASSWORD)
        .await;
    assert!(tokens["access_token"].is_string());
}
