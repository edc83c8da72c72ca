//! Single flight: concurrent misses of one storage slot in this process compute it once.
//!
//! Written here rather than taken from a crate because it must sit between the two halves of
//! a cache read (the miss and the fill) for both backends, and tokio's `OnceCell` already does
//! the hard part: the first caller runs the fill and the others wait for its result; when its
//! caller goes away (a client disconnected) the next waiter takes over. When the fill fails,
//! the waiters fill again in turn or all at once, as the caller chose ([`AfterFailure`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::OnceCell;

/// A flight's outcome: the value, or `None` when its fill failed.
type Cell = OnceCell<Option<Bytes>>;

#[derive(Default)]
pub(super) struct Flights {
    in_flight: Mutex<HashMap<String, Arc<Cell>>>,
}

/// What the callers waiting on a fill do when it fails.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterFailure {
    /// They fill again one at a time, as a new flight: for fills that are costly (a cold
    /// readiness overview), where many at once would be the stampede the flight prevents.
    InTurn,
    /// Each fills on its own at once: for small fills (a token's standing) that fail fast
    /// and alike, where taking turns would queue every caller behind the timeouts of all
    /// before it while the database is away.
    Together,
}

impl Flights {
    /// The value of `slot` as computed by `fill`, run by one caller at a time: callers that
    /// arrive while a fill runs share its result. `fill` is told whether it runs because
    /// another caller's fill just failed and `after_failure` is [`AfterFailure::Together`]
    /// (then it should not wait for anyone else's).
    pub(super) async fn run<E, F, Fut>(
        &self,
        slot: &str,
        after_failure: AfterFailure,
        fill: F,
    ) -> Result<Bytes, E>
    where
        F: FnOnce(bool) -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        let mut fill = Some(fill);
        loop {
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
            let mut error = None;
            let shared = leave
                .cell
                .get_or_init(|| async {
                    let fill = fill.take()?;
                    fill(false).await.map_err(|e| error = Some(e)).ok()
                })
                .await
                .clone();
            drop(leave);
            match (shared, error, fill.take()) {
                (Some(value), _, _) => return Ok(value),
                (None, Some(error), _) => return Err(error),
                // Another caller's fill failed.
                (None, None, Some(mine)) => match after_failure {
                    AfterFailure::Together => return mine(true).await,
                    AfterFailure::InTurn => fill = Some(mine),
                },
                (None, None, None) => {
                    unreachable!("a fill that ran either stored a value or failed")
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Cell>>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Takes a caller's flight out of the map when it ends (done or failed), or when it was
/// cancelled and nobody else waits on it; a flight cancelled while others wait stays, since
/// one of them fills next and callers arriving meanwhile must join that fill.
struct Leave<'a> {
    flights: &'a Flights,
    slot: &'a str,
    cell: Arc<Cell>,
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
