//! GCRA shared through Redis: one Lua script per check, atomic on the server.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::{Outcome, Quota};
use crate::RATE_LIMIT_ERRORS_TOTAL;

pub(super) struct RedisLimiter {
    conn: ConnectionManager,
    prefix: String,
    /// Sent by hash (EVALSHA) and loaded on the server's first NOSCRIPT, by `redis::Script`.
    script: redis::Script,
    /// Skips Redis for a while after it failed (see [`crate::breaker`]).
    breaker: crate::breaker::Breaker,
}

impl RedisLimiter {
    pub(super) fn new(conn: ConnectionManager, prefix: String) -> Self {
        Self {
            conn,
            prefix,
            script: redis::Script::new(include_str!("../lua/gcra.lua")),
            breaker: crate::breaker::Breaker::default(),
        }
    }

    /// The Redis verdict, or `None` when Redis could not give one.
    pub(super) async fn check(&self, scope: &str, key: &str, quota: Quota) -> Option<Outcome> {
        let burst = quota.effective_burst();
        let interval_us = u64::try_from(quota.emission_interval().as_micros()).unwrap_or(u64::MAX);
        if !self.breaker.allow() {
            metrics::counter!(RATE_LIMIT_ERRORS_TOTAL).increment(1);
            return None;
        }
        let mut conn = self.conn.clone();
        let reply: Result<(i64, i64, i64, i64), _> = self
            .script
            .key(format!("{}rl:{scope}:{key}", self.prefix))
            .arg(interval_us)
            .arg(burst)
            .invoke_async(&mut conn)
            .await;
        let reply = self.breaker.record(reply);
        match reply {
            Ok((allowed, remaining, retry_after_us, reset_after_us)) => Some(Outcome {
                allowed: allowed == 1,
                remaining: u32::try_from(remaining).unwrap_or(0).min(burst),
                retry_after: (allowed != 1).then(|| micros(retry_after_us)),
                reset_after: micros(reset_after_us),
            }),
            Err(error) => {
                // Refusing every request because Redis is down would turn a cache outage into a
                // full outage; the caller falls back to per-process limits instead, and the
                // counter lets an alert catch it.
                tracing::warn!(%scope, %error, "rate-limit check in Redis failed; using this process's limits");
                metrics::counter!(RATE_LIMIT_ERRORS_TOTAL).increment(1);
                None
            }
        }
    }
}

/// A non-negative microsecond count from the script (negative would be a bug: read as 0).
fn micros(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}
