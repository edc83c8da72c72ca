//! Readiness is read far more often than it changes, so it is served from the cache (Redis
//! when configured, else in-process) as ready-made JSON documents: a hit is bytes and an ETag,
//! with nothing decoded or encoded again.
//!
//! # What a write invalidates
//!
//! Every entry about one service (its readiness, its reviews' readiness, its line of the
//! overview) is stored under that service's tag, [`service_tag`]; the overview document under
//! [`OVERVIEW_TAG`]. A write drops the tag of the service it changed and the overview
//! ([`invalidate_service`]); the next overview read is assembled from the other services'
//! cached lines and recomputes only the changed one.
//!
//! # Stampedes
//!
//! Concurrent misses of one entry compute it once ([`preflight_kv::Cache::get_or_fill`]):
//! the other readers wait for that result, in this process and across replicas sharing Redis.
//!
//! # Time
//!
//! Effective states also change with time alone (a waiver expires, a sign-off needs
//! re-attestation): each document carries the moment it stops being true, and a document
//! read after that moment counts as a miss.

use std::future::Future;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Timed;
use crate::state::AppState;
use crate::store::{StoreError, StoreResult};

/// The cache tag of the overview document.
pub const OVERVIEW_TAG: &str = "readiness:overview";

/// Counter: readiness documents computed (cache misses that did the work), by `scope`
/// (`overview`, `service`, `review`, `summary`).
pub const COMPUTED_TOTAL: &str = "preflight_readiness_computed_total";

/// The cache tag of every entry about one service.
pub fn service_tag(id: Uuid) -> String {
    format!("readiness:service:{id}")
}

/// Length of the header before the JSON body: the end of validity (8 bytes) and the ETag.
const HEADER: usize = 8 + ETAG_LEN;
/// A quoted 16-hex-digit entity tag.
const ETAG_LEN: usize = 18;

/// A cached JSON document: its body, its entity tag (a hash of the body) and the moment it
/// stops being true by itself, stored together as `[valid_until][etag][body]`.
#[derive(Clone, Debug)]
pub struct Document {
    stored: Bytes,
}

impl Document {
    /// Encodes `value` with its end of validity (`None`: only a write changes it).
    pub fn encode<T: Serialize>(
        value: &T,
        valid_until: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<u8>> {
        let body = serde_json::to_vec(value).map_err(|e| StoreError::Encode {
            what: "readiness",
            detail: e.to_string(),
        })?;
        let until = valid_until.map_or(i64::MAX, |t| t.timestamp_millis());
        let digest = Sha256::digest(&body);
        let mut stored = Vec::with_capacity(HEADER + body.len());
        stored.extend_from_slice(&until.to_be_bytes());
        stored.push(b'"');
        for byte in &digest[..8] {
            stored.extend_from_slice(format!("{byte:02x}").as_bytes());
        }
        stored.push(b'"');
        stored.extend_from_slice(&body);
        Ok(stored)
    }

    /// A stored document, when `stored` has the shape [`Document::encode`] gives.
    pub fn decode(stored: Bytes) -> Option<Self> {
        Self::well_formed(&stored).then_some(Self { stored })
    }

    /// Whether `stored` has a document's header.
    fn well_formed(stored: &[u8]) -> bool {
        stored
            .get(8..HEADER)
            .is_some_and(|etag| etag.first() == Some(&b'"') && etag.last() == Some(&b'"'))
    }

    /// Whether `stored` is a document still true at `now`.
    fn fresh(stored: &[u8], now: DateTime<Utc>) -> bool {
        Self::well_formed(stored)
            && stored
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .is_some_and(|b| i64::from_be_bytes(b) > now.timestamp_millis())
    }

    /// The JSON body, shared with the cache (no copy).
    pub fn body(&self) -> Bytes {
        self.stored.slice(HEADER..)
    }

    /// The ETag of the body (a hash), quoted; served weak (see [`crate::api::etag`]).
    pub fn etag(&self) -> &str {
        // The header was checked by `decode`; an ASCII hex digest always reads as UTF-8.
        std::str::from_utf8(&self.stored[8..HEADER]).unwrap_or("\"\"")
    }

    /// When the document stops being true by itself.
    pub fn valid_until(&self) -> Option<DateTime<Utc>> {
        let until = i64::from_be_bytes(<[u8; 8]>::try_from(&self.stored[..8]).ok()?);
        (until != i64::MAX)
            .then(|| DateTime::from_timestamp_millis(until))
            .flatten()
    }

    /// The body decoded (for the web pages, which render from the same documents).
    pub fn value<T: DeserializeOwned>(&self) -> StoreResult<T> {
        serde_json::from_slice(&self.stored[HEADER..]).map_err(|e| StoreError::Corrupt {
            what: "cached readiness".to_owned(),
            detail: e.to_string(),
        })
    }

    /// Decodes a document read from the cache in a batch: `None` when absent, malformed or
    /// no longer true at `now`.
    pub fn fresh_at(stored: Option<Bytes>, now: DateTime<Utc>) -> Option<Self> {
        stored
            .filter(|b| Self::fresh(b, now))
            .and_then(Self::decode)
    }
}

/// The document under (`tag`, `key`) when it is cached and fresh; nothing is computed.
pub async fn cached(state: &AppState, tag: &str, key: &str) -> Option<Document> {
    let now = Utc::now();
    let stored = state
        .cache
        .get_fresh(tag, key, |stored| Document::fresh(stored, now))
        .await?;
    Document::decode(stored)
}

/// The document under (`tag`, `key`), computed once on a miss by whichever caller gets there
/// first. The entry is stored under the tag generation read before computing, so a write
/// racing the computation never leaves a stale entry behind.
pub async fn document<T, F, Fut>(
    state: &AppState,
    scope: &'static str,
    tag: &str,
    key: &str,
    compute: F,
) -> StoreResult<Document>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = StoreResult<Timed<T>>>,
{
    let stored = state
        .cache
        .get_or_fill(
            tag,
            key,
            state.settings.cache_ttl,
            |stored| Document::fresh(stored, Utc::now()),
            || async {
                let (value, until) = compute().await?;
                computed(scope, 1);
                Document::encode(&value, until)
            },
        )
        .await?;
    Document::decode(stored).ok_or_else(|| StoreError::Corrupt {
        what: "cached readiness".to_owned(),
        detail: "no document header".to_owned(),
    })
}

/// Counts `n` readiness documents of `scope` computed.
pub fn computed(scope: &'static str, n: u64) {
    metrics::counter!(COMPUTED_TOTAL, "scope" => scope).increment(n);
}

/// Drops every cached readiness value about `service`, and the overview.
pub async fn invalidate_service(state: &AppState, service: Uuid) {
    state.cache.invalidate(&service_tag(service)).await;
    state.cache.invalidate(OVERVIEW_TAG).await;
}

/// `# HELP` line of the computation counter.
pub fn describe() {
    metrics::describe_counter!(
        COMPUTED_TOTAL,
        "Readiness documents computed on a cache miss, by scope (overview, service, review, summary)."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_with_their_etag_and_validity() {
        let until = DateTime::from_timestamp_millis(1_800_000_000_123);
        let stored =
            Bytes::from(Document::encode(&serde_json::json!({"ready": true}), until).unwrap());
        let doc = Document::decode(stored.clone()).unwrap();
        assert_eq!(&doc.body()[..], br#"{"ready":true}"#);
        assert_eq!(doc.valid_until(), until);
        assert_eq!(doc.etag().len(), ETAG_LEN);
        assert!(doc.etag().starts_with('"') && doc.etag().ends_with('"'));
        let earlier = DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
        let later = DateTime::from_timestamp_millis(1_800_000_000_124).unwrap();
        assert!(Document::fresh_at(Some(stored.clone()), earlier).is_some());
        assert!(Document::fresh_at(Some(stored), later).is_none());
    }

    #[test]
    fn the_etag_follows_the_body_and_a_document_without_end_stays_fresh() {
        let a = Document::encode(&1, None).unwrap();
        let b = Document::encode(&2, None).unwrap();
        let (a, b) = (
            Document::decode(Bytes::from(a)).unwrap(),
            Document::decode(Bytes::from(b)).unwrap(),
        );
        assert_ne!(a.etag(), b.etag());
        assert_eq!(a.valid_until(), None);
        assert!(Document::fresh(&a.stored, Utc::now()));
        assert!(Document::decode(Bytes::from_static(b"short")).is_none());
    }
}
