//! Hot leads, live. The page lists the hot calls so far; `/app/leads/stream` is a server-sent
//! event stream that polls the store every 1.5 s for hot calls whose report arrived since the last
//! one it sent (so it works whichever api instance stored the report), and sends each as an HTML
//! card. `static/app.js` puts the cards at the top of the list.

use std::collections::HashSet;
use std::fmt::Write;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::TenantId;
use booking_core::accounts::TokenHash;
use booking_core::calls::CallRecord;
use booking_core::messages::local_time;
use booking_core::tenant::ClinicZone;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::html::{esc, page as frame_page, tel_link};
use super::respond::{DashError, html_response};
use super::session::signed_in;
use crate::state::AppState;

/// How often the stream looks for new hot leads.
const POLL: Duration = Duration::from_millis(1500);
/// Reports stored slightly out of order (several instances, commit order) are still caught:
/// each poll looks this far behind the newest report already sent.
const LOOKBACK: SignedDuration = SignedDuration::from_secs(30);
/// Every this many polls: a keep-alive comment, and a check that the session still exists.
const CHECK_EVERY: u32 = 10;
/// A stream ends after this many polls (5 minutes); the browser reconnects by itself, from the
/// last event it got. Keeps no connection open for long (an orderly shutdown waits for them).
const MAX_TICKS: u32 = 200;

/// One hot lead: who, the score and why, a tap-to-call link, the summary.
pub(super) fn lead_card(zone: &ClinicZone, c: &CallRecord) -> String {
    let name = c
        .lead
        .caller_name
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("A caller");
    let mut reasons = String::new();
    if let Some(score) = &c.score {
        for r in score.reasons.iter().filter(|r| r.points > 0) {
            let _ = write!(
                reasons,
                "<li><span class=\"points\">+{}</span> {}</li>",
                r.points,
                esc(&r.reason)
            );
        }
        if let Some(note) = score.no_show_note() {
            let _ = write!(
                reasons,
                "<li class=\"no-shows\"><span class=\"points\">note</span> {}</li>",
                esc(&note)
            );
        }
    }
    let total = c.score.as_ref().map_or(0, |s| s.total);
    let interest = c
        .lead
        .service_interest
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| format!("<p>Interested in {}</p>", esc(s)))
        .unwrap_or_default();
    let call_back = if c.lead.wants_callback == Some(true) {
        "<p class=\"callback\">Asked to be called back</p>"
    } else {
        ""
    };
    let number = c.caller.as_ref().map_or_else(
        || "<p>Number withheld</p>".to_owned(),
        |n| format!("<p>{}</p>", tel_link(n.as_str())),
    );
    let summary = c
        .summary
        .as_deref()
        .map(|s| format!("<p class=\"summary\">{}</p>", esc(s)))
        .unwrap_or_default();
    let when = c
        .report_received_at
        .or(c.ended_at)
        .map(|t| local_time(zone, t))
        .unwrap_or_default();
    format!(
        "<li class=\"card lead\" data-call=\"{id}\"><h3>{name} <span class=\"score hot\">{total}/100</span></h3>\
         {number}{interest}{call_back}<ul class=\"reasons\">{reasons}</ul>{summary}\
         <p class=\"meta\">{when} · <a href=\"/app/calls/{id}\">Call details</a></p></li>",
        id = esc(c.call_id.as_str()),
        name = esc(name),
        when = esc(&when),
    )
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let now = state.clock.now();
    let zone = &ctx.tenant.config.zone;
    let hot: Vec<String> = state
        .store
        .list_calls(ctx.tenant.id, 200)
        .await?
        .iter()
        .filter(|c| c.hot_lead)
        .map(|c| lead_card(zone, c))
        .collect();
    let empty = if hot.is_empty() {
        "<p class=\"empty\" id=\"no-leads\">No hot leads yet. New ones appear here by themselves.</p>"
    } else {
        ""
    };
    let body = format!(
        "<h1>Hot leads</h1><p class=\"live\" id=\"live-status\">Connecting…</p>\
         <section><h2>Every hot call, the newest first</h2>{empty}\
         <ul class=\"cards\" id=\"live-leads\" data-since=\"{since}\">{cards}</ul></section>",
        since = now.as_microsecond(),
        cards = hot.concat(),
    );
    Ok(html_response(
        StatusCode::OK,
        frame_page("Hot leads", Some(&ctx.frame("/app/leads")), &body),
    ))
}

#[derive(Deserialize)]
pub struct StreamQuery {
    since: Option<i64>,
}

/// One server-sent event: every line of the HTML on its own `data:` line.
fn event(id: i64, html: &str) -> Bytes {
    let mut out = format!("id: {id}\nevent: lead\n");
    for line in html.lines() {
        let _ = writeln!(out, "data: {line}");
    }
    out.push('\n');
    Bytes::from(out)
}

struct Poller {
    state: web::Data<AppState>,
    tenant: TenantId,
    zone: ClinicZone,
    session: TokenHash,
    cursor: Timestamp,
    sent: HashSet<String>,
    ticks: u32,
    started: bool,
}

impl Poller {
    /// The next chunk to send, or `None` to end the stream (the session ended).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if !self.started {
            self.started = true;
            return Some(Bytes::from_static(b"retry: 2000\n: connected\n\n"));
        }
        loop {
            tokio::time::sleep(POLL).await;
            self.ticks = self.ticks.wrapping_add(1);
            if self.ticks > MAX_TICKS {
                return None;
            }
            if self.ticks.is_multiple_of(CHECK_EVERY) {
                let now = self.state.clock.now();
                // Signed out or expired: end the stream (a store error is not a sign-out).
                if let Ok(None) = self
                    .state
                    .accounts
                    .session_by_hash(&self.session, now)
                    .await
                {
                    return None;
                }
            }
            let calls = match self.state.store.list_calls(self.tenant, 50).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "hot-lead stream: listing calls failed");
                    continue;
                }
            };
            let since = self.cursor - LOOKBACK;
            let mut fresh: Vec<&CallRecord> = calls
                .iter()
                .filter(|c| c.hot_lead)
                .filter(|c| c.report_received_at.is_some_and(|t| t > since))
                .filter(|c| !self.sent.contains(c.call_id.as_str()))
                .collect();
            if fresh.is_empty() {
                if self.ticks.is_multiple_of(CHECK_EVERY) {
                    return Some(Bytes::from_static(b": ping\n\n"));
                }
                continue;
            }
            fresh.sort_by_key(|c| c.report_received_at);
            let mut out = Vec::new();
            for c in fresh {
                let at = c.report_received_at.unwrap_or(self.cursor);
                self.cursor = self.cursor.max(at);
                self.sent.insert(c.call_id.as_str().to_owned());
                out.extend_from_slice(&event(at.as_microsecond(), &lead_card(&self.zone, c)));
            }
            return Some(Bytes::from(out));
        }
    }
}

pub async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let now = state.clock.now();
    // A reconnecting browser says where it got to; a new one starts from when its page was drawn.
    let last_event = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let cursor = last_event
        .or(query.since)
        .and_then(|us| Timestamp::from_microsecond(us).ok())
        .filter(|t| *t <= now && now.duration_since(*t) < SignedDuration::from_hours(24))
        .unwrap_or(now);
    let poller = Poller {
        state: state.clone(),
        tenant: ctx.tenant.id,
        zone: ctx.tenant.config.zone.clone(),
        session: ctx.session.token_hash,
        cursor,
        sent: HashSet::new(),
        ticks: 0,
        started: false,
    };
    let body = futures_util::stream::unfold(poller, |mut p| async move {
        p.next_chunk()
            .await
            .map(|chunk| (Ok::<_, actix_web::Error>(chunk), p))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_every_line_as_data() {
        let e = event(42, "<li>one\ntwo</li>");
        assert_eq!(
            std::str::from_utf8(&e).unwrap(),
            "id: 42\nevent: lead\ndata: <li>one\ndata: two</li>\n\n"
        );
    }

    #[test]
    fn a_lead_card_escapes_what_the_caller_said() {
        use booking_core::calls::{CapturedLead, LeadScore, ScoreReason};
        let zone = ClinicZone::parse("America/New_York").unwrap();
        let c = CallRecord {
            call_id: booking_core::CallId::parse("call-1").unwrap(),
            tenant: TenantId::from_random_bytes([1; 16]),
            caller: Some(booking_core::PhoneNumber::parse("+15551234567").unwrap()),
            called: None,
            started_at: None,
            ended_at: None,
            duration_seconds: Some(200),
            ended_reason: None,
            summary: Some("<script>steal()</script>".into()),
            last_status: None,
            lead: CapturedLead {
                caller_name: Some("<img src=x onerror=alert(1)>".into()),
                service_interest: Some("Whitening & \"more\"".into()),
                wants_callback: Some(true),
                notes: None,
            },
            score: Some(LeadScore {
                total: 95,
                reasons: vec![ScoreReason {
                    points: 75,
                    reason: "booked <b>now</b>".into(),
                }],
                no_shows: 0,
            }),
            hot_lead: true,
            report_received_at: None,
        };
        let html = lead_card(&zone, &c);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;steal()&lt;/script&gt;"));
        assert!(html.contains("Whitening &amp; &quot;more&quot;"));
        assert!(html.contains("href=\"tel:+15551234567\""));
        assert!(html.contains("+75"));
        assert!(html.contains("95/100"));
    }
}
