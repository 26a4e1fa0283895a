//! Times as the clinic's callers read them: local, with the zone's abbreviation.

use jiff::Timestamp;
use jiff::civil::Weekday;

use crate::tenant::ClinicZone;

/// "Thu, Nov 26 at 2:00 PM EST". The abbreviation is the zone database's; zones that have none
/// get a numeric one ("+1030" in Australia/Lord_Howe), which is what the database itself uses.
pub fn local_time(zone: &ClinicZone, at: Timestamp) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let tz = zone.tz();
    let dt = tz.to_datetime(at);
    let info = tz.to_offset_info(at);
    let abbreviation = match info.abbreviation() {
        "" => numeric_offset(info.offset().seconds()),
        a => a.to_owned(),
    };
    let weekday = match dt.weekday() {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    };
    let month = MONTHS[(dt.month() - 1) as usize];
    let (hour, half) = match dt.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{weekday}, {month} {} at {hour}:{:02} {half} {abbreviation}",
        dt.day(),
        dt.minute()
    )
}

/// "+1030", "-0330", "UTC".
pub(super) fn numeric_offset(seconds: i32) -> String {
    if seconds == 0 {
        return "UTC".to_owned();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}{:02}", minutes / 60, minutes % 60)
}
