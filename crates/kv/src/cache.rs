//! A byte cache with tag invalidation, in-process (moka) or shared through Redis.
//!
//! # Tags and generations
//!
//! Entries may be stored under a *tag* (say `readiness`, or `checklist:42`). Every tag has a
//! generation counter that is part of the storage key of its entries, so
//! [`Cache::invalidate`] is a single increment: entries written under the old generation
//! simply stop being addressed, and expire on their own TTL. This is O(1) whatever the number
//! of entries, and on Redis it is visible to every process at once, because each tagged read
//! first reads the counter (one extra round trip, the price of cross-replica invalidation).
//!
//! # Failure
//!
//! Redis errors never reach the caller: reads become misses and writes are dropped, with a
//! warning log. A cache is an optimisation, and it must not turn a Redis outage into an outage
//! of preflight.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{CACHE_HITS_TOTAL, CACHE_MISSES_TOTAL, KvError};

/// How long a tag's generation counter lives in Redis after its creation or last bump.
///
/// Bounds the memory held by tags of deleted resources. Letting it lapse is harmless: a
/// recreated counter starts ahead of the old one (see `lua/cache_generation.lua`), so the
/// worst case is one round of misses for that tag.
const GENERATION_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A cache of byte strings (and JSON values) keyed by string, optionally grouped by tag.
///
/// Cloning is cheap and clones share the same storage.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    /// Value of the `cache` label on the hit/miss counters.
    name: String,
    backend: Backend,
}

enum Backend {
    Local(Local),
    Redis(Remote),
}

struct Local {
    entries: moka::future::Cache<String, Entry>,
    /// Current generation of each tag that was ever invalidated; absent means 0.
    generations: RwLock<HashMap<String, u64>>,
    /// Upper bound on any entry's lifetime, as configured for this cache.
    max_ttl: Duration,
}

#[derive(Clone)]
struct Entry {
    bytes: Arc<[u8]>,
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

struct Remote {
    conn: ConnectionManager,
    /// Skips Redis for a while after it failed (see [`crate::breaker`]).
    breaker: crate::breaker::Breaker,
    /// Prepended to every Redis key, so that tenants and test runs sharing a Redis never meet.
    prefix: String,
    generation_script: redis::Script,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.inner.backend {
            Backend::Local(_) => "in-process",
            Backend::Redis(_) => "redis",
        };
        f.debug_struct("Cache")
            .field("name", &self.inner.name)
            .field("backend", &backend)
            .finish()
    }
}

impl Cache {
    /// An in-process cache holding at most `capacity` entries, none longer than `ttl`.
    ///
    /// `name` labels this cache's hit/miss metrics.
    pub fn in_process(name: impl Into<String>, capacity: u64, ttl: Duration) -> Self {
        let entries = moka::future::Cache::builder()
            .max_capacity(capacity)
            .expire_after(PerEntryTtl)
            .build();
        Self::with_backend(
            name,
            Backend::Local(Local {
                entries,
                generations: RwLock::new(HashMap::new()),
                max_ttl: ttl,
            }),
        )
    }

    /// A cache stored in Redis under keys starting with `prefix`, shared by every process
    /// that uses the same Redis and prefix.
    ///
    /// `name` labels this cache's hit/miss metrics. Build `conn` with
    /// [`connect_redis`](crate::connect_redis) so that every command has a response timeout.
    pub fn redis(
        name: impl Into<String>,
        conn: ConnectionManager,
        prefix: impl Into<String>,
    ) -> Self {
        Self::with_backend(
            name,
            Backend::Redis(Remote {
                breaker: crate::breaker::Breaker::default(),
                conn,
                prefix: prefix.into(),
                generation_script: redis::Script::new(include_str!("lua/cache_generation.lua")),
            }),
        )
    }

    fn with_backend(name: impl Into<String>, backend: Backend) -> Self {
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                backend,
            }),
        }
    }

    /// The name given at construction (the `cache` metric label).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Reads an untagged entry.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let value = self.fetch(&untagged_slot(key)).await;
        self.record(value.is_some());
        value
    }

    /// Stores an untagged entry for `ttl` (capped by the in-process cache's TTL).
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        self.store(&untagged_slot(key), value, ttl).await;
    }

    /// Reads an entry stored under `tag`; entries from before the tag's last
    /// [`invalidate`](Self::invalidate) are never returned.
    pub async fn get_tagged(&self, tag: &str, key: &str) -> Option<Vec<u8>> {
        let value = match self.key_for(tag, key).await {
            Some(slot) => self.fetch(&slot).await,
            None => None,
        };
        self.record(value.is_some());
        value
    }

    /// Stores an entry under `tag` for `ttl` (capped by the in-process cache's TTL).
    pub async fn set_tagged(&self, tag: &str, key: &str, value: &[u8], ttl: Duration) {
        if let Some(slot) = self.key_for(tag, key).await {
            self.store(&slot, value, ttl).await;
        }
    }

    /// Reads and decodes an untagged JSON entry. An entry that no longer decodes (say, after
    /// a deploy changed the type) counts as a miss.
    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let value = self
            .fetch(&untagged_slot(key))
            .await
            .and_then(|bytes| self.decode(&bytes));
        self.record(value.is_some());
        value
    }

    /// Stores `value` as JSON, untagged, for `ttl`.
    pub async fn set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T, ttl: Duration) {
        if let Some(bytes) = self.encode(value) {
            self.store(&untagged_slot(key), &bytes, ttl).await;
        }
    }

    /// Reads and decodes a JSON entry stored under `tag` (see [`get_tagged`](Self::get_tagged)).
    pub async fn get_json_tagged<T: DeserializeOwned>(&self, tag: &str, key: &str) -> Option<T> {
        let value = match self.key_for(tag, key).await {
            Some(slot) => self
                .fetch(&slot)
                .await
                .and_then(|bytes| self.decode(&bytes)),
            None => None,
        };
        self.record(value.is_some());
        value
    }

    /// Stores `value` as JSON under `tag` for `ttl`.
    pub async fn set_json_tagged<T: Serialize + ?Sized>(
        &self,
        tag: &str,
        key: &str,
        value: &T,
        ttl: Duration,
    ) {
        if let (Some(bytes), Some(slot)) = (self.encode(value), self.key_for(tag, key).await) {
            self.store(&slot, &bytes, ttl).await;
        }
    }

    /// Returns the JSON entry under (`tag`, `key`), or computes, stores and returns it.
    ///
    /// The entry is stored under the generation read *before* `compute` ran, so if the tag is
    /// invalidated while `compute` is in flight (a write raced the read), the possibly stale
    /// result is returned to this caller but never served to the next one. Errors from
    /// `compute` are passed through and not cached.
    ///
    /// # Errors
    ///
    /// Only those of `compute`; cache trouble degrades to calling `compute`.
    pub async fn get_or_insert_with_json<T, E, F, Fut>(
        &self,
        tag: &str,
        key: &str,
        ttl: Duration,
        compute: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let slot = self.key_for(tag, key).await;
        if let Some(slot) = &slot
            && let Some(value) = self.fetch(slot).await.and_then(|bytes| self.decode(&bytes))
        {
            self.record(true);
            return Ok(value);
        }
        self.record(false);
        let value = compute().await?;
        if let (Some(slot), Some(bytes)) = (&slot, self.encode(&value)) {
            self.store(slot, &bytes, ttl).await;
        }
        Ok(value)
    }

    /// Makes every entry stored under `tag` unreadable, for this process and (on Redis) every
    /// other process sharing the Redis and prefix, from the very next read on.
    pub async fn invalidate(&self, tag: &str) {
        match &self.inner.backend {
            Backend::Local(local) => {
                let mut generations = local
                    .generations
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                let generation = generations.entry(tag.to_owned()).or_insert(0);
                *generation = generation.wrapping_add(1);
            }
            Backend::Redis(remote) => {
                if let Err(error) = remote.generation(tag, true).await {
                    // Entries of this tag may now be served stale until their TTL runs out.
                    tracing::warn!(cache = %self.inner.name, %error, "cache invalidation in Redis failed");
                }
            }
        }
    }

    /// Checks that the backend answers; always `Ok` in-process. For readiness probes.
    ///
    /// # Errors
    ///
    /// The Redis error (or response timeout) when Redis does not answer `PING`.
    pub async fn ping(&self) -> Result<(), KvError> {
        match &self.inner.backend {
            Backend::Local(_) => Ok(()),
            Backend::Redis(remote) => {
                // Always asked, whatever the breaker says: readiness must see Redis as it is,
                // and an answer closes the breaker at once.
                let mut conn = remote.conn.clone();
                remote
                    .breaker
                    .record(redis::cmd("PING").query_async::<()>(&mut conn).await)?;
                Ok(())
            }
        }
    }

    /// The storage key of (`tag`, `key`) under the tag's current generation, or `None` when
    /// the generation cannot be read (Redis trouble, already logged).
    async fn key_for(&self, tag: &str, key: &str) -> Option<String> {
        let generation = match &self.inner.backend {
            Backend::Local(local) => local
                .generations
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(tag)
                .copied()
                .unwrap_or(0),
            Backend::Redis(remote) => match remote.generation(tag, false).await {
                Ok(generation) => generation,
                Err(error) => {
                    tracing::warn!(cache = %self.inner.name, %error, "reading a cache tag generation from Redis failed");
                    return None;
                }
            },
        };
        Some(tagged_slot(tag, generation, key))
    }

    async fn fetch(&self, slot: &str) -> Option<Vec<u8>> {
        match &self.inner.backend {
            Backend::Local(local) => local
                .entries
                .get(slot)
                .await
                .map(|entry| entry.bytes.to_vec()),
            Backend::Redis(remote) => {
                if !remote.breaker.allow() {
                    return None;
                }
                let mut conn = remote.conn.clone();
                let result = remote.breaker.record(
                    redis::cmd("GET")
                        .arg(remote.data_key(slot))
                        .query_async::<Option<Vec<u8>>>(&mut conn)
                        .await,
                );
                result.unwrap_or_else(|error| {
                    tracing::warn!(cache = %self.inner.name, %error, "cache read from Redis failed; treating as a miss");
                    None
                })
            }
        }
    }

    async fn store(&self, slot: &str, value: &[u8], ttl: Duration) {
        match &self.inner.backend {
            Backend::Local(local) => {
                let ttl = ttl.min(local.max_ttl);
                if ttl.is_zero() {
                    return;
                }
                let entry = Entry {
                    bytes: Arc::from(value),
                    ttl,
                };
                local.entries.insert(slot.to_owned(), entry).await;
            }
            Backend::Redis(remote) => {
                // Redis rejects a zero expiry; a sub-millisecond TTL becomes 1 ms.
                let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                if !remote.breaker.allow() {
                    return;
                }
                let mut conn = remote.conn.clone();
                let result = remote.breaker.record(
                    redis::cmd("SET")
                        .arg(remote.data_key(slot))
                        .arg(value)
                        .arg("PX")
                        .arg(ttl_ms)
                        .query_async::<()>(&mut conn)
                        .await,
                );
                if let Err(error) = result {
                    tracing::warn!(cache = %self.inner.name, %error, "cache write to Redis failed; entry dropped");
                }
            }
        }
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Option<T> {
        serde_json::from_slice(bytes)
            .inspect_err(|error| {
                tracing::warn!(cache = %self.inner.name, %error, "cached JSON no longer decodes; treating as a miss");
            })
            .ok()
    }

    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Option<Vec<u8>> {
        serde_json::to_vec(value)
            .inspect_err(|error| {
                tracing::warn!(cache = %self.inner.name, %error, "value does not encode as JSON; not cached");
            })
            .ok()
    }

    fn record(&self, hit: bool) {
        let name = if hit {
            CACHE_HITS_TOTAL
        } else {
            CACHE_MISSES_TOTAL
        };
        metrics::counter!(name, "cache" => self.inner.name.clone()).increment(1);
    }
}

impl Remote {
    fn data_key(&self, slot: &str) -> String {
        format!("{}c:{slot}", self.prefix)
    }

    /// Reads, or with `bump` increments, the generation of `tag` in one atomic script.
    async fn generation(&self, tag: &str, bump: bool) -> Result<u64, redis::RedisError> {
        if !self.breaker.allow() {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis is skipped for a moment after a failure",
            )));
        }
        let mut conn = self.conn.clone();
        let ttl_ms = u64::try_from(GENERATION_TTL.as_millis()).unwrap_or(u64::MAX);
        self.breaker.record(
            self.generation_script
                .key(format!("{}g:{tag}", self.prefix))
                .arg(if bump { "1" } else { "0" })
                .arg(ttl_ms)
                .invoke_async(&mut conn)
                .await,
        )
    }
}

/// Storage key of an untagged entry.
fn untagged_slot(key: &str) -> String {
    format!("k:{key}")
}

/// Storage key of a tagged entry. The tag's length comes first so that no (tag, key) pair can
/// spell the same string as another, whatever colons they contain.
fn tagged_slot(tag: &str, generation: u64, key: &str) -> String {
    format!("t:{}:{tag}:{generation}:{key}", tag.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_do_not_collide_across_tag_and_key_boundaries() {
        assert_ne!(tagged_slot("a:5", 7, "k"), tagged_slot("a", 5, "7:k"));
        assert_ne!(untagged_slot("t:1:a:0:k"), tagged_slot("a", 0, "k"));
    }
}
