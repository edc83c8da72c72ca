//! Single flight: concurrent misses of one storage slot in this process compute it once.
//!
//! Written here rather than taken from a crate because it must sit between the two halves of
//! a cache read (the miss and the fill) for both backends, and tokio's `OnceCell` already does
//! the hard part: the first caller runs the fill, the others wait for its result, and when the
//! fill fails or its caller goes away (a client disconnected) the next waiter takes over.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::OnceCell;

#[derive(Default)]
pub(super) struct Flights {
    in_flight: Mutex<HashMap<String, Arc<OnceCell<Bytes>>>>,
}

impl Flights {
    /// The value of `slot` as computed by `fill`, run by one caller at a time: callers that
    /// arrive while a fill runs share its result.
    pub(super) async fn run<E, F, Fut>(&self, slot: &str, fill: F) -> Result<Bytes, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        let cell = self
            .lock()
            .entry(slot.to_owned())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        let leave = Leave {
            flights: self,
            slot,
            cell,
        };
        leave.cell.get_or_try_init(fill).await.cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<OnceCell<Bytes>>>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Takes a caller's flight out of the map when it ends (done, failed or cancelled), unless
/// it failed or was cancelled while others still wait on it: one of them fills next, and
/// callers arriving meanwhile must join that fill rather than start another.
struct Leave<'a> {
    flights: &'a Flights,
    slot: &'a str,
    cell: Arc<OnceCell<Bytes>>,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.flights.lock();
        let ours = in_flight
            .get(self.slot)
            .is_some_and(|current| Arc::ptr_eq(current, &self.cell));
        // Held by the map and by this guard only: nobody else waits.
        let alone = Arc::strong_count(&self.cell) <= 2;
        if ours && (self.cell.initialized() || alone) {
            in_flight.remove(self.slot);
        }
    }
}
