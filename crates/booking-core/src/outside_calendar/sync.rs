//! Busy time in: what a sync of an outside calendar brings back, how a link's health is told in
//! words, and the rules for when to sync next.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use crate::booking::Interval;
use crate::ids::{CalendarId, TenantId};
use crate::outside_calendar::link::{CalendarLink, CalendarUrl};

/// Why the clinic's calendar server could not do what we asked. Each says in words an owner can
/// read what is wrong and what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarProblem {
    /// The server could not be reached, or did not answer in time, or answered with a server
    /// error. `detail` is the technical reason, for operators (no credentials in it).
    #[error("the calendar server could not be reached: {detail}")]
    Unreachable { detail: String },
    /// 401 or 403: the user name and password (or the token) were refused.
    #[error("the calendar server refused the credentials (HTTP {status})")]
    Refused { status: u16 },
    /// The calendar (or the server's CalDAV service) is not at that address.
    #[error("no calendar at that address")]
    NotFound,
    /// The server answered with something we could not read (not CalDAV, or broken iCalendar).
    #[error("the calendar server sent data we could not read: {detail}")]
    BadData { detail: String },
}

impl CalendarProblem {
    /// The kind, as stored and shown in `sync_health`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "unreachable",
            Self::Refused { .. } => "wrong_credentials",
            Self::NotFound => "not_found",
            Self::BadData { .. } => "bad_data",
        }
    }

    /// What the owner reads on the dashboard.
    pub fn owner_words(&self) -> String {
        match self {
            Self::Unreachable { .. } => "We cannot reach your calendar server right now (it is down, slow or \
                 unreachable). Calls keep booking from our own schedule; we keep trying and catch up when it \
                 answers."
                .into(),
            Self::Refused { .. } => "Your calendar server refused the username and password (or token). \
                 Enter a new app password in Settings; until then we cannot see your calendar or add \
                 appointments to it (nothing is lost: they are added once it works)."
                .into(),
            Self::NotFound => "There is no calendar at the address you gave. Check the address in Settings, \
                 or link the calendar again and pick it from the list."
                .into(),
            Self::BadData { .. } => "Your calendar server sent something we could not read. We keep trying; \
                 if this stays, tell us which calendar service you use."
                .into(),
        }
    }
}

/// How a link is doing, as shown next to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncHealth {
    /// Linked; the first sync has not happened yet.
    Waiting,
    /// The last sync worked.
    Healthy,
    /// The last sync failed.
    Failing(CalendarProblem),
}

impl SyncHealth {
    /// The value of `sync_health` in the operator API and the dashboard.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Waiting => "not_synced_yet",
            Self::Healthy => "ok",
            Self::Failing(p) => p.kind(),
        }
    }

    pub fn owner_words(&self) -> String {
        match self {
            Self::Waiting => "Linked. The first look at your calendar is under way.".into(),
            Self::Healthy => {
                "Working: your calendar's events block those times for callers.".into()
            }
            Self::Failing(p) => p.owner_words(),
        }
    }

    /// The detail of a failure, as stored beside [`SyncHealth::kind`]; empty otherwise.
    pub fn detail(&self) -> String {
        match self {
            Self::Failing(CalendarProblem::Unreachable { detail })
            | Self::Failing(CalendarProblem::BadData { detail }) => detail.clone(),
            Self::Failing(CalendarProblem::Refused { status }) => status.to_string(),
            _ => String::new(),
        }
    }

    /// From what a store kept ([`SyncHealth::kind`] and [`SyncHealth::detail`]).
    pub fn from_stored(kind: &str, detail: &str) -> Option<Self> {
        let detail = detail.to_owned();
        Some(match kind {
            "not_synced_yet" => Self::Waiting,
            "ok" => Self::Healthy,
            "unreachable" => Self::Failing(CalendarProblem::Unreachable { detail }),
            "wrong_credentials" => Self::Failing(CalendarProblem::Refused {
                status: detail.parse().unwrap_or(401),
            }),
            "not_found" => Self::Failing(CalendarProblem::NotFound),
            "bad_data" => Self::Failing(CalendarProblem::BadData { detail }),
            _ => return None,
        })
    }
}

/// What the operator API and the dashboard show of a link: never the credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarStatus {
    pub tenant: TenantId,
    pub calendar: CalendarId,
    pub url: CalendarUrl,
    pub health: SyncHealth,
    /// When the last sync that worked finished.
    pub last_synced_at: Option<Timestamp>,
    /// Syncs that failed in a row since the last one that worked.
    pub consecutive_failures: u32,
    /// When the calendar was linked (or linked again).
    pub linked_at: Timestamp,
}

impl CalendarStatus {
    /// How old the busy time we hold is at `now` (since linking, when it never synced).
    pub fn lag(&self, now: Timestamp) -> SignedDuration {
        now.duration_since(self.last_synced_at.unwrap_or(self.linked_at))
            .max(SignedDuration::ZERO)
    }

    /// Whether the busy time is older than `bound` at `now`.
    pub fn is_stale(&self, now: Timestamp, bound: SignedDuration) -> bool {
        match self.last_synced_at {
            Some(at) => now.duration_since(at) > bound,
            None => true,
        }
    }
}

/// Where the previous sync left off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncPoint {
    /// The server's sync token (RFC 6578), when it gave one.
    pub token: Option<String>,
    /// Every event resource we hold, by href, with its ETag: for servers without sync tokens,
    /// the changes are what differs from these.
    pub known: BTreeMap<String, String>,
}

impl SyncPoint {
    /// Nothing known: the next sync reads everything.
    pub fn start() -> Self {
        Self::default()
    }
    pub fn is_start(&self) -> bool {
        self.token.is_none() && self.known.is_empty()
    }
}

/// Whether a sync's changes replace everything held for the calendar or patch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeScope {
    /// Everything the calendar holds: what is not in `changed` is gone.
    Everything,
    /// Only what changed since the sync point.
    SinceLastSync,
}

/// One event resource (one `.ics`: an event with its recurrence overrides) and the busy time it
/// makes within the sync's horizon. Transparent events, cancelled ones and our own make none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutsideResource {
    pub href: String,
    pub etag: String,
    pub busy: Vec<Interval>,
}

/// What a sync brought back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarChanges {
    pub scope: ChangeScope,
    pub changed: Vec<OutsideResource>,
    /// Hrefs gone since the sync point (empty when the scope is everything).
    pub removed: Vec<String>,
    /// The token for the next sync, when the server supports sync tokens.
    pub token: Option<String>,
    /// Recurring events were expanded up to here.
    pub expanded_until: Timestamp,
}

/// A link claimed for one sync until `lease_until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncClaim {
    pub link: CalendarLink,
    pub since: SyncPoint,
    /// How far recurring events were expanded by the previous sync (`None` before the first).
    pub expanded_until: Option<Timestamp>,
    pub claim_token: uuid::Uuid,
    pub lease_until: Timestamp,
}

/// What a sync did, to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncResult {
    /// The busy time now matches the server: replace or patch it, keep the token.
    Synced {
        changes: CalendarChanges,
        next_sync_at: Timestamp,
    },
    /// The server could not be asked: the busy time stays as it was, the health says why.
    Failed {
        problem: CalendarProblem,
        next_sync_at: Timestamp,
    },
}

/// The wait before try number `attempt + 1` after `attempt` failures in a row: `base` doubling
/// each time, never more than `cap`.
pub fn backoff(attempt: u32, base: SignedDuration, cap: SignedDuration) -> SignedDuration {
    let doublings = attempt.saturating_sub(1).min(30);
    let wait = base
        .checked_mul(1_i32 << doublings)
        .unwrap_or(SignedDuration::MAX);
    wait.min(cap).max(SignedDuration::ZERO)
}

/// Whether the next sync must read everything again: never synced, or the recurring events were
/// expanded less than `horizon` ahead of `now` less a day (the window slides, so the expansion
/// is renewed about once a day).
pub fn needs_full_sync(
    expanded_until: Option<Timestamp>,
    now: Timestamp,
    horizon: SignedDuration,
) -> bool {
    match expanded_until {
        None => true,
        Some(until) => until < now + horizon - SignedDuration::from_hours(24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = SignedDuration::from_secs(5);
        let cap = SignedDuration::from_mins(5);
        let waits: Vec<i64> = (1..=10).map(|a| backoff(a, base, cap).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX, base, cap), cap);
    }

    #[test]
    fn health_round_trips_through_storage_words() {
        for h in [
            SyncHealth::Waiting,
            SyncHealth::Healthy,
            SyncHealth::Failing(CalendarProblem::Unreachable {
                detail: "connection refused".into(),
            }),
            SyncHealth::Failing(CalendarProblem::Refused { status: 403 }),
            SyncHealth::Failing(CalendarProblem::NotFound),
            SyncHealth::Failing(CalendarProblem::BadData {
                detail: "not iCalendar".into(),
            }),
        ] {
            assert_eq!(
                SyncHealth::from_stored(h.kind(), &h.detail()),
                Some(h.clone())
            );
            assert!(!h.owner_words().is_empty());
        }
    }

    #[test]
    fn the_expansion_is_renewed_as_the_horizon_slides() {
        let now: Timestamp = "2030-03-04T14:00:00Z".parse().unwrap();
        let horizon = SignedDuration::from_hours(24 * 60);
        assert!(needs_full_sync(None, now, horizon));
        assert!(!needs_full_sync(Some(now + horizon), now, horizon));
        assert!(needs_full_sync(
            Some(now + horizon - SignedDuration::from_hours(25)),
            now,
            horizon
        ));
    }
}
