//! The Redis GCRA limiter: one limit shared by several instances, recovery, failing open.
#![allow(
    clippy::unwrap_used,
    reason = "a test should panic on any unexpected failure"
)]

mod common;

use std::time::Duration;

use common::{Counts, cleanup, redis_or_skip, unique_prefix};
use metrics_util::debugging::DebuggingRecorder;
use preflight_kv::{Quota, RATE_LIMIT_ERRORS_TOTAL, RATE_LIMIT_REJECTIONS_TOTAL, RateLimiter};

#[tokio::test]
async fn a_burst_is_allowed_then_the_next_request_is_rejected() {
    let Some(conn) = redis_or_skip().await else {
        return;
    };
    let prefix = unique_prefix("rl-burst");
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let limiter = RateLimiter::redis(conn.clone(), prefix.clone());
    let quota = Quota::new(5, Duration::from_secs(10));

    for expected_remaining in (0..5).rev() {
        let d = limiter.check("login", "10.0.0.1", quota).await;
        assert!(d.allowed, "{d:?}");
        assert_eq!(d.remaining, expected_remaining, "{d:?}");
    }
    let rejected = limiter.check("login", "10.0.0.1", quota).await;
    assert!(!rejected.allowed);
    assert_eq!(rejected.remaining, 0);
    let retry = rejected.retry_after.unwrap();
    assert!(
        retry > Duration::ZERO && retry <= Duration::from_secs(2),
        "{retry:?}"
    );
    assert!(
        rejected.reset_after > Duration::from_secs(9),
        "{rejected:?}"
    );
    assert!(
        rejected.reset_after <= Duration::from_secs(10),
        "{rejected:?}"
    );
    // Another key is untouched.
    assert_eq!(limiter.check("login", "10.0.0.2", quota).await.remaining, 4);

    let counts = Counts::take(&snapshotter);
    assert_eq!(
        counts.get(RATE_LIMIT_REJECTIONS_TOTAL, Some(("scope", "login"))),
        1
    );
    assert_eq!(counts.get(RATE_LIMIT_ERRORS_TOTAL, None), 0);
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn two_instances_share_one_limit() {
    let Some(conn) = redis_or_skip().await else {
        return;
    };
    let prefix = unique_prefix("rl-shared");
    // Two "replicas" with their own connections.
    let a = RateLimiter::redis(conn.clone(), prefix.clone());
    let b = RateLimiter::redis(redis_or_skip().await.unwrap(), prefix.clone());
    let quota = Quota::new(5, Duration::from_secs(10));

    for _ in 0..3 {
        assert!(a.check("api", "user:42", quota).await.allowed);
    }
    for _ in 0..2 {
        assert!(b.check("api", "user:42", quota).await.allowed);
    }
    assert!(!a.check("api", "user:42", quota).await.allowed);
    assert!(!b.check("api", "user:42", quota).await.allowed);
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn capacity_recovers_after_the_period() {
    let Some(conn) = redis_or_skip().await else {
        return;
    };
    let prefix = unique_prefix("rl-recover");
    let limiter = RateLimiter::redis(conn.clone(), prefix.clone());
    let quota = Quota::new(4, Duration::from_millis(400));
    for _ in 0..4 {
        assert!(limiter.check("api", "k", quota).await.allowed);
    }
    let rejected = limiter.check("api", "k", quota).await;
    assert!(!rejected.allowed);
    assert!(rejected.retry_after.unwrap() > Duration::ZERO);

    tokio::time::sleep(rejected.reset_after + Duration::from_millis(100)).await;
    for _ in 0..4 {
        assert!(limiter.check("api", "k", quota).await.allowed);
    }
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn state_expires_from_redis_once_capacity_is_full() {
    let Some(conn) = redis_or_skip().await else {
        return;
    };
    let prefix = unique_prefix("rl-expire");
    let limiter = RateLimiter::redis(conn.clone(), prefix.clone());
    limiter
        .check("api", "k", Quota::new(2, Duration::from_millis(100)))
        .await;
    let mut raw = conn.clone();
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}rl:api:k"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!((1..=100).contains(&ttl_ms), "PTTL {ttl_ms}");
    cleanup(&conn, &prefix).await;
}

async fn three_checks(limiter: &RateLimiter, quota: Quota) -> Vec<bool> {
    let mut v = Vec::new();
    for _ in 0..3 {
        v.push(limiter.check("api", "k", quota).await.allowed);
    }
    v
}

#[tokio::test]
async fn redis_errors_fall_back_to_in_process_limits_and_are_counted() {
    let Some(conn) = redis_or_skip().await else {
        return;
    };
    let prefix = unique_prefix("rl-errors");
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    // A list where the script expects a string: GET fails with WRONGTYPE inside the script.
    let mut raw = conn.clone();
    redis::cmd("RPUSH")
        .arg(format!("{prefix}rl:api:k"))
        .arg("x")
        .query_async::<()>(&mut raw)
        .await
        .unwrap();
    let limiter = RateLimiter::redis(conn.clone(), prefix.clone());
    let quota = Quota::new(1, Duration::from_secs(60));
    // Redis cannot answer: the quota still holds, enforced by this process.
    let verdicts: Vec<bool> = three_checks(&limiter, quota).await;
    assert_eq!(verdicts, vec![true, false, false]);
    let counts = Counts::take(&snapshotter);
    assert_eq!(counts.get(RATE_LIMIT_ERRORS_TOTAL, None), 3);
    cleanup(&conn, &prefix).await;
}
