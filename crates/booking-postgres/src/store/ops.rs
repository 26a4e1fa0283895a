//! [`OpsStats`]: the figures operators alert on, across all tenants (the one query here that is
//! not scoped by a tenant, by design: it is read by `/metrics`, never by a tenant's request).

use async_trait::async_trait;
use booking_core::ports::{OpsFigures, OpsStats, StoreResult};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::RunQueryDsl;
use jiff::Timestamp;

use super::PgStore;
use crate::convert::ts;

#[derive(QueryableByName)]
struct Figures {
    #[diesel(sql_type = BigInt)]
    outbox_due: i64,
    #[diesel(sql_type = BigInt)]
    oldest_due_seconds: i64,
    #[diesel(sql_type = BigInt)]
    failed_total: i64,
    #[diesel(sql_type = BigInt)]
    confirmed_last_12h: i64,
}

#[async_trait]
impl OpsStats for PgStore {
    async fn ops_figures(&self, now: Timestamp) -> StoreResult<OpsFigures> {
        let f: Figures = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(diesel::sql_query(
                    "SELECT
                       count(*) FILTER (WHERE waiting) AS outbox_due,
                       COALESCE(floor(extract(epoch FROM $1 - min(since) FILTER (WHERE waiting)))::bigint, 0)
                         AS oldest_due_seconds,
                       (SELECT count(*) FROM outbound_messages
                         WHERE status IN ('failed', 'undelivered')) AS failed_total,
                       (SELECT count(*) FROM bookings
                         WHERE status = 'confirmed' AND confirmed_at > $1 - interval '12 hours') AS confirmed_last_12h
                     FROM (SELECT COALESCE(first_attempt_at, due_at) AS since,
                                  (first_attempt_at IS NOT NULL OR due_at <= $1) AS waiting
                             FROM outbound_messages
                            WHERE status IN ('pending', 'sending', 'ambiguous')) AS open_messages",
                )
                .bind::<Timestamptz, _>(ts(now))
                .get_result(&mut conn)
                .await?)
            })
            .await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(OpsFigures {
            outbox_due: n(f.outbox_due),
            oldest_due_seconds: n(f.oldest_due_seconds),
            failed_total: n(f.failed_total),
            confirmed_last_12h: n(f.confirmed_last_12h),
        })
    }
}
