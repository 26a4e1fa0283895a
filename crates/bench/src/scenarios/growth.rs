//! Growth curves: tool-call and availability latencies as the database grows to a region's
//! worth of clinics and their history. The history is made in bulk SQL (clinics cloned from one
//! made through the operator API, bookings and texts with `generate_series`), not through the
//! api, so that a million rows take seconds; the latencies are then taken through the api as in
//! the calls and availability scenarios.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{AvailabilityResult, CallsConfig, CallsResult, availability, calls};
use crate::harness::{Harness, cpu_seconds};

/// One size of the database: clinics, bookings and texts of history, in all.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Size {
    pub clinics: usize,
    pub bookings: usize,
    pub texts: usize,
}

pub const QUICK: [Size; 2] = [
    Size {
        clinics: 100,
        bookings: 10_000,
        texts: 10_000,
    },
    Size {
        clinics: 1_000,
        bookings: 100_000,
        texts: 100_000,
    },
];

pub const FULL: [Size; 3] = [
    QUICK[0],
    QUICK[1],
    Size {
        clinics: 10_000,
        bookings: 1_000_000,
        texts: 1_000_000,
    },
];

#[derive(Clone, Debug, Serialize)]
pub struct GrowthPoint {
    pub size: Size,
    /// Rows as counted after the growth (the other scenarios' rows included).
    pub tenants_in_db: i64,
    pub bookings_in_db: i64,
    pub texts_in_db: i64,
    /// Seconds the bulk SQL took to grow to this size.
    pub grow_s: f64,
    /// Seconds VACUUM (ANALYZE) and a CHECKPOINT took after it, before the measurements.
    pub settle_s: f64,
    /// CPU seconds the api and PostgreSQL used during the paced calls, and the tool calls per
    /// CPU second of each (every request of a call counted: assistant-request, the five tools,
    /// the end-of-call report, and the texts sent meanwhile are all in the CPU time).
    pub api_cpu_s: f64,
    pub postgres_cpu_s: f64,
    pub tool_calls_per_api_cpu_s: f64,
    pub tool_calls_per_postgres_cpu_s: f64,
    pub calls: CallsResult,
    pub availability: AvailabilityResult,
    pub database_mb: f64,
    /// With `--statements`: the statements that took the most time over the paced calls.
    pub statements: serde_json::Value,
}

#[derive(Clone, Debug, Serialize)]
pub struct GrowthResult {
    pub points: Vec<GrowthPoint>,
}

/// Grows the database through `sizes` in turn; at each, `calls_n` paced calls and an
/// availability run.
pub async fn growth(
    h: &Arc<Harness>,
    sizes: &[Size],
    calls_n: usize,
    think_ms: u64,
) -> anyhow::Result<GrowthResult> {
    let template = h.create_clinic("growth-template").await?;
    let mut have = Size {
        clinics: 0,
        bookings: 0,
        texts: 0,
    };
    let mut points = Vec::new();
    for (step, &size) in sizes.iter().enumerate() {
        eprintln!(
            "bench:   growing to {} clinics, {} bookings, {} texts of history…",
            size.clinics, size.bookings, size.texts
        );
        let started = Instant::now();
        grow(h, &template.id, have, size)?;
        let grow_s = started.elapsed().as_secs_f64();
        // Vacuumed, analyzed and checkpointed, as autovacuum and the checkpointer would have
        // over the months the growth stands for.
        let settle_s = h.settle(std::time::Duration::ZERO).await?;
        have = size;
        eprintln!(
            "bench:   grown in {grow_s:.1} s, vacuumed and checkpointed in {settle_s:.1} s; \
             {calls_n} paced calls and availability…"
        );
        h.statements_reset()?;
        let (api_before, pg_before) = (cpu_seconds(h.api.pid), h.postgres_cpu_seconds());
        let calls = calls(
            h,
            CallsConfig {
                // No digits: the OTP text names the clinic, and the caller reads the first run of
                // digits in it as the code.
                label: format!("growth-{}", ["a", "b", "c", "d", "e"][step.min(4)]),
                calls: calls_n,
                think_ms,
                ramp_ms: 2 * think_ms,
                calls_per_tenant: 20,
            },
        )
        .await?;
        let api_cpu_s = cpu_seconds(h.api.pid) - api_before;
        let postgres_cpu_s = h.postgres_cpu_seconds() - pg_before;
        let statements = h.statements_top(15)?;
        let per = |cpu: f64| {
            if cpu > 0.0 {
                calls.tool_calls as f64 / cpu
            } else {
                0.0
            }
        };
        let (tool_calls_per_api_cpu_s, tool_calls_per_postgres_cpu_s) =
            (per(api_cpu_s), per(postgres_cpu_s));
        let availability =
            availability(h, 1_000, if calls_n < 200 { 300 } else { 1_000 }, 10).await?;
        points.push(GrowthPoint {
            size,
            tenants_in_db: h.sql_i64("SELECT count(*) FROM tenants")?,
            bookings_in_db: h.sql_i64("SELECT count(*) FROM bookings")?,
            texts_in_db: h.sql_i64("SELECT count(*) FROM outbound_messages")?,
            grow_s,
            settle_s,
            api_cpu_s,
            postgres_cpu_s,
            tool_calls_per_api_cpu_s,
            tool_calls_per_postgres_cpu_s,
            calls,
            availability,
            database_mb: h.sql_i64("SELECT pg_database_size(current_database())")? as f64 / 1e6,
            statements,
        });
    }
    Ok(GrowthResult { points })
}

/// Adds clinics, bookings and texts from `have` up to `want`, in bulk SQL.
fn grow(h: &Harness, template: &str, have: Size, want: Size) -> anyhow::Result<()> {
    let (from, to) = (have.clinics, want.clinics);
    if to > from {
        // Clinics cloned from the template: the tenant row, its called number (with a number
        // and a Vapi id of its own), alert numbers, services and hours.
        h.sql(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS growth_new (i int, id uuid); TRUNCATE growth_new; \
             INSERT INTO growth_new SELECT i, gen_random_uuid() FROM generate_series({lo}, {hi}) AS i; \
             INSERT INTO tenants SELECT (jsonb_populate_record(NULL::tenants, to_jsonb(t) || \
               jsonb_build_object('id', n.id, 'name', 'Bench Clinic grown-' || n.i))).* \
               FROM tenants t, growth_new n WHERE t.id = '{template}'; \
             INSERT INTO tenant_called_numbers SELECT (jsonb_populate_record(NULL::tenant_called_numbers, \
               to_jsonb(c) || jsonb_build_object('tenant_id', n.id, 'number', '+1927' || lpad(n.i::text, 7, '0'), \
               'vapi_phone_number_id', 'grown-' || n.id))).* \
               FROM tenant_called_numbers c, growth_new n WHERE c.tenant_id = '{template}'; \
             INSERT INTO tenant_alert_numbers SELECT (jsonb_populate_record(NULL::tenant_alert_numbers, \
               to_jsonb(c) || jsonb_build_object('tenant_id', n.id))).* \
               FROM tenant_alert_numbers c, growth_new n WHERE c.tenant_id = '{template}'; \
             INSERT INTO services SELECT (jsonb_populate_record(NULL::services, \
               to_jsonb(c) || jsonb_build_object('tenant_id', n.id))).* \
               FROM services c, growth_new n WHERE c.tenant_id = '{template}'; \
             INSERT INTO weekly_hours SELECT (jsonb_populate_record(NULL::weekly_hours, \
               to_jsonb(c) || jsonb_build_object('tenant_id', n.id))).* \
               FROM weekly_hours c, growth_new n WHERE c.tenant_id = '{template}';",
            lo = from + 1,
            hi = to,
        ))?;
    }
    // The clinics the history is spread over: every grown one, in a fixed order.
    let clinics =
        "(SELECT array_agg(id ORDER BY name) FROM tenants WHERE name LIKE 'Bench Clinic grown-%')";
    let k = want.clinics;
    if want.bookings > have.bookings {
        // Booking i belongs to clinic i mod k and starts i minutes before yesterday: one clinic's
        // bookings are k ≥ 100 minutes apart, so none overlap; 30 minutes each, confirmed, past.
        h.sql(&format!(
            "INSERT INTO bookings (tenant_id, id, calendar_id, status, service, starts_at, ends_at, \
               blocked_from, blocked_until, caller_name, caller_phone, created_at, confirmed_at, updated_at) \
             SELECT t, gen_random_uuid(), t, 'confirmed', 'Checkup', s, s + interval '30 minutes', \
               s, s + interval '30 minutes', 'Patient ' || i, '+1647' || lpad((i % 10000000)::text, 7, '0'), \
               s - interval '2 days', s - interval '2 days', s - interval '2 days' \
             FROM (SELECT c[1 + i % {k}] AS t, i, \
                          date_trunc('hour', now()) - interval '1 day' - i * interval '1 minute' AS s \
                   FROM {clinics} AS x(c), generate_series({lo}, {hi}) AS i) AS y",
            lo = have.bookings + 1,
            hi = want.bookings,
        ))?;
    }
    if want.texts > have.texts {
        h.sql(&format!(
            "INSERT INTO outbound_messages (tenant_id, id, kind, dedupe_key, to_number, body, status, \
               due_at, twilio_sid, attempts, created_at, updated_at) \
             SELECT c[1 + i % {k}], gen_random_uuid(), 'confirmation', 'history:' || i, \
               '+1648' || lpad((i % 10000000)::text, 7, '0'), \
               'You are booked for a Checkup. Reply STOP to opt out.', 'delivered', s, \
               'SM' || md5(i::text), 1, s, s \
             FROM {clinics} AS x(c), \
                  (SELECT i, now() - interval '1 day' - i * interval '1 minute' AS s \
                   FROM generate_series({lo}, {hi}) AS i) AS y",
            lo = have.texts + 1,
            hi = want.texts,
        ))?;
    }
    // A region's database grows over months, with autovacuum and checkpoints keeping up; a
    // bulk load of a million rows leaves both to do at once, and the first calls after it
    // would measure that storm rather than the size. Settled first (timed apart).
    Ok(())
}
