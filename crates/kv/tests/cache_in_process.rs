//! The in-process cache: the shared contract (`common::cache_contract`), then what only the
//! in-process cache does: its TTL cap, zero TTLs, an always-healthy ping.
#![allow(
    clippy::unwrap_used,
    reason = "a test should panic on any unexpected failure"
)]

mod common;

use std::time::Duration;

use common::cache_contract::LONG;
use preflight_kv::Cache;

common::cache_contract::cache_contract!(in_process);

// The cap is an in-process setting; a Redis cache takes each entry's own TTL.
#[tokio::test]
async fn the_cache_ttl_caps_every_entry() {
    let cache = Cache::in_process("c", 100, Duration::from_millis(50));
    cache.set("k", b"x", LONG).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cache.get("k").await, None);
}

// Not in the contract: Redis has no zero expiry and keeps such an entry for 1 ms (PX 1).
#[tokio::test]
async fn a_zero_ttl_stores_nothing() {
    let cache = Cache::in_process("c", 100, LONG);
    cache.set("k", b"x", Duration::ZERO).await;
    assert_eq!(cache.get("k").await, None);
}

#[tokio::test]
async fn ping_is_always_ok_in_process() {
    assert!(Cache::in_process("c", 1, LONG).ping().await.is_ok());
}
