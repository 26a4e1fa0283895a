//! Tenants: configuration in normalised tables, Twilio secrets encrypted.

use std::collections::HashMap;

use async_trait::async_trait;
use booking_core::country::Country;
use booking_core::ports::{SmsAccountChange, StoreError, StoreResult, TenantStore};
use booking_core::provider::{
    BookingCap, Provider, ProviderName, ProviderServices, ProviderStatus,
};
use booking_core::tenant::{
    BookingRules, CalledNumber, ClinicName, ClinicZone, DateOverride, DayHours, HotLeadThreshold,
    KeywordReplies, Minutes, OpenRange, Service, ServiceName, SmsAccount, SmsHealth, SmsSender,
    SystemPrompt, Tenant, TenantConfig, WeeklyHours,
};
use booking_core::{AssistantId, CalendarId, PhoneNumber, TenantId, VoiceLineId};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Int4, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jiff::civil::{Time, Weekday};
use uuid::Uuid;

use super::PgStore;
use super::rows::phone;
use super::tenant_children::write_children;
use crate::convert::{corrupt, from_date, i32_of, u32_of};
use crate::crypto::{RowIdentity, open_secrets};
use crate::error::Fail;
use crate::schema::{
    services, tenant_alert_numbers, tenant_called_numbers, tenant_sms_credentials as cred, tenants,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = tenants, check_for_backend(diesel::pg::Pg))]
struct TenantRow {
    id: Uuid,
    name: String,
    time_zone: String,
    hot_lead_threshold: i32,
    buffer_before_minutes: i32,
    buffer_after_minutes: i32,
    min_notice_minutes: i32,
    slot_interval_minutes: i32,
    horizon_days: i32,
    system_prompt: String,
    sms_health: String,
    sms_health_code: Option<i32>,
    sms_health_message: Option<String>,
    otp_allowed_countries: Vec<String>,
    link_notice_minutes: i32,
}

#[derive(QueryableByName)]
struct HoursRow {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    /// Weekday (0 = Monday) or the position of a date override.
    #[diesel(sql_type = Int4)]
    slot: i32,
    #[diesel(sql_type = Text)]
    opens: String,
    #[diesel(sql_type = Text)]
    closes: String,
}

/// `Minutes` crosses as its number (its constructor would re-validate bounds the owner's
/// configuration already passed).
fn minutes(what: &str, v: i32) -> Result<Minutes, StoreError> {
    serde_json::from_value(serde_json::json!(u32_of(what, v)?)).map_err(|e| corrupt(what, e))
}

/// Times cross as text: PostgreSQL's `time` keeps microseconds and writes the end of the day
/// as 24:00, which the domain spells `Time::MAX`.
pub(super) fn time_to_db(t: Time) -> String {
    if t == Time::MAX {
        "24:00:00".to_owned()
    } else {
        t.to_string()
    }
}

fn time_from_db(s: &str) -> Result<Time, StoreError> {
    if s.starts_with("24:00") {
        return Ok(Time::MAX);
    }
    s.parse().map_err(|e| corrupt("opening time", e))
}

fn health(row: &TenantRow) -> Result<SmsHealth, StoreError> {
    Ok(match row.sms_health.as_str() {
        "not_configured" => SmsHealth::NotConfigured,
        "ok" => SmsHealth::Ok,
        "needs_attention" => SmsHealth::NeedsAttention {
            code: u32_of("sms health code", row.sms_health_code.unwrap_or(0))?,
            message: row.sms_health_message.clone().unwrap_or_default(),
        },
        other => return Err(corrupt("sms health", other)),
    })
}

fn health_columns(
    h: &SmsHealth,
) -> Result<(&'static str, Option<i32>, Option<String>), StoreError> {
    Ok(match h {
        SmsHealth::NotConfigured => ("not_configured", None, None),
        SmsHealth::Ok => ("ok", None, None),
        SmsHealth::NeedsAttention { code, message } => (
            "needs_attention",
            Some(i32_of("sms health code", *code)?),
            Some(message.clone()),
        ),
    })
}

/// Reads whole tenants (configuration and health) for these ids, in id order.
async fn load_tenants(
    conn: &mut AsyncPgConnection,
    ids: Option<&[Uuid]>,
) -> Result<Vec<Tenant>, Fail> {
    let mut q = tenants::table
        .select(TenantRow::as_select())
        .order(tenants::id)
        .into_boxed();
    if let Some(ids) = ids {
        q = q.filter(tenants::id.eq_any(ids.to_vec()));
    }
    let rows: Vec<TenantRow> = q.load(conn).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();

    let called: Vec<(Uuid, String, Option<String>)> = tenant_called_numbers::table
        .filter(tenant_called_numbers::tenant_id.eq_any(&ids))
        .order((
            tenant_called_numbers::tenant_id,
            tenant_called_numbers::position,
        ))
        .select((
            tenant_called_numbers::tenant_id,
            tenant_called_numbers::number,
            tenant_called_numbers::vapi_phone_number_id,
        ))
        .load(conn)
        .await?;
    #[derive(QueryableByName)]
    struct AssistantRow {
        #[diesel(sql_type = SqlUuid)]
        tenant_id: Uuid,
        #[diesel(sql_type = Text)]
        assistant_id: String,
    }
    let assistants: Vec<AssistantRow> = diesel::sql_query(
        "SELECT tenant_id, assistant_id FROM tenant_vapi_assistants WHERE tenant_id = ANY($1) \
         ORDER BY tenant_id, position",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .load(conn)
    .await?;
    let alerts: Vec<(Uuid, String)> = tenant_alert_numbers::table
        .filter(tenant_alert_numbers::tenant_id.eq_any(&ids))
        .order((
            tenant_alert_numbers::tenant_id,
            tenant_alert_numbers::position,
        ))
        .select((
            tenant_alert_numbers::tenant_id,
            tenant_alert_numbers::number,
        ))
        .load(conn)
        .await?;
    let service_rows: Vec<(Uuid, String, i32, Option<i64>)> = services::table
        .filter(services::tenant_id.eq_any(&ids))
        .order((services::tenant_id, services::position))
        .select((
            services::tenant_id,
            services::name,
            services::duration_minutes,
            services::value_cents,
        ))
        .load(conn)
        .await?;
    let weekly: Vec<HoursRow> = diesel::sql_query(
        "SELECT tenant_id, weekday::int4 AS slot, opens::text AS opens, closes::text AS closes \
         FROM weekly_hours WHERE tenant_id = ANY($1) ORDER BY tenant_id, weekday, opens",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .load(conn)
    .await?;
    #[derive(QueryableByName)]
    struct OverrideRow {
        #[diesel(sql_type = SqlUuid)]
        tenant_id: Uuid,
        #[diesel(sql_type = Int4)]
        position: i32,
        #[diesel(sql_type = diesel::sql_types::Date)]
        day: NaiveDate,
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        note: Option<String>,
    }
    let overrides: Vec<OverrideRow> = diesel::sql_query(
        "SELECT tenant_id, position, day, note FROM date_overrides WHERE tenant_id = ANY($1) \
         ORDER BY tenant_id, position",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .load(conn)
    .await?;
    let override_hours: Vec<HoursRow> = diesel::sql_query(
        "SELECT tenant_id, override_position AS slot, opens::text AS opens, closes::text AS closes \
         FROM date_override_hours WHERE tenant_id = ANY($1) ORDER BY tenant_id, override_position, opens",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .load(conn)
    .await?;

    let mut providers = load_providers(conn, &ids).await?;

    let mut ranges: HashMap<(Uuid, i32), Vec<OpenRange>> = HashMap::new();
    let mut override_ranges: HashMap<(Uuid, i32), Vec<OpenRange>> = HashMap::new();
    for (rows, into) in [
        (&weekly, &mut ranges),
        (&override_hours, &mut override_ranges),
    ] {
        for h in rows {
            let range = OpenRange::new(time_from_db(&h.opens)?, time_from_db(&h.closes)?)
                .map_err(|e| corrupt("opening range", e))?;
            into.entry((h.tenant_id, h.slot)).or_default().push(range);
        }
    }

    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.id;
        let called_numbers = called
            .iter()
            .filter(|c| c.0 == id)
            .map(|(_, number, vapi)| {
                Ok(CalledNumber {
                    number: phone("called number", number)?,
                    vapi_phone_number_id: vapi
                        .as_deref()
                        .map(|v| {
                            VoiceLineId::parse(v).map_err(|e| corrupt("Vapi phone number id", e))
                        })
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let vapi_assistant_ids = assistants
            .iter()
            .filter(|a| a.tenant_id == id)
            .map(|a| {
                AssistantId::parse(&a.assistant_id).map_err(|e| corrupt("Vapi assistant id", e))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let alert_numbers = alerts
            .iter()
            .filter(|a| a.0 == id)
            .map(|(_, n)| phone("alert number", n))
            .collect::<Result<Vec<_>, _>>()?;
        let services = service_rows
            .iter()
            .filter(|s| s.0 == id)
            .map(|(_, name, duration, value)| {
                Ok(Service {
                    name: ServiceName::parse(name).map_err(|e| corrupt("service name", e))?,
                    duration: minutes("service duration", *duration)?,
                    value_cents: value
                        .map(|v| u32::try_from(v).map_err(|e| corrupt("service value", e)))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut weekly_hours = WeeklyHours::default();
        for day in 0..7i8 {
            if let Some(r) = ranges.remove(&(id, i32::from(day))) {
                let weekday =
                    Weekday::from_monday_zero_offset(day).map_err(|e| corrupt("weekday", e))?;
                weekly_hours.set(
                    weekday,
                    DayHours::new(r).map_err(|e| corrupt("opening hours", e))?,
                );
            }
        }
        let date_overrides = overrides
            .iter()
            .filter(|o| o.tenant_id == id)
            .map(|o| {
                let hours = override_ranges
                    .remove(&(id, o.position))
                    .unwrap_or_default();
                Ok(DateOverride {
                    date: from_date(o.day)?,
                    hours: DayHours::new(hours).map_err(|e| corrupt("override hours", e))?,
                    note: o.note.clone(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let rules = BookingRules {
            buffer_before: u32_of("buffer", row.buffer_before_minutes)?,
            buffer_after: u32_of("buffer", row.buffer_after_minutes)?,
            min_notice_minutes: u32_of("minimum notice", row.min_notice_minutes)?,
            slot_interval: minutes("slot interval", row.slot_interval_minutes)?,
            horizon_days: u32_of("horizon", row.horizon_days)?,
            link_notice_minutes: u32_of("link notice", row.link_notice_minutes)?,
        };
        let sms_health = health(&row)?;
        let config = TenantConfig {
            name: ClinicName::parse(&row.name).map_err(|e| corrupt("clinic name", e))?,
            zone: ClinicZone::parse(&row.time_zone).map_err(|e| corrupt("time zone", e))?,
            called_numbers,
            vapi_assistant_ids,
            alert_numbers,
            hot_lead_threshold: HotLeadThreshold::new(u32_of("threshold", row.hot_lead_threshold)?)
                .map_err(|e| corrupt("hot lead threshold", e))?,
            services,
            weekly_hours,
            date_overrides,
            rules,
            system_prompt: SystemPrompt::parse(&row.system_prompt)
                .map_err(|e| corrupt("system prompt", e))?,
            otp_allowed_countries: row
                .otp_allowed_countries
                .iter()
                .map(|c| Country::parse(c).map_err(|e| corrupt("code country", e)))
                .collect::<Result<_, _>>()?,
            providers: providers.remove(&id).unwrap_or_default(),
        };
        out.push(Tenant {
            id: TenantId::from_uuid(id),
            config,
            sms_health,
        });
    }
    Ok(out)
}

/// The providers of these tenants, in each tenant's order.
async fn load_providers(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Provider>>, Fail> {
    #[derive(QueryableByName)]
    struct ProviderRow {
        #[diesel(sql_type = SqlUuid)]
        tenant_id: Uuid,
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Nullable<Array<Text>>)]
        services: Option<Vec<String>>,
        #[diesel(sql_type = Nullable<Text>)]
        weekly_hours: Option<String>,
        #[diesel(sql_type = Text)]
        date_overrides: String,
        #[diesel(sql_type = Nullable<Int4>)]
        max_per_day: Option<i32>,
        #[diesel(sql_type = Nullable<Int4>)]
        max_per_week: Option<i32>,
        #[diesel(sql_type = Bool)]
        retired: bool,
    }
    let rows: Vec<ProviderRow> = diesel::sql_query(
        "SELECT tenant_id, id, name, services, weekly_hours::text AS weekly_hours, \
         date_overrides::text AS date_overrides, max_per_day, max_per_week, retired \
         FROM providers WHERE tenant_id = ANY($1) ORDER BY tenant_id, position",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)
    .await?;
    let cap = |what: &'static str, v: Option<i32>| -> Result<Option<BookingCap>, StoreError> {
        v.map(|v| BookingCap::new(what, u32_of(what, v)?).map_err(|e| corrupt(what, e)))
            .transpose()
    };
    let mut out: HashMap<Uuid, Vec<Provider>> = HashMap::new();
    for r in rows {
        let services = match r.services {
            None => ProviderServices::Every,
            Some(names) => ProviderServices::Only(
                names
                    .iter()
                    .map(|n| ServiceName::parse(n).map_err(|e| corrupt("provider service", e)))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let provider = Provider {
            id: CalendarId::from_uuid(r.id),
            name: ProviderName::parse(&r.name).map_err(|e| corrupt("provider name", e))?,
            services,
            weekly_hours: r
                .weekly_hours
                .map(|w| serde_json::from_str(&w).map_err(|e| corrupt("provider hours", e)))
                .transpose()?,
            date_overrides: serde_json::from_str(&r.date_overrides)
                .map_err(|e| corrupt("provider date overrides", e))?,
            max_per_day: cap("provider daily limit", r.max_per_day)?,
            max_per_week: cap("provider weekly limit", r.max_per_week)?,
            status: if r.retired {
                ProviderStatus::Retired
            } else {
                ProviderStatus::Active
            },
        };
        out.entry(r.tenant_id).or_default().push(provider);
    }
    Ok(out)
}

pub(super) async fn load_tenant(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<Tenant>, Fail> {
    Ok(load_tenants(conn, Some(&[id])).await?.pop())
}

fn countries_column(config: &TenantConfig) -> Vec<String> {
    config
        .otp_allowed_countries
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect()
}

fn rules_columns(r: &BookingRules) -> Result<[i32; 6], StoreError> {
    Ok([
        i32_of("buffer", r.buffer_before)?,
        i32_of("buffer", r.buffer_after)?,
        i32_of("minimum notice", r.min_notice_minutes)?,
        i32_of("slot interval", r.slot_interval.get())?,
        i32_of("horizon", r.horizon_days)?,
        i32_of("link notice", r.link_notice_minutes)?,
    ])
}

#[async_trait]
impl TenantStore for PgStore {
    async fn create_tenant(
        &self,
        id: TenantId,
        config: &TenantConfig,
        sms: Option<&SmsAccount>,
    ) -> StoreResult<Tenant> {
        let uid = *id.as_uuid();
        let [before, after, notice, interval, horizon, link_notice] = rules_columns(&config.rules)?;
        let health = if sms.is_some() {
            "ok"
        } else {
            "not_configured"
        };
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                let now: DateTime<Utc> = Utc::now();
                diesel::insert_into(tenants::table)
                    .values((
                        tenants::id.eq(uid),
                        tenants::name.eq(config.name.as_str()),
                        tenants::time_zone.eq(config.zone.name()),
                        tenants::hot_lead_threshold.eq(config.hot_lead_threshold.get() as i32),
                        tenants::buffer_before_minutes.eq(before),
                        tenants::buffer_after_minutes.eq(after),
                        tenants::min_notice_minutes.eq(notice),
                        tenants::slot_interval_minutes.eq(interval),
                        tenants::horizon_days.eq(horizon),
                        tenants::link_notice_minutes.eq(link_notice),
                        tenants::system_prompt.eq(config.system_prompt.as_str()),
                        tenants::otp_allowed_countries.eq(countries_column(config)),
                        tenants::sms_health.eq(health),
                        tenants::created_at.eq(now),
                        tenants::updated_at.eq(now),
                    ))
                    .execute(conn)
                    .await?;
                write_children(conn, uid, config).await?;
                if let Some(account) = sms {
                    self.write_sms_account(conn, uid, account).await?;
                }
                Self::check_alert_numbers(conn, uid).await?;
                load_tenant(conn, uid).await?.ok_or_else(|| {
                    Fail::Store(StoreError::Internal("the new tenant vanished".into()))
                })
            })
            .await
        })
        .await
    }

    async fn update_tenant(
        &self,
        id: TenantId,
        config: &TenantConfig,
        sms: SmsAccountChange,
    ) -> StoreResult<Tenant> {
        let uid = *id.as_uuid();
        let [before, after, notice, interval, horizon, link_notice] = rules_columns(&config.rules)?;
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                let updated = diesel::update(tenants::table.find(uid))
                    .set((
                        tenants::name.eq(config.name.as_str()),
                        tenants::time_zone.eq(config.zone.name()),
                        tenants::hot_lead_threshold.eq(config.hot_lead_threshold.get() as i32),
                        tenants::buffer_before_minutes.eq(before),
                        tenants::buffer_after_minutes.eq(after),
                        tenants::min_notice_minutes.eq(notice),
                        tenants::slot_interval_minutes.eq(interval),
                        tenants::horizon_days.eq(horizon),
                        tenants::link_notice_minutes.eq(link_notice),
                        tenants::system_prompt.eq(config.system_prompt.as_str()),
                        tenants::otp_allowed_countries.eq(countries_column(config)),
                        tenants::updated_at.eq(Utc::now()),
                    ))
                    .execute(conn)
                    .await?;
                if updated == 0 {
                    return Err(StoreError::NotFound.into());
                }
                write_children(conn, uid, config).await?;
                let health = match &sms {
                    SmsAccountChange::Keep => None,
                    SmsAccountChange::Set(account) => {
                        self.write_sms_account(conn, uid, account).await?;
                        Some("ok")
                    }
                    SmsAccountChange::Clear => {
                        diesel::delete(cred::table.find(uid)).execute(conn).await?;
                        Some("not_configured")
                    }
                };
                Self::check_alert_numbers(conn, uid).await?;
                if let Some(h) = health {
                    diesel::update(tenants::table.find(uid))
                        .set((
                            tenants::sms_health.eq(h),
                            tenants::sms_health_code.eq(None::<i32>),
                            tenants::sms_health_message.eq(None::<String>),
                        ))
                        .execute(conn)
                        .await?;
                }
                load_tenant(conn, uid)
                    .await?
                    .ok_or_else(|| Fail::Store(StoreError::NotFound))
            })
            .await
        })
        .await
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        self.tenant_where_id(Some(*id.as_uuid())).await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.run(async {
            let mut conn = self.conn().await?;
            load_tenants(&mut conn, None).await
        })
        .await
    }

    async fn tenant_by_called_number(&self, number: &PhoneNumber) -> StoreResult<Option<Tenant>> {
        let id = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(tenant_called_numbers::table
                    .filter(tenant_called_numbers::number.eq(number.as_str()))
                    .select(tenant_called_numbers::tenant_id)
                    .first::<Uuid>(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        self.tenant_where_id(id).await
    }

    async fn tenant_by_voice_line_id(&self, id: &VoiceLineId) -> StoreResult<Option<Tenant>> {
        let tenant = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(tenant_called_numbers::table
                    .filter(tenant_called_numbers::vapi_phone_number_id.eq(id.as_str()))
                    .select(tenant_called_numbers::tenant_id)
                    .first::<Uuid>(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        self.tenant_where_id(tenant).await
    }

    async fn tenant_by_assistant_id(&self, id: &AssistantId) -> StoreResult<Option<Tenant>> {
        #[derive(QueryableByName)]
        struct Owner {
            #[diesel(sql_type = SqlUuid)]
            tenant_id: Uuid,
        }
        let tenant = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(diesel::sql_query(
                    "SELECT tenant_id FROM tenant_vapi_assistants WHERE assistant_id = $1",
                )
                .bind::<Text, _>(id.as_str())
                .get_result::<Owner>(&mut conn)
                .await
                .optional()?
                .map(|o| o.tenant_id))
            })
            .await?;
        self.tenant_where_id(tenant).await
    }

    async fn tenant_by_sms_number(&self, number: &PhoneNumber) -> StoreResult<Option<Tenant>> {
        self.tenant_by_route(
            "kind IN ('sender_number', 'service_number')",
            number.as_str(),
        )
        .await
    }

    async fn tenant_by_messaging_service(&self, sid: &str) -> StoreResult<Option<Tenant>> {
        self.tenant_by_route("kind = 'messaging_service'", sid)
            .await
    }

    async fn is_clinic_texting_number(&self, number: &PhoneNumber) -> StoreResult<bool> {
        let id = self
            .route_owner(
                "kind IN ('sender_number', 'service_number')",
                number.as_str(),
            )
            .await?;
        Ok(id.is_some())
    }

    async fn sms_account(&self, id: TenantId) -> StoreResult<Option<SmsAccount>> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            Vec<u8>,
            Vec<u8>,
            String,
        );
        let row: Option<Row> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(cred::table
                    .find(id.as_uuid())
                    .select((
                        cred::account_sid,
                        cred::api_key_sid,
                        cred::sender_number,
                        cred::messaging_service_sid,
                        cred::key_id,
                        cred::nonce,
                        cred::ciphertext,
                        cred::keyword_replies,
                    ))
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        let Some((
            account_sid,
            api_key_sid,
            sender_number,
            messaging_service_sid,
            key_id,
            nonce,
            ciphertext,
            keyword_replies,
        )) = row
        else {
            return Ok(None);
        };
        let keyword_replies =
            KeywordReplies::parse(&keyword_replies).map_err(|e| corrupt("keyword replies", e))?;
        let identity = RowIdentity {
            tenant: id,
            account_sid: &account_sid,
            api_key_sid: api_key_sid.as_deref(),
        };
        let (auth_token, api_secret) =
            open_secrets(self.keys(), &identity, &key_id, &nonce, &ciphertext)?;
        let api_key = match (api_key_sid.clone(), api_secret) {
            (Some(sid), Some(secret)) => Some((sid, secret)),
            (None, None) => None,
            _ => {
                return Err(corrupt(
                    "SMS credentials",
                    "have an API key without its secret or the reverse",
                ));
            }
        };
        let sender = match (sender_number, messaging_service_sid) {
            (Some(n), None) => SmsSender::From(phone("SMS sender", &n)?),
            (None, Some(sid)) => {
                #[derive(QueryableByName)]
                struct Route {
                    #[diesel(sql_type = Text)]
                    value: String,
                }
                let routes: Vec<Route> = self
                    .run(async {
                        let mut conn = self.conn().await?;
                        Ok(diesel::sql_query(
                            "SELECT value FROM tenant_sms_routes \
                             WHERE tenant_id = $1 AND kind = 'service_number' ORDER BY value",
                        )
                        .bind::<SqlUuid, _>(*id.as_uuid())
                        .load(&mut conn)
                        .await?)
                    })
                    .await?;
                let numbers = routes
                    .iter()
                    .map(|r| phone("Messaging Service number", &r.value))
                    .collect::<Result<Vec<_>, _>>()?;
                SmsSender::MessagingService { sid, numbers }
            }
            _ => return Err(corrupt("SMS credentials", "have no single sender")),
        };
        Ok(Some(SmsAccount {
            account_sid,
            auth_token,
            api_key,
            sender,
            keyword_replies,
        }))
    }

    async fn tenants_by_account_sid(&self, account_sid: &str) -> StoreResult<Vec<TenantId>> {
        self.run(async {
            let mut conn = self.conn().await?;
            let ids: Vec<Uuid> = cred::table
                .filter(cred::account_sid.eq(account_sid))
                .order(cred::tenant_id)
                .select(cred::tenant_id)
                .load(&mut conn)
                .await?;
            Ok(ids.into_iter().map(TenantId::from_uuid).collect())
        })
        .await
    }

    async fn set_sms_health(&self, id: TenantId, health: &SmsHealth) -> StoreResult<()> {
        let (state, code, message) = health_columns(health)?;
        self.run(async {
            let mut conn = self.conn().await?;
            let n = diesel::update(tenants::table.find(id.as_uuid()))
                .set((
                    tenants::sms_health.eq(state),
                    tenants::sms_health_code.eq(code),
                    tenants::sms_health_message.eq(&message),
                    tenants::updated_at.eq(Utc::now()),
                ))
                .execute(&mut conn)
                .await?;
            if n == 0 {
                return Err(StoreError::NotFound.into());
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_the_day_crosses_as_24_00() {
        assert_eq!(time_to_db(Time::MAX), "24:00:00");
        assert_eq!(time_from_db("24:00:00").unwrap(), Time::MAX);
        let nine = jiff::civil::time(9, 30, 0, 0);
        assert_eq!(time_from_db(&time_to_db(nine)).unwrap(), nine);
        assert_eq!(time_from_db("09:30:00").unwrap(), nine);
    }
}
