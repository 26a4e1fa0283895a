//! The waitlist: callers for whom nothing suited, waiting for a time to free up.
//!
//! A caller joins for a service, a range of the clinic's days, and optionally a provider and a
//! part of the day. When a booking stops occupying its time (cancelled, moved away, a hold that
//! lapsed or was let go) and nothing else has taken that time, the first waiting entry that
//! [`WaitlistEntry::wants`] it (in join order, not opted out, never offered that time before) is
//! texted a link to claim it. Only one offer of a freed booking is live at a time; an offer
//! lapses after [`WaitlistPolicy::offer_ttl`] and the time passes to the next entry. The store
//! derives what is due from the bookings themselves ([`crate::ports::WaitlistStore::freed_slots`]),
//! so no use-case has to remember to offer anything and a restart loses nothing.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::accounts::TokenHash;
use crate::booking::Interval;
use crate::ids::{BookingId, CalendarId, CallId, TenantId, WaitlistEntryId, WaitlistOfferId};
use crate::phone::PhoneNumber;
use crate::tenant::ServiceName;

/// Morning, afternoon or evening, by the local start time of an appointment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartOfDay {
    /// Starts before 12:00.
    Morning,
    /// Starts from 12:00 and before 17:00.
    Afternoon,
    /// Starts from 17:00.
    Evening,
}

impl PartOfDay {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "morning" => Self::Morning,
            "afternoon" => Self::Afternoon,
            "evening" => Self::Evening,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Morning => "morning",
            Self::Afternoon => "afternoon",
            Self::Evening => "evening",
        }
    }

    /// The part of the day a local start time is in.
    pub fn of(t: Time) -> Self {
        if t < Time::constant(12, 0, 0, 0) {
            Self::Morning
        } else if t < Time::constant(17, 0, 0, 0) {
            Self::Afternoon
        } else {
            Self::Evening
        }
    }
}

/// The clinic's days a caller can come on: `from` to `to`, both included, `from <= to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WaitlistDays {
    from: Date,
    to: Date,
}

impl WaitlistDays {
    /// `None` when `to` is before `from`.
    pub fn new(from: Date, to: Date) -> Option<Self> {
        (from <= to).then_some(Self { from, to })
    }
    pub fn from(&self) -> Date {
        self.from
    }
    pub fn to(&self) -> Date {
        self.to
    }
    pub fn contains(&self, d: Date) -> bool {
        self.from <= d && d <= self.to
    }
    pub fn overlaps(&self, other: &WaitlistDays) -> bool {
        self.from <= other.to && other.from <= self.to
    }
}

/// Where an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryStatus {
    /// On the list.
    Waiting,
    /// Took an offered time: the appointment it became.
    Filled(BookingId),
    /// Taken off the list by the owner.
    Removed,
}

impl EntryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Filled(_) => "filled",
            Self::Removed => "removed",
        }
    }
}

/// An entry to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWaitlistEntry {
    pub id: WaitlistEntryId,
    pub tenant: TenantId,
    pub service: ServiceName,
    /// `None`: any provider who performs the service.
    pub provider: Option<CalendarId>,
    pub caller_name: String,
    pub phone: PhoneNumber,
    pub days: WaitlistDays,
    pub part_of_day: Option<PartOfDay>,
    pub call_id: Option<CallId>,
    pub created_at: Timestamp,
}

/// An entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitlistEntry {
    pub id: WaitlistEntryId,
    pub tenant: TenantId,
    pub service: ServiceName,
    pub provider: Option<CalendarId>,
    pub caller_name: String,
    pub phone: PhoneNumber,
    pub days: WaitlistDays,
    pub part_of_day: Option<PartOfDay>,
    pub call_id: Option<CallId>,
    pub created_at: Timestamp,
    pub status: EntryStatus,
}

impl NewWaitlistEntry {
    /// The entry as it is once stored.
    pub fn stored(&self) -> WaitlistEntry {
        WaitlistEntry {
            id: self.id,
            tenant: self.tenant,
            service: self.service.clone(),
            provider: self.provider,
            caller_name: self.caller_name.clone(),
            phone: self.phone.clone(),
            days: self.days,
            part_of_day: self.part_of_day,
            call_id: self.call_id.clone(),
            created_at: self.created_at,
            status: EntryStatus::Waiting,
        }
    }
}

/// Why the store refused an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinRefusal {
    /// The number already waits for this service on days that overlap these.
    AlreadyWaiting,
    /// The number already has as many entries as [`WaitlistPolicy::max_per_number`].
    TooManyEntries { max: u32 },
}

/// A time that a booking stopped occupying and that nothing occupies now: what an offer offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreedSlot {
    pub tenant: TenantId,
    /// The booking that freed it.
    pub freed: BookingId,
    pub calendar: CalendarId,
    pub service: ServiceName,
    pub slot: Interval,
    pub blocked: Interval,
}

/// A freed time that has no live offer, with the waiting entries of its service (and of its
/// provider or of any) never offered that time, in join order. [`WaitlistEntry::wants`] decides
/// which of them fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferDue {
    pub slot: FreedSlot,
    pub candidates: Vec<WaitlistEntry>,
}

impl WaitlistEntry {
    /// Whether this entry wants `slot`: still waiting, the same service, its provider (or any),
    /// a start on one of its days and in its part of the day, in the clinic's zone.
    pub fn wants(&self, slot: &FreedSlot, zone: &TimeZone) -> bool {
        let local = zone.to_datetime(slot.slot.start);
        self.status == EntryStatus::Waiting
            && self.tenant == slot.tenant
            && self.service == slot.service
            && self.provider.is_none_or(|p| p == slot.calendar)
            && self.days.contains(local.date())
            && self
                .part_of_day
                .is_none_or(|part| part == PartOfDay::of(local.time()))
    }
}

/// An offer to record: the entry, the freed time, when it lapses, and the hash of the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOffer {
    pub id: WaitlistOfferId,
    pub tenant: TenantId,
    pub entry: WaitlistEntryId,
    pub slot: FreedSlot,
    pub token_hash: TokenHash,
    pub offered_at: Timestamp,
    pub expires_at: Timestamp,
}

/// An offer as its link finds it: live (unexpired and unclaimed), or claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferView {
    pub id: WaitlistOfferId,
    pub entry: WaitlistEntry,
    pub slot: FreedSlot,
    pub expires_at: Timestamp,
    /// The appointment the claim made.
    pub claimed: Option<BookingId>,
}

/// The waitlist's knobs; the defaults are the product's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitlistPolicy {
    /// How long an offer can be claimed before the time passes to the next entry.
    pub offer_ttl: SignedDuration,
    /// Most entries one number may have waiting at a clinic.
    pub max_per_number: u32,
    /// Freed times looked at in one step.
    pub batch: u32,
}

impl Default for WaitlistPolicy {
    fn default() -> Self {
        Self {
            offer_ttl: SignedDuration::from_mins(30),
            max_per_number: 3,
            batch: 200,
        }
    }
}

/// The first of `candidates` (in the order given: join order) that wants `slot` and whose number
/// lets the clinic text it.
pub fn first_taker<'a>(
    slot: &FreedSlot,
    candidates: &'a [WaitlistEntry],
    zone: &TimeZone,
    opted_out: impl Fn(&PhoneNumber) -> bool,
) -> Option<&'a WaitlistEntry> {
    candidates
        .iter()
        .find(|e| e.wants(slot, zone) && !opted_out(&e.phone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().expect("date")
    }

    fn entry(
        days: (&str, &str),
        part: Option<PartOfDay>,
        provider: Option<CalendarId>,
    ) -> WaitlistEntry {
        let tenant = TenantId::from_uuid(uuid::Uuid::from_u128(1));
        WaitlistEntry {
            id: WaitlistEntryId::from_uuid(uuid::Uuid::from_u128(2)),
            tenant,
            service: ServiceName::parse("Cleaning").expect("name"),
            provider,
            caller_name: "Ada".into(),
            phone: PhoneNumber::parse("+15550100001").expect("phone"),
            days: WaitlistDays::new(date(days.0), date(days.1)).expect("days"),
            part_of_day: part,
            call_id: None,
            created_at: Timestamp::UNIX_EPOCH,
            status: EntryStatus::Waiting,
        }
    }

    fn slot(at: &str, calendar: CalendarId) -> FreedSlot {
        let start: Timestamp = at.parse().expect("ts");
        let slot = Interval::new(start, start + SignedDuration::from_mins(30)).expect("slot");
        FreedSlot {
            tenant: TenantId::from_uuid(uuid::Uuid::from_u128(1)),
            freed: BookingId::from_uuid(uuid::Uuid::from_u128(3)),
            calendar,
            service: ServiceName::parse("Cleaning").expect("name"),
            slot,
            blocked: slot,
        }
    }

    #[test]
    fn parts_of_the_day_split_at_noon_and_five() {
        assert_eq!(
            PartOfDay::of(Time::constant(11, 59, 0, 0)),
            PartOfDay::Morning
        );
        assert_eq!(
            PartOfDay::of(Time::constant(12, 0, 0, 0)),
            PartOfDay::Afternoon
        );
        assert_eq!(
            PartOfDay::of(Time::constant(16, 59, 0, 0)),
            PartOfDay::Afternoon
        );
        assert_eq!(
            PartOfDay::of(Time::constant(17, 0, 0, 0)),
            PartOfDay::Evening
        );
        assert_eq!(PartOfDay::parse(" Evening "), Some(PartOfDay::Evening));
        assert_eq!(PartOfDay::parse("night"), None);
    }

    #[test]
    fn days_must_be_in_order_and_overlap_inclusively() {
        assert!(WaitlistDays::new(date("2030-03-05"), date("2030-03-04")).is_none());
        let a = WaitlistDays::new(date("2030-03-01"), date("2030-03-05")).expect("days");
        let b = WaitlistDays::new(date("2030-03-05"), date("2030-03-09")).expect("days");
        let c = WaitlistDays::new(date("2030-03-06"), date("2030-03-09")).expect("days");
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
    }

    #[test]
    fn an_entry_wants_its_service_days_provider_and_part_of_day_in_the_clinics_zone() {
        let zone = TimeZone::get("America/New_York").expect("zone");
        let lee = CalendarId::from_uuid(uuid::Uuid::from_u128(10));
        let kim = CalendarId::from_uuid(uuid::Uuid::from_u128(11));
        // 2030-03-05 09:00 in New York is 14:00 UTC.
        let morning = slot("2030-03-05T14:00:00Z", lee);
        assert!(entry(("2030-03-05", "2030-03-05"), None, None).wants(&morning, &zone));
        assert!(
            entry(
                ("2030-03-01", "2030-03-09"),
                Some(PartOfDay::Morning),
                Some(lee)
            )
            .wants(&morning, &zone)
        );
        assert!(
            !entry(
                ("2030-03-01", "2030-03-09"),
                Some(PartOfDay::Afternoon),
                None
            )
            .wants(&morning, &zone)
        );
        assert!(!entry(("2030-03-01", "2030-03-09"), None, Some(kim)).wants(&morning, &zone));
        assert!(!entry(("2030-03-06", "2030-03-09"), None, None).wants(&morning, &zone));
        // 2030-03-06 01:00 UTC is still the 5th, 20:00, in New York.
        let evening = slot("2030-03-06T01:00:00Z", lee);
        assert!(
            entry(("2030-03-05", "2030-03-05"), Some(PartOfDay::Evening), None)
                .wants(&evening, &zone)
        );
        let mut other_service = entry(("2030-03-05", "2030-03-05"), None, None);
        other_service.service = ServiceName::parse("Whitening").expect("name");
        assert!(!other_service.wants(&morning, &zone));
        let mut filled = entry(("2030-03-05", "2030-03-05"), None, None);
        filled.status = EntryStatus::Removed;
        assert!(!filled.wants(&morning, &zone));
    }

    #[test]
    fn the_first_taker_is_the_first_in_join_order_not_opted_out() {
        let zone = TimeZone::get("America/New_York").expect("zone");
        let lee = CalendarId::from_uuid(uuid::Uuid::from_u128(10));
        let s = slot("2030-03-05T14:00:00Z", lee);
        let mut a = entry(("2030-03-06", "2030-03-06"), None, None);
        a.phone = PhoneNumber::parse("+15550100001").expect("phone");
        let mut b = entry(("2030-03-05", "2030-03-05"), None, None);
        b.phone = PhoneNumber::parse("+15550100002").expect("phone");
        let mut c = entry(("2030-03-05", "2030-03-05"), None, None);
        c.phone = PhoneNumber::parse("+15550100003").expect("phone");
        let list = [a, b.clone(), c.clone()];
        assert_eq!(first_taker(&s, &list, &zone, |_| false), Some(&list[1]));
        assert_eq!(
            first_taker(&s, &list, &zone, |p| p == &b.phone),
            Some(&list[2])
        );
        assert_eq!(first_taker(&s, &list, &zone, |_| true), None);
    }
}
