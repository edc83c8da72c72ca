//! Errors surfaced by this crate.
//!
//! Only set-up and health checks return them: day-to-day cache and rate-limit calls swallow
//! Redis errors by design (see the crate docs).

use std::time::Duration;

/// What can go wrong when connecting to or probing Redis.
///
/// The messages never include the Redis URL, which may carry a password.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The Redis URL could not be parsed or names an unsupported scheme.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(#[source] redis::RedisError),
    /// Redis answered with an error, or the connection failed.
    #[error("Redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer within the allowed time.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}
