//! Connecting to Redis with bounded waits.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::KvError;

/// Opens a reconnecting Redis connection whose every wait is bounded by `timeout`.
///
/// `timeout` caps the initial connection, each reconnection attempt and each command's
/// response. A request path that consults the cache or rate limiter therefore never hangs on
/// a sick Redis for longer than that: it degrades (cache miss, rate limiter on per-process limits) instead.
///
/// # Errors
///
/// [`KvError::InvalidUrl`] for an unparsable URL, [`KvError::Timeout`] or [`KvError::Redis`]
/// when the first connection cannot be made. The error never contains the URL itself, which
/// may embed a password.
pub async fn connect_redis(url: &str, timeout: Duration) -> Result<ConnectionManager, KvError> {
    let client = redis::Client::open(url).map_err(KvError::InvalidUrl)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        // Few quick retries: the caller (start-up or readiness) wants an answer, not patience;
        // the manager keeps reconnecting in the background after that anyway.
        .set_number_of_retries(2)
        .set_max_delay(timeout);
    // The outer timeout also covers DNS resolution and the retries above, which the
    // per-attempt connection timeout does not.
    let overall = timeout.saturating_mul(4);
    match tokio::time::timeout(overall, ConnectionManager::new_with_config(client, config)).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(KvError::Timeout(overall)),
    }
}
