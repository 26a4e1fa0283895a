//! Whether this store's master keys are the ones the stored credentials are under. A server
//! started with the wrong `MASTER_KEY` used to report ready, claim texts it could not send and
//! leave them waiting for their lease; now it refuses to start, naming the key, and a server
//! that lost a key later (another instance rotated the rows away from it) stops claiming those
//! clinics' texts and reports not ready. The calendar links' credentials are sealed with the
//! same keys and checked the same way: a server without their key neither syncs nor writes
//! those calendars, and reports not ready.

use booking_core::TenantId;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::PgStore;
use crate::crypto::{
    CalendarIdentity, RowIdentity, open_calendar_credentials, open_secrets, opens_check, seal_check,
};
use crate::schema::tenant_sms_credentials as cred;
use crate::store::calendar_tables::calendar_links as links;

mod tables {
    diesel::table! {
        master_key_checks (key_id) {
            key_id -> Text,
            nonce -> Bytea,
            ciphertext -> Bytea,
        }
    }
}
use tables::master_key_checks as checks;

/// Why this server's keys cannot serve the stored credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyMismatch {
    #[error(
        "the stored Twilio credentials of {clinics} clinic(s) are under master key {key_id}, which this server does not have (its keys: {held}); start it with that key in MASTER_KEY, or in MASTER_KEY_PREVIOUS during a rotation"
    )]
    Missing {
        key_id: String,
        clinics: i64,
        held: String,
    },
    #[error(
        "the stored calendar credentials of {calendars} linked calendar(s) are under master key {key_id}, which this server does not have (its keys: {held}); start it with that key in MASTER_KEY, or in MASTER_KEY_PREVIOUS during a rotation"
    )]
    MissingForCalendars {
        key_id: String,
        calendars: i64,
        held: String,
    },
    #[error(
        "master key {key_id} of this server is not the key stored under that id: {what}; set MASTER_KEY (or MASTER_KEY_PREVIOUS) to the key the deployment uses"
    )]
    Wrong { key_id: String, what: String },
    #[error("the master keys could not be checked: {0}")]
    Unchecked(String),
}

impl PgStore {
    /// Checks every key this store holds against the database, at startup: each key's check
    /// value (stored by the first server that ran with that key id) must open under it, one
    /// credentials row under each of its ids must decrypt, and no credentials may be under a
    /// key it does not hold.
    pub async fn check_master_keys(&self) -> Result<(), KeyMismatch> {
        let unchecked = |e: booking_core::ports::StoreError| KeyMismatch::Unchecked(e.to_string());
        for key in self.keys().all() {
            let sealed = seal_check(key).map_err(unchecked)?;
            let (nonce, ciphertext): (Vec<u8>, Vec<u8>) = self
                .run(async {
                    let mut conn = self.conn().await?;
                    diesel::insert_into(checks::table)
                        .values((
                            checks::key_id.eq(&sealed.key_id),
                            checks::nonce.eq(&sealed.nonce),
                            checks::ciphertext.eq(&sealed.ciphertext),
                        ))
                        .on_conflict(checks::key_id)
                        .do_nothing()
                        .execute(&mut conn)
                        .await?;
                    Ok(checks::table
                        .find(key.id())
                        .select((checks::nonce, checks::ciphertext))
                        .first(&mut conn)
                        .await?)
                })
                .await
                .map_err(unchecked)?;
            if !opens_check(key, &nonce, &ciphertext) {
                return Err(KeyMismatch::Wrong {
                    key_id: key.id().to_owned(),
                    what: "it does not open the check value stored when a server first ran with that key id".into(),
                });
            }
        }

        type Row = (uuid::Uuid, String, Option<String>, String, Vec<u8>, Vec<u8>);
        let held: Vec<&str> = self.keys().all().map(|k| k.id()).collect();
        let ids: Vec<(String, i64)> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(cred::table
                    .group_by(cred::key_id)
                    .select((cred::key_id, diesel::dsl::count_star()))
                    .order(cred::key_id)
                    .load(&mut conn)
                    .await?)
            })
            .await
            .map_err(unchecked)?;
        for (key_id, clinics) in &ids {
            if !held.contains(&key_id.as_str()) {
                return Err(KeyMismatch::Missing {
                    key_id: key_id.clone(),
                    clinics: *clinics,
                    held: held.join(", "),
                });
            }
            let row: Row = self
                .run(async {
                    let mut conn = self.conn().await?;
                    Ok(cred::table
                        .filter(cred::key_id.eq(key_id))
                        .order(cred::updated_at.desc())
                        .select((
                            cred::tenant_id,
                            cred::account_sid,
                            cred::api_key_sid,
                            cred::key_id,
                            cred::nonce,
                            cred::ciphertext,
                        ))
                        .first(&mut conn)
                        .await?)
                })
                .await
                .map_err(unchecked)?;
            let (tenant, account_sid, api_key_sid, key_id, nonce, ciphertext) = row;
            let identity = RowIdentity {
                tenant: TenantId::from_uuid(tenant),
                account_sid: &account_sid,
                api_key_sid: api_key_sid.as_deref(),
            };
            if let Err(e) = open_secrets(self.keys(), &identity, &key_id, &nonce, &ciphertext) {
                return Err(KeyMismatch::Wrong {
                    key_id,
                    what: e.to_string(),
                });
            }
        }
        self.check_calendar_keys(&held).await
    }

    /// The same checks for the calendar links' credentials: every key id they are under is
    /// held, and one row under each id opens.
    async fn check_calendar_keys(&self, held: &[&str]) -> Result<(), KeyMismatch> {
        let unchecked = |e: booking_core::ports::StoreError| KeyMismatch::Unchecked(e.to_string());
        let ids: Vec<(String, i64)> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(links::table
                    .group_by(links::key_id)
                    .select((links::key_id, diesel::dsl::count_star()))
                    .order(links::key_id)
                    .load(&mut conn)
                    .await?)
            })
            .await
            .map_err(unchecked)?;
        for (key_id, calendars) in &ids {
            if !held.contains(&key_id.as_str()) {
                return Err(KeyMismatch::MissingForCalendars {
                    key_id: key_id.clone(),
                    calendars: *calendars,
                    held: held.join(", "),
                });
            }
            let (tenant, calendar, nonce, ciphertext): (uuid::Uuid, uuid::Uuid, Vec<u8>, Vec<u8>) =
                self.run(async {
                    let mut conn = self.conn().await?;
                    Ok(links::table
                        .filter(links::key_id.eq(key_id))
                        .order(links::linked_at.desc())
                        .select((
                            links::tenant_id,
                            links::calendar_id,
                            links::nonce,
                            links::ciphertext,
                        ))
                        .first(&mut conn)
                        .await?)
                })
                .await
                .map_err(unchecked)?;
            let identity = CalendarIdentity {
                tenant: TenantId::from_uuid(tenant),
                calendar: booking_core::CalendarId::from_uuid(calendar),
            };
            if let Err(e) =
                open_calendar_credentials(self.keys(), &identity, key_id, &nonce, &ciphertext)
            {
                return Err(KeyMismatch::Wrong {
                    key_id: key_id.clone(),
                    what: e.to_string(),
                });
            }
        }
        Ok(())
    }

    /// A key id some credentials (a clinic's Twilio account, or a clinic's calendar link) are
    /// under that this store does not hold, if there is one: this server cannot send those
    /// clinics' texts nor sync those calendars (and claims neither).
    pub async fn missing_key(&self) -> Result<Option<String>, booking_core::ports::StoreError> {
        let held = self.keys().ids_csv();
        let not_held = || {
            diesel::dsl::sql::<diesel::sql_types::Bool>("key_id <> ALL (string_to_array(")
                .bind::<diesel::sql_types::Text, _>(held.clone())
                .sql(", ','))")
        };
        self.run(async {
            let mut conn = self.conn().await?;
            let sms = cred::table
                .filter(not_held())
                .select(cred::key_id)
                .first::<String>(&mut conn)
                .await
                .optional()?;
            if sms.is_some() {
                return Ok(sms);
            }
            Ok(links::table
                .filter(not_held())
                .select(links::key_id)
                .first::<String>(&mut conn)
                .await
                .optional()?)
        })
        .await
    }
}
