//! Availability with the clinics' own calendars synced in the background: does a tool call pay
//! for the sync?
//!
//! Two clinics of the same shape (10 providers, the same bookings), one with every provider
//! linked to a calendar on a private Radicale full of the front desk's events (appointments, a
//! weekly staff meeting with one week off and one moved, days off all day), the other not
//! linked. The api syncs every link twice per staleness bound (4 s here, so a sync every 2 s
//! per provider, 15 times the default rate), and the front desk moves one of its appointments
//! every 250 ms, so that the syncs have changes to fetch, expand and store while the caller
//! asks. Three phases: the unlinked clinic asked before anything is linked (sync off); ten
//! seconds of the sync alone (its own cost); then the questions alternate between the two
//! clinics in blocks, so that whatever else the machine does falls on both.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jiff::civil::Date;
use local_caldav::{Radicale, User};
use serde::Serialize;
use serde_json::{Value, json};

use super::availability::{ask, fill_with_bookings};
use super::local_date;
use crate::harness::{ADMIN_TOKEN, Harness, TIME_ZONE, cpu_seconds};
use crate::stats::Latency;

const USER: &str = "frontdesk";
const PASSWORD: &str = "bench-calendar-password";
/// One-off appointments the front desk has typed, per provider, over the next weeks.
const APPOINTMENTS: usize = 60;

#[derive(Clone, Debug, Serialize)]
pub struct SyncedAvailabilityResult {
    pub providers: usize,
    pub bookings_per_clinic: i64,
    pub bookings_in_window: i64,
    /// Event resources in each provider's calendar.
    pub events_per_calendar: usize,
    /// Busy intervals the sync stored for the linked clinic before the questions.
    pub busy_rows: i64,
    pub queries_per_clinic: usize,
    /// The unlinked clinic asked before anything was linked: no sync running.
    pub sync_off: Latency,
    pub sync_off_usage: Usage,
    /// Ten seconds of the sync and the front desk's edits with nobody asking.
    pub syncs_alone: f64,
    pub sync_alone_usage: Usage,
    /// Then both clinics asked in alternating blocks, the sync and the edits going on.
    pub not_linked: Latency,
    pub linked: Latency,
    pub errors: usize,
    /// Mean slots per answer, not linked / linked (the linked clinic's events take some).
    pub mean_slots_not_linked: f64,
    pub mean_slots_linked: f64,
    /// Syncs that completed while the questions ran (`calendar_syncs_total{result="ok"}`).
    pub syncs_during: f64,
    /// Events the front desk changed while the questions ran.
    pub edits_during: usize,
    /// Failed syncs while the questions ran (any other `calendar_syncs_total` result).
    pub sync_failures_during: f64,
    pub staleness_seconds: u64,
    pub sync_on_usage: Usage,
}

/// The api's setting for this scenario: a link is synced every `STALENESS_SECONDS / 2`.
pub const STALENESS_SECONDS: u64 = 4;

pub async fn synced_availability(
    h: &Arc<Harness>,
    providers: usize,
    bookings: usize,
    queries: usize,
) -> anyhow::Result<SyncedAvailabilityResult> {
    let names: Vec<(String, String)> = (1..=providers)
        .map(|i| (format!("provider-{i}"), format!("Provider {i}")))
        .collect();
    let calendars: Vec<(&str, &str)> = names
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_str()))
        .collect();
    let server = Radicale::start(&[User {
        name: USER,
        password: PASSWORD,
        calendars: &calendars,
    }])
    .map_err(|e| anyhow::anyhow!("starting Radicale: {e}"))?;
    let urls: Vec<String> = names
        .iter()
        .map(|(p, _)| format!("{}{USER}/{p}/", server.url()))
        .collect();

    let desk = FrontDesk {
        http: h.http.clone(),
    };
    let first_day = local_date(1);
    let mut events = 0;
    for (i, url) in urls.iter().enumerate() {
        events = desk.fill(url, i, first_day).await?;
    }

    let plain = h
        .create_clinic_with("calendars, not linked", providers)
        .await?;
    let (in_calendar, in_window) = fill_with_bookings(h, &plain, bookings)?;
    let radicale = server.pid().context("the calendar server is running")?;
    let cpu = || {
        (
            cpu_seconds(h.api.pid),
            h.postgres_cpu_seconds(),
            cpu_seconds(radicale),
        )
    };
    let plain_call = h.call(&plain);

    // Sync off: nothing is linked yet anywhere.
    let (before, started) = (cpu(), Instant::now());
    let off = ask(h, &plain_call, 20, queries, 0).await;
    let sync_off = Usage::since(before, cpu(), started);

    let linked = h
        .create_clinic_of(
            "calendars, linked",
            urls.iter()
                .zip(&names)
                .map(|(url, (_, name))| {
                    json!({"name": name,
                           "calendar": {"url": url, "username": USER, "password": PASSWORD}})
                })
                .collect(),
        )
        .await?;
    fill_with_bookings(h, &linked, bookings)?;
    // As if linked long ago: the appointments are already in the calendars, so that what is
    // measured is the sync, not a first write of thousands of events.
    h.sql(&format!(
        "INSERT INTO calendar_writes (tenant_id, calendar_id, booking_id, want_present, starts_at, \
           ends_at, service, caller_name, stamp, version, written_version, attempts, \
           next_attempt_at, updated_at) \
         SELECT tenant_id, calendar_id, id, true, starts_at, ends_at, service, caller_name, \
           coalesce(confirmed_at, created_at), 1, 1, 0, now(), now() \
         FROM bookings WHERE tenant_id = '{}' AND status = 'confirmed' \
           AND ends_at > now() - interval '1 day' \
         ON CONFLICT (tenant_id, calendar_id, booking_id) DO UPDATE SET \
           written_version = calendar_writes.version",
        linked.id
    ))?;
    wait_synced(h, &linked.id, providers).await?;
    let busy_rows = h.sql_i64(&format!(
        "SELECT count(*) FROM calendar_busy WHERE tenant_id = '{}'",
        linked.id
    ))?;
    if busy_rows == 0 {
        bail!("the linked calendars synced, but no busy time was stored");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let edits = Arc::new(AtomicUsize::new(0));
    let editor = {
        let (desk, urls, stop, edits) = (desk.clone(), urls.clone(), stop.clone(), edits.clone());
        tokio::spawn(async move {
            let mut k = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let next = Instant::now() + Duration::from_millis(250);
                let url = &urls[k % urls.len()];
                // Moves one appointment by 15 minutes, back and forth.
                let n = (k / urls.len()) % APPOINTMENTS;
                let shift = if (k / (urls.len() * APPOINTMENTS)).is_multiple_of(2) {
                    15
                } else {
                    0
                };
                if desk
                    .put_appointment(url, k % urls.len(), n, first_day, shift)
                    .await
                    .is_ok()
                {
                    edits.fetch_add(1, Ordering::Relaxed);
                }
                k += 1;
                tokio::time::sleep_until(next.into()).await;
            }
        })
    };

    // The sync alone, with nobody asking: what it costs by itself.
    let (before, started) = (cpu(), Instant::now());
    let syncs_before_alone = sync_counts(h).await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let syncs_alone = sync_counts(h).await?.0 - syncs_before_alone.0;
    let sync_alone = Usage::since(before, cpu(), started);

    let syncs_before = sync_counts(h).await?;
    let (cpu_before, started) = (cpu(), Instant::now());
    let linked_call = h.call(&linked);
    let rounds = 4;
    let block = queries.div_ceil(rounds);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut errors, mut slots_a, mut slots_b) = (0, 0, 0);
    for round in 0..rounds {
        let warmup = if round == 0 { 20 } else { 0 };
        let x = ask(h, &plain_call, warmup, block, round * block).await;
        let y = ask(h, &linked_call, warmup, block, round * block).await;
        errors += x.errors + y.errors;
        slots_a += x.slots;
        slots_b += y.slots;
        a.extend(x.samples);
        b.extend(y.samples);
    }
    let sync_on = Usage::since(cpu_before, cpu(), started);
    stop.store(true, Ordering::Relaxed);
    editor.await?;
    let syncs_after = sync_counts(h).await?;
    // Done with the calendars: unlinked (what the store's unlink deletes), so that the later
    // scenarios do not carry this clinic's syncs against a stopped server and its conflict
    // scans every ten seconds.
    h.sql(&format!(
        "DELETE FROM calendar_writes WHERE tenant_id = '{id}' \
           AND written_version IS DISTINCT FROM version; \
         DELETE FROM calendar_links WHERE tenant_id = '{id}'",
        id = linked.id
    ))?;
    drop(server);

    Ok(SyncedAvailabilityResult {
        providers,
        bookings_per_clinic: in_calendar,
        bookings_in_window: in_window,
        events_per_calendar: events,
        busy_rows,
        queries_per_clinic: a.len(),
        sync_off: Latency::of(&off.samples),
        sync_off_usage: sync_off,
        syncs_alone,
        sync_alone_usage: sync_alone,
        not_linked: Latency::of(&a),
        linked: Latency::of(&b),
        errors: errors + off.errors,
        mean_slots_not_linked: slots_a as f64 / a.len().max(1) as f64,
        mean_slots_linked: slots_b as f64 / b.len().max(1) as f64,
        syncs_during: syncs_after.0 - syncs_before.0,
        edits_during: edits.load(Ordering::Relaxed),
        sync_failures_during: syncs_after.1 - syncs_before.1,
        staleness_seconds: STALENESS_SECONDS,
        sync_on_usage: sync_on,
    })
}

/// CPU seconds used over a phase, and its length.
#[derive(Clone, Debug, Serialize)]
pub struct Usage {
    pub wall_s: f64,
    pub api_cpu_s: f64,
    pub postgres_cpu_s: f64,
    /// The calendar server shares this machine's cores here, not in production.
    pub calendar_server_cpu_s: f64,
}

impl Usage {
    fn since(before: (f64, f64, f64), after: (f64, f64, f64), started: Instant) -> Self {
        Self {
            wall_s: started.elapsed().as_secs_f64(),
            api_cpu_s: after.0 - before.0,
            postgres_cpu_s: after.1 - before.1,
            calendar_server_cpu_s: after.2 - before.2,
        }
    }
}

/// Waits until every link of the clinic has synced once and is healthy (two minutes at most).
async fn wait_synced(h: &Harness, tenant: &str, providers: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got: Value = h
            .http
            .get(h.url(&format!("/admin/tenants/{tenant}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await?
            .json()
            .await?;
        let healthy = got["providers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["calendar"]["sync_health"] == json!("ok"))
            .count();
        if healthy == providers {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{healthy} of {providers} calendars synced after two minutes: {got}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Completed and failed syncs so far, from `/metrics`.
async fn sync_counts(h: &Harness) -> anyhow::Result<(f64, f64)> {
    let text = h.http.get(h.url("/metrics")).send().await?.text().await?;
    let (mut ok, mut failed) = (0.0, 0.0);
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("calendar_syncs_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let value: f64 = value.trim().parse().context("a sync count")?;
        if labels.contains("result=\"ok\"") {
            ok += value;
        } else {
            failed += value;
        }
    }
    Ok((ok, failed))
}

/// The front desk's calendar app: plain HTTP with the user's password.
#[derive(Clone)]
struct FrontDesk {
    http: reqwest::Client,
}

impl FrontDesk {
    /// Fills provider `p`'s calendar; returns the number of event resources.
    async fn fill(&self, url: &str, p: usize, first_day: Date) -> anyhow::Result<usize> {
        for n in 0..APPOINTMENTS {
            self.put_appointment(url, p, n, first_day, 0).await?;
        }
        // A weekly staff meeting, 08:00 to 09:00, from the first day on with no end: the second
        // week off, the third moved to 13:00.
        let (w1, w2, w3) = (first_day, add(first_day, 7), add(first_day, 14));
        self.put(
            &format!("{url}staff-meeting.ics"),
            &format!(
                "BEGIN:VEVENT\nUID:staff-{p}@frontdesk.example\nDTSTAMP:20300101T000000Z\n\
                 DTSTART;TZID={TIME_ZONE}:{}\nDTEND;TZID={TIME_ZONE}:{}\nRRULE:FREQ=WEEKLY\n\
                 EXDATE;TZID={TIME_ZONE}:{}\nSUMMARY:Staff meeting\nEND:VEVENT\n\
                 BEGIN:VEVENT\nUID:staff-{p}@frontdesk.example\nDTSTAMP:20300101T000000Z\n\
                 RECURRENCE-ID;TZID={TIME_ZONE}:{}\nDTSTART;TZID={TIME_ZONE}:{}\n\
                 DTEND;TZID={TIME_ZONE}:{}\nSUMMARY:Staff meeting (moved)\nEND:VEVENT\n",
                local(w1, 8, 0),
                local(w1, 9, 0),
                local(w2, 8, 0),
                local(w3, 8, 0),
                local(w3, 13, 0),
                local(w3, 14, 0),
            ),
        )
        .await?;
        // A day off every other week, all day, staggered by provider.
        let days_off = 8;
        for k in 0..days_off {
            let d = add(first_day, (p % 14 + 14 * k) as i64);
            self.put(
                &format!("{url}day-off-{k}.ics"),
                &format!(
                    "BEGIN:VEVENT\nUID:day-off-{p}-{k}@frontdesk.example\n\
                     DTSTAMP:20300101T000000Z\nDTSTART;VALUE=DATE:{}\nDTEND;VALUE=DATE:{}\n\
                     SUMMARY:Day off\nEND:VEVENT\n",
                    d.strftime("%Y%m%d"),
                    add(d, 1).strftime("%Y%m%d"),
                ),
            )
            .await?;
        }
        Ok(APPOINTMENTS + 1 + days_off)
    }

    /// Appointment `n` of provider `p`: on day `n`, at an hour of its own, `shift` minutes late.
    async fn put_appointment(
        &self,
        url: &str,
        p: usize,
        n: usize,
        first_day: Date,
        shift: i8,
    ) -> anyhow::Result<()> {
        let d = add(first_day, n as i64);
        let hour = 9 + ((p + n) % 8) as i8;
        self.put(
            &format!("{url}appointment-{n}.ics"),
            &format!(
                "BEGIN:VEVENT\nUID:appointment-{p}-{n}@frontdesk.example\n\
                 DTSTAMP:20300101T000000Z\nDTSTART;TZID={TIME_ZONE}:{}\n\
                 DTEND;TZID={TIME_ZONE}:{}\nSUMMARY:Walk-in\nEND:VEVENT\n",
                local(d, hour, shift),
                local(d, hour, shift + 40),
            ),
        )
        .await
    }

    async fn put(&self, url: &str, events: &str) -> anyhow::Result<()> {
        let body = test_support::front_desk_ics(events);
        let resp = self
            .http
            .put(url)
            .basic_auth(USER, Some(PASSWORD))
            .header("Content-Type", "text/calendar; charset=utf-8")
            .body(body)
            .send()
            .await
            .with_context(|| format!("PUT {url}"))?;
        if !resp.status().is_success() {
            bail!("PUT {url}: {}", resp.status());
        }
        Ok(())
    }
}

fn add(d: Date, days: i64) -> Date {
    d.checked_add(jiff::Span::new().days(days))
        .expect("a date in range")
}

/// `d` at `hh:mm` (minutes may run past 59) as a local iCalendar time.
fn local(d: Date, hh: i8, mm: i8) -> String {
    let (hh, mm) = (hh + mm / 60, mm % 60);
    format!("{}T{hh:02}{mm:02}00", d.strftime("%Y%m%d"))
}
