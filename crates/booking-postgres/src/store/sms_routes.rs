//! A tenant's SMS account and the numbers it texts from (`tenant_sms_routes`): writing the
//! encrypted credentials, the one-clinic-per-number checks, and finding a clinic by a route.

use booking_core::ports::{StoreError, StoreResult};
use booking_core::tenant::{SmsAccount, SmsSender, Tenant};
use booking_core::{PhoneNumber, TenantId};
use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Array, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::PgStore;
use super::rows::phone;
use super::tenants::load_tenant;
use crate::crypto::{RowIdentity, seal_secrets};
use crate::error::Fail;
use crate::schema::tenant_sms_credentials as cred;

impl PgStore {
    /// Encrypts and stores (or replaces) a tenant's SMS account.
    pub(super) async fn write_sms_account(
        &self,
        conn: &mut AsyncPgConnection,
        id: Uuid,
        account: &SmsAccount,
    ) -> Result<(), Fail> {
        let api_key_sid = account.api_key.as_ref().map(|(sid, _)| sid.as_str());
        let identity = RowIdentity {
            tenant: TenantId::from_uuid(id),
            account_sid: &account.account_sid,
            api_key_sid,
        };
        let sealed = seal_secrets(
            &self.keys().current,
            &identity,
            &account.auth_token,
            account.api_key.as_ref().map(|(_, secret)| secret),
        )?;
        let (sender_number, messaging_service_sid) = match &account.sender {
            SmsSender::From(n) => (Some(n.as_str()), None),
            SmsSender::MessagingService { sid, .. } => (None, Some(sid.as_str())),
        };
        let service_numbers: Vec<&str> = match &account.sender {
            SmsSender::From(_) => Vec::new(),
            SmsSender::MessagingService { numbers, .. } => {
                numbers.iter().map(PhoneNumber::as_str).collect()
            }
        };
        let now = Utc::now();
        diesel::insert_into(cred::table)
            .values((
                cred::tenant_id.eq(id),
                cred::account_sid.eq(&account.account_sid),
                cred::api_key_sid.eq(api_key_sid),
                cred::sender_number.eq(sender_number),
                cred::messaging_service_sid.eq(messaging_service_sid),
                cred::key_id.eq(&sealed.key_id),
                cred::nonce.eq(&sealed.nonce),
                cred::ciphertext.eq(&sealed.ciphertext),
                cred::updated_at.eq(now),
                cred::keyword_replies.eq(account.keyword_replies.as_str()),
            ))
            .on_conflict(cred::tenant_id)
            .do_update()
            .set((
                cred::account_sid.eq(&account.account_sid),
                cred::api_key_sid.eq(api_key_sid),
                cred::sender_number.eq(sender_number),
                cred::messaging_service_sid.eq(messaging_service_sid),
                cred::key_id.eq(&sealed.key_id),
                cred::nonce.eq(&sealed.nonce),
                cred::ciphertext.eq(&sealed.ciphertext),
                cred::updated_at.eq(now),
                cred::keyword_replies.eq(account.keyword_replies.as_str()),
            ))
            .execute(conn)
            .await?;
        // The sender number and the Messaging Service are claimed by the table's trigger; the
        // service's numbers here. A number another clinic has is a unique violation.
        diesel::sql_query(
            "DELETE FROM tenant_sms_routes WHERE tenant_id = $1 AND kind = 'service_number'",
        )
        .bind::<SqlUuid, _>(id)
        .execute(conn)
        .await?;
        if !service_numbers.is_empty() {
            diesel::sql_query(
                "INSERT INTO tenant_sms_routes (tenant_id, kind, value) \
                 SELECT $1, 'service_number', n FROM unnest($2::text[]) AS n",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<Array<Text>, _>(&service_numbers)
            .execute(conn)
            .await?;
        }
        Ok(())
    }

    /// Refuses an alert number that a clinic texts from (or a texting number that is a clinic's
    /// alert number): a forward would text a clinic's own line and could loop.
    pub(super) async fn check_alert_numbers(
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> Result<(), Fail> {
        // Two saves racing (one adds alert number X, the other claims X as a texting number)
        // take turns here, after their writes: the second one's check sees the first's commit.
        diesel::sql_query(
            "SELECT pg_advisory_xact_lock(hashtextextended('tenant-texting-numbers', 0))",
        )
        .execute(conn)
        .await?;
        #[derive(QueryableByName)]
        struct Clash {
            #[diesel(sql_type = Text)]
            number: String,
        }
        let clash: Option<Clash> = diesel::sql_query(
            "SELECT a.number FROM tenant_alert_numbers a \
             JOIN tenant_sms_routes r ON r.value = a.number AND r.kind <> 'messaging_service' \
             WHERE a.tenant_id = $1 OR r.tenant_id = $1 LIMIT 1",
        )
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
        .optional()?;
        match clash {
            Some(c) => Err(StoreError::Duplicate(format!(
                "alert number {} (a clinic's texting number)",
                phone("alert number", &c.number)?.masked()
            ))
            .into()),
            None => Ok(()),
        }
    }

    /// The tenant that claimed `value` as a route of the kinds in `kinds` (an SQL condition
    /// from this file, never from input).
    pub(super) async fn route_owner(
        &self,
        kinds: &'static str,
        value: &str,
    ) -> StoreResult<Option<Uuid>> {
        #[derive(QueryableByName)]
        struct Owner {
            #[diesel(sql_type = SqlUuid)]
            tenant_id: Uuid,
        }
        self.run(async {
            let mut conn = self.conn().await?;
            let owner: Option<Owner> = diesel::sql_query(format!(
                "SELECT tenant_id FROM tenant_sms_routes WHERE {kinds} AND value = $1 \
                 ORDER BY tenant_id LIMIT 1"
            ))
            .bind::<Text, _>(value)
            .get_result(&mut conn)
            .await
            .optional()?;
            Ok(owner.map(|o| o.tenant_id))
        })
        .await
    }

    pub(super) async fn tenant_by_route(
        &self,
        kinds: &'static str,
        value: &str,
    ) -> StoreResult<Option<Tenant>> {
        let id = self.route_owner(kinds, value).await?;
        self.tenant_where_id(id).await
    }

    pub(super) async fn tenant_where_id(&self, id: Option<Uuid>) -> StoreResult<Option<Tenant>> {
        let Some(id) = id else { return Ok(None) };
        self.run(async {
            let mut conn = self.conn().await?;
            load_tenant(&mut conn, id).await
        })
        .await
    }
}
