//! The in-process GCRA limiter and the response headers.
#![allow(
    clippy::unwrap_used,
    reason = "a test should panic on any unexpected failure"
)]

mod common;

use std::time::Duration;

use common::Counts;
use metrics_util::debugging::DebuggingRecorder;
use preflight_kv::{Decision, Quota, RATE_LIMIT_REJECTIONS_TOTAL, RateLimiter};

#[tokio::test]
async fn a_burst_is_allowed_then_the_next_request_is_rejected() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let limiter = RateLimiter::in_process();
    // One request replenished every 2 s: nothing refills during the test.
    let quota = Quota::new(5, Duration::from_secs(10));

    for expected_remaining in (0..5).rev() {
        let d = limiter.check("login", "10.0.0.1", quota).await;
        assert!(d.allowed, "{d:?}");
        assert_eq!(d.limit, 5);
        assert_eq!(d.remaining, expected_remaining, "{d:?}");
        assert_eq!(d.retry_after, None);
    }
    let rejected = limiter.check("login", "10.0.0.1", quota).await;
    assert!(!rejected.allowed);
    assert_eq!(rejected.remaining, 0);
    let retry = rejected.retry_after.unwrap();
    assert!(
        retry > Duration::ZERO && retry <= Duration::from_secs(2),
        "{retry:?}"
    );
    // Full capacity comes back one whole period after the burst, give or take.
    assert!(
        rejected.reset_after > Duration::from_secs(9),
        "{rejected:?}"
    );
    assert!(
        rejected.reset_after <= Duration::from_secs(10),
        "{rejected:?}"
    );

    let counts = Counts::take(&snapshotter);
    assert_eq!(
        counts.get(RATE_LIMIT_REJECTIONS_TOTAL, Some(("scope", "login"))),
        1
    );
}

#[tokio::test]
async fn capacity_recovers_after_the_period() {
    let limiter = RateLimiter::in_process();
    let quota = Quota::new(4, Duration::from_millis(400));
    let mut last = None;
    for _ in 0..4 {
        last = Some(limiter.check("api", "k", quota).await);
        assert!(last.as_ref().unwrap().allowed);
    }
    let last = last.unwrap();
    assert!(last.reset_after <= Duration::from_millis(400), "{last:?}");
    let rejected = limiter.check("api", "k", quota).await;
    assert!(!rejected.allowed);

    tokio::time::sleep(rejected.reset_after + Duration::from_millis(100)).await;
    for _ in 0..4 {
        assert!(limiter.check("api", "k", quota).await.allowed);
    }
}

#[tokio::test]
async fn waiting_retry_after_is_enough_for_one_more_request() {
    let limiter = RateLimiter::in_process();
    let quota = Quota::new(2, Duration::from_millis(400));
    limiter.check("api", "k", quota).await;
    limiter.check("api", "k", quota).await;
    let rejected = limiter.check("api", "k", quota).await;
    tokio::time::sleep(rejected.retry_after.unwrap() + Duration::from_millis(20)).await;
    assert!(limiter.check("api", "k", quota).await.allowed);
}

#[tokio::test]
async fn keys_and_scopes_are_independent() {
    let limiter = RateLimiter::in_process();
    let quota = Quota::new(1, Duration::from_secs(60));
    assert!(limiter.check("login", "a", quota).await.allowed);
    assert!(!limiter.check("login", "a", quota).await.allowed);
    assert!(limiter.check("login", "b", quota).await.allowed);
    assert!(limiter.check("api", "a", quota).await.allowed);
    // Clones share state.
    assert!(!limiter.clone().check("login", "b", quota).await.allowed);
}

#[tokio::test]
async fn a_zero_burst_still_lets_one_request_through() {
    let limiter = RateLimiter::in_process();
    let d = limiter
        .check("s", "k", Quota::new(0, Duration::from_secs(60)))
        .await;
    assert!(d.allowed);
    assert_eq!(d.limit, 1);
}

fn decision(allowed: bool, remaining: u32, reset_ms: u64, retry_ms: Option<u64>) -> Decision {
    Decision {
        allowed,
        limit: 10,
        remaining,
        reset_after: Duration::from_millis(reset_ms),
        retry_after: retry_ms.map(Duration::from_millis),
        policy: "login".to_owned(),
        window: Duration::from_secs(60),
    }
}

#[test]
fn headers_of_an_allowed_request() {
    assert_eq!(
        decision(true, 7, 18_000, None).headers(),
        vec![
            ("ratelimit-policy", r#""login";q=10;w=60"#.to_owned()),
            ("ratelimit", r#""login";r=7;t=18"#.to_owned()),
        ]
    );
    // Sub-second times round up; a fresh key has t=0 only when it is truly at full capacity.
    assert_eq!(
        decision(true, 9, 1, None).headers()[1],
        ("ratelimit", r#""login";r=9;t=1"#.to_owned())
    );
}

#[test]
fn headers_of_a_rejected_request() {
    assert_eq!(
        decision(false, 0, 59_500, Some(5_200)).headers(),
        vec![
            ("ratelimit-policy", r#""login";q=10;w=60"#.to_owned()),
            ("ratelimit", r#""login";r=0;t=6"#.to_owned()),
            ("retry-after", "6".to_owned()),
        ]
    );
    // Retry-After is never 0, which clients would read as "now".
    assert_eq!(
        decision(false, 0, 10, Some(10)).headers()[2],
        ("retry-after", "1".to_owned())
    );
}
