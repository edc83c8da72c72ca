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
//! # Single flight
//!
//! [`Cache::get_or_fill`] computes a missing entry once however many callers miss it at the
//! same moment: in this process they wait for the first caller's fill ([`flight`]); on Redis,
//! one replica takes a short fill lock and the others wait briefly for its result (then
//! compute it themselves, so a replica that died mid-fill costs a moment, not an outage).
//!
//! # Failure
//!
//! Redis errors never reach the caller: reads become misses and writes are dropped, with a
//! warning log. A cache is an optimisation, and it must not turn a Redis outage into an outage
//! of preflight.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{CACHE_HITS_TOTAL, CACHE_MISSES_TOTAL, KvError};

mod decoded;
mod flight;
mod local;
mod remote;

use local::Local;
use remote::{Fill, Remote};

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
    flights: flight::Flights,
    decoded: decoded::Decoded,
}

enum Backend {
    Local(Local),
    Redis(Remote),
}

/// Where an entry of a tag is stored under the tag's generation when the slot was resolved:
/// a value written to it after the tag was invalidated is never read again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot(String);

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
        Self::with_backend(name, Backend::Local(Local::new(capacity, ttl)))
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
        Self::with_backend(name, Backend::Redis(Remote::new(conn, prefix.into())))
    }

    fn with_backend(name: impl Into<String>, backend: Backend) -> Self {
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                backend,
                flights: flight::Flights::default(),
                decoded: decoded::Decoded::default(),
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
        value.map(|v| v.to_vec())
    }

    /// Stores an untagged entry for `ttl` (capped by the in-process cache's TTL).
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        self.store(&untagged_slot(key), Bytes::copy_from_slice(value), ttl)
            .await;
    }

    /// Reads an entry stored under `tag`; entries from before the tag's last
    /// [`invalidate`](Self::invalidate) are never returned.
    pub async fn get_tagged(&self, tag: &str, key: &str) -> Option<Vec<u8>> {
        let value = match self.slot(tag, key).await {
            Some(slot) => self.fetch(&slot.0).await,
            None => None,
        };
        self.record(value.is_some());
        value.map(|v| v.to_vec())
    }

    /// Stores an entry under `tag` for `ttl` (capped by the in-process cache's TTL).
    pub async fn set_tagged(&self, tag: &str, key: &str, value: &[u8], ttl: Duration) {
        if let Some(slot) = self.slot(tag, key).await {
            self.store(&slot.0, Bytes::copy_from_slice(value), ttl)
                .await;
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
            self.store(&untagged_slot(key), Bytes::from(bytes), ttl)
                .await;
        }
    }

    /// Reads and decodes a JSON entry stored under `tag` (see [`get_tagged`](Self::get_tagged)).
    pub async fn get_json_tagged<T: DeserializeOwned>(&self, tag: &str, key: &str) -> Option<T> {
        let value = match self.slot(tag, key).await {
            Some(slot) => self
                .fetch(&slot.0)
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
        if let (Some(bytes), Some(slot)) = (self.encode(value), self.slot(tag, key).await) {
            self.store(&slot.0, Bytes::from(bytes), ttl).await;
        }
    }

    /// Returns the JSON entry under (`tag`, `key`), or computes, stores and returns it, once
    /// for every caller that misses it at the same time (see [`get_or_fill`](Self::get_or_fill)).
    /// An entry that no longer decodes counts as a miss.
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
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let copy_key = decoded::Decoded::key(tag, key);
        let copies = &self.inner.decoded;
        // What this caller decoded from the cache or computed itself, so that nothing is
        // decoded twice, and whether it is new (to remember). (A Mutex rather than a Cell:
        // the future must stay Send.)
        let mine: std::sync::Mutex<Option<(T, bool)>> = std::sync::Mutex::new(None);
        let keep = |value: T, new: bool| {
            *mine
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((value, new));
        };
        // Values cached this way are small and quick to compute: after a failure, waiting in
        // turn would only add up the failures' timeouts.
        let bytes = self
            .fill_once(
                tag,
                key,
                ttl,
                |bytes| match copies.get::<T>(&copy_key, bytes) {
                    Some(value) => {
                        keep(value, false);
                        true
                    }
                    None => self.decode::<T>(bytes).map(|v| keep(v, true)).is_some(),
                },
                flight::AfterFailure::Together,
                || async {
                    let value = compute().await?;
                    let bytes = self.encode(&value).unwrap_or_default();
                    keep(value, true);
                    Ok(bytes)
                },
            )
            .await?;
        let mine = mine
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .or_else(|| self.decode(&bytes).map(|v| (v, true)));
        match mine {
            Some((value, new)) => {
                if new && !bytes.is_empty() {
                    copies.remember(copy_key, bytes, value.clone());
                }
                Ok(value)
            }
            // Another caller's fill that could not be encoded: compute this caller's own.
            None => compute().await,
        }
    }

    /// The entry under (`tag`, `key`) when there is one and `fresh` accepts it, counted as a
    /// hit; nothing otherwise, and no miss is counted: for a caller that tries the cache
    /// before handing a miss to [`Cache::get_or_fill`] elsewhere (which counts it).
    pub async fn get_fresh(
        &self,
        tag: &str,
        key: &str,
        fresh: impl Fn(&[u8]) -> bool,
    ) -> Option<Bytes> {
        let slot = self.slot(tag, key).await?;
        let value = self.fetch(&slot.0).await.filter(|v| fresh(v))?;
        self.record(true);
        Some(value)
    }

    /// The entry under (`tag`, `key`) when `fresh` accepts it, or `fill`'s value, stored for
    /// `ttl`. Concurrent callers that miss the same entry share one fill: in this process,
    /// the first caller fills and the others wait for it; on Redis, one replica fills while
    /// the others wait up to two seconds for its result before filling it themselves.
    ///
    /// The entry is stored under the generation read *before* `fill` ran, so if the tag is
    /// invalidated while `fill` is in flight (a write raced the read), the possibly stale
    /// result is returned to its callers but never served to the next one. Errors from
    /// `fill` are passed through and not cached; a waiting caller then fills itself.
    ///
    /// # Errors
    ///
    /// Only those of `fill`; cache trouble degrades to calling `fill`.
    pub async fn get_or_fill<E, F, Fut>(
        &self,
        tag: &str,
        key: &str,
        ttl: Duration,
        fresh: impl Fn(&[u8]) -> bool + Sync,
        fill: F,
    ) -> Result<Bytes, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, E>>,
    {
        self.fill_once(tag, key, ttl, fresh, flight::AfterFailure::InTurn, fill)
            .await
    }

    /// [`Cache::get_or_fill`], with what waiters do when a fill fails.
    async fn fill_once<E, F, Fut>(
        &self,
        tag: &str,
        key: &str,
        ttl: Duration,
        fresh: impl Fn(&[u8]) -> bool + Sync,
        after_failure: flight::AfterFailure,
        fill: F,
    ) -> Result<Bytes, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, E>>,
    {
        let Some(slot) = self.slot(tag, key).await else {
            self.record(false);
            return fill().await.map(Bytes::from);
        };
        if let Some(value) = self.fetch(&slot.0).await.filter(|v| fresh(v)) {
            self.record(true);
            return Ok(value);
        }
        self.record(false);
        let (slot, fresh) = (&slot, &fresh);
        self.inner
            .flights
            .run(&slot.0, after_failure, |after_failure| async move {
                // Another flight may have stored it between this caller's miss and now.
                if let Some(value) = self.fetch(&slot.0).await.filter(|v| fresh(v)) {
                    return Ok(value);
                }
                // After a failed fill in this process, waiting on the other replicas' fill
                // lock would line this process's callers up behind each other again.
                let remote = match &self.inner.backend {
                    Backend::Redis(remote) if !after_failure => Some(remote),
                    _ => None,
                };
                let mut lock = None;
                if let Some(remote) = remote {
                    match remote.claim_fill(&slot.0, &fresh).await {
                        Fill::Filled(value) => return Ok(value),
                        Fill::Compute(token) => lock = token,
                    }
                }
                // Gives the lock back however this ends, a cancelled request included.
                let _release = lock.map(|token| ReleaseOnDrop {
                    cache: self.clone(),
                    slot: slot.0.clone(),
                    token,
                });
                let result = fill().await.map(Bytes::from);
                if let Ok(value) = &result {
                    self.store(&slot.0, value.clone(), ttl).await;
                }
                result
            })
            .await
    }

    /// The slot of (`tag`, `key`) under the tag's current generation, or `None` when the
    /// generation cannot be read (Redis trouble, already logged).
    pub async fn slot(&self, tag: &str, key: &str) -> Option<Slot> {
        let generation = match &self.inner.backend {
            Backend::Local(local) => local.generation(tag),
            Backend::Redis(remote) => match remote.generation(tag, false).await {
                Ok(generation) => generation,
                Err(error) => {
                    tracing::warn!(cache = %self.inner.name, %error, "reading a cache tag generation from Redis failed");
                    return None;
                }
            },
        };
        Some(Slot(tagged_slot(tag, generation, key)))
    }

    /// The slots of many (`tag`, `key`) pairs, in order, resolved in one round trip; all
    /// `None` when Redis cannot be read.
    pub async fn slots(&self, entries: &[(&str, &str)]) -> Vec<Option<Slot>> {
        let generations: Vec<Option<u64>> = match &self.inner.backend {
            Backend::Local(local) => entries
                .iter()
                .map(|(tag, _)| Some(local.generation(tag)))
                .collect(),
            Backend::Redis(remote) => {
                let tags: Vec<&str> = entries.iter().map(|(tag, _)| *tag).collect();
                match remote.generations(&tags).await {
                    Ok(generations) => generations.into_iter().map(Some).collect(),
                    Err(error) => {
                        tracing::warn!(cache = %self.inner.name, %error, "reading cache tag generations from Redis failed");
                        vec![None; entries.len()]
                    }
                }
            }
        };
        entries
            .iter()
            .zip(generations)
            .map(|((tag, key), generation)| generation.map(|g| Slot(tagged_slot(tag, g, key))))
            .collect()
    }

    /// Reads many slots at once (one round trip on Redis), in order; a `None` slot reads as
    /// a miss. Each slot counts as a hit or a miss.
    pub async fn read_many(&self, slots: &[Option<Slot>]) -> Vec<Option<Bytes>> {
        let values = match &self.inner.backend {
            Backend::Local(local) => {
                let mut values = Vec::with_capacity(slots.len());
                for slot in slots {
                    values.push(match slot {
                        Some(slot) => local.get(&slot.0).await,
                        None => None,
                    });
                }
                values
            }
            Backend::Redis(remote) => {
                let present: Vec<&str> = slots.iter().flatten().map(|s| s.0.as_str()).collect();
                let mut fetched = match remote.get_many(&present).await {
                    Ok(values) => values.into_iter(),
                    Err(error) => {
                        tracing::warn!(cache = %self.inner.name, %error, "cache read from Redis failed; treating as a miss");
                        Vec::new().into_iter()
                    }
                };
                slots
                    .iter()
                    .map(|slot| slot.as_ref().and_then(|_| fetched.next().flatten()))
                    .collect()
            }
        };
        for value in &values {
            self.record(value.is_some());
        }
        values
    }

    /// Stores `value` in `slot` (from [`slot`](Self::slot) or [`slots`](Self::slots), read
    /// before the value was computed) for `ttl`.
    pub async fn write(&self, slot: &Slot, value: Bytes, ttl: Duration) {
        self.store(&slot.0, value, ttl).await;
    }

    /// Makes every entry stored under `tag` unreadable, for this process and (on Redis) every
    /// other process sharing the Redis and prefix, from the very next read on.
    pub async fn invalidate(&self, tag: &str) {
        match &self.inner.backend {
            Backend::Local(local) => local.bump(tag),
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
                let mut conn = remote.conn();
                remote
                    .breaker
                    .record(redis::cmd("PING").query_async::<()>(&mut conn).await)?;
                Ok(())
            }
        }
    }

    async fn fetch(&self, slot: &str) -> Option<Bytes> {
        match &self.inner.backend {
            Backend::Local(local) => local.get(slot).await,
            Backend::Redis(remote) => remote.get(slot).await.unwrap_or_else(|error| {
                tracing::warn!(cache = %self.inner.name, %error, "cache read from Redis failed; treating as a miss");
                None
            }),
        }
    }

    async fn store(&self, slot: &str, value: Bytes, ttl: Duration) {
        match &self.inner.backend {
            Backend::Local(local) => local.set(slot, value, ttl).await,
            Backend::Redis(remote) => {
                if let Err(error) = remote.set(slot, &value, ttl).await {
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

/// Releases a Redis fill lock when its fill ends, completed or dropped. The release itself runs
/// on a task of its own, since `Drop` cannot wait.
struct ReleaseOnDrop {
    cache: Cache,
    slot: String,
    token: String,
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        let (cache, slot, token) = (
            self.cache.clone(),
            std::mem::take(&mut self.slot),
            std::mem::take(&mut self.token),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Backend::Redis(remote) = &cache.inner.backend {
                    remote.release_fill(&slot, &token).await;
                }
            });
        }
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
