//! Reservations of one time racing in this process.
//!
//! When many callers ask for the same start at once, each provider can be had by one of them.
//! Without this, every caller's attempt goes to the store, and those that arrive before the
//! winner has committed wait in line on the calendar's lock, one statement each, to be told
//! "taken". Here the first caller to ask for a blocked interval at a clinic takes its attempt
//! to the store; those who ask for the same interval while it is there wait for its answer
//! and learn from it:
//!
//! - it **won** a provider: that provider is no longer theirs to try (the winner's hold now
//!   overlaps the interval);
//! - it found its **one** provider **taken**: so is it for them (something else overlaps it).
//!
//! Nothing else is learnt: a limit reached or a fault says nothing about another caller's
//! attempt, and "taken" over several providers may hide a limit on one of them. What is left
//! to try they take to the store themselves, as the next race; when nothing is left the answer
//! is "taken" without a round trip. The store still decides every hold, and what is learnt
//! here is at most one attempt old: the same as having arrived a moment earlier. Callers who
//! hold time of their own in the call do not wait on others' answers, since their own hold
//! gives way to their new one (the store knows; a race does not). Several instances each race
//! on their own, and the database settles them.

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::booking::{Booking, Interval, NewHold};
use crate::ids::{CalendarId, TenantId};
use crate::ports::StoreError;

use super::in_flight::{InFlight, Role};

type Key = (TenantId, Interval);
type Attempt = Shared<BoxFuture<'static, Result<Booking, StoreError>>>;

/// The attempts in flight, by clinic and blocked interval: the providers each tries, and its
/// answer to come.
#[derive(Default)]
pub(super) struct Races {
    in_flight: InFlight<Key, (Vec<CalendarId>, Attempt)>,
}

impl Races {
    /// The first of `holds` (one request, one provider each, in order of preference) the store
    /// inserts, as `attempt` asks it to; or `SlotTaken` when the answers of the attempts on the
    /// same interval that were in flight meanwhile leave nothing to try.
    pub(super) async fn reserve<F>(
        &self,
        mut holds: Vec<NewHold>,
        attempt: F,
    ) -> Result<Booking, StoreError>
    where
        F: Fn(Vec<NewHold>) -> BoxFuture<'static, Result<Booking, StoreError>>,
    {
        let Some(first) = holds.first() else {
            return Err(StoreError::SlotTaken);
        };
        let key = (first.tenant, first.blocked);
        loop {
            let ((tried, run), ticket, role) = self.in_flight.join_or_start(key, || {
                (
                    holds.iter().map(|h| h.calendar).collect(),
                    attempt(holds.clone()).shared(),
                )
            });
            let answer = run.await;
            drop(ticket);
            if role == Role::Started {
                return answer;
            }
            match (&answer, tried.as_slice()) {
                (Ok(won), _) => holds.retain(|h| h.calendar != won.calendar),
                (Err(StoreError::SlotTaken), [only]) => holds.retain(|h| h.calendar != *only),
                _ => {}
            }
            if holds.is_empty() {
                return Err(StoreError::SlotTaken);
            }
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Semaphore;

    use super::*;
    use crate::booking::CallHolds;
    use crate::memory::MemoryStore;
    use crate::ports::BookingStore;
    use crate::tenant::Tenant;
    use crate::testing::{
        base_time, create_tenant_with_providers, hold_with, provider, random_phone, span,
    };

    /// The memory store behind a gate that holds every attempt until the test lets it through,
    /// counting the attempts.
    struct Gated {
        store: Arc<MemoryStore>,
        attempts: AtomicUsize,
        gate: Semaphore,
    }

    impl Gated {
        fn attempt(
            self: &Arc<Self>,
        ) -> impl Fn(Vec<NewHold>) -> BoxFuture<'static, Result<Booking, StoreError>> {
            let me = self.clone();
            move |holds| {
                let me = me.clone();
                async move {
                    me.attempts.fetch_add(1, Ordering::SeqCst);
                    me.gate
                        .acquire()
                        .await
                        .expect("the gate stays open")
                        .forget();
                    me.store
                        .insert_first_free_hold(&holds, base_time(), CallHolds::Keep)
                        .await
                }
                .boxed()
            }
        }
    }

    async fn clinic(providers: usize) -> (Arc<Gated>, Tenant) {
        let store = Arc::new(MemoryStore::new());
        let tenant = create_tenant_with_providers(
            store.as_ref(),
            "Racing Dental",
            (1..=providers)
                .map(|i| provider(&format!("Dr {i}")))
                .collect(),
        )
        .await;
        let gated = Arc::new(Gated {
            store,
            attempts: AtomicUsize::new(0),
            gate: Semaphore::new(0),
        });
        (gated, tenant)
    }

    /// One caller's request for the slot on every provider of the clinic, in order.
    fn request(tenant: &Tenant) -> Vec<NewHold> {
        let slot = span(26 * 60, 30);
        let (id, phone) = (
            crate::ids::BookingId::from_uuid(uuid::Uuid::new_v4()),
            random_phone(),
        );
        tenant
            .config
            .providers
            .iter()
            .map(|p| {
                let mut h = hold_with(tenant, p, slot, base_time());
                h.id = id;
                h.caller_phone = phone.clone();
                h
            })
            .collect()
    }

    /// Lets the attempts through one at a time, each once everyone else has had the time to
    /// find it in flight (an attempt is a round trip to the database); stops when no new attempt
    /// comes.
    async fn let_through(gated: &Gated) {
        let mut released = 0;
        loop {
            let mut waited = 0;
            while gated.attempts.load(Ordering::SeqCst) == released {
                if waited == 1_000 {
                    return;
                }
                waited += 1;
                tokio::task::yield_now().await;
            }
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            released += 1;
            gated.gate.add_permits(1);
        }
    }

    /// `callers` race, their attempts let through one at a time.
    async fn race(
        gated: &Arc<Gated>,
        tenant: &Tenant,
        callers: usize,
    ) -> Vec<Result<Booking, StoreError>> {
        let races = Races::default();
        let all = futures_util::future::join_all(
            (0..callers).map(|_| races.reserve(request(tenant), gated.attempt())),
        );
        let open = let_through(gated);
        tokio::join!(all, open).0
    }

    #[tokio::test]
    async fn twenty_callers_for_one_provider_make_one_attempt_and_one_winner() {
        let (gated, tenant) = clinic(1).await;
        let answers = race(&gated, &tenant, 20).await;
        assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 1);
        assert!(
            answers
                .iter()
                .filter(|a| a.is_err())
                .all(|a| matches!(a, Err(StoreError::SlotTaken)))
        );
        assert_eq!(
            gated.attempts.load(Ordering::SeqCst),
            1,
            "the losers learnt it"
        );
    }

    #[tokio::test]
    async fn with_three_providers_three_win_each_on_their_own_provider() {
        let (gated, tenant) = clinic(3).await;
        let answers = race(&gated, &tenant, 20).await;
        let won: HashSet<CalendarId> = answers
            .iter()
            .filter_map(|a| a.as_ref().ok().map(|b| b.calendar))
            .collect();
        assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 3);
        assert_eq!(won.len(), 3, "one winner per provider");
        // Each race after the first is led by one of those who learnt that the last winner's
        // provider is gone: one attempt per provider.
        assert_eq!(gated.attempts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_fault_teaches_nothing_and_the_others_try_for_themselves() {
        let (gated, tenant) = clinic(1).await;
        let races = Races::default();
        let failing = |_holds: Vec<NewHold>| {
            async { Err(StoreError::Unavailable("the database went away".into())) }.boxed()
        };
        // The first attempt fails; everyone else, waiting on it, then goes on by themselves.
        let first = races.reserve(request(&tenant), failing);
        let others = futures_util::future::join_all(
            (0..5).map(|_| races.reserve(request(&tenant), gated.attempt())),
        );
        let open = let_through(&gated);
        let (first, others, ()) = tokio::join!(first, others, open);
        assert!(matches!(first, Err(StoreError::Unavailable(_))));
        assert_eq!(others.iter().filter(|a| a.is_ok()).count(), 1);
        assert!(gated.attempts.load(Ordering::SeqCst) >= 1);
    }
}
