//! GCRA rate limiting, in-process (governor) or shared through Redis (one Lua script).
//!
//! GCRA (the generic cell rate algorithm) is a leaky bucket kept as a single timestamp per
//! key, the *theoretical arrival time*: a key may send `burst` requests at once and then one
//! every `per / burst`. It needs no background refill and no per-window counters, and its
//! state fits a single Redis string.

mod local;
mod remote;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::RATE_LIMIT_REJECTIONS_TOTAL;

/// How many requests a key may make: `burst` at once, refilled at `burst` per `per`.
///
/// A `burst` of 0 is treated as 1 and a zero `per` as the shortest representable period: a
/// limiter cannot reject everything forever, and a quota typo should not take the service down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Requests allowed in a burst, and replenished over `per`.
    pub burst: u32,
    /// The time it takes to replenish `burst` requests; the rate is `burst / per`.
    pub per: Duration,
}

impl Quota {
    /// `burst` requests, replenished over `per`.
    pub const fn new(burst: u32, per: Duration) -> Self {
        Self { burst, per }
    }

    /// `n` requests per second, all of them usable in one burst.
    pub const fn per_second(n: u32) -> Self {
        Self::new(n, Duration::from_secs(1))
    }

    /// `n` requests per minute, all of them usable in one burst.
    pub const fn per_minute(n: u32) -> Self {
        Self::new(n, Duration::from_secs(60))
    }

    /// The burst actually enforced (at least 1).
    fn effective_burst(&self) -> u32 {
        self.burst.max(1)
    }

    /// Time between two replenished requests, `per / burst`, at least 1 µs.
    ///
    /// The floor of 1 µs is the resolution of the Redis script; keeping the in-process limiter
    /// on the same value makes both backends agree.
    fn emission_interval(&self) -> Duration {
        (self.per / self.effective_burst()).max(Duration::from_micros(1))
    }
}

/// The outcome of one rate-limit check, with what a client needs to pace itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The burst size of the quota.
    pub limit: u32,
    /// Requests that could still be made right now, after this one.
    pub remaining: u32,
    /// Time until the key is back to full capacity.
    pub reset_after: Duration,
    /// When rejected, the time until one request would be allowed.
    pub retry_after: Option<Duration>,
    /// The policy name used in the headers: the scope of the check.
    pub policy: String,
    /// The quota's replenish period, advertised as the policy window.
    pub window: Duration,
}

/// The backend-independent part of a decision.
struct Outcome {
    allowed: bool,
    remaining: u32,
    retry_after: Option<Duration>,
    reset_after: Duration,
}

impl Decision {
    fn new(scope: &str, quota: Quota, outcome: Outcome) -> Self {
        Self {
            allowed: outcome.allowed,
            limit: quota.effective_burst(),
            remaining: outcome.remaining,
            reset_after: outcome.reset_after,
            retry_after: outcome.retry_after,
            policy: scope.to_owned(),
            window: quota.per,
        }
    }

    /// Response headers for this decision, names in lowercase (as `http::HeaderName`
    /// requires of static names; HTTP field names are case-insensitive).
    ///
    /// Follows draft-ietf-httpapi-ratelimit-headers-11, the latest draft: the structured-field
    /// list form introduced in -08. Older forms are obsolete: -07's
    /// `RateLimit: limit=10, remaining=0, reset=3` dictionary and -06's separate
    /// `RateLimit-Limit` / `-Remaining` / `-Reset` fields.
    ///
    /// - `ratelimit-policy: "<scope>";q=<burst>;w=<period in s>`
    /// - `ratelimit: "<scope>";r=<remaining>;t=<s>`, where `t` is the time until full capacity
    ///   when allowed, and the time until the next allowed request when rejected (the draft
    ///   asks that `Retry-After` not point earlier than the end of the effective window, and
    ///   during that wait the client indeed has no quota at all).
    /// - `retry-after: <s>` (RFC 9110 delay-seconds) only when rejected.
    ///
    /// Seconds are rounded up, so that a client that waits as told is never rejected for
    /// having come back a fraction of a second early; `w` and `Retry-After` are at least 1.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let policy = structured_string(&self.policy);
        let mut headers = Vec::with_capacity(3);
        headers.push((
            "ratelimit-policy",
            format!(
                "{policy};q={};w={}",
                self.limit,
                whole_seconds_up(self.window).max(1)
            ),
        ));
        let retry_after = self.retry_after.filter(|_| !self.allowed);
        let effective_window = match retry_after {
            Some(wait) => whole_seconds_up(wait).max(1),
            None => whole_seconds_up(self.reset_after),
        };
        headers.push((
            "ratelimit",
            format!("{policy};r={};t={effective_window}", self.remaining),
        ));
        if let Some(wait) = retry_after {
            headers.push(("retry-after", whole_seconds_up(wait).max(1).to_string()));
        }
        headers
    }
}

/// A GCRA rate limiter over (scope, key) pairs; each check names its own quota.
///
/// Cloning is cheap and clones share state.
#[derive(Clone)]
pub struct RateLimiter {
    backend: Arc<Backend>,
}

enum Backend {
    Local(local::LocalLimiter),
    /// Redis, with in-process limits used while Redis cannot answer.
    Redis(remote::RedisLimiter, local::LocalLimiter),
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match *self.backend {
            Backend::Local(_) => "in-process",
            Backend::Redis(..) => "redis",
        };
        f.debug_struct("RateLimiter")
            .field("backend", &backend)
            .finish()
    }
}

impl RateLimiter {
    /// A limiter whose state lives in this process: each replica enforces its own limits.
    pub fn in_process() -> Self {
        Self {
            backend: Arc::new(Backend::Local(local::LocalLimiter::new())),
        }
    }

    /// A limiter whose state lives in Redis under keys `<prefix>rl:<scope>:<key>`, so that all
    /// replicas sharing the Redis and prefix enforce one limit together.
    ///
    /// When Redis fails, checks fall back to in-process limits (each replica enforcing the
    /// quota on its own) with a warning and `preflight_rate_limit_errors_total`: a Redis outage
    /// should neither take the service down nor switch brute-force protection off. Build `conn` with [`connect_redis`](crate::connect_redis) so that a
    /// sick Redis delays a request by at most its response timeout.
    pub fn redis(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            backend: Arc::new(Backend::Redis(
                remote::RedisLimiter::new(conn, prefix.into()),
                local::LocalLimiter::new(),
            )),
        }
    }

    /// Counts one request by `key` (a client IP, user id, token id…) within `scope` (`login`,
    /// `api`…) against `quota`, and says whether it may proceed.
    ///
    /// Keys of different scopes never share state, nor do different quotas of one scope on
    /// the in-process backend (on Redis, a scope is expected to keep one quota).
    pub async fn check(&self, scope: &str, key: &str, quota: Quota) -> Decision {
        let outcome = match &*self.backend {
            Backend::Local(limiter) => limiter.check(scope, key, quota),
            Backend::Redis(limiter, fallback) => match limiter.check(scope, key, quota).await {
                Some(outcome) => outcome,
                None => fallback.check(scope, key, quota),
            },
        };
        if !outcome.allowed {
            metrics::counter!(RATE_LIMIT_REJECTIONS_TOTAL, "scope" => scope.to_owned())
                .increment(1);
        }
        Decision::new(scope, quota, outcome)
    }
}

/// `d` in whole seconds, rounded up.
fn whole_seconds_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `s` as a structured-field String (RFC 8941 §3.3.3): quoted, with `"` and `\` escaped and
/// anything outside printable ASCII replaced, since a String cannot carry it.
fn structured_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('_'),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_strings_are_escaped() {
        assert_eq!(structured_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(structured_string("é\n"), r#""__""#);
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(whole_seconds_up(Duration::ZERO), 0);
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_secs(2)), 2);
        assert_eq!(whole_seconds_up(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn degenerate_quotas_are_clamped() {
        let q = Quota::new(0, Duration::ZERO);
        assert_eq!(q.effective_burst(), 1);
        assert_eq!(q.emission_interval(), Duration::from_micros(1));
        assert_eq!(
            Quota::new(5, Duration::from_secs(1)).emission_interval(),
            Duration::from_millis(200)
        );
    }
}
