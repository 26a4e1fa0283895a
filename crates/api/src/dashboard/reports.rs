//! Reports: what the phone line earned, week by week over the last twelve of the clinic's weeks.
//! One small bar chart per figure (server-rendered SVG: the page's CSP allows no script of ours
//! here and no inline style; geometry is attributes, colours come from app.css), each with this
//! week's number in words, then every number in a table for screen readers and for reading
//! exactly.

use std::fmt::Write;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::reports::{REPORT_WEEKS, WeekFigures, WeeklyReport, weekly_report};
use jiff::civil::Date;

use super::html::{esc, page};
use super::respond::{DashError, html_response};
use super::session::signed_in;
use crate::state::AppState;

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let now = state.clock.now();
    let report = weekly_report(state.store.as_ref(), &ctx.tenant, now).await?;
    let body = render(&report, ctx.tenant.config.zone.name());
    Ok(html_response(
        StatusCode::OK,
        page("Reports", Some(&ctx.frame("/app/reports")), &body),
    ))
}

/// A figure of the report: its id (for the page's anchors and the tests), its name, and how to
/// read it from a week (`None`: no number that week).
struct Figure {
    id: &'static str,
    title: &'static str,
    /// The table's column heading (short, for a phone).
    short: &'static str,
    unit: Unit,
    value: fn(&WeekFigures) -> Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Count,
    Percent,
}

impl Unit {
    fn show(self, v: Option<u32>) -> String {
        match (self, v) {
            (_, None) => "—".to_owned(),
            (Unit::Count, Some(n)) => n.to_string(),
            (Unit::Percent, Some(n)) => format!("{n}%"),
        }
    }
}

const FIGURES: &[Figure] = &[
    Figure {
        id: "calls",
        title: "Calls answered",
        short: "Calls",
        unit: Unit::Count,
        value: |w| Some(w.calls_answered),
    },
    Figure {
        id: "booked",
        title: "Appointments the AI booked",
        short: "Booked",
        unit: Unit::Count,
        value: |w| Some(w.booked_by_ai),
    },
    Figure {
        id: "conversion",
        title: "Conversion (booked per call)",
        short: "Conversion",
        unit: Unit::Percent,
        value: WeekFigures::conversion_percent,
    },
    Figure {
        id: "hot-leads",
        title: "Hot leads",
        short: "Hot leads",
        unit: Unit::Count,
        value: |w| Some(w.hot_leads),
    },
    Figure {
        id: "refilled",
        title: "Slots refilled by the waitlist",
        short: "Refilled",
        unit: Unit::Count,
        value: |w| Some(w.refilled_by_waitlist),
    },
    Figure {
        id: "no-shows",
        title: "No-shows",
        short: "No-shows",
        unit: Unit::Count,
        value: |w| Some(w.no_shows),
    },
    Figure {
        id: "delivered",
        title: "Texts delivered",
        short: "Texts delivered",
        unit: Unit::Count,
        value: |w| Some(w.texts_delivered),
    },
    Figure {
        id: "failed",
        title: "Texts that failed",
        short: "Texts failed",
        unit: Unit::Count,
        value: |w| Some(w.texts_failed),
    },
];

fn week_label(monday: Date) -> String {
    monday.strftime("%b %-d").to_string()
}

fn render(report: &WeeklyReport, zone: &str) -> String {
    let mondays = report.weeks.mondays();
    let mut out = format!(
        "<h1>Reports</h1><p class=\"meta\">The last {REPORT_WEEKS} weeks, Monday to Sunday in {zone}; \
         the last bar is this week so far. The numbers are in the table below the charts.</p>\
         <ul class=\"charts\">",
        zone = esc(zone),
    );
    for f in FIGURES {
        let values: Vec<Option<u32>> = report.figures.iter().map(|w| (f.value)(w)).collect();
        let this_week = values.last().copied().flatten();
        let last_week = values.iter().rev().nth(1).copied().flatten();
        let _ = write!(
            out,
            "<li class=\"chart\" id=\"chart-{id}\"><h2>{title}</h2>\
             <p class=\"figure\"><span class=\"now\">{now}</span> this week \
             <span class=\"meta\">· {before} last week</span></p>{svg}</li>",
            id = f.id,
            title = f.title,
            now = f.unit.show(this_week),
            before = f.unit.show(last_week),
            svg = bar_chart(f, mondays, &values),
        );
    }
    out.push_str("</ul>");
    out.push_str(&table(report));
    out
}

const WIDTH: u32 = 360;
const HEIGHT: u32 = 150;
const LEFT: u32 = 8;
const TOP: u32 = 18;
const BOTTOM: u32 = 22;

/// Twelve bars, this week's last and marked; each bar's number above it, every other week's
/// Monday under it. The picture is an image with a one-line description; the numbers are
/// also in the table.
fn bar_chart(f: &Figure, mondays: &[Date], values: &[Option<u32>]) -> String {
    let n = u32::try_from(values.len().max(1)).unwrap_or(1);
    let slot = (WIDTH - 2 * LEFT) / n;
    let bar = slot * 3 / 4;
    let plot = HEIGHT - TOP - BOTTOM;
    let max = values.iter().flatten().copied().max().unwrap_or(0).max(1);
    let total: u64 = values.iter().flatten().map(|v| u64::from(*v)).sum();
    let summary = match f.unit {
        Unit::Count => format!(
            "{}: {} over the last {} weeks, {} this week",
            f.title,
            total,
            values.len(),
            f.unit.show(values.last().copied().flatten())
        ),
        Unit::Percent => format!(
            "{}: {} this week",
            f.title,
            f.unit.show(values.last().copied().flatten())
        ),
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"bars\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         role=\"img\" aria-label=\"{summary}\"><line class=\"axis\" x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{y}\" y2=\"{y}\"/>",
        summary = esc(&summary),
        x2 = WIDTH - LEFT,
        y = TOP + plot,
    );
    let last = values.len().saturating_sub(1);
    for (i, (v, monday)) in values.iter().zip(mondays).enumerate() {
        let index = u32::try_from(i).unwrap_or(0);
        let x = LEFT + slot * index + (slot - bar) / 2;
        let h = v.map_or(0, |v| {
            (u64::from(v) * u64::from(plot) / u64::from(max)) as u32
        });
        let h = if v.is_some_and(|v| v > 0) {
            h.max(2)
        } else {
            h
        };
        let y = TOP + plot - h;
        let class = if i == last { "bar current" } else { "bar" };
        let _ = write!(
            svg,
            "<g class=\"{class}\"><title>Week of {week}: {shown}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{h}\" rx=\"2\"/>\
             <text class=\"value\" x=\"{cx}\" y=\"{ty}\">{shown}</text>",
            week = esc(&week_label(*monday)),
            shown = f.unit.show(*v),
            cx = x + bar / 2,
            ty = y.saturating_sub(4).max(10),
        );
        if (last - i).is_multiple_of(2) {
            let _ = write!(
                svg,
                "<text class=\"week\" x=\"{cx}\" y=\"{ly}\">{label}</text>",
                cx = x + bar / 2,
                ly = HEIGHT - 6,
                label = esc(&short_week(*monday)),
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// "3/4": a Monday short enough to sit under a bar on a phone.
fn short_week(monday: Date) -> String {
    format!("{}/{}", monday.month(), monday.day())
}

/// Every number, a row a week (newest first), in a box that scrolls sideways on a phone (and
/// takes the keyboard's focus, so that it can be scrolled without a mouse).
fn table(report: &WeeklyReport) -> String {
    let mut out = String::from(
        "<section aria-labelledby=\"report-numbers\"><h2 id=\"report-numbers\">The numbers</h2>\
         <div class=\"table-scroll\" role=\"region\" aria-labelledby=\"report-numbers\" tabindex=\"0\">\
         <table class=\"report\"><caption>Week by week, the newest first</caption><thead><tr>\
         <th scope=\"col\">Week of</th>",
    );
    for f in FIGURES {
        let _ = write!(
            out,
            "<th scope=\"col\" id=\"col-{}\">{}</th>",
            f.id, f.short
        );
    }
    out.push_str("</tr></thead><tbody>");
    let mondays = report.weeks.mondays();
    for (i, (w, monday)) in report.figures.iter().zip(mondays).enumerate().rev() {
        let current = if i + 1 == mondays.len() {
            " (so far)"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr data-week=\"{monday}\"><th scope=\"row\">{label}{current}</th>",
            label = esc(&week_label(*monday)),
        );
        for f in FIGURES {
            let _ = write!(
                out,
                "<td data-figure=\"{}\">{}</td>",
                f.id,
                f.unit.show((f.value)(w))
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking_core::reports::ReportWeeks;
    use booking_core::tenant::ClinicZone;

    fn report() -> WeeklyReport {
        let zone = ClinicZone::parse("America/New_York").unwrap();
        let weeks = ReportWeeks::ending_at("2030-03-13T16:00:00Z".parse().unwrap(), &zone, 12);
        let mut figures = vec![WeekFigures::default(); 12];
        figures[11] = WeekFigures {
            calls_answered: 4,
            booked_by_ai: 3,
            hot_leads: 2,
            no_shows: 1,
            texts_delivered: 9,
            texts_failed: 1,
            refilled_by_waitlist: 0,
        };
        figures[10].calls_answered = 2;
        WeeklyReport { weeks, figures }
    }

    #[test]
    fn every_figure_is_charted_and_tabled() {
        let html = render(&report(), "America/New_York");
        assert_eq!(html.matches("<svg").count(), FIGURES.len());
        assert_eq!(html.matches("<tr data-week=").count(), 12);
        // The newest week first, with its numbers.
        let first_row = html.split("<tr data-week=").nth(1).unwrap();
        assert!(first_row.starts_with("\"2030-03-11\""), "{first_row}");
        assert!(first_row.contains("<td data-figure=\"calls\">4</td>"));
        assert!(first_row.contains("<td data-figure=\"conversion\">75%</td>"));
        // A week without calls has no conversion.
        let empty_row = html.split("<tr data-week=").nth(3).unwrap();
        assert!(empty_row.contains("<td data-figure=\"conversion\">—</td>"));
        assert!(
            html.contains("aria-label=\"Calls answered: 6 over the last 12 weeks, 4 this week\"")
        );
        assert!(!html.contains("style="), "no inline style");
        assert!(!html.contains("<script"), "no script");
    }

    #[test]
    fn the_tallest_bar_fills_the_plot_and_an_empty_week_has_none() {
        let values: Vec<Option<u32>> = (0..12).map(|i| Some(if i == 11 { 8 } else { 0 })).collect();
        let mondays = report().weeks.mondays().to_vec();
        let svg = bar_chart(&FIGURES[0], &mondays, &values);
        let plot = HEIGHT - TOP - BOTTOM;
        assert!(svg.contains(&format!("height=\"{plot}\"")), "{svg}");
        assert_eq!(svg.matches("height=\"0\"").count(), 11);
        assert_eq!(svg.matches("class=\"bar current\"").count(), 1);
    }
}
