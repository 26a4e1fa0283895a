//! iCalendar in: one calendar resource (an event with its recurrence overrides) read into the
//! busy time it makes within a window.
//!
//! - Parsing (line unfolding, components, properties, parameters) is `icalendar`'s parser.
//! - Times: `DATE` values are all-day and lie in the clinic's zone, as do floating times; a
//!   `TZID` is looked up in the IANA database (jiff's bundled copy), also when it is written as
//!   a path (`/mozilla.org/…/Europe/Berlin`), as a common Windows name, or as the
//!   `X-LIC-LOCATION` of the resource's own `VTIMEZONE`.
//! - Recurrence: `RRULE` expanded by `rrule` in the event's own zone (so a weekly 09:00 stays
//!   09:00 across a DST change), plus `RDATE`, minus `EXDATE`; a `RECURRENCE-ID` override
//!   replaces its instance.
//! - Busy: `TRANSP:TRANSPARENT` and `STATUS:CANCELLED` make none; events whose UID is one of ours
//!   ([`booking_core::outside_calendar::OurEventUid`]) make none either.

use std::collections::{BTreeMap, HashMap};

use booking_core::booking::Interval;
use booking_core::outside_calendar::OurEventUid;
use icalendar::parser::{Component, Property, read_calendar, unfold};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ZonedDateTime};

/// Most instances of one recurring event read from one window.
const MAX_INSTANCES: u16 = 5000;

/// The busy time of a resource within `window`. `Err` is a reason for operators when the text is
/// not iCalendar we can read.
pub fn busy_time(ics: &str, zone: &TimeZone, window: Interval) -> Result<Vec<Interval>, String> {
    let unfolded = unfold(ics);
    let calendar = read_calendar(&unfolded).map_err(|e| {
        let first = e.lines().next().unwrap_or("").to_owned();
        format!("not iCalendar: {first}")
    })?;
    let zones = Zones::from_components(&calendar.components, zone);
    let mut by_uid: BTreeMap<String, Vec<&Component<'_>>> = BTreeMap::new();
    for c in calendar.components.iter().filter(|c| c.name == "VEVENT") {
        let uid = prop(c, "UID").map(|p| p.val.as_str().trim().to_owned());
        by_uid.entry(uid.unwrap_or_default()).or_default().push(c);
    }
    let mut busy = Vec::new();
    for (uid, events) in by_uid {
        if OurEventUid::recognise(&uid).is_some() {
            continue;
        }
        busy.extend(event_busy(&events, &zones, window)?);
    }
    busy.sort();
    busy.dedup();
    Ok(busy)
}

/// The UIDs of the events of a resource (to tell ours apart).
pub fn uids(ics: &str) -> Vec<String> {
    let unfolded = unfold(ics);
    read_calendar(&unfolded)
        .map(|cal| {
            cal.components
                .iter()
                .filter(|c| c.name == "VEVENT")
                .filter_map(|c| prop(c, "UID").map(|p| p.val.as_str().trim().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn prop<'a>(c: &'a Component<'a>, name: &str) -> Option<&'a Property<'a>> {
    c.properties
        .iter()
        .find(|p| p.name.as_str().eq_ignore_ascii_case(name))
}

fn props<'a>(c: &'a Component<'a>, name: &'a str) -> impl Iterator<Item = &'a Property<'a>> {
    c.properties
        .iter()
        .filter(move |p| p.name.as_str().eq_ignore_ascii_case(name))
}

fn param<'a>(p: &'a Property<'a>, key: &str) -> Option<&'a str> {
    p.params
        .iter()
        .find(|x| x.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|x| x.val.as_ref())
        .map(|v| v.as_str().trim_matches('"'))
}

/// The zones a resource names, resolved once.
struct Zones {
    clinic: TimeZone,
    /// TZID → the IANA zone its VTIMEZONE says it is (`X-LIC-LOCATION`).
    declared: HashMap<String, String>,
}

impl Zones {
    fn from_components(components: &[Component<'_>], clinic: &TimeZone) -> Self {
        let declared = components
            .iter()
            .filter(|c| c.name == "VTIMEZONE")
            .filter_map(|c| {
                let id = prop(c, "TZID")?.val.as_str().trim().to_owned();
                let location = prop(c, "X-LIC-LOCATION")?.val.as_str().trim().to_owned();
                Some((id, location))
            })
            .collect();
        Self {
            clinic: clinic.clone(),
            declared,
        }
    }

    fn resolve(&self, tzid: &str) -> Result<TimeZone, String> {
        let tzid = tzid.trim();
        let db = jiff::tz::db();
        if let Ok(tz) = db.get(tzid) {
            return Ok(tz);
        }
        if let Some(loc) = self.declared.get(tzid)
            && let Ok(tz) = db.get(loc)
        {
            return Ok(tz);
        }
        // `/mozilla.org/20050126_1/Europe/Berlin`, `/softwarestudio.org/…/America/New_York`.
        let parts: Vec<&str> = tzid.split('/').filter(|s| !s.is_empty()).collect();
        for take in [3, 2, 1] {
            if parts.len() >= take {
                let candidate = parts[parts.len() - take..].join("/");
                if let Ok(tz) = db.get(&candidate) {
                    return Ok(tz);
                }
            }
        }
        if let Some(iana) = windows_zone(tzid)
            && let Ok(tz) = db.get(iana)
        {
            return Ok(tz);
        }
        Err(format!("unknown time zone {tzid:?}"))
    }
}

/// Windows zone names Outlook and Exchange write, for the zones clinics are most often in.
fn windows_zone(name: &str) -> Option<&'static str> {
    Some(match name {
        "Eastern Standard Time" => "America/New_York",
        "Central Standard Time" => "America/Chicago",
        "Mountain Standard Time" => "America/Denver",
        "US Mountain Standard Time" => "America/Phoenix",
        "Pacific Standard Time" => "America/Los_Angeles",
        "Alaskan Standard Time" => "America/Anchorage",
        "Hawaiian Standard Time" => "Pacific/Honolulu",
        "Atlantic Standard Time" => "America/Halifax",
        "Canada Central Standard Time" => "America/Regina",
        "GMT Standard Time" => "Europe/London",
        "Greenwich Standard Time" => "Atlantic/Reykjavik",
        "W. Europe Standard Time" => "Europe/Berlin",
        "Romance Standard Time" => "Europe/Paris",
        "Central Europe Standard Time" => "Europe/Budapest",
        "Central European Standard Time" => "Europe/Warsaw",
        "E. Europe Standard Time" => "Europe/Chisinau",
        "FLE Standard Time" => "Europe/Kiev",
        "GTB Standard Time" => "Europe/Bucharest",
        "AUS Eastern Standard Time" => "Australia/Sydney",
        "E. Australia Standard Time" => "Australia/Brisbane",
        "W. Australia Standard Time" => "Australia/Perth",
        "Cen. Australia Standard Time" => "Australia/Adelaide",
        "New Zealand Standard Time" => "Pacific/Auckland",
        "India Standard Time" => "Asia/Kolkata",
        "Singapore Standard Time" => "Asia/Singapore",
        "Tokyo Standard Time" => "Asia/Tokyo",
        "UTC" | "Coordinated Universal Time" => "UTC",
        _ => return None,
    })
}

/// A DTSTART, DTEND, RECURRENCE-ID, RDATE or EXDATE value.
#[derive(Clone, Debug)]
enum When {
    /// A `DATE`: a whole day in the clinic's zone.
    Day(Date),
    /// A time in a zone (UTC for `…Z`, the clinic's for floating times).
    At(ZonedDateTime),
}

impl When {
    fn start(&self, zones: &Zones) -> Result<ZonedDateTime, String> {
        match self {
            When::Day(d) => d
                .to_zoned_datetime(zones.clinic.clone())
                .map_err(|e| format!("date {d}: {e}")),
            When::At(z) => Ok(z.clone()),
        }
    }
}

fn parse_values(p: &Property<'_>, zones: &Zones) -> Result<Vec<When>, String> {
    let is_date = param(p, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
    let tz = match param(p, "TZID") {
        Some(id) => Some(zones.resolve(id)?),
        None => None,
    };
    p.val
        .as_str()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| parse_value(v, is_date, tz.as_ref(), zones))
        .collect()
}

fn parse_value(
    v: &str,
    is_date: bool,
    tz: Option<&TimeZone>,
    zones: &Zones,
) -> Result<When, String> {
    let bad = || format!("bad date or time {v:?}");
    if is_date || v.len() == 8 {
        let d = Date::strptime("%Y%m%d", v).map_err(|_| bad())?;
        return Ok(When::Day(d));
    }
    if let Some(utc) = v.strip_suffix('Z').or_else(|| v.strip_suffix('z')) {
        let dt = DateTime::strptime("%Y%m%dT%H%M%S", utc).map_err(|_| bad())?;
        return dt
            .to_zoned_datetime(TimeZone::UTC)
            .map(When::At)
            .map_err(|e| e.to_string());
    }
    let dt = DateTime::strptime("%Y%m%dT%H%M%S", v).map_err(|_| bad())?;
    let tz = tz.cloned().unwrap_or_else(|| zones.clinic.clone());
    dt.to_zoned_datetime(tz)
        .map(When::At)
        .map_err(|e| e.to_string())
}

fn one_value(c: &Component<'_>, name: &str, zones: &Zones) -> Result<Option<When>, String> {
    match prop(c, name) {
        None => Ok(None),
        Some(p) => Ok(parse_values(p, zones)?.into_iter().next()),
    }
}

/// One occurrence: when it was meant to start (its recurrence id) and when it is.
struct Occurrence {
    original: Timestamp,
    start: ZonedDateTime,
    end: ZonedDateTime,
    busy: bool,
}

/// How long each instance lasts: whole days for all-day events (so a day across a DST change is
/// still a day), exact time otherwise.
#[derive(Clone, Copy)]
enum Length {
    Days(Span),
    Exact(Span),
}

impl Length {
    fn end_of(&self, start: &ZonedDateTime) -> Result<ZonedDateTime, String> {
        let span = match self {
            Length::Days(s) | Length::Exact(s) => *s,
        };
        start.checked_add(span).map_err(|e| e.to_string())
    }
}

fn length_of(c: &Component<'_>, start: &When, zones: &Zones) -> Result<Length, String> {
    let start_z = start.start(zones)?;
    if let Some(end) = one_value(c, "DTEND", zones)? {
        let end_z = end.start(zones)?;
        return Ok(match start {
            When::Day(_) => Length::Days(
                start_z
                    .until((jiff::Unit::Day, &end_z))
                    .map_err(|e| e.to_string())?,
            ),
            When::At(_) => Length::Exact(
                start_z
                    .until((jiff::Unit::Hour, &end_z))
                    .map_err(|e| e.to_string())?,
            ),
        });
    }
    if let Some(d) = prop(c, "DURATION") {
        let text = d.val.as_str().trim();
        let span: Span = text.parse().map_err(|_| format!("bad duration {text:?}"))?;
        return Ok(match start {
            When::Day(_) => Length::Days(span),
            When::At(_) => Length::Exact(span),
        });
    }
    Ok(match start {
        // RFC 5545 3.6.1: an all-day event without an end lasts the day; a timed one, no time.
        When::Day(_) => Length::Days(Span::new().days(1)),
        When::At(_) => Length::Exact(Span::new()),
    })
}

fn is_busy(c: &Component<'_>) -> bool {
    let transparent = prop(c, "TRANSP")
        .is_some_and(|p| p.val.as_str().trim().eq_ignore_ascii_case("TRANSPARENT"));
    let cancelled =
        prop(c, "STATUS").is_some_and(|p| p.val.as_str().trim().eq_ignore_ascii_case("CANCELLED"));
    !transparent && !cancelled
}

/// The busy time of one UID's events: the master (maybe recurring) and its overrides.
fn event_busy(
    events: &[&Component<'_>],
    zones: &Zones,
    window: Interval,
) -> Result<Vec<Interval>, String> {
    let (overrides, masters): (Vec<&Component<'_>>, Vec<&Component<'_>>) = events
        .iter()
        .partition(|c| prop(c, "RECURRENCE-ID").is_some());
    let mut occurrences = Vec::new();
    for master in masters {
        occurrences.extend(master_occurrences(master, zones, window)?);
    }
    for o in overrides {
        let rid = one_value(o, "RECURRENCE-ID", zones)?
            .ok_or("empty RECURRENCE-ID")?
            .start(zones)?
            .timestamp();
        let Some(start) = one_value(o, "DTSTART", zones)? else {
            continue;
        };
        let length = length_of(o, &start, zones)?;
        let start = start.start(zones)?;
        let end = length.end_of(&start)?;
        let replacement = Occurrence {
            original: rid,
            start,
            end,
            busy: is_busy(o),
        };
        match occurrences.iter_mut().find(|x| x.original == rid) {
            Some(slot) => *slot = replacement,
            None => occurrences.push(replacement),
        }
    }
    Ok(occurrences
        .into_iter()
        .filter(|o| o.busy)
        .filter_map(|o| Interval::new(o.start.timestamp(), o.end.timestamp()))
        .filter(|i| i.overlaps(&window))
        .collect())
}

fn master_occurrences(
    c: &Component<'_>,
    zones: &Zones,
    window: Interval,
) -> Result<Vec<Occurrence>, String> {
    let Some(start) = one_value(c, "DTSTART", zones)? else {
        return Ok(Vec::new());
    };
    let length = length_of(c, &start, zones)?;
    let first = start.start(zones)?;
    let busy = is_busy(c);
    let mut starts: Vec<ZonedDateTime> = Vec::new();
    let rules: Vec<&str> = props(c, "RRULE").map(|p| p.val.as_str().trim()).collect();
    if rules.is_empty() {
        starts.push(first.clone());
    } else {
        for rule in rules {
            starts.extend(expand(rule, &first, &length, window)?);
        }
    }
    for p in props(c, "RDATE") {
        if param(p, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("PERIOD")) {
            continue;
        }
        for w in parse_values(p, zones)? {
            starts.push(w.start(zones)?);
        }
    }
    let mut excluded: Vec<When> = Vec::new();
    for p in props(c, "EXDATE") {
        excluded.extend(parse_values(p, zones)?);
    }
    let is_excluded = |s: &ZonedDateTime| {
        excluded.iter().any(|x| match x {
            // A DATE exdate removes the instance of that day, in the event's zone.
            When::Day(d) => s.date() == *d,
            When::At(z) => z.timestamp() == s.timestamp(),
        })
    };
    starts.sort_by_key(ZonedDateTime::timestamp);
    starts.dedup_by_key(|z| z.timestamp());
    starts
        .into_iter()
        .filter(|s| !is_excluded(s))
        .map(|s| {
            Ok(Occurrence {
                original: s.timestamp(),
                end: length.end_of(&s)?,
                start: s,
                busy,
            })
        })
        .collect()
}

/// The starts of `rule` from `first`, in `first`'s zone, for instances that may meet `window`.
fn expand(
    rule: &str,
    first: &ZonedDateTime,
    length: &Length,
    window: Interval,
) -> Result<Vec<ZonedDateTime>, String> {
    let tz = first.time_zone().clone();
    let tz_name = tz.iana_name().unwrap_or("UTC").to_owned();
    let chrono_tz: chrono_tz::Tz = tz_name
        .parse()
        .map_err(|_| format!("unknown time zone {tz_name:?}"))?;
    let rrule_tz = rrule::Tz::Tz(chrono_tz);
    let local = first.datetime().strftime("%Y%m%dT%H%M%S").to_string();
    let dtstart = if tz_name == "UTC" {
        format!("DTSTART:{local}Z")
    } else {
        format!("DTSTART;TZID={tz_name}:{local}")
    };
    let rule = until_in_utc(rule, &tz)?;
    let set: rrule::RRuleSet = format!("{dtstart}\nRRULE:{rule}")
        .parse()
        .map_err(|e: rrule::RRuleError| format!("bad RRULE {rule:?}: {e}"))?;
    // Instances that started before the window may still run into it.
    let longest = match length {
        Length::Days(s) | Length::Exact(s) => *s,
    };
    let lookback = window
        .start
        .to_zoned_datetime(tz.clone())
        .checked_sub(longest)
        .map_err(|e| e.to_string())?
        .checked_sub(Span::new().days(1))
        .map_err(|e| e.to_string())?;
    let to_chrono = |t: Timestamp| {
        chrono::DateTime::from_timestamp(t.as_second(), 0)
            .map(|d| d.with_timezone(&rrule_tz))
            .ok_or_else(|| "a time out of range".to_owned())
    };
    let result = set
        .after(to_chrono(lookback.timestamp())?)
        .before(to_chrono(window.end)?)
        .all(MAX_INSTANCES);
    result
        .dates
        .into_iter()
        .map(|d| {
            Timestamp::from_second(d.timestamp())
                .map(|t| t.to_zoned_datetime(tz.clone()))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// `rrule` wants UNTIL in UTC when DTSTART has a zone (RFC 5545 3.3.10); calendars also write a
/// DATE or a local time. Rewrites UNTIL to UTC, the end of its day for a DATE.
fn until_in_utc(rule: &str, tz: &TimeZone) -> Result<String, String> {
    let parts: Vec<String> = rule
        .split(';')
        .map(|part| {
            let Some((key, value)) = part.split_once('=') else {
                return Ok(part.to_owned());
            };
            if !key.eq_ignore_ascii_case("UNTIL") || value.ends_with(['Z', 'z']) {
                return Ok(part.to_owned());
            }
            let local = if value.len() == 8 {
                Date::strptime("%Y%m%d", value)
                    .map_err(|_| format!("bad UNTIL {value:?}"))?
                    .at(23, 59, 59, 0)
            } else {
                DateTime::strptime("%Y%m%dT%H%M%S", value)
                    .map_err(|_| format!("bad UNTIL {value:?}"))?
            };
            let utc = local
                .to_zoned_datetime(tz.clone())
                .map_err(|e| e.to_string())?
                .timestamp()
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string();
            Ok(format!("UNTIL={utc}"))
        })
        .collect::<Result<_, String>>()?;
    Ok(parts.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_york() -> TimeZone {
        jiff::tz::db().get("America/New_York").unwrap()
    }

    fn march_and_april() -> Interval {
        Interval::new(
            "2030-03-01T00:00:00Z".parse().unwrap(),
            "2030-05-01T00:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    fn utc(a: &str, b: &str) -> Interval {
        Interval::new(a.parse().unwrap(), b.parse().unwrap()).unwrap()
    }

    fn busy(fixture: &str) -> Vec<Interval> {
        busy_time(fixture, &new_york(), march_and_april()).unwrap()
    }

    #[test]
    fn a_timed_event_in_its_zone() {
        assert_eq!(
            busy(include_str!("../tests/fixtures/walk-in.ics")),
            [utc("2030-03-18T13:55:00Z", "2030-03-18T14:45:00Z")]
        );
    }

    #[test]
    fn transparent_and_cancelled_events_are_free() {
        assert!(busy(include_str!("../tests/fixtures/lunch-transparent.ics")).is_empty());
        assert!(busy(include_str!("../tests/fixtures/cancelled.ics")).is_empty());
    }

    #[test]
    fn an_all_day_event_blocks_the_clinics_day() {
        assert_eq!(
            busy(include_str!("../tests/fixtures/holiday.ics")),
            [utc("2030-03-19T04:00:00Z", "2030-03-20T04:00:00Z")]
        );
    }

    /// Weekly at 09:00 Berlin time from 18 March 2030; Europe moves to summer time on 31 March,
    /// so the UTC time of the meeting moves an hour earlier. 25 March is excluded; 1 April is
    /// moved to 11:00 and shortened.
    #[test]
    fn a_recurring_event_across_dst_with_an_exception_and_an_override() {
        assert_eq!(
            busy(include_str!("../tests/fixtures/staff-meeting.ics")),
            [
                utc("2030-03-18T08:00:00Z", "2030-03-18T09:00:00Z"),
                utc("2030-04-01T09:00:00Z", "2030-04-01T09:30:00Z"),
                utc("2030-04-08T07:00:00Z", "2030-04-08T08:00:00Z"),
            ]
        );
    }

    #[test]
    fn only_instances_meeting_the_window_count() {
        let april = utc("2030-04-05T00:00:00Z", "2030-04-30T00:00:00Z");
        assert_eq!(
            busy_time(
                include_str!("../tests/fixtures/staff-meeting.ics"),
                &new_york(),
                april
            )
            .unwrap(),
            [utc("2030-04-08T07:00:00Z", "2030-04-08T08:00:00Z")]
        );
    }

    #[test]
    fn windows_zone_names_and_durations() {
        assert_eq!(
            busy(include_str!("../tests/fixtures/outlook-zone.ics")),
            [utc("2030-03-20T15:00:00Z", "2030-03-20T16:30:00Z")]
        );
    }

    #[test]
    fn an_endless_daily_rule_is_expanded_over_the_window_only() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:daily@x\r\n\
                   DTSTART;TZID=America/New_York:20200101T120000\r\nDTEND;TZID=America/New_York:20200101T123000\r\n\
                   RRULE:FREQ=DAILY;UNTIL=20300310\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let b = busy(ics);
        // 1 to 10 March inclusive; UNTIL given as a DATE is read as the end of that day.
        assert_eq!(b.len(), 10, "{b:?}");
        assert_eq!(b[0], utc("2030-03-01T17:00:00Z", "2030-03-01T17:30:00Z"));
        assert_eq!(b[9], utc("2030-03-10T16:00:00Z", "2030-03-10T16:30:00Z"));
    }

    #[test]
    fn our_own_events_are_not_busy() {
        let uid =
            OurEventUid::for_booking(booking_core::BookingId::from_uuid(uuid::Uuid::new_v4()));
        let ics = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:20300318T150000Z\r\n\
             DTEND:20300318T160000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        assert!(busy(&ics).is_empty());
        assert_eq!(uids(&ics), [uid.to_string()]);
    }

    #[test]
    fn broken_text_is_bad_data() {
        assert!(busy_time("this is not a calendar", &new_york(), march_and_april()).is_err());
        let bad_time = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:2030-03-18\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(busy_time(bad_time, &new_york(), march_and_april()).is_err());
        let bad_zone = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART;TZID=Mars/Olympus:20300318T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(busy_time(bad_zone, &new_york(), march_and_april()).is_err());
    }
}
