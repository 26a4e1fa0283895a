//! Owner accounts, dashboard sessions and sign-in attempts (booking-core's `AccountStore`).
//! The tables are declared here rather than in `schema.rs`: nothing else joins them.

use async_trait::async_trait;
use booking_core::TenantId;
use booking_core::accounts::{
    AccountStore, ClientAddress, Email, LOGIN_FAILURE_WINDOW, Owner, OwnerId, Session,
    SignInAttempts, TokenHash,
};
use booking_core::ports::{StoreError, StoreResult};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jiff::Timestamp;
use uuid::Uuid;

use super::PgStore;
use crate::convert::{corrupt, from_ts, from_ts_opt, ts};
use crate::fixed::{Bind, Fixed};

mod tables {
    diesel::table! {
        owner_accounts (id) {
            id -> Uuid,
            tenant_id -> Uuid,
            email -> Text,
            password_hash -> Text,
            created_at -> Timestamptz,
            onboarded_at -> Nullable<Timestamptz>,
        }
    }
    diesel::table! {
        owner_sessions (token_hash) {
            token_hash -> Bytea,
            owner_id -> Uuid,
            tenant_id -> Uuid,
            csrf_token -> Text,
            created_at -> Timestamptz,
            last_seen_at -> Timestamptz,
            expires_at -> Timestamptz,
        }
    }
}

use tables::owner_accounts as oa;
use tables::owner_sessions as os;

#[derive(Queryable, Selectable)]
#[diesel(table_name = tables::owner_accounts, check_for_backend(diesel::pg::Pg))]
struct OwnerRow {
    id: Uuid,
    tenant_id: Uuid,
    email: String,
    password_hash: String,
    created_at: DateTime<Utc>,
    onboarded_at: Option<DateTime<Utc>>,
}

impl OwnerRow {
    fn into_domain(self) -> StoreResult<Owner> {
        Ok(Owner {
            id: OwnerId::from_uuid(self.id),
            tenant: TenantId::from_uuid(self.tenant_id),
            email: Email::parse(&self.email).map_err(|e| corrupt("owner email", e))?,
            password_hash: self.password_hash,
            created_at: from_ts(self.created_at)?,
            onboarded_at: from_ts_opt(self.onboarded_at)?,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = tables::owner_sessions, check_for_backend(diesel::pg::Pg))]
struct SessionRow {
    token_hash: Vec<u8>,
    owner_id: Uuid,
    tenant_id: Uuid,
    csrf_token: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl SessionRow {
    fn into_domain(self) -> StoreResult<Session> {
        let hash: [u8; 32] = self
            .token_hash
            .try_into()
            .map_err(|_| corrupt("session token hash", "not 32 bytes"))?;
        Ok(Session {
            token_hash: TokenHash(hash),
            owner: OwnerId::from_uuid(self.owner_id),
            tenant: TenantId::from_uuid(self.tenant_id),
            csrf_token: self.csrf_token,
            created_at: from_ts(self.created_at)?,
            last_seen_at: from_ts(self.last_seen_at)?,
            expires_at: from_ts(self.expires_at)?,
        })
    }
}

#[async_trait]
impl AccountStore for PgStore {
    async fn create_owner(&self, owner: &Owner) -> StoreResult<Owner> {
        self.run(async {
            let mut conn = self.conn().await?;
            let row: OwnerRow = diesel::insert_into(oa::table)
                .values((
                    oa::id.eq(owner.id.as_uuid()),
                    oa::tenant_id.eq(owner.tenant.as_uuid()),
                    oa::email.eq(owner.email.as_str()),
                    oa::password_hash.eq(&owner.password_hash),
                    oa::created_at.eq(ts(owner.created_at)),
                    oa::onboarded_at.eq(owner.onboarded_at.map(ts)),
                ))
                .returning(OwnerRow::as_returning())
                .get_result(&mut conn)
                .await?;
            Ok(row)
        })
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(_) => StoreError::Duplicate("owner email".into()),
            other => other,
        })?
        .into_domain()
    }

    async fn owner_by_email(&self, email: &Email) -> StoreResult<Option<Owner>> {
        let row: Option<OwnerRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(oa::table
                    .filter(oa::email.eq(email.as_str()))
                    .select(OwnerRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        row.map(OwnerRow::into_domain).transpose()
    }

    async fn owner(&self, id: OwnerId) -> StoreResult<Option<Owner>> {
        let row: Option<OwnerRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(oa::table
                    .find(id.as_uuid())
                    .select(OwnerRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        row.map(OwnerRow::into_domain).transpose()
    }

    async fn set_owner_onboarded(&self, id: OwnerId, at: Timestamp) -> StoreResult<()> {
        self.run(async {
            let mut conn = self.conn().await?;
            let n = diesel::update(oa::table.find(id.as_uuid()))
                .set(oa::onboarded_at.eq(ts(at)))
                .execute(&mut conn)
                .await?;
            if n == 0 {
                return Err(StoreError::NotFound.into());
            }
            Ok(())
        })
        .await
    }

    async fn create_session(&self, s: &Session) -> StoreResult<()> {
        self.run(async {
            let mut conn = self.conn().await?;
            diesel::insert_into(os::table)
                .values((
                    os::token_hash.eq(&s.token_hash.0[..]),
                    os::owner_id.eq(s.owner.as_uuid()),
                    os::tenant_id.eq(s.tenant.as_uuid()),
                    os::csrf_token.eq(&s.csrf_token),
                    os::created_at.eq(ts(s.created_at)),
                    os::last_seen_at.eq(ts(s.last_seen_at)),
                    os::expires_at.eq(ts(s.expires_at)),
                ))
                .execute(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn session_by_hash(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<Session>> {
        let row: Option<SessionRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(os::table
                    .find(&hash.0[..])
                    .filter(os::expires_at.gt(ts(now)))
                    .select(SessionRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        row.map(SessionRow::into_domain).transpose()
    }

    async fn touch_session(
        &self,
        hash: &TokenHash,
        seen_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        self.run(async {
            let mut conn = self.conn().await?;
            diesel::update(os::table.find(&hash.0[..]))
                .set((
                    os::last_seen_at.eq(ts(seen_at)),
                    os::expires_at.eq(ts(expires_at)),
                ))
                .execute(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, hash: &TokenHash) -> StoreResult<()> {
        self.run(async {
            let mut conn = self.conn().await?;
            diesel::delete(os::table.find(&hash.0[..]))
                .execute(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        self.run(async {
            let mut conn = self.conn().await?;
            let n = diesel::delete(os::table.filter(os::expires_at.le(ts(now))))
                .execute(&mut conn)
                .await?;
            Ok(n as u64)
        })
        .await
    }

    async fn count_sign_in_attempt(
        &self,
        address: &ClientAddress,
        email: &Email,
        now: Timestamp,
    ) -> StoreResult<SignInAttempts> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::Text)]
            email: String,
            #[diesel(sql_type = diesel::sql_types::Integer)]
            attempts: i32,
        }
        let expired = now - LOGIN_FAILURE_WINDOW;
        let counts: Vec<Count> = self
            .run(async {
                let mut conn = self.conn().await?;
                // Both rows in one statement, the address's first: every attempt from an
                // address locks its rows in the same order, so two never wait on each other.
                let counts = Fixed::new(
                    "INSERT INTO sign_in_attempts AS t (address, email, window_start, attempts) \
                     VALUES (?, '', ?, 1), (?, ?, ?, 1) \
                     ON CONFLICT (address, email) DO UPDATE SET \
                       window_start = CASE WHEN t.window_start <= ? THEN EXCLUDED.window_start \
                                           ELSE t.window_start END, \
                       attempts = CASE WHEN t.window_start <= ? THEN 1 \
                                       ELSE t.attempts + 1 END \
                     RETURNING t.email, t.attempts",
                    [
                        Bind::Text(address.as_str()),
                        Bind::Timestamp(ts(now)),
                        Bind::Text(address.as_str()),
                        Bind::Text(email.as_str()),
                        Bind::Timestamp(ts(now)),
                        Bind::Timestamp(ts(expired)),
                        Bind::Timestamp(ts(expired)),
                    ],
                )
                .load(&mut conn)
                .await?;
                // Windows that ended are of no use: a few go with every attempt, so that a
                // flood from many addresses does not leave the table growing.
                Fixed::new(
                    "DELETE FROM sign_in_attempts WHERE ctid IN \
                     (SELECT ctid FROM sign_in_attempts WHERE window_start <= ? LIMIT 16)",
                    [Bind::Timestamp(ts(expired))],
                )
                .execute(&mut conn)
                .await?;
                Ok(counts)
            })
            .await?;
        let of = |wide: bool| {
            counts
                .iter()
                .find(|c| c.email.is_empty() == wide)
                .map(|c| u32::try_from(c.attempts).unwrap_or(0))
                .ok_or_else(|| corrupt("sign-in attempts", "a count is missing"))
        };
        Ok(SignInAttempts {
            from_address: of(true)?,
            for_account: of(false)?,
        })
    }

    async fn sign_in_succeeded(&self, address: &ClientAddress, email: &Email) -> StoreResult<()> {
        self.run(async {
            let mut conn = self.conn().await?;
            Fixed::new(
                "DELETE FROM sign_in_attempts WHERE address = ? AND email = ?",
                [Bind::Text(address.as_str()), Bind::Text(email.as_str())],
            )
            .execute(&mut conn)
            .await?;
            Fixed::new(
                "UPDATE sign_in_attempts SET attempts = greatest(attempts - 1, 0) \
                 WHERE address = ? AND email = ''",
                [Bind::Text(address.as_str())],
            )
            .execute(&mut conn)
            .await?;
            Ok(())
        })
        .await
    }
}
