//! The in-process GCRA limiter (the shared contract, in `common::ratelimit_contract`) and the
//! response headers.
#![allow(
    clippy::unwrap_used,
    reason = "a test should panic on any unexpected failure"
)]

mod common;

use std::time::Duration;

use preflight_kv::Decision;

common::ratelimit_contract::rate_limiter_contract!(in_process);

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
