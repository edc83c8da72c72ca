//! `connect_redis`: bad URLs and unreachable servers fail fast, without leaking the URL.
#![allow(
    clippy::unwrap_used,
    reason = "a test should panic on any unexpected failure"
)]

use std::time::{Duration, Instant};

use preflight_kv::{KvError, connect_redis};

#[tokio::test]
async fn an_invalid_url_is_rejected() {
    let error = connect_redis(
        "http://user:hunter2@example.invalid",
        Duration::from_secs(1),
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(error, KvError::InvalidUrl(_)), "{error:?}");
    assert!(!error.to_string().contains("hunter2"));
}

#[tokio::test]
async fn an_unreachable_server_fails_within_the_timeout_and_hides_the_password() {
    let started = Instant::now();
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let error = connect_redis("redis://:hunter2@127.0.0.1:1", Duration::from_millis(200))
        .await
        .err()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
}
