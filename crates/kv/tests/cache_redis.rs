//! The Redis cache: the shared contract (`common::cache_contract`), then what only Redis
//! does: sharing and invalidation across instances, prefixes, lost generation counters,
//! degradation on errors.
#![allow(
    clippy::unwrap_used,
    reason = "a test should panic on any unexpected failure"
)]

mod common;

use common::cache_contract::LONG;
use common::{cleanup, redis_or_skip, unique_prefix};
use preflight_kv::Cache;

// Skipped when Redis is unreachable, failed under CI=true (`common::redis_or_skip`).
common::cache_contract::cache_contract!(redis);

#[tokio::test]
async fn two_instances_share_entries_and_invalidation() {
    let Some(conn) = redis_or_skip().await else {
        return;
    };
    let prefix = unique_prefix("cache-shared");
    // Two "replicas": separate Cache values (and connections) on one Redis and prefix.
    let a = Cache::redis("pages", conn.clone(), prefix.clone());
    let b = Cache::redis("pages", redis_or_skip().await.unwrap(), prefix.clone());

    a.set_tagged("checklist:7", "html", b"v1", LONG).await;
    a.set_tagged("checklist:8", "html", b"other", LONG).await;
    a.set("plain", b"p", LONG).await;
    assert_eq!(
        b.get_tagged("checklist:7", "html").await.as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(b.get("plain").await.as_deref(), Some(&b"p"[..]));

    a.invalidate("checklist:7").await;
    // B's very next read misses, with nothing in between.
    assert_eq!(b.get_tagged("checklist:7", "html").await, None);
    assert_eq!(a.get_tagged("checklist:7", "html").await, None);
    assert_eq!(
        b.get_tagged("checklist:8", "html").await.as_deref(),
        Some(&b"other"[..])
    );

    b.set_tagged("checklist:7", "html", b"v2", LONG).await;
    assert_eq!(
        a.get_tagged("checklist:7", "html").await.as_deref(),
        Some(&b"v2"[..])
    );

    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn replicas_missing_one_entry_together_fill_it_once() {
    let Some(conn) = redis_or_skip().await else {
        return;
    };
    let prefix = unique_prefix("cache-fill-once");
    let replicas = [
        Cache::redis("readiness", conn.clone(), prefix.clone()),
        Cache::redis("readiness", redis_or_skip().await.unwrap(), prefix.clone()),
        Cache::redis("readiness", redis_or_skip().await.unwrap(), prefix.clone()),
    ];
    let fills = std::sync::atomic::AtomicU32::new(0);
    let reads = replicas.iter().flat_map(|cache| {
        (0..8).map(|_| {
            cache.get_or_fill(
                "overview",
                "all",
                LONG,
                |_| true,
                || async {
                    fills.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    Ok::<_, std::convert::Infallible>(b"computed once".to_vec())
                },
            )
        })
    });
    let values = futures::future::join_all(reads).await;
    assert_eq!(fills.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(
        values
            .iter()
            .all(|v| v.as_deref() == Ok(&b"computed once"[..]))
    );
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn prefixes_keep_caches_apart() {
    let Some(conn) = redis_or_skip().await else {
        return;
    };
    let (p1, p2) = (unique_prefix("cache-p1"), unique_prefix("cache-p2"));
    let one = Cache::redis("c", conn.clone(), p1.clone());
    let two = Cache::redis("c", conn.clone(), p2.clone());
    one.set("k", b"1", LONG).await;
    one.set_tagged("t", "k", b"1", LONG).await;
    assert_eq!(two.get("k").await, None);
    assert_eq!(two.get_tagged("t", "k").await, None);
    two.invalidate("t").await;
    assert!(one.get_tagged("t", "k").await.is_some());
    cleanup(&conn, &p1).await;
    cleanup(&conn, &p2).await;
}

#[tokio::test]
async fn a_lost_generation_counter_never_resurrects_invalidated_entries() {
    let Some(conn) = redis_or_skip().await else {
        return;
    };
    let prefix = unique_prefix("cache-gen");
    let cache = Cache::redis("c", conn.clone(), prefix.clone());
    cache.set_tagged("t", "k", b"old", LONG).await;
    cache.invalidate("t").await;
    // Simulate eviction of the counter (allkeys-lru) or its expiry.
    let mut raw = conn.clone();
    redis::cmd("DEL")
        .arg(format!("{prefix}g:t"))
        .query_async::<()>(&mut raw)
        .await
        .unwrap();
    assert_eq!(cache.get_tagged("t", "k").await, None);
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn redis_errors_degrade_to_misses_without_failing_the_caller() {
    let Some(conn) = redis_or_skip().await else {
        return;
    };
    let prefix = unique_prefix("cache-errors");
    let cache = Cache::redis("c", conn.clone(), prefix.clone());
    let mut raw = conn.clone();
    // Wrong types make Redis answer with errors (WRONGTYPE, not an integer) to our commands.
    redis::cmd("RPUSH")
        .arg(format!("{prefix}c:k:listy"))
        .arg("x")
        .query_async::<()>(&mut raw)
        .await
        .unwrap();
    redis::cmd("SET")
        .arg(format!("{prefix}g:broken"))
        .arg("not a number")
        .query_async::<()>(&mut raw)
        .await
        .unwrap();

    assert_eq!(cache.get("listy").await, None);
    cache.invalidate("broken").await;
    assert_eq!(cache.get_tagged("broken", "k").await, None);
    cache.set_tagged("broken", "k", b"v", LONG).await;
    assert_eq!(cache.get_tagged("broken", "k").await, None);
    let computed: Result<u8, ()> = cache
        .get_or_insert_with_json("broken", "k", LONG, || async { Ok(7) })
        .await;
    assert_eq!(computed, Ok(7));
    assert!(cache.ping().await.is_ok());
    cleanup(&conn, &prefix).await;
}
