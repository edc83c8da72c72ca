//! Helpers shared by the integration tests, and the contracts both backends must honour.
//!
//! A contract is a module of behaviours, each an `async fn(&Backend)`, with a macro that
//! expands to one `#[tokio::test]` per behaviour on a given backend:
//! `rate_limiter_contract!(in_process)` in `ratelimit_in_process.rs`,
//! `rate_limiter_contract!(redis)` in `ratelimit_redis.rs`, and `cache_contract!` likewise.
#![allow(dead_code)] // each test binary uses its own subset

pub mod cache_contract;
pub mod ratelimit_contract;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics_util::debugging::{DebugValue, Snapshotter};
use preflight_kv::{Cache, ConnectionManager, RateLimiter, connect_redis};

/// Where the state under test lives: in this process, or in Redis under a prefix of its own.
pub enum Backend {
    InProcess,
    Redis {
        conn: ConnectionManager,
        prefix: String,
    },
}

impl Backend {
    /// Entry TTL cap of in-process caches made by [`Backend::cache`].
    pub const CACHE_TTL: Duration = Duration::from_secs(60);

    pub async fn in_process(_test: &str) -> Option<Self> {
        Some(Self::InProcess)
    }

    /// Redis under a fresh prefix for `test`; `None` (skip) when Redis is unreachable outside
    /// CI, a panic in CI (see [`redis_or_skip`]).
    pub async fn redis(test: &str) -> Option<Self> {
        Some(Self::Redis {
            conn: redis_or_skip().await?,
            prefix: unique_prefix(test),
        })
    }

    /// A rate limiter on this backend. Two in-process limiters share nothing; make one per
    /// test and clone it.
    pub fn limiter(&self) -> RateLimiter {
        match self {
            Self::InProcess => RateLimiter::in_process(),
            Self::Redis { conn, prefix } => RateLimiter::redis(conn.clone(), prefix.clone()),
        }
    }

    /// A cache named `name` (its metrics label) on this backend; in-process, 100 entries
    /// capped at [`Backend::CACHE_TTL`].
    pub fn cache(&self, name: &str) -> Cache {
        match self {
            Self::InProcess => Cache::in_process(name, 100, Self::CACHE_TTL),
            Self::Redis { conn, prefix } => Cache::redis(name, conn.clone(), prefix.clone()),
        }
    }

    /// Removes what the test left in Redis.
    pub async fn cleanup(&self) {
        if let Self::Redis { conn, prefix } = self {
            cleanup(conn, prefix).await;
        }
    }
}

/// Expands to a module `contract` with one `#[tokio::test]` per listed behaviour of the
/// contract module `common::$contract`, each on a fresh `Backend::$backend` (skipped when
/// that gives `None`) and cleaned up after.
macro_rules! contract_tests {
    ($contract:ident, $backend:ident: $($behaviour:ident),+ $(,)?) => {
        mod contract {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    let Some(backend) =
                        crate::common::Backend::$backend(stringify!($behaviour)).await
                    else {
                        return;
                    };
                    crate::common::$contract::$behaviour(&backend).await;
                    backend.cleanup().await;
                }
            )+
        }
    };
}
pub(crate) use contract_tests;

/// The Redis to test against: `REDIS_URL`, else the local default.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A connection to the test Redis, or `None` (test skipped) when it is unreachable outside CI.
/// In CI (`CI=true`) a missing Redis fails the test instead of hiding it.
pub async fn redis_or_skip() -> Option<ConnectionManager> {
    let url = redis_url();
    match connect_redis(&url, Duration::from_secs(2)).await {
        Ok(conn) => Some(conn),
        Err(error) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("Redis unreachable at {} in CI: {error}", redacted(&url))
        }
        Err(error) => {
            eprintln!(
                "skipping: Redis unreachable at {} ({error})",
                redacted(&url)
            );
            None
        }
    }
}

/// `url` with any user/password replaced, fit for test output.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// A key prefix no other test (or concurrent run) uses.
pub fn unique_prefix(test: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("preflight-test:{test}:{}:{nanos}:{n}:", std::process::id())
}

/// Deletes every key under `prefix` (entries would expire anyway; generation counters last
/// for days).
pub async fn cleanup(conn: &ConnectionManager, prefix: &str) {
    let mut conn = conn.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
}

/// Counter increments seen by a `DebuggingRecorder` since its previous snapshot.
///
/// One snapshot serves all lookups because taking a snapshot resets *every* counter.
pub struct Counts(Vec<Count>);

/// Name, labels and increments of one counter.
type Count = (String, Vec<(String, String)>, u64);

impl Counts {
    /// Takes (and thereby resets) a snapshot of all counters.
    pub fn take(snapshotter: &Snapshotter) -> Self {
        Self(
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .map(|(key, _, _, value)| {
                    let name = key.key().name().to_owned();
                    let labels = key
                        .key()
                        .labels()
                        .map(|l| (l.key().to_owned(), l.value().to_owned()))
                        .collect();
                    match value {
                        DebugValue::Counter(n) => (name, labels, n),
                        other => panic!("{name} is not a counter: {other:?}"),
                    }
                })
                .collect(),
        )
    }

    /// Increments of counter `name`, restricted to label `label` = value when given.
    pub fn get(&self, name: &str, label: Option<(&str, &str)>) -> u64 {
        self.0
            .iter()
            .filter(|(n, labels, _)| {
                n == name
                    && label.is_none_or(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(.., count)| count)
            .sum()
    }
}
