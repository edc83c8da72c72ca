//! Cache and rate limiter for preflight.
//!
//! Both come in two flavours behind one type each:
//!
//! - **in-process** (moka for the cache, governor for the rate limiter): the default when no
//!   `REDIS_URL` is configured; state lives and dies with the process.
//! - **Redis**: shared by every replica, so cache invalidation and rate limits hold across the
//!   whole deployment.
//!
//! Neither ever fails a request because Redis misbehaves: the cache degrades to a miss, and the
//! rate limiter falls back to this process's own limits (each replica enforces the quota on its
//! own until Redis answers again), each with a warning log and a metric, so that a Redis outage
//! costs performance and cross-replica sharing but neither availability nor protection.

mod breaker;
mod cache;
mod error;
mod ratelimit;
mod redis_conn;

pub use cache::Cache;
pub use error::KvError;
pub use ratelimit::{Decision, Quota, RateLimiter};
pub use redis_conn::connect_redis;

/// Re-exported so that callers can hold a connection without depending on `redis` themselves.
pub use redis::aio::ConnectionManager;

/// Counter: cache reads answered from the cache. Label `cache`.
pub const CACHE_HITS_TOTAL: &str = "preflight_cache_hits_total";
/// Counter: cache reads that found nothing usable. Label `cache`.
pub const CACHE_MISSES_TOTAL: &str = "preflight_cache_misses_total";
/// Counter: requests rejected by the rate limiter. Label `scope`.
pub const RATE_LIMIT_REJECTIONS_TOTAL: &str = "preflight_rate_limit_rejections_total";
/// Counter: rate-limit checks that could not reach Redis and were decided by this process's
/// own limiter instead.
pub const RATE_LIMIT_ERRORS_TOTAL: &str = "preflight_rate_limit_errors_total";

/// Registers descriptions for every metric this crate emits.
///
/// Call once after installing the global metrics recorder so that `/metrics` carries `# HELP`
/// lines (promtool wants them) even before the first increment.
pub fn describe_metrics() {
    metrics::describe_counter!(
        CACHE_HITS_TOTAL,
        "Cache reads answered from the cache, by cache name."
    );
    metrics::describe_counter!(
        CACHE_MISSES_TOTAL,
        "Cache reads that found no usable entry, by cache name."
    );
    metrics::describe_counter!(
        RATE_LIMIT_REJECTIONS_TOTAL,
        "Requests rejected by the rate limiter, by scope."
    );
    metrics::describe_counter!(
        RATE_LIMIT_ERRORS_TOTAL,
        "Rate-limit checks that could not reach Redis and were decided by the in-process fallback limiter."
    );
}
