//! The Redis GCRA limiter: the shared contract (`common::ratelimit_contract`), then what only
//! Redis does: one limit shared by several instances, expiry, falling back when Redis fails.
#![allow(
    clippy::unwrap_used,
    reason = "a test should panic on any unexpected failure"
)]

mod common;

use std::time::Duration;

use common::{Counts, cleanup, redis_or_skip, unique_prefix};
use metrics_util::debugging::DebuggingRecorder;
use preflight_kv::{Quota, RATE_LIMIT_ERRORS_TOTAL, RateLimiter};

// Skipped when Redis is unreachable, failed under CI=true (`common::redis_or_skip`).
common::ratelimit_contract::rate_limiter_contract!(redis);

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
