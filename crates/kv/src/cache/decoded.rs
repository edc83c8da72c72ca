//! Decoded copies of JSON entries, reused for as long as the cache hands back the same bytes:
//! a hit of a small, hot entry (the caller's standing, read on every request) then costs a
//! byte comparison instead of a JSON decode. Equal bytes decode to an equal value, so a copy
//! can never be staler than the entry it came from; the bound and the idle expiry only cap
//! the memory.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

const CAPACITY: u64 = 10_000;
const IDLE: Duration = Duration::from_secs(60);

type Copy = Arc<dyn Any + Send + Sync>;

pub(super) struct Decoded {
    copies: moka::sync::Cache<String, Copy>,
}

impl Default for Decoded {
    fn default() -> Self {
        Self {
            copies: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(IDLE)
                .build(),
        }
    }
}

impl Decoded {
    /// The key of (`tag`, `key`): a byte no tag contains between them.
    pub fn key(tag: &str, key: &str) -> String {
        format!("{tag}\u{0}{key}")
    }

    /// The value decoded from `bytes` under `key` before, if it was these very bytes.
    pub fn get<T: Clone + 'static>(&self, key: &str, bytes: &[u8]) -> Option<T> {
        let copy = self.copies.get(key)?;
        let (from, value) = copy.downcast_ref::<(Bytes, T)>()?;
        (from.as_ref() == bytes).then(|| value.clone())
    }

    /// Remembers that `bytes` under `key` decode to `value`.
    pub fn remember<T: Send + Sync + 'static>(&self, key: String, bytes: Bytes, value: T) {
        self.copies.insert(key, Arc::new((bytes, value)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_used_only_for_the_bytes_it_came_from() {
        let d = Decoded::default();
        let key = Decoded::key("t", "k");
        d.remember(key.clone(), Bytes::from_static(b"[1]"), vec![1]);
        assert_eq!(d.get::<Vec<i32>>(&key, b"[1]"), Some(vec![1]));
        assert_eq!(d.get::<Vec<i32>>(&key, b"[2]"), None, "other bytes");
        assert_eq!(d.get::<String>(&key, b"[1]"), None, "another type");
        assert_eq!(d.get::<Vec<i32>>(&Decoded::key("t", "j"), b"[1]"), None);
    }
}
