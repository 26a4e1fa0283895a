//! [`ReportStore`]: the Reports page's weekly figures, one statement over the tenant's rows.
//! Each figure is counted in the week of the instant [`booking_core::reports`] names, found with
//! `width_bucket` over the weeks' boundaries (bucket 1 is the first week).

use async_trait::async_trait;
use booking_core::TenantId;
use booking_core::ports::{ReportStore, StoreResult};
use booking_core::reports::{ReportWeeks, WeekFigures};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Integer, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;

use super::PgStore;
use crate::convert::ts;

/// What each figure counts; `$1` the tenant, `$2` the boundaries, `$3`/`$4` the first and last.
const WEEKLY_FIGURES: &str = "
    SELECT 'calls_answered' AS figure, width_bucket(started_at, $2) AS week, count(*) AS n
      FROM calls
     WHERE tenant_id = $1 AND started_at >= $3 AND started_at < $4
     GROUP BY 2
    UNION ALL
    SELECT 'hot_leads', width_bucket(started_at, $2), count(*)
      FROM calls
     WHERE tenant_id = $1 AND hot_lead AND started_at >= $3 AND started_at < $4
     GROUP BY 2
    UNION ALL
    SELECT 'booked_by_ai', width_bucket(confirmed_at, $2), count(*)
      FROM bookings
     WHERE tenant_id = $1 AND call_id IS NOT NULL AND rescheduled_from IS NULL
       AND confirmed_at >= $3 AND confirmed_at < $4
     GROUP BY 2
    UNION ALL
    SELECT 'no_shows', width_bucket(b.starts_at, $2), count(*)
      FROM booking_attendance a
      JOIN bookings b ON b.tenant_id = a.tenant_id AND b.id = a.booking_id
     WHERE a.tenant_id = $1 AND a.attendance = 'no_show'
       AND b.starts_at >= $3 AND b.starts_at < $4
     GROUP BY 2
    UNION ALL
    SELECT CASE WHEN status = 'delivered' THEN 'texts_delivered' ELSE 'texts_failed' END,
           width_bucket(due_at, $2), count(*)
      FROM outbound_messages
     WHERE tenant_id = $1 AND status IN ('delivered', 'failed', 'undelivered')
       AND due_at >= $3 AND due_at < $4
     GROUP BY 1, 2
    UNION ALL
    SELECT 'refilled_by_waitlist', width_bucket(b.confirmed_at, $2), count(*)
      FROM waitlist_offers o
      JOIN bookings b ON b.tenant_id = o.tenant_id AND b.id = o.claimed_booking_id
     WHERE o.tenant_id = $1 AND b.confirmed_at >= $3 AND b.confirmed_at < $4
     GROUP BY 2";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Text)]
    figure: String,
    #[diesel(sql_type = Integer)]
    week: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[async_trait]
impl ReportStore for PgStore {
    async fn weekly_figures(
        &self,
        tenant: TenantId,
        weeks: &ReportWeeks,
    ) -> StoreResult<Vec<WeekFigures>> {
        let mut out = vec![WeekFigures::default(); weeks.len()];
        let (Some(first), Some(last)) = (weeks.bounds().first(), weeks.bounds().last()) else {
            return Ok(out);
        };
        let bounds: Vec<DateTime<Utc>> = weeks.bounds().iter().map(|t| ts(*t)).collect();
        let counts: Vec<Count> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(diesel::sql_query(WEEKLY_FIGURES)
                    .bind::<SqlUuid, _>(*tenant.as_uuid())
                    .bind::<Array<Timestamptz>, _>(&bounds)
                    .bind::<Timestamptz, _>(ts(*first))
                    .bind::<Timestamptz, _>(ts(*last))
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        for c in counts {
            let Some(week) = usize::try_from(c.week)
                .ok()
                .and_then(|w| w.checked_sub(1))
                .and_then(|i| out.get_mut(i))
            else {
                continue;
            };
            let n = u32::try_from(c.n).unwrap_or(u32::MAX);
            match c.figure.as_str() {
                "calls_answered" => week.calls_answered = n,
                "hot_leads" => week.hot_leads = n,
                "booked_by_ai" => week.booked_by_ai = n,
                "no_shows" => week.no_shows = n,
                "texts_delivered" => week.texts_delivered = n,
                "texts_failed" => week.texts_failed = n,
                "refilled_by_waitlist" => week.refilled_by_waitlist = n,
                _ => {}
            }
        }
        Ok(out)
    }
}
