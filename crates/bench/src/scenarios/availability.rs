//! Availability over a full calendar.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::local_date;
use crate::harness::{Harness, ToolAnswer};
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

/// `check_availability` over 14 days at a clinic of `providers` providers (0: one, the clinic)
/// holding `bookings` bookings.
pub async fn availability(
    h: &Arc<Harness>,
    bookings: usize,
    queries: usize,
    providers: usize,
) -> anyhow::Result<AvailabilityResult> {
    const DAYS: i64 = 14;
    let clinic = h.create_clinic_with("availability", providers).await?;
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
    // For each provider, one 30-minute appointment at the top of every hour, from 15 days ahead
    // backwards: the next 14 days are half booked, the rest is the clinic's history.
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
    let call = h.call(&clinic);
    let warmup = 20;
    let mut samples = Vec::with_capacity(queries);
    let (mut errors, mut slots) = (0, 0usize);
    for i in 0..warmup + queries {
        let date = local_date(1 + (i as i64 % DAYS)).to_string();
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
        samples.push(took);
        match answer {
            ToolAnswer::Ok(v) => slots += v["slots"].as_array().map_or(0, Vec::len),
            _ => errors += 1,
        }
    }
    Ok(AvailabilityResult {
        providers: n,
        bookings_in_calendar: in_calendar,
        bookings_in_window: in_window,
        queries,
        days: DAYS,
        latency: Latency::of(&samples),
        errors,
        mean_slots_offered: slots as f64 / queries.max(1) as f64,
    })
}
