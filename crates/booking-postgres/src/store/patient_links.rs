//! Patients' links (`patient_links`, only the token's hash) and the counts of their actions
//! (`link_action_counts`, one upsert per action so that concurrent actions each see an exact
//! count, across api instances).

use async_trait::async_trait;
use booking_core::accounts::TokenHash;
use booking_core::patient_link::{ActionKey, NewPatientLink, PatientLink, PatientLinkStore};
use booking_core::ports::{StoreError, StoreResult};
use booking_core::{BookingId, TenantId};
use diesel::QueryableByName;
use diesel::sql_types::{Bytea, Int4, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::PgStore;
use crate::convert::{from_ts, ts};
use crate::fixed::{Bind, Fixed};

#[derive(QueryableByName)]
struct LinkRow {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    booking_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = Int4)]
    count: i32,
}

#[async_trait]
impl PatientLinkStore for PgStore {
    async fn insert_link(&self, link: &NewPatientLink) -> StoreResult<()> {
        let inserted = self
            .run(async {
                let mut conn = self.conn().await?;
                // Made durable by the commit that follows it (see `no_flush_wait!`).
                Ok(Fixed::new(
                    concat!(
                        no_flush_wait!(),
                        " INSERT INTO patient_links \
                         (token_hash, tenant_id, booking_id, created_at, expires_at) \
                         SELECT ?, ?, ?, ?, ? FROM no_flush_wait \
                         ON CONFLICT (token_hash) DO NOTHING"
                    ),
                    [
                        Bind::Bytes(&link.hash.0),
                        Bind::Uuid(*link.tenant.as_uuid()),
                        Bind::Uuid(*link.booking.as_uuid()),
                        Bind::Timestamp(ts(link.created_at)),
                        Bind::Timestamp(ts(link.expires_at)),
                    ],
                )
                .execute(&mut conn)
                .await?)
            })
            .await?;
        if inserted == 0 {
            return Err(StoreError::Duplicate("link".into()));
        }
        Ok(())
    }

    async fn link_by_hash(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<PatientLink>> {
        let rows: Vec<LinkRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(diesel::sql_query(
                    "SELECT tenant_id, booking_id, expires_at FROM patient_links \
                     WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
                )
                .bind::<Bytea, _>(hash.0.to_vec())
                .bind::<Timestamptz, _>(ts(now))
                .load(&mut conn)
                .await?)
            })
            .await?;
        rows.into_iter()
            .next()
            .map(|r| {
                Ok(PatientLink {
                    tenant: TenantId::from_uuid(r.tenant_id),
                    booking: BookingId::from_uuid(r.booking_id),
                    expires_at: from_ts(r.expires_at)?,
                })
            })
            .transpose()
    }

    async fn revoke_links(
        &self,
        tenant: TenantId,
        booking: BookingId,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.run(async {
            let mut conn = self.conn().await?;
            diesel::sql_query(
                "UPDATE patient_links SET revoked_at = $3 \
                 WHERE tenant_id = $1 AND booking_id = $2 AND revoked_at IS NULL",
            )
            .bind::<SqlUuid, _>(*tenant.as_uuid())
            .bind::<SqlUuid, _>(*booking.as_uuid())
            .bind::<Timestamptz, _>(ts(now))
            .execute(&mut conn)
            .await?;
            Ok(())
        })
        .await
    }

    async fn count_link_action(
        &self,
        key: &ActionKey,
        window: SignedDuration,
        now: Timestamp,
    ) -> StoreResult<u32> {
        let row: CountRow = self
            .run(async {
                let mut conn = self.conn().await?;
                // One statement: concurrent actions queue on the row and each gets its count.
                Ok(diesel::sql_query(
                    "INSERT INTO link_action_counts AS c (key, window_started_at, count) \
                     VALUES ($1, $2, 1) \
                     ON CONFLICT (key) DO UPDATE SET \
                       count = CASE WHEN c.window_started_at <= $3 THEN 1 ELSE c.count + 1 END, \
                       window_started_at = CASE WHEN c.window_started_at <= $3 THEN $2 ELSE c.window_started_at END \
                     RETURNING count",
                )
                .bind::<Text, _>(key.as_str())
                .bind::<Timestamptz, _>(ts(now))
                .bind::<Timestamptz, _>(ts(now - window))
                .get_result(&mut conn)
                .await?)
            })
            .await?;
        u32::try_from(row.count).map_err(|e| StoreError::Internal(e.to_string()))
    }
}
