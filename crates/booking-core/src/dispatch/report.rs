//! What one step did, counted per outcome.

use serde::Serialize;

/// What one step did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DispatchReport {
    pub claimed: u32,
    /// The claim took as many as a step may: more may be due already.
    pub full_batch: bool,
    /// Accepted by the gateway on a send.
    pub sent: u32,
    /// Found at the gateway by reconciliation: adopted, not resent.
    pub reconciled: u32,
    pub retried: u32,
    pub ambiguous: u32,
    pub failed: u32,
    pub suppressed: u32,
    /// Put back: no account, credentials refused, rate limit.
    pub deferred: u32,
    /// Of `deferred`, put back by the rate limit.
    pub rate_limited: u32,
    /// Outcomes the store refused because the claim had moved on (the lease lapsed).
    pub lost_claims: u32,
    /// Messages whose outcome could not be recorded (store errors); their lease will lapse and
    /// they will be reconciled.
    pub errors: u32,
}

impl DispatchReport {
    /// Nothing was due.
    pub fn is_idle(&self) -> bool {
        self.claimed == 0
    }

    /// The claim took everything that was due when it ran: the loop may sleep until something
    /// is queued (or comes due) rather than claim again at once to find nothing.
    pub fn drained(&self) -> bool {
        !self.full_batch
    }
}

/// Why a claimed message has no recorded outcome.
pub(super) enum LaneError {
    /// The store refused the outcome: the claim had moved on (the lease lapsed).
    LostClaim,
    /// The store failed; the lease will lapse and the message will be reconciled.
    Store,
}

impl DispatchReport {
    pub(super) fn count(&mut self, outcome: Result<Counted, LaneError>) {
        match outcome {
            Ok(Counted::Sent) => self.sent += 1,
            Ok(Counted::Reconciled) => self.reconciled += 1,
            Ok(Counted::Retried) => self.retried += 1,
            Ok(Counted::Ambiguous) => self.ambiguous += 1,
            Ok(Counted::Failed) => self.failed += 1,
            Ok(Counted::Suppressed) => self.suppressed += 1,
            Ok(Counted::Deferred) => self.deferred += 1,
            Ok(Counted::RateLimited) => {
                self.deferred += 1;
                self.rate_limited += 1;
            }
            Err(LaneError::LostClaim) => self.lost_claims += 1,
            Err(LaneError::Store) => self.errors += 1,
        }
    }
}

pub(super) enum Counted {
    Sent,
    Reconciled,
    Retried,
    Ambiguous,
    Failed,
    Suppressed,
    Deferred,
    RateLimited,
}
