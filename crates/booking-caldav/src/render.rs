//! iCalendar out: the event we write for an appointment, and the read-only feed of a calendar's
//! appointments (for calendar apps that subscribe to a URL rather than speak CalDAV).

use booking_core::outside_calendar::OurEvent;
use icalendar::{Calendar, Component as _, Event, EventLike as _};
use jiff::Timestamp;

const PRODID: &str = "-//AI Receptionist//Appointments//EN";

fn utc(t: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32)
        .unwrap_or_default()
}

fn vevent(event: &OurEvent) -> Event {
    Event::new()
        .uid(event.uid.as_str())
        .summary(&event.summary)
        .description(&event.description())
        .starts(utc(event.slot.start))
        .ends(utc(event.slot.end))
        .timestamp(utc(event.stamp))
        .add_property("LAST-MODIFIED", icalendar_utc(event.stamp))
        .add_property("TRANSP", "OPAQUE")
        .add_property("STATUS", "CONFIRMED")
        .add_property("CATEGORIES", "Booked by phone")
        .done()
}

fn icalendar_utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

fn calendar(name: Option<&str>) -> Calendar {
    let mut cal = Calendar::empty();
    cal.append_property(("VERSION", "2.0"));
    cal.append_property(("PRODID", PRODID));
    cal.append_property(("CALSCALE", "GREGORIAN"));
    if let Some(name) = name {
        cal.name(name);
    }
    cal
}

/// One appointment as a calendar resource (one VEVENT in a VCALENDAR), for a PUT.
pub fn event_resource(event: &OurEvent) -> String {
    let mut cal = calendar(None);
    cal.push(vevent(event));
    cal.to_string()
}

/// A calendar's appointments as one VCALENDAR named `name`: the read-only feed.
pub fn feed(name: &str, events: &[OurEvent]) -> String {
    let mut cal = calendar(Some(name));
    for e in events {
        cal.push(vevent(e));
    }
    cal.done().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking_core::BookingId;
    use booking_core::booking::Interval;
    use booking_core::outside_calendar::OurEventUid;

    fn event(start: &str, minutes: i64, caller: &str) -> OurEvent {
        let start: Timestamp = start.parse().unwrap();
        OurEvent::new(
            BookingId::from_uuid(uuid::Uuid::new_v4()),
            Interval::new(start, start + jiff::SignedDuration::from_mins(minutes)).unwrap(),
            "Teeth Whitening",
            caller,
            "2030-03-01T12:00:00Z".parse().unwrap(),
        )
    }

    #[test]
    fn the_feed_parses_back_to_its_appointments() {
        let events = [
            event("2030-03-18T14:00:00Z", 60, "Ada Lovelace"),
            event("2030-03-18T16:00:00Z", 30, "Grace Hopper, Jr.; \"Amazing\""),
        ];
        let text = feed("Smile Dental: appointments", &events);
        let unfolded = icalendar::parser::unfold(&text);
        let parsed = icalendar::parser::read_calendar(&unfolded).expect("parses");
        let vevents: Vec<_> = parsed
            .components
            .iter()
            .filter(|c| c.name == "VEVENT")
            .collect();
        assert_eq!(vevents.len(), 2);
        for (c, e) in vevents.iter().zip(&events) {
            let get = |n: &str| c.find_prop(n).map(|p| p.val.as_str().to_owned());
            assert_eq!(get("UID").as_deref(), Some(e.uid.as_str()));
            assert_eq!(
                OurEventUid::recognise(&get("UID").unwrap()),
                Some(e.booking)
            );
            assert_eq!(get("DTSTART"), Some(icalendar_utc(e.slot.start)));
            assert_eq!(get("DTEND"), Some(icalendar_utc(e.slot.end)));
            let summary = c.find_prop("SUMMARY").unwrap().val.to_string();
            assert!(summary.contains("Teeth Whitening"), "{summary}");
        }
        // The text escapes what iCalendar needs escaped: the odd name survives the trip.
        let summaries: Vec<String> = vevents
            .iter()
            .map(|c| c.find_prop("SUMMARY").unwrap().val.to_string())
            .collect();
        assert!(summaries[1].contains("Grace Hopper"), "{summaries:?}");
        assert!(
            text.contains("X-WR-CALNAME:Smile Dental: appointments"),
            "{text}"
        );
        // Our own feed, read as busy time, is none: every event is ours.
        let tz = jiff::tz::TimeZone::UTC;
        let window = Interval::new(
            "2030-03-01T00:00:00Z".parse().unwrap(),
            "2030-04-01T00:00:00Z".parse().unwrap(),
        )
        .unwrap();
        assert!(
            crate::ical::busy_time(&text, &tz, window)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_event_resource_is_one_vevent_with_our_uid() {
        let e = event("2030-03-18T14:00:00Z", 60, "Ada Lovelace");
        let text = event_resource(&e);
        assert_eq!(crate::ical::uids(&text), [e.uid.to_string()]);
        assert!(text.contains("TRANSP:OPAQUE"));
        assert!(
            text.contains(&e.booking.to_string()),
            "the booking id is in the description"
        );
    }
}
