//! Readiness is read far more often than it changes: it is served from the cache (Redis when
//! configured, else in-process) under one tag, and every write invalidates that tag (see
//! [`super::gauges::after_write`]), so the very next read recomputes.
//!
//! Effective states also change with time alone (a waiver expires, a sign-off needs
//! re-attestation); cached values carry the moment they stop being true and are recomputed
//! after it.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Timed;
use crate::state::AppState;

/// The cache tag of every readiness entry.
pub const TAG: &str = "readiness";

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    value: T,
    valid_until: Option<DateTime<Utc>>,
}

/// The value under `key`, computed on a miss. The entry is stored under the tag generation
/// read before computing, so a write racing the computation never leaves a stale entry behind.
pub async fn cached<T, E, F, Fut>(state: &AppState, key: &str, compute: F) -> Result<T, E>
where
    T: Serialize + DeserializeOwned,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Timed<T>, E>>,
{
    for _ in 0..2 {
        let entry: Envelope<T> = state
            .cache
            .get_or_insert_with_json(TAG, key, state.settings.cache_ttl, || async {
                compute()
                    .await
                    .map(|(value, valid_until)| Envelope { value, valid_until })
            })
            .await?;
        if entry.valid_until.is_none_or(|until| until > Utc::now()) {
            return Ok(entry.value);
        }
        // Time changed a state (rare): drop every readiness entry and compute again.
        invalidate(state).await;
    }
    compute().await.map(|(value, _)| value)
}

/// Drops every cached readiness value.
pub async fn invalidate(state: &AppState) {
    state.cache.invalidate(TAG).await;
}
