//! The in-process backend: moka, with a per-entry TTL and tag generations in a map.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

pub(super) struct Local {
    entries: moka::future::Cache<String, Entry>,
    /// Current generation of each tag that was ever invalidated; absent means 0.
    generations: RwLock<HashMap<String, u64>>,
    /// Upper bound on any entry's lifetime, as configured for this cache.
    max_ttl: Duration,
}

#[derive(Clone)]
struct Entry {
    bytes: Bytes,
    ttl: Duration,
}

/// Gives each in-process entry the TTL its writer asked for (moka's builder-level TTL is one
/// value for the whole cache).
struct PerEntryTtl;

impl moka::Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _at: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        // An overwrite is a fresh value and gets a fresh lifetime.
        Some(value.ttl)
    }
}

impl Local {
    pub(super) fn new(capacity: u64, max_ttl: Duration) -> Self {
        let entries = moka::future::Cache::builder()
            .max_capacity(capacity)
            .expire_after(PerEntryTtl)
            .build();
        Self {
            entries,
            generations: RwLock::new(HashMap::new()),
            max_ttl,
        }
    }

    pub(super) fn generation(&self, tag: &str) -> u64 {
        self.generations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tag)
            .copied()
            .unwrap_or(0)
    }

    pub(super) fn bump(&self, tag: &str) {
        let mut generations = self
            .generations
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let generation = generations.entry(tag.to_owned()).or_insert(0);
        *generation = generation.wrapping_add(1);
    }

    pub(super) async fn get(&self, slot: &str) -> Option<Bytes> {
        self.entries.get(slot).await.map(|entry| entry.bytes)
    }

    pub(super) async fn set(&self, slot: &str, bytes: Bytes, ttl: Duration) {
        let ttl = ttl.min(self.max_ttl);
        if ttl.is_zero() {
            return;
        }
        self.entries
            .insert(slot.to_owned(), Entry { bytes, ttl })
            .await;
    }
}
