//! The Redis backend: entries as plain keys with a PX expiry, tag generations kept by Lua
//! scripts, and a short fill lock so that one replica computes a missing entry while the
//! others wait for it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::aio::ConnectionManager;

use crate::breaker::Breaker;

/// How long a tag's generation counter lives in Redis after its creation or last bump.
///
/// Bounds the memory held by tags of deleted resources. Letting it lapse is harmless: a
/// recreated counter starts ahead of the old one (see `lua/cache_generation.lua`), so the
/// worst case is one round of misses for that tag.
const GENERATION_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// How long one replica may hold the fill lock of an entry: longer than any fill should take,
/// short enough that a replica that died mid-fill holds the others back only briefly.
const FILL_LOCK_TTL: Duration = Duration::from_secs(5);

/// How long a replica waits for another one's fill before computing the entry itself.
const FILL_WAIT: Duration = Duration::from_secs(2);

/// How often a waiting replica looks for the other one's result.
const FILL_POLL: Duration = Duration::from_millis(10);

pub(super) struct Remote {
    conn: ConnectionManager,
    /// Skips Redis for a while after it failed (see [`crate::breaker`]).
    pub(super) breaker: Breaker,
    /// Prepended to every Redis key, so that tenants and test runs sharing a Redis never meet.
    prefix: String,
    generation_script: redis::Script,
    generations_script: redis::Script,
    release_script: redis::Script,
}

/// What a caller about to fill an entry should do.
pub(super) enum Fill {
    /// Compute it; `Some(token)` when this replica holds the fill lock (give it back with
    /// [`Remote::release_fill`]), `None` when Redis cannot arbitrate or the wait ran out.
    Compute(Option<String>),
    /// Another replica filled it meanwhile.
    Filled(Bytes),
}

fn skipped() -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Io,
        "Redis is skipped for a moment after a failure",
    ))
}

impl Remote {
    pub(super) fn new(conn: ConnectionManager, prefix: String) -> Self {
        Self {
            conn,
            breaker: Breaker::default(),
            prefix,
            generation_script: redis::Script::new(include_str!("../lua/cache_generation.lua")),
            generations_script: redis::Script::new(include_str!("../lua/cache_generations.lua")),
            release_script: redis::Script::new(include_str!("../lua/cache_release.lua")),
        }
    }

    pub(super) fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn data_key(&self, slot: &str) -> String {
        format!("{}c:{slot}", self.prefix)
    }

    fn generation_key(&self, tag: &str) -> String {
        format!("{}g:{tag}", self.prefix)
    }

    /// Runs `cmd` unless the breaker is open, recording the outcome in the breaker.
    async fn query<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, redis::RedisError> {
        if !self.breaker.allow() {
            return Err(skipped());
        }
        let mut conn = self.conn.clone();
        self.breaker.record(cmd.query_async(&mut conn).await)
    }

    /// Reads, or with `bump` increments, the generation of `tag` in one atomic script.
    pub(super) async fn generation(&self, tag: &str, bump: bool) -> Result<u64, redis::RedisError> {
        if !self.breaker.allow() {
            return Err(skipped());
        }
        let mut conn = self.conn.clone();
        let ttl_ms = u64::try_from(GENERATION_TTL.as_millis()).unwrap_or(u64::MAX);
        self.breaker.record(
            self.generation_script
                .key(self.generation_key(tag))
                .arg(if bump { "1" } else { "0" })
                .arg(ttl_ms)
                .invoke_async(&mut conn)
                .await,
        )
    }

    /// The generations of many tags in one round trip.
    pub(super) async fn generations(&self, tags: &[&str]) -> Result<Vec<u64>, redis::RedisError> {
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        if !self.breaker.allow() {
            return Err(skipped());
        }
        let mut conn = self.conn.clone();
        let ttl_ms = u64::try_from(GENERATION_TTL.as_millis()).unwrap_or(u64::MAX);
        let mut invocation = self.generations_script.prepare_invoke();
        for tag in tags {
            invocation.key(self.generation_key(tag));
        }
        invocation.arg(ttl_ms);
        self.breaker
            .record(invocation.invoke_async(&mut conn).await)
    }

    pub(super) async fn get(&self, slot: &str) -> Result<Option<Bytes>, redis::RedisError> {
        let value: Option<Vec<u8>> = self
            .query(redis::cmd("GET").arg(self.data_key(slot)))
            .await?;
        Ok(value.map(Bytes::from))
    }

    /// Many entries in one round trip, in the order of `slots`.
    pub(super) async fn get_many(
        &self,
        slots: &[&str],
    ) -> Result<Vec<Option<Bytes>>, redis::RedisError> {
        if slots.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("MGET");
        for slot in slots {
            cmd.arg(self.data_key(slot));
        }
        let values: Vec<Option<Vec<u8>>> = self.query(&cmd).await?;
        Ok(values.into_iter().map(|v| v.map(Bytes::from)).collect())
    }

    pub(super) async fn set(
        &self,
        slot: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), redis::RedisError> {
        // Redis rejects a zero expiry; a sub-millisecond TTL becomes 1 ms.
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.query(
            redis::cmd("SET")
                .arg(self.data_key(slot))
                .arg(value)
                .arg("PX")
                .arg(ttl_ms),
        )
        .await
    }

    fn lock_key(&self, slot: &str) -> String {
        format!("{}l:{slot}", self.prefix)
    }

    /// Takes the fill lock of `slot`, or waits (up to [`FILL_WAIT`]) for the replica holding
    /// it to store a value that `fresh` accepts. The wait ends early when the lock goes away
    /// without a value (that replica's fill failed or was cancelled): then this caller tries
    /// to take the lock itself.
    pub(super) async fn claim_fill<F: Fn(&[u8]) -> bool + Sync>(
        &self,
        slot: &str,
        fresh: &F,
    ) -> Fill {
        let ttl_ms = u64::try_from(FILL_LOCK_TTL.as_millis()).unwrap_or(u64::MAX);
        // Random per claim: only the holder may release it (see `release_fill`).
        let token = format!("{:032x}", rand::random::<u128>());
        let lock = redis::cmd("SET")
            .arg(self.lock_key(slot))
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .clone();
        let deadline = Instant::now() + FILL_WAIT;
        loop {
            match self.query::<Option<String>>(&lock).await {
                Ok(Some(_)) => return Fill::Compute(Some(token)),
                Err(_) => return Fill::Compute(None),
                Ok(None) => {}
            }
            if Instant::now() >= deadline {
                return Fill::Compute(None);
            }
            tokio::time::sleep(FILL_POLL).await;
            match self.get(slot).await {
                Ok(Some(value)) if fresh(&value) => return Fill::Filled(value),
                Ok(_) => {}
                Err(_) => return Fill::Compute(None),
            }
        }
    }

    /// Gives the fill lock of `slot` back, if it is still the one `token` took (a fill slower
    /// than the lock's lifetime must not release another replica's lock).
    pub(super) async fn release_fill(&self, slot: &str, token: &str) {
        if !self.breaker.allow() {
            return;
        }
        let mut conn = self.conn.clone();
        let _: Result<i64, _> = self.breaker.record(
            self.release_script
                .key(self.lock_key(slot))
                .arg(token)
                .invoke_async(&mut conn)
                .await,
        );
    }
}
