//! Availability over a full calendar.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::local_date;
use crate::harness::{Call, Clinic, Harness, ToolAnswer};
use crate::stats::Latency;

#[derive(Clone, Debug, Serialize)]
pub struct AvailabilityResult {
    pub providers: usize,
    pub bookings_in_calendar: i64,
    pub bookings_in_window: i64,
    pub queries: usize,
    pub days: i64,
    pub latency: Latency,
    pub errors: usize,
    pub mean_slots_offered: f64,
}

/// The days ahead a caller asks about, one after another.
pub const DAYS: i64 = 14;

/// `check_availability` over 14 days at a clinic of `providers` providers (0: one, the clinic)
/// holding `bookings` bookings.
pub async fn availability(
    h: &Arc<Harness>,
    bookings: usize,
    queries: usize,
    providers: usize,
) -> anyhow::Result<AvailabilityResult> {
    let clinic = h.create_clinic_with("availability", providers).await?;
    let (in_calendar, in_window) = fill_with_bookings(h, &clinic, bookings)?;
    let call = h.call(&clinic);
    let asked = ask(h, &call, 20, queries, 0).await;
    Ok(AvailabilityResult {
        providers: clinic.providers.len().max(1),
        bookings_in_calendar: in_calendar,
        bookings_in_window: in_window,
        queries,
        days: DAYS,
        latency: Latency::of(&asked.samples),
        errors: asked.errors,
        mean_slots_offered: asked.slots as f64 / queries.max(1) as f64,
    })
}

/// Inserts `bookings` confirmed bookings in SQL, spread over the clinic's providers: one
/// 30-minute appointment at the top of every hour, from 15 days ahead backwards, so that the
/// next 14 days are half booked and the rest is the clinic's history. Returns the clinic's
/// bookings in all and those in the next 14 days.
pub fn fill_with_bookings(
    h: &Harness,
    clinic: &Clinic,
    bookings: usize,
) -> anyhow::Result<(i64, i64)> {
    let calendars = if clinic.providers.is_empty() {
        vec![clinic.id.clone()]
    } else {
        clinic.providers.clone()
    };
    let n = calendars.len();
    let calendars = calendars
        .iter()
        .map(|c| format!("'{c}'::uuid"))
        .collect::<Vec<_>>()
        .join(", ");
    h.sql(&format!(
        "INSERT INTO bookings (tenant_id, id, calendar_id, status, service, starts_at, ends_at, \
           blocked_from, blocked_until, caller_name, caller_phone, created_at, confirmed_at, updated_at) \
         SELECT t, gen_random_uuid(), (ARRAY[{calendars}])[1 + i % {n}], 'confirmed', 'Checkup', s, \
           s + interval '30 minutes', s, s + interval '30 minutes', 'Patient ' || i, \
           '+1646' || lpad(i::text, 7, '0'), now(), now(), now() \
         FROM (SELECT '{id}'::uuid AS t, i, \
                      date_trunc('hour', now()) + interval '15 days' - (i / {n}) * interval '1 hour' AS s \
               FROM generate_series(1, {bookings}) AS i) AS x; \
         ANALYZE bookings;",
        id = clinic.id
    ))?;
    let in_calendar = h.sql_i64(&format!(
        "SELECT count(*) FROM bookings WHERE tenant_id = '{}'",
        clinic.id
    ))?;
    let in_window = h.sql_i64(&format!(
        "SELECT count(*) FROM bookings WHERE tenant_id = '{}' AND starts_at >= now() \
         AND starts_at < now() + interval '{DAYS} days'",
        clinic.id
    ))?;
    Ok((in_calendar, in_window))
}

/// What a run of questions got.
#[derive(Default)]
pub struct Asked {
    pub samples: Vec<Duration>,
    pub errors: usize,
    pub slots: usize,
}

/// Asks `check_availability` `warmup + queries` times, for each of the next 14 days in turn
/// starting `offset` days in; the warm-up answers are not kept.
pub async fn ask(h: &Harness, call: &Call, warmup: usize, queries: usize, offset: usize) -> Asked {
    let mut asked = Asked {
        samples: Vec::with_capacity(queries),
        ..Asked::default()
    };
    for i in 0..warmup + queries {
        let date = local_date(1 + ((offset + i) as i64 % DAYS)).to_string();
        let (answer, took) = call
            .tool(
                h,
                "check_availability",
                json!({"service": "Checkup", "date": date}),
            )
            .await;
        if i < warmup {
            continue;
        }
        asked.samples.push(took);
        match answer {
            ToolAnswer::Ok(v) => asked.slots += v["slots"].as_array().map_or(0, Vec::len),
            _ => asked.errors += 1,
        }
    }
    asked
}
