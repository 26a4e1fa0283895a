//! The calendar feeds' secrets ([`CalendarFeedStore`]): one row per (tenant, scope) holding the
//! SHA-256 of the feed URL's secret. A new secret replaces the old in the same row (an upsert, so
//! concurrent replacements leave one); the lookup by hash is one unique-index probe.

use async_trait::async_trait;
use booking_core::TenantId;
use booking_core::accounts::TokenHash;
use booking_core::feeds::{CalendarFeedStore, Feed, FeedScope};
use booking_core::ports::{StoreError, StoreResult};
use booking_core::provider::ProviderId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, RunQueryDsl};
use jiff::Timestamp;
use uuid::Uuid;

use super::PgStore;
use crate::convert::{from_ts, ts};
use crate::error::Fail;
use crate::schema::tenants;

/// The table of this module (kept out of schema.rs, as the calendar tables are).
mod feed_tables {
    diesel::table! {
        calendar_feeds (tenant_id, scope) {
            tenant_id -> Uuid,
            scope -> Uuid,
            token_hash -> Bytea,
            created_at -> Timestamptz,
        }
    }
}

use feed_tables::calendar_feeds as f;

/// The clinic's feed is stored under the nil uuid; a provider's under their calendar id.
fn scope_column(scope: FeedScope) -> Uuid {
    match scope {
        FeedScope::Clinic => Uuid::nil(),
        FeedScope::Provider(p) => *p.as_uuid(),
    }
}

fn scope_of(column: Uuid) -> FeedScope {
    if column.is_nil() {
        FeedScope::Clinic
    } else {
        FeedScope::Provider(ProviderId::from_uuid(column))
    }
}

fn feed_of(row: (Uuid, Uuid, DateTime<Utc>)) -> StoreResult<Feed> {
    let (tenant, scope, created_at) = row;
    Ok(Feed {
        tenant: TenantId::from_uuid(tenant),
        scope: scope_of(scope),
        created_at: from_ts(created_at)?,
    })
}

#[async_trait]
impl CalendarFeedStore for PgStore {
    async fn replace_feed(
        &self,
        tenant: TenantId,
        scope: FeedScope,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<()> {
        let tenant = *tenant.as_uuid();
        let scope = scope_column(scope);
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                let exists: i64 = tenants::table
                    .filter(tenants::id.eq(tenant))
                    .count()
                    .get_result(conn)
                    .await?;
                if exists == 0 {
                    return Err(StoreError::NotFound.into());
                }
                diesel::insert_into(f::table)
                    .values((
                        f::tenant_id.eq(tenant),
                        f::scope.eq(scope),
                        f::token_hash.eq(hash.0.as_slice()),
                        f::created_at.eq(ts(now)),
                    ))
                    .on_conflict((f::tenant_id, f::scope))
                    .do_update()
                    .set((
                        f::token_hash.eq(excluded(f::token_hash)),
                        f::created_at.eq(excluded(f::created_at)),
                    ))
                    .execute(conn)
                    .await?;
                Ok(())
            })
            .await
        })
        .await
    }

    async fn revoke_feed(&self, tenant: TenantId, scope: FeedScope) -> StoreResult<bool> {
        let tenant = *tenant.as_uuid();
        let scope = scope_column(scope);
        self.run(async {
            let mut conn = self.conn().await?;
            let n = diesel::delete(
                f::table
                    .filter(f::tenant_id.eq(tenant))
                    .filter(f::scope.eq(scope)),
            )
            .execute(&mut conn)
            .await?;
            Ok(n > 0)
        })
        .await
    }

    async fn feed_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<Feed>> {
        let row: Option<(Uuid, Uuid, DateTime<Utc>)> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(f::table
                    .filter(f::token_hash.eq(hash.0.as_slice()))
                    .select((f::tenant_id, f::scope, f::created_at))
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        row.map(feed_of).transpose()
    }

    async fn feeds(&self, tenant: TenantId) -> StoreResult<Vec<Feed>> {
        let tenant = *tenant.as_uuid();
        let rows: Vec<(Uuid, Uuid, DateTime<Utc>)> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(f::table
                    .filter(f::tenant_id.eq(tenant))
                    .select((f::tenant_id, f::scope, f::created_at))
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        let mut out = rows
            .into_iter()
            .map(feed_of)
            .collect::<StoreResult<Vec<Feed>>>()?;
        out.sort_by_key(|f| f.scope);
        Ok(out)
    }
}
