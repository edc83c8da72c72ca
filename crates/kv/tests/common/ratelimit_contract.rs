//! What every rate-limiter backend does: the GCRA verdicts, what a client is told, the
//! rejection metric. Run on both backends by [`rate_limiter_contract!`].

use std::time::Duration;

use metrics_util::debugging::DebuggingRecorder;
use preflight_kv::{Quota, RATE_LIMIT_ERRORS_TOTAL, RATE_LIMIT_REJECTIONS_TOTAL};

use super::{Backend, Counts};

/// One `#[tokio::test]` per behaviour below, on `Backend::$backend` (`in_process`, `redis`).
/// A new behaviour is listed here to run.
#[allow(unused_macros)] // each test binary runs one contract
macro_rules! rate_limiter_contract {
    ($backend:ident) => {
        crate::common::contract_tests!(ratelimit_contract, $backend:
            a_burst_is_allowed_then_the_next_request_is_rejected,
            capacity_recovers_after_the_period,
            waiting_retry_after_is_enough_for_one_more_request,
            keys_and_scopes_are_independent,
            a_zero_burst_still_lets_one_request_through,
        );
    };
}
#[allow(unused_imports)]
pub(crate) use rate_limiter_contract;

pub async fn a_burst_is_allowed_then_the_next_request_is_rejected(backend: &Backend) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // A thread-local recorder: #[tokio::test] polls everything on this thread.
    let _guard = metrics::set_default_local_recorder(&recorder);
    let limiter = backend.limiter();
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
    let retry = rejected
        .retry_after
        .expect("a rejection says when to retry");
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
    // Another key is untouched.
    assert_eq!(limiter.check("login", "10.0.0.2", quota).await.remaining, 4);

    let counts = Counts::take(&snapshotter);
    assert_eq!(
        counts.get(RATE_LIMIT_REJECTIONS_TOTAL, Some(("scope", "login"))),
        1
    );
    assert_eq!(counts.get(RATE_LIMIT_ERRORS_TOTAL, None), 0);
}

pub async fn capacity_recovers_after_the_period(backend: &Backend) {
    let limiter = backend.limiter();
    let quota = Quota::new(4, Duration::from_millis(400));
    let mut last = None;
    for _ in 0..4 {
        let d = limiter.check("api", "k", quota).await;
        assert!(d.allowed, "{d:?}");
        last = Some(d);
    }
    let last = last.expect("four checks");
    assert!(last.reset_after <= Duration::from_millis(400), "{last:?}");
    let rejected = limiter.check("api", "k", quota).await;
    assert!(!rejected.allowed);
    assert!(
        rejected.retry_after.is_some_and(|r| r > Duration::ZERO),
        "{rejected:?}"
    );

    tokio::time::sleep(rejected.reset_after + Duration::from_millis(100)).await;
    for _ in 0..4 {
        assert!(limiter.check("api", "k", quota).await.allowed);
    }
}

pub async fn waiting_retry_after_is_enough_for_one_more_request(backend: &Backend) {
    let limiter = backend.limiter();
    let quota = Quota::new(2, Duration::from_millis(400));
    limiter.check("api", "k", quota).await;
    limiter.check("api", "k", quota).await;
    let rejected = limiter.check("api", "k", quota).await;
    let retry = rejected.retry_after.expect("the third request is rejected");
    tokio::time::sleep(retry + Duration::from_millis(20)).await;
    assert!(limiter.check("api", "k", quota).await.allowed);
}

pub async fn keys_and_scopes_are_independent(backend: &Backend) {
    let limiter = backend.limiter();
    let quota = Quota::new(1, Duration::from_secs(60));
    assert!(limiter.check("login", "a", quota).await.allowed);
    assert!(!limiter.check("login", "a", quota).await.allowed);
    assert!(limiter.check("login", "b", quota).await.allowed);
    assert!(limiter.check("api", "a", quota).await.allowed);
    // Clones share state.
    assert!(!limiter.clone().check("login", "b", quota).await.allowed);
}

pub async fn a_zero_burst_still_lets_one_request_through(backend: &Backend) {
    let limiter = backend.limiter();
    let d = limiter
        .check("s", "k", Quota::new(0, Duration::from_secs(60)))
        .await;
    assert!(d.allowed);
    assert_eq!(d.limit, 1);
}
