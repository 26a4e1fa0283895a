//! Whether a patient came: the owner marks an appointment attended or a no-show once its time
//! has started (by default it is neither), and can change or clear the mark. A contact's
//! no-shows are counted by number and shown wherever the contact is.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::booking::{Booking, BookingStatus};

/// What the owner marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    Attended,
    NoShow,
}

impl Attendance {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attended => "attended",
            Self::NoShow => "no_show",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "attended" => Self::Attended,
            "no_show" => Self::NoShow,
            _ => return None,
        })
    }
}

/// Why an appointment cannot be marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MarkRefusal {
    /// Only a confirmed appointment is attended or missed (not a hold, nor a cancelled one).
    #[error("a {status} booking is not an appointment anyone could attend")]
    NotAnAppointment { status: &'static str },
    /// Its time has not started yet.
    #[error("the appointment has not started yet")]
    NotStarted { starts_at: Timestamp },
}

/// The rule: a mark (or clearing one) is allowed on a confirmed appointment whose start is at or
/// before `now`. The stores check it under the booking's lock.
pub fn may_mark(booking: &Booking, now: Timestamp) -> Result<(), MarkRefusal> {
    let status = booking.effective_status(now);
    if status != BookingStatus::Confirmed {
        return Err(MarkRefusal::NotAnAppointment {
            status: status.as_str(),
        });
    }
    if booking.slot.start > now {
        return Err(MarkRefusal::NotStarted {
            starts_at: booking.slot.start,
        });
    }
    Ok(())
}

/// "Missed 2 earlier appointments": the note about a caller's no-shows, `None` without any.
pub fn no_show_note(no_shows: u32) -> Option<String> {
    match no_shows {
        0 => None,
        1 => Some("Missed 1 earlier appointment (no-show)".to_owned()),
        n => Some(format!("Missed {n} earlier appointments (no-shows)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::Interval;
    use crate::ids::{BookingId, CalendarId, TenantId};
    use crate::phone::PhoneNumber;
    use crate::tenant::ServiceName;
    use jiff::SignedDuration;

    fn booking(status: BookingStatus, start: Timestamp) -> Booking {
        let tenant = TenantId::from_uuid(uuid::Uuid::new_v4());
        let slot = Interval::new(start, start + SignedDuration::from_mins(30)).unwrap();
        Booking {
            id: BookingId::from_uuid(uuid::Uuid::new_v4()),
            tenant,
            calendar: CalendarId::default_for(tenant),
            status,
            service: ServiceName::parse("Cleaning").unwrap(),
            slot,
            blocked: slot,
            caller_name: "Ada".into(),
            caller_phone: PhoneNumber::parse("+19254207621").unwrap(),
            call_id: None,
            created_at: start - SignedDuration::from_hours(48),
            hold_expires_at: None,
            confirmed_at: Some(start - SignedDuration::from_hours(48)),
            cancelled_at: None,
            rescheduled_from: None,
        }
    }

    #[test]
    fn only_a_started_confirmed_appointment_is_marked() {
        let start: Timestamp = "2030-03-04T14:00:00Z".parse().unwrap();
        let b = booking(BookingStatus::Confirmed, start);
        assert_eq!(may_mark(&b, start), Ok(()));
        assert_eq!(may_mark(&b, start + SignedDuration::from_hours(30)), Ok(()));
        assert_eq!(
            may_mark(&b, start - SignedDuration::from_secs(1)),
            Err(MarkRefusal::NotStarted { starts_at: start })
        );
        for status in [
            BookingStatus::Cancelled,
            BookingStatus::Released,
            BookingStatus::Expired,
        ] {
            assert_eq!(
                may_mark(&booking(status, start), start),
                Err(MarkRefusal::NotAnAppointment {
                    status: status.as_str()
                })
            );
        }
    }

    #[test]
    fn marks_round_trip_and_read_well() {
        for a in [Attendance::Attended, Attendance::NoShow] {
            assert_eq!(Attendance::parse(a.as_str()), Some(a));
        }
        assert_eq!(Attendance::parse("maybe"), None);
        assert_eq!(no_show_note(0), None);
        assert_eq!(
            no_show_note(1).as_deref(),
            Some("Missed 1 earlier appointment (no-show)")
        );
        assert_eq!(
            no_show_note(3).as_deref(),
            Some("Missed 3 earlier appointments (no-shows)")
        );
    }
}
