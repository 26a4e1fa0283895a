//! One-time codes that prove the caller holds the phone the booking is for.
//! Policy (DESIGN.md §5): CSPRNG codes, 10 minutes, single use, 5 checks, a new code invalidates the
//! old, send limits per number, per call and per tenant, stored only as an HMAC-SHA256.

use jiff::Timestamp;

use crate::ids::{BookingId, CallId, ChallengeId, TenantId};
use crate::phone::PhoneNumber;

/// The keyed hash of a code: HMAC-SHA256(server key, challenge id ‖ code).
#[derive(Clone, PartialEq, Eq)]
pub struct CodeHash(pub [u8; 32]);

impl std::fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeHash(***)")
    }
}

/// A challenge to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChallenge {
    pub id: ChallengeId,
    pub tenant: TenantId,
    pub booking: BookingId,
    pub call_id: Option<CallId>,
    pub phone: PhoneNumber,
    pub code_hash: CodeHash,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A challenge as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub id: ChallengeId,
    pub tenant: TenantId,
    pub booking: BookingId,
    pub call_id: Option<CallId>,
    pub phone: PhoneNumber,
    pub code_hash: CodeHash,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Wrong checks so far.
    pub failed_checks: u32,
    pub consumed_at: Option<Timestamp>,
    /// Set when a newer code replaced this one.
    pub superseded_at: Option<Timestamp>,
}

/// How many codes were sent recently, for the send limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendCounts {
    /// Codes sent to this number (by this tenant) since the window start.
    pub to_number: u32,
    /// Codes sent during this call, to any number, ever.
    pub in_call: u32,
    /// Distinct numbers texted a code during this call.
    pub distinct_numbers_in_call: u32,
    /// Codes sent by this tenant since the window start.
    pub by_tenant: u32,
}
