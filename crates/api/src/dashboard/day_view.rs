//! Today's picture: one column per provider, the day's appointments and holds at their times,
//! each provider's open hours shaded. Server-rendered SVG (the page's CSP allows no inline style,
//! and SVG's geometry is attributes): on a phone the picture keeps its width and scrolls sideways
//! in its box, with the names on top.

use std::fmt::Write;

use booking_core::booking::{Booking, BookingStatus};
use booking_core::provider::Provider;
use booking_core::tenant::Tenant;
use jiff::Timestamp;
use jiff::civil::{Date, Time};

use super::html::esc;

const AXIS: i64 = 52;
const COLUMN: i64 = 150;
const HEADER: i64 = 28;

/// Minutes since local midnight of `t` on `date` (clamped to the day).
fn minute_of(tenant: &Tenant, date: Date, t: Timestamp) -> i64 {
    let local = tenant.config.zone.tz().to_datetime(t);
    if local.date() < date {
        return 0;
    }
    if local.date() > date {
        return 24 * 60;
    }
    i64::from(local.hour()) * 60 + i64::from(local.minute())
}

fn minute_of_time(t: Time) -> i64 {
    if t == Time::MAX {
        24 * 60
    } else {
        i64::from(t.hour()) * 60 + i64::from(t.minute())
    }
}

/// The columns: the active providers, then retired ones who still have something that day.
fn columns(tenant: &Tenant, bookings: &[&Booking]) -> Vec<Provider> {
    let all = tenant.providers();
    let mut out: Vec<Provider> = all.iter().filter(|p| p.is_active()).cloned().collect();
    for p in all.iter().filter(|p| !p.is_active()) {
        if bookings.iter().any(|b| b.calendar == p.id) {
            out.push(p.clone());
        }
    }
    out
}

/// The SVG of `date` for `bookings` (those occupying at `now`: confirmed ones and live holds).
pub(super) fn day_view(
    tenant: &Tenant,
    date: Date,
    bookings: &[Booking],
    now: Timestamp,
) -> String {
    let shown: Vec<&Booking> = bookings
        .iter()
        .filter(|b| {
            matches!(
                b.effective_status(now),
                BookingStatus::Confirmed | BookingStatus::Held
            )
        })
        .collect();
    let cols = columns(tenant, &shown);
    // From the earliest opening or appointment to the latest, whole hours; 08:00-18:00 when
    // nothing is open nor booked.
    let mut first = i64::MAX;
    let mut last = i64::MIN;
    for p in &cols {
        for r in p.hours_on(&tenant.config, date).ranges() {
            first = first.min(minute_of_time(r.start()));
            last = last.max(minute_of_time(r.end()));
        }
    }
    for b in &shown {
        first = first.min(minute_of(tenant, date, b.slot.start));
        last = last.max(minute_of(tenant, date, b.slot.end));
    }
    if first >= last {
        (first, last) = (8 * 60, 18 * 60);
    }
    let first = (first / 60) * 60;
    let last = (last + 59) / 60 * 60;
    // One pixel a minute.
    let y = |minute: i64| HEADER + (minute - first);
    let width = AXIS + COLUMN * cols.len() as i64;
    let height = y(last) + 4;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<div class=\"dayview\" role=\"region\" aria-label=\"The day by provider\" tabindex=\"0\">\
         <svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dayview\" data-columns=\"{n}\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"group\" aria-label=\"Appointments today by provider\">",
        n = cols.len(),
    );
    // Hour lines and labels.
    let mut h = first;
    while h <= last {
        let _ = write!(
            svg,
            "<line class=\"hour\" x1=\"{AXIS}\" x2=\"{width}\" y1=\"{yy}\" y2=\"{yy}\"/>\
             <text class=\"hour\" x=\"4\" y=\"{ty}\">{hh:02}:00</text>",
            yy = y(h),
            ty = y(h) + 4,
            hh = h / 60,
        );
        h += 60;
    }
    for (i, p) in cols.iter().enumerate() {
        let x = AXIS + COLUMN * i as i64;
        let _ = write!(
            svg,
            "<g class=\"column{retired}\" data-provider=\"{id}\"><title>{name}</title>\
             <rect class=\"closed\" x=\"{x}\" y=\"{top}\" width=\"{COLUMN}\" height=\"{h}\"/>",
            retired = if p.is_active() { "" } else { " retired" },
            id = p.id,
            name = esc(p.name.as_str()),
            top = y(first),
            h = y(last) - y(first),
        );
        for r in p.hours_on(&tenant.config, date).ranges() {
            let (a, b) = (minute_of_time(r.start()), minute_of_time(r.end()));
            let _ = write!(
                svg,
                "<rect class=\"open\" x=\"{x}\" y=\"{ya}\" width=\"{COLUMN}\" height=\"{hh}\"/>",
                ya = y(a),
                hh = y(b) - y(a),
            );
        }
        let _ = write!(
            svg,
            "<text class=\"name\" x=\"{tx}\" y=\"18\">{name}</text></g>",
            tx = x + 6,
            name = esc(&short(p.name.as_str(), 18)),
        );
    }
    for b in &shown {
        let Some(i) = cols.iter().position(|p| p.id == b.calendar) else {
            continue;
        };
        let x = AXIS + COLUMN * i as i64 + 3;
        let (a, e) = (
            minute_of(tenant, date, b.slot.start),
            minute_of(tenant, date, b.slot.end),
        );
        let status = b.effective_status(now).as_str();
        let local = tenant.config.zone.tz().to_datetime(b.slot.start);
        let label = format!(
            "{:02}:{:02} {}",
            local.hour(),
            local.minute(),
            b.service.as_str()
        );
        let _ = write!(
            svg,
            "<a href=\"/app/appointments/{id}\" class=\"booking {status}\" data-provider=\"{provider}\">\
             <title>{full}</title>\
             <rect x=\"{x}\" y=\"{ya}\" width=\"{w}\" height=\"{hh}\" rx=\"4\"/>\
             <text x=\"{tx}\" y=\"{ty}\">{label}</text>{who}</a>",
            id = b.id,
            provider = b.calendar,
            full = esc(&format!("{label}, {} ({status})", b.caller_name)),
            ya = y(a) + 1,
            w = COLUMN - 6,
            hh = (y(e) - y(a) - 2).max(12),
            tx = x + 4,
            ty = y(a) + 13,
            label = esc(&short(&label, 20)),
            who = if e - a >= 30 {
                format!(
                    "<text x=\"{}\" y=\"{}\">{}</text>",
                    x + 4,
                    y(a) + 27,
                    esc(&short(&b.caller_name, 20))
                )
            } else {
                String::new()
            },
        );
    }
    svg.push_str("</svg></div>");
    svg
}

/// At most `n` characters, with an ellipsis when cut.
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}
