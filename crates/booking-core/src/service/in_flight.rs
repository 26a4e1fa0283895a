//! Work in flight in this process, joined by whoever asks for the same thing while it runs: the
//! first caller starts it, the others join it, and the first of them to be answered (or to go
//! away) takes it out of the map, so that nothing is kept after the answer and the next caller
//! starts afresh. Used for shared reads of occupied time and for reservations racing for one
//! time.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether a caller started the work it waits for, or joined someone else's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Started,
    Joined,
}

/// The work in flight, by key: each entry numbered, so that a late ticket never takes out a
/// newer entry of the same key.
pub(super) struct InFlight<K, V> {
    map: Mutex<HashMap<K, (u64, V)>>,
    next: AtomicU64,
}

impl<K, V> Default for InFlight<K, V> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> InFlight<K, V> {
    /// The work in flight for `key`, or the one `start` begins now; with the ticket to hold
    /// while waiting for it (its drop takes the entry out) and the caller's role.
    pub(super) fn join_or_start(
        &self,
        key: K,
        start: impl FnOnce() -> V,
    ) -> (V, Ticket<'_, K, V>, Role) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let (id, work, role) = match map.get(&key) {
            Some((id, work)) => (*id, work.clone(), Role::Joined),
            None => {
                let work = start();
                let id = self.next.fetch_add(1, Ordering::Relaxed);
                map.insert(key.clone(), (id, work.clone()));
                (id, work, Role::Started)
            }
        };
        let ticket = Ticket {
            in_flight: self,
            key,
            id,
        };
        (work, ticket, role)
    }
}

/// Held while waiting for work in flight: dropped when the waiter is answered or goes away, it
/// takes the work out of the map (unless a newer one of the same key took its place).
pub(super) struct Ticket<'a, K: Eq + Hash, V> {
    in_flight: &'a InFlight<K, V>,
    key: K,
    id: u64,
}

impl<K: Eq + Hash, V> Drop for Ticket<'_, K, V> {
    fn drop(&mut self) {
        let mut map = self.in_flight.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            map.remove(&self.key);
        }
    }
}
