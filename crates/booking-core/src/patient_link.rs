//! The patient's own link to an appointment: `PUBLIC_BASE_URL` + `/a/` + a [`LinkToken`], in the
//! confirmation, the reminder and the "has moved" text. It opens a page where the patient sees
//! the appointment, cancels it, moves it or adds it to their calendar (the api's `patient`
//! module); every change goes through the same use-cases as the phone (`service::links`).
//!
//! Only the token's hash is stored, with the clinic and the appointment it opens; a link lives
//! until the appointment ends, and one whose appointment was moved is revoked (the "has moved"
//! text carries the new appointment's own link). Actions are counted per link and per client
//! address in the store, so that the limits hold across api instances.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::accounts::TokenHash;
use crate::ids::{BookingId, TenantId};
use crate::link_token::LinkToken;
use crate::ports::StoreResult;

/// The path a patient's link starts with (then the token).
pub const LINK_PATH: &str = "/a/";

/// Actions (cancel, move) one link may attempt per [`ACTION_WINDOW`].
pub const ACTIONS_PER_LINK: u32 = 10;
/// Actions one client address may attempt per [`ACTION_WINDOW`], whatever the links.
pub const ACTIONS_PER_ADDRESS: u32 = 30;
/// The window of the action limits.
pub const ACTION_WINDOW: SignedDuration = SignedDuration::from_hours(1);

/// Where the links point: the service's public base URL (`https://…`, or `http://` for local
/// use), without a trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkBase(String);

impl LinkBase {
    /// `None` unless `s` is an http(s) URL with a host and no query or fragment.
    pub fn parse(s: &str) -> Option<Self> {
        let trimmed = s.trim().trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"))?;
        let ok = !rest.is_empty()
            && !rest.starts_with('/')
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~:/[]%".contains(c));
        ok.then(|| Self(trimmed.to_owned()))
    }

    /// The link a text carries for `token`.
    pub fn url(&self, token: &LinkToken) -> String {
        format!("{}{LINK_PATH}{}", self.0, token.expose())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A link to store: only the token's hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPatientLink {
    pub tenant: TenantId,
    pub booking: BookingId,
    pub hash: TokenHash,
    pub created_at: Timestamp,
    /// When the link stops opening anything: the end of the appointment.
    pub expires_at: Timestamp,
}

/// What a live link opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatientLink {
    pub tenant: TenantId,
    pub booking: BookingId,
    pub expires_at: Timestamp,
}

/// What an action is counted under.
#[derive(Clone, PartialEq, Eq)]
pub struct ActionKey(String);

impl ActionKey {
    pub fn link(hash: &TokenHash) -> Self {
        let hex: String = hash.0.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("link:{hex}"))
    }
    /// A client address as the api reads it (IPv6 by its /64).
    pub fn address(address: &str) -> Self {
        Self(format!("addr:{address}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Keys hold addresses: Debug prints only the kind.
impl std::fmt::Debug for ActionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.0.split(':').next().unwrap_or("");
        write!(f, "ActionKey({kind}:…)")
    }
}

/// The links' store. Every method is one unit of work.
#[async_trait]
pub trait PatientLinkStore: Send + Sync {
    /// Stores a link (its hash is unique: a second insert of the same hash is `Duplicate`). The
    /// booking need not exist yet: a move stores the new appointment's link just before the
    /// appointment itself, and a link whose appointment was never made opens nothing.
    async fn insert_link(&self, link: &NewPatientLink) -> StoreResult<()>;
    /// The link with this hash if it is live at `now`: not expired, not revoked. The clinic is
    /// the link's: nothing else names it.
    async fn link_by_hash(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<PatientLink>>;
    /// Revokes every link of the booking (it was moved: its new appointment has its own).
    async fn revoke_links(
        &self,
        tenant: TenantId,
        booking: BookingId,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Counts one action under `key` in the window of `window` that holds `now` (a new window
    /// starts when the last one is over) and answers the count including this one, in one
    /// statement: concurrent actions each see an exact count.
    async fn count_link_action(
        &self,
        key: &ActionKey,
        window: SignedDuration,
        now: Timestamp,
    ) -> StoreResult<u32>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_is_an_http_url_without_its_trailing_slash() {
        let b = LinkBase::parse("https://book.example.com/").unwrap();
        assert_eq!(b.as_str(), "https://book.example.com");
        assert!(LinkBase::parse("http://127.0.0.1:8080").is_some());
        for bad in [
            "",
            "ftp://x",
            "https://",
            "https:///x",
            "https://a b",
            "https://x?y=1",
        ] {
            assert_eq!(LinkBase::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn action_keys_do_not_print_addresses() {
        let k = ActionKey::address("203.0.113.7");
        assert_eq!(format!("{k:?}"), "ActionKey(addr:…)");
        assert_eq!(k.as_str(), "addr:203.0.113.7");
    }
}
