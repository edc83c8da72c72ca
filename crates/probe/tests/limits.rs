//! The engine's bounds and target safety: timeouts, redirects, refused addresses and hosts,
//! the byte cap, the request budget, the User-Agent and credentials kept out of evidence.

mod common;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Redirect;
use axum::routing::get;
use common::{assert_outcome, check, engine_with, run, run_at, serve};
use preflight_probe::{Credential, EngineConfig, NetworkPolicy, Outcome, Target, USER_AGENT};
use url::Url;

#[tokio::test]
async fn a_slow_target_is_an_error_after_the_check_timeout() {
    let app = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    );
    let base = serve(app).await;
    let started = std::time::Instant::now();
    let report = run_at("http path=/slow timeout=300ms", &base).await;
    assert_outcome(&report, Outcome::Error);
    assert_eq!(report.reason, "no answer within 300ms, the check's timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        report.requests.len(),
        1,
        "the cut request is in the evidence"
    );
    assert_eq!(
        report.requests[0].error.as_deref(),
        Some("no answer within 300ms")
    );

    // Without a per-check timeout the engine's default applies.
    let engine = engine_with(EngineConfig {
        default_timeout: Duration::from_millis(200),
        ..EngineConfig::default()
    });
    let report = engine
        .run(&check("http path=/slow"), &Target::new(base))
        .await;
    assert_eq!(report.reason, "no answer within 200ms, the check's timeout");
}

#[tokio::test]
async fn redirects_are_followed_within_the_origin_only() {
    let other = serve(Router::new().route("/", get(|| async { "elsewhere" }))).await;
    let other_url = format!("http://localhost:{}/", other.port().unwrap_or(0));
    let app = Router::new()
        .route("/moved", get(|| async { Redirect::temporary("/health") }))
        .route("/health", get(|| async { "ok" }))
        .route(
            "/away",
            get(move || async move { Redirect::temporary(&other_url) }),
        );
    let base = serve(app).await;

    let same_host = run_at("http path=/moved", &base).await;
    assert_outcome(&same_host, Outcome::Passed);

    let away = run_at("http path=/away", &base).await;
    assert_outcome(&away, Outcome::Error);
    assert!(
        away.reason
            .contains("refused: redirects are followed only within the same origin"),
        "{}",
        away.reason
    );
}

#[tokio::test]
async fn metadata_and_link_local_addresses_are_refused_naming_the_rule() {
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
    ] {
        let target = Target::new(Url::parse(url).expect("url"));
        let report = run("health", &target).await;
        assert_outcome(&report, Outcome::Error);
        assert!(
            report.reason.contains("is refused"),
            "{url}: {}",
            report.reason
        );
        assert!(
            report.reason.contains("never probed"),
            "{url}: {}",
            report.reason
        );
    }
}

#[tokio::test]
async fn a_name_resolving_to_a_refused_network_is_refused_at_resolution() {
    let base = serve(Router::new().route("/", get(|| async { "ok" }))).await;
    let port = base.port().unwrap_or(0);
    let engine = engine_with(EngineConfig {
        network: NetworkPolicy {
            allow: vec![],
            deny: NetworkPolicy::parse_networks("127.0.0.0/8, ::1").expect("networks"),
        },
        ..EngineConfig::default()
    });
    // `localhost` is a name: the refusal happens when it resolves, before any connection.
    let target = Target::new(Url::parse(&format!("http://localhost:{port}/")).expect("url"));
    let report = engine.run(&check("http"), &target).await;
    assert_outcome(&report, Outcome::Error);
    assert!(
        report.reason.contains("the operator denies"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn hosts_the_target_does_not_name_are_refused() {
    let base = serve(Router::new()).await;
    let mut target = Target::new(base);
    target.plain_http_url = None;
    // A check asking Prometheus on a host nobody configured cannot be made to reach it: the
    // only way to name a host is the target context. Simulate a check that would leave it.
    let report = run("tls host=attacker.example", &target).await;
    assert_outcome(&report, Outcome::Error);
    assert!(
        report
            .reason
            .contains("probes reach only the hosts the target names"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn an_oversized_body_is_cut_at_the_cap() {
    let app = Router::new().route("/big", get(|| async { "x".repeat(3 * 1024 * 1024) }));
    let base = serve(app).await;
    let engine = engine_with(EngineConfig {
        max_body_bytes: 64 * 1024,
        ..EngineConfig::default()
    });
    let report = engine
        .run(
            &check("http path=/big condition=\"body contains x\""),
            &Target::new(base),
        )
        .await;
    assert_outcome(&report, Outcome::Passed);
    let exchange = &report.requests[0];
    assert!(exchange.body_truncated);
    assert_eq!(exchange.body_bytes, 64 * 1024);
    assert_eq!(
        exchange.body_excerpt.as_deref().map(str::len),
        Some(preflight_probe::EXCERPT_BYTES)
    );
}

#[tokio::test]
async fn requests_carry_the_user_agent() {
    let app = Router::new().route(
        "/",
        get(|headers: HeaderMap| async move {
            let agent = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if agent == USER_AGENT {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            }
        }),
    );
    let base = serve(app).await;
    assert!(USER_AGENT.starts_with("preflight/"));
    assert_outcome(&run_at("http", &base).await, Outcome::Passed);
}

#[tokio::test]
async fn the_request_budget_bounds_a_check() {
    let base =
        serve(Router::new().route("/p{n}", get(|| async { StatusCode::UNAUTHORIZED }))).await;
    let engine = engine_with(EngineConfig {
        max_requests: 2,
        ..EngineConfig::default()
    });
    // auth_required may send one request per listed path, never fewer than the cap.
    let report = engine
        .run(
            &check("auth_required paths=/p1,/p2,/p3"),
            &Target::new(base.clone()),
        )
        .await;
    assert_outcome(&report, Outcome::Passed);
    // security_headers + cors send 1 and 2 requests; a cap of 1 stops cors after its first.
    let tight = engine_with(EngineConfig {
        max_requests: 1,
        ..EngineConfig::default()
    });
    let report = tight.run(&check("cors"), &Target::new(base)).await;
    assert_outcome(&report, Outcome::Error);
    assert_eq!(
        report.reason,
        "stopped after 1 requests, the most one check may send"
    );
}

#[tokio::test]
async fn credentials_are_sent_but_never_recorded() {
    const SECRET: &str = "s3cret-metrics-token-1234";
    // The target echoes the Authorization header into a header and the body.
    let app = Router::new().route(
        "/metrics",
        get(|headers: HeaderMap| async move {
            let auth = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            if auth != format!("Bearer {SECRET}") {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, auth.clone())],
                    auth,
                );
            }
            (
                StatusCode::OK,
                [(header::WWW_AUTHENTICATE, auth.clone())],
                format!("# {auth}\nup 1\n"),
            )
        }),
    );
    let base = serve(app).await;
    let mut target = Target::new(base);
    target.credentials =
        vec![Credential::header("Authorization", format!("Bearer {SECRET}")).for_paths("/metrics")];
    let report = run("metrics", &target).await;
    assert_outcome(&report, Outcome::Passed);
    let text = serde_json::to_string(&report).expect("serialises");
    assert!(!text.contains(SECRET), "{text}");
    assert!(
        text.contains("[redacted]"),
        "the echo is still visible, scrubbed"
    );
}

#[tokio::test]
async fn a_redirect_to_another_port_is_refused_and_keeps_the_credential_home() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    let other = serve(Router::new().route(
        "/",
        get(move |headers: HeaderMap| {
            let record = record.clone();
            async move {
                let key = headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                record.lock().expect("lock").push(key.to_owned());
                "other port"
            }
        }),
    ))
    .await;
    let elsewhere = format!("http://127.0.0.1:{}/", other.port().unwrap_or(0));
    let app = Router::new().route(
        "/",
        get(move || async move { Redirect::temporary(&elsewhere) }),
    );
    let base = serve(app).await;
    let mut target = Target::new(base);
    target.credentials = vec![Credential::header("X-Api-Key", "k-123")];
    let report = run("http", &target).await;
    assert_outcome(&report, Outcome::Error);
    assert!(
        report.reason.contains("within the same origin"),
        "{}",
        report.reason
    );
    assert!(
        seen.lock().expect("lock").is_empty(),
        "the other port was never asked"
    );
}
