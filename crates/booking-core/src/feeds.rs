//! The read-only calendar feeds: an iCalendar URL with a secret in it, one per provider and one
//! for the whole clinic, that any calendar app can subscribe to. The secret is a
//! [`crate::link_token::LinkToken`]; only its hash is stored. Making a new one replaces the old
//! (whose URL stops working at once); revoking removes it.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::accounts::TokenHash;
use crate::booking::{Booking, BookingStatus};
use crate::ids::TenantId;
use crate::ports::StoreResult;
use crate::provider::ProviderId;

/// Whose appointments a feed shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeedScope {
    /// Every provider's.
    Clinic,
    /// One provider's (their calendar).
    Provider(ProviderId),
}

impl FeedScope {
    /// Whether `booking` belongs in this feed: confirmed, and of this provider when the feed is
    /// one provider's.
    pub fn shows(&self, booking: &Booking) -> bool {
        booking.status == BookingStatus::Confirmed
            && match self {
                Self::Clinic => true,
                Self::Provider(p) => booking.calendar == *p,
            }
    }
}

/// A feed that exists: its scope and when its current secret was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feed {
    pub tenant: TenantId,
    pub scope: FeedScope,
    pub created_at: Timestamp,
}

/// Where the feeds' secrets are kept (as hashes only).
#[async_trait]
pub trait CalendarFeedStore: Send + Sync {
    /// Makes `hash` the secret of the feed `scope` of `tenant`, replacing any earlier one in the
    /// same unit of work (the old URL stops working). `NotFound` when the tenant does not exist.
    async fn replace_feed(
        &self,
        tenant: TenantId,
        scope: FeedScope,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Removes the feed; whether there was one.
    async fn revoke_feed(&self, tenant: TenantId, scope: FeedScope) -> StoreResult<bool>;
    /// The feed whose secret hashes to `hash`, of whatever tenant: the URL is the only key.
    async fn feed_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<Feed>>;
    /// The feeds of `tenant`.
    async fn feeds(&self, tenant: TenantId) -> StoreResult<Vec<Feed>>;
}
