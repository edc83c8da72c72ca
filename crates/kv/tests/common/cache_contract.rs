//! What every cache backend does: hits and misses, TTLs, tag invalidation, JSON and
//! `get_or_insert_with_json`, the hit/miss metrics. Run on both backends by
//! [`cache_contract!`].

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use metrics_util::debugging::DebuggingRecorder;
use preflight_kv::{CACHE_HITS_TOTAL, CACHE_MISSES_TOTAL};
use serde::{Deserialize, Serialize};

use super::{Backend, Counts};

/// One `#[tokio::test]` per behaviour below, on `Backend::$backend` (`in_process`, `redis`).
/// A new behaviour is listed here to run.
#[allow(unused_macros)] // each test binary runs one contract
macro_rules! cache_contract {
    ($backend:ident) => {
        crate::common::contract_tests!(cache_contract, $backend:
            miss_then_hit_and_metrics_are_counted,
            clones_share_storage_and_overwrites_win,
            entries_expire_after_their_ttl,
            invalidating_a_tag_hides_its_entries_and_only_its_entries,
            json_round_trips_and_undecodable_entries_are_misses,
            get_or_insert_computes_once_and_recomputes_after_invalidation,
            get_or_insert_does_not_cache_errors,
            a_value_computed_across_an_invalidation_is_not_served_afterwards,
            concurrent_misses_fill_once_and_share_the_value,
            a_failed_fill_is_retried_by_a_waiting_caller,
            after_a_failed_fill_the_waiters_fill_together_not_in_turn,
            stale_entries_are_refilled_once,
            slots_resolve_and_read_in_batches_and_honour_invalidation,
            a_cancelled_fill_leaves_nothing_behind,
        );
    };
}
#[allow(unused_imports)]
pub(crate) use cache_contract;

/// Longer than any test runs.
pub const LONG: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    service: String,
    ready: u32,
}

pub fn summary(ready: u32) -> Summary {
    Summary {
        service: "billing".to_owned(),
        ready,
    }
}

pub async fn miss_then_hit_and_metrics_are_counted(backend: &Backend) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // A thread-local recorder: #[tokio::test] polls everything on this thread.
    let _guard = metrics::set_default_local_recorder(&recorder);
    let cache = backend.cache("pages");

    assert_eq!(cache.get("home").await, None);
    cache.set("home", b"<h1>hi</h1>", LONG).await;
    assert_eq!(
        cache.get("home").await.as_deref(),
        Some(&b"<h1>hi</h1>"[..])
    );
    assert_eq!(
        cache.get("home").await.as_deref(),
        Some(&b"<h1>hi</h1>"[..])
    );
    assert_eq!(cache.get("other").await, None);

    let counts = Counts::take(&snapshotter);
    assert_eq!(counts.get(CACHE_HITS_TOTAL, Some(("cache", "pages"))), 2);
    assert_eq!(counts.get(CACHE_MISSES_TOTAL, Some(("cache", "pages"))), 2);
}

pub async fn clones_share_storage_and_overwrites_win(backend: &Backend) {
    let cache = backend.cache("c");
    let clone = cache.clone();
    cache.set("k", b"1", LONG).await;
    clone.set("k", b"2", LONG).await;
    assert_eq!(cache.get("k").await.as_deref(), Some(&b"2"[..]));
}

pub async fn entries_expire_after_their_ttl(backend: &Backend) {
    let cache = backend.cache("c");
    cache.set("short", b"x", Duration::from_millis(100)).await;
    cache.set("long", b"y", LONG).await;
    assert!(cache.get("short").await.is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get("short").await, None);
    assert!(cache.get("long").await.is_some());
}

pub async fn invalidating_a_tag_hides_its_entries_and_only_its_entries(backend: &Backend) {
    let cache = backend.cache("c");
    cache.set_tagged("checklist:1", "html", b"one", LONG).await;
    cache.set_tagged("checklist:1", "json", b"{}", LONG).await;
    cache.set_tagged("checklist:2", "html", b"two", LONG).await;
    cache.set("untagged", b"u", LONG).await;

    cache.invalidate("checklist:1").await;

    assert_eq!(cache.get_tagged("checklist:1", "html").await, None);
    assert_eq!(cache.get_tagged("checklist:1", "json").await, None);
    assert_eq!(
        cache.get_tagged("checklist:2", "html").await.as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(cache.get("untagged").await.as_deref(), Some(&b"u"[..]));

    // The tag is usable again right away.
    cache
        .set_tagged("checklist:1", "html", b"one v2", LONG)
        .await;
    assert_eq!(
        cache.get_tagged("checklist:1", "html").await.as_deref(),
        Some(&b"one v2"[..])
    );
}

pub async fn json_round_trips_and_undecodable_entries_are_misses(backend: &Backend) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let cache = backend.cache("json");

    cache.set_json("s", &summary(3), LONG).await;
    assert_eq!(cache.get_json::<Summary>("s").await, Some(summary(3)));
    // Same bytes, another type (a deploy changed the schema): a miss, not an error.
    assert_eq!(cache.get_json::<Vec<u8>>("s").await, None);

    cache
        .set_json_tagged("readiness", "all", &summary(4), LONG)
        .await;
    assert_eq!(
        cache.get_json_tagged::<Summary>("readiness", "all").await,
        Some(summary(4))
    );
    cache.invalidate("readiness").await;
    assert_eq!(
        cache.get_json_tagged::<Summary>("readiness", "all").await,
        None
    );

    let counts = Counts::take(&snapshotter);
    assert_eq!(counts.get(CACHE_HITS_TOTAL, Some(("cache", "json"))), 2);
    assert_eq!(counts.get(CACHE_MISSES_TOTAL, Some(("cache", "json"))), 2);
}

pub async fn get_or_insert_computes_once_and_recomputes_after_invalidation(backend: &Backend) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let cache = backend.cache("summaries");
    let calls = AtomicU32::new(0);
    let compute = || async {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        Ok::<_, std::convert::Infallible>(summary(n))
    };

    for _ in 0..3 {
        let value = cache
            .get_or_insert_with_json("readiness", "all", LONG, compute)
            .await;
        assert_eq!(value, Ok(summary(1)));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    cache.invalidate("readiness").await;
    assert_eq!(
        cache.get_json_tagged::<Summary>("readiness", "all").await,
        None
    );
    // One miss computing, two hits, one miss after the invalidation.
    let counts = Counts::take(&snapshotter);
    assert_eq!(
        counts.get(CACHE_HITS_TOTAL, Some(("cache", "summaries"))),
        2
    );
    assert_eq!(
        counts.get(CACHE_MISSES_TOTAL, Some(("cache", "summaries"))),
        2
    );

    let recomputed = cache
        .get_or_insert_with_json("readiness", "all", LONG, compute)
        .await;
    assert_eq!(recomputed, Ok(summary(2)));
}

pub async fn get_or_insert_does_not_cache_errors(backend: &Backend) {
    let cache = backend.cache("c");
    let failed: Result<Summary, &str> = cache
        .get_or_insert_with_json("t", "k", LONG, || async { Err("database down") })
        .await;
    assert_eq!(failed, Err("database down"));
    let ok: Result<Summary, &str> = cache
        .get_or_insert_with_json("t", "k", LONG, || async { Ok(summary(1)) })
        .await;
    assert_eq!(ok, Ok(summary(1)));
}

pub async fn a_value_computed_across_an_invalidation_is_not_served_afterwards(backend: &Backend) {
    let cache = backend.cache("c");
    // A write lands (and invalidates) while the read is computing from the old state.
    let raced = cache
        .get_or_insert_with_json("readiness", "all", LONG, || async {
            cache.invalidate("readiness").await;
            Ok::<_, std::convert::Infallible>(summary(1))
        })
        .await;
    assert_eq!(raced, Ok(summary(1)));
    assert_eq!(
        cache.get_json_tagged::<Summary>("readiness", "all").await,
        None
    );
}

/// A fill that takes a while, so that every caller arrives while it runs.
async fn slow_fill(calls: &AtomicU32) -> Result<Vec<u8>, String> {
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(format!("fill {n}").into_bytes())
}

pub async fn concurrent_misses_fill_once_and_share_the_value(backend: &Backend) {
    let cache = backend.cache("flights");
    let calls = AtomicU32::new(0);
    let reads = (0..32).map(|_| cache.get_or_fill("t", "k", LONG, |_| true, || slow_fill(&calls)));
    let values = futures::future::join_all(reads).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "32 concurrent misses filled once"
    );
    for value in values {
        assert_eq!(value.as_deref(), Ok(&b"fill 1"[..]));
    }
    // And the next read is a plain hit.
    let again = cache
        .get_or_fill("t", "k", LONG, |_| true, || slow_fill(&calls))
        .await;
    assert_eq!(again.as_deref(), Ok(&b"fill 1"[..]));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

pub async fn a_failed_fill_is_retried_by_a_waiting_caller(backend: &Backend) {
    let cache = backend.cache("flights");
    let calls = AtomicU32::new(0);
    let fill = || async {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        if n == 1 {
            Err("the database went away".to_owned())
        } else {
            Ok(b"second".to_vec())
        }
    };
    let (first, second) = tokio::join!(
        cache.get_or_fill("t", "k", LONG, |_| true, fill),
        cache.get_or_fill("t", "k", LONG, |_| true, fill),
    );
    // Whichever caller filled first got the error; the other filled again, successfully.
    let mut outcomes = [first.map(|v| v.to_vec()), second.map(|v| v.to_vec())];
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            Ok(b"second".to_vec()),
            Err("the database went away".to_owned())
        ]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

pub async fn after_a_failed_fill_the_waiters_fill_together_not_in_turn(backend: &Backend) {
    let cache = backend.cache("flights");
    let (calls, running, most) = (AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0));
    let failing = |calls: &AtomicU32, running: &AtomicU32, most: &AtomicU32| {
        calls.fetch_add(1, Ordering::SeqCst);
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
    };
    // Every fill fails, as while the database is down.
    let compute = || async {
        failing(&calls, &running, &most);
        tokio::time::sleep(Duration::from_millis(100)).await;
        running.fetch_sub(1, Ordering::SeqCst);
        Err::<u32, _>("the database is down")
    };
    // Small JSON values (a token's standing): the waiters fill again at once.
    let reads = (0..4).map(|_| cache.get_or_insert_with_json("t", "k", LONG, compute));
    for outcome in futures::future::join_all(reads).await {
        assert_eq!(outcome, Err("the database is down"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(most.load(Ordering::SeqCst), 3, "the three waiters at once");

    // Raw fills (a cold readiness document, costly): they take turns, never two at a time.
    let (calls, running, most) = (AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0));
    let fill = || async {
        failing(&calls, &running, &most);
        tokio::time::sleep(Duration::from_millis(50)).await;
        running.fetch_sub(1, Ordering::SeqCst);
        Err::<Vec<u8>, _>("the database is down")
    };
    let reads = (0..4).map(|_| cache.get_or_fill("t", "raw", LONG, |_| true, fill));
    for outcome in futures::future::join_all(reads).await {
        assert_eq!(outcome, Err("the database is down"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(most.load(Ordering::SeqCst), 1, "one fill at a time");
}

pub async fn stale_entries_are_refilled_once(backend: &Backend) {
    let cache = backend.cache("flights");
    cache.set_tagged("t", "k", b"stale", LONG).await;
    let calls = AtomicU32::new(0);
    let fresh = |bytes: &[u8]| bytes != b"stale";
    let reads = (0..8).map(|_| cache.get_or_fill("t", "k", LONG, fresh, || slow_fill(&calls)));
    for value in futures::future::join_all(reads).await {
        assert_eq!(value.as_deref(), Ok(&b"fill 1"[..]));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        cache.get_tagged("t", "k").await.as_deref(),
        Some(&b"fill 1"[..])
    );
}

pub async fn slots_resolve_and_read_in_batches_and_honour_invalidation(backend: &Backend) {
    let cache = backend.cache("batches");
    let slots = cache
        .slots(&[("svc:a", "summary"), ("svc:b", "summary")])
        .await;
    assert!(slots.iter().all(Option::is_some));
    cache
        .write(
            slots[0].as_ref().unwrap(),
            bytes::Bytes::from_static(b"a"),
            LONG,
        )
        .await;
    let read = cache.read_many(&slots).await;
    assert_eq!(read[0].as_deref(), Some(&b"a"[..]));
    assert_eq!(read[1], None);
    // A slot resolved one by one is the same slot.
    assert_eq!(cache.slot("svc:a", "summary").await, slots[0]);

    cache.invalidate("svc:a").await;
    let again = cache
        .slots(&[("svc:a", "summary"), ("svc:b", "summary")])
        .await;
    assert_ne!(
        again[0], slots[0],
        "a new generation after the invalidation"
    );
    assert_eq!(again[1], slots[1], "the other tag is untouched");
    assert_eq!(cache.read_many(&again).await[0], None);
    // A value computed before the invalidation and written to its old slot stays unread.
    cache
        .write(
            slots[0].as_ref().unwrap(),
            bytes::Bytes::from_static(b"old"),
            LONG,
        )
        .await;
    assert_eq!(cache.read_many(&again).await[0], None);
}

pub async fn a_cancelled_fill_leaves_nothing_behind(backend: &Backend) {
    let cache = backend.cache("flights");
    let calls = AtomicU32::new(0);
    // The first caller gives up mid-fill (a client that went away).
    let abandoned = tokio::time::timeout(
        Duration::from_millis(20),
        cache.get_or_fill("t", "k", LONG, |_| true, || slow_fill(&calls)),
    )
    .await;
    assert!(abandoned.is_err());
    // The next caller fills at once, without waiting out a lock the first one left.
    let started = std::time::Instant::now();
    let value = cache
        .get_or_fill("t", "k", LONG, |_| true, || slow_fill(&calls))
        .await;
    assert_eq!(value.as_deref(), Ok(&b"fill 2"[..]));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "waited {:?} for an abandoned fill",
        started.elapsed()
    );
}
