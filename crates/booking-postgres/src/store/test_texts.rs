//! The dashboard's test texts, counted per clinic across every instance.

use async_trait::async_trait;
use booking_core::TenantId;
use booking_core::otp::RateWindow;
use booking_core::ports::{StoreResult, TestTextStore};
use booking_core::test_texts::{TestTextsUsedUp, admit_test_text};
use diesel::QueryableByName;
use diesel::sql_types::Timestamptz;
use diesel_async::{AsyncConnection, RunQueryDsl};
use jiff::Timestamp;

use super::PgStore;
use crate::convert::{from_ts, ts};
use crate::error::Fail;
use crate::fixed::{Bind, Fixed};

/// The class of the advisory locks that serialise a clinic's test texts (`tst_`).
const TEST_TEXT_LOCK_CLASS: i32 = 0x7473_745f;

#[async_trait]
impl TestTextStore for PgStore {
    async fn take_test_text(
        &self,
        tenant: TenantId,
        limit: RateWindow,
        now: Timestamp,
    ) -> StoreResult<Result<(), TestTextsUsedUp>> {
        #[derive(QueryableByName)]
        struct Sent {
            #[diesel(sql_type = Timestamptz)]
            sent_at: chrono::DateTime<chrono::Utc>,
        }
        let t = *tenant.as_uuid();
        let since = now - limit.window;
        let sent: Result<Vec<Sent>, TestTextsUsedUp> = self
            .run(async {
                let mut conn = self.conn().await?;
                conn.transaction::<_, Fail, _>(async |conn| {
                    // The clinic's takes wait for each other from here to the commit, on every
                    // instance: the rows read below cannot change before this one is decided.
                    Fixed::new(
                        "SELECT pg_advisory_xact_lock(?, hashtext(?::text))",
                        [Bind::Int(TEST_TEXT_LOCK_CLASS), Bind::Uuid(t)],
                    )
                    .execute(conn)
                    .await?;
                    let sent: Vec<Sent> = Fixed::new(
                        "SELECT sent_at FROM test_texts WHERE tenant_id = ? AND sent_at > ?",
                        [Bind::Uuid(t), Bind::Timestamp(ts(since))],
                    )
                    .load(conn)
                    .await?;
                    let times = sent
                        .iter()
                        .map(|s| from_ts(s.sent_at))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(Fail::Store)?;
                    if let Err(used_up) = admit_test_text(&times, limit, now) {
                        return Ok(Err(used_up));
                    }
                    Fixed::new(
                        "INSERT INTO test_texts (tenant_id, sent_at) VALUES (?, ?)",
                        [Bind::Uuid(t), Bind::Timestamp(ts(now))],
                    )
                    .execute(conn)
                    .await?;
                    Fixed::new(
                        "DELETE FROM test_texts WHERE tenant_id = ? AND sent_at <= ?",
                        [Bind::Uuid(t), Bind::Timestamp(ts(since))],
                    )
                    .execute(conn)
                    .await?;
                    Ok(Ok(sent))
                })
                .await
            })
            .await?;
        Ok(sent.map(|_| ()))
    }
}
