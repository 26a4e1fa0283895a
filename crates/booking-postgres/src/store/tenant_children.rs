//! The rows a tenant's configuration owns besides its own (numbers, alert numbers, assistant
//! ids, services, weekly hours, date overrides), written whole on every save.

use booking_core::provider::ProviderServices;
use booking_core::tenant::TenantConfig;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Int2, Int4, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::tenants::time_to_db;
use crate::convert::{date, i32_of};
use crate::error::Fail;
use crate::schema::{services, tenant_alert_numbers, tenant_called_numbers};

/// Writes the configuration's child rows (called numbers, alert numbers, services, hours,
/// overrides) after deleting the old ones.
pub(super) async fn write_children(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    config: &TenantConfig,
) -> Result<(), Fail> {
    for table in [
        "providers",
        "date_overrides",
        "weekly_hours",
        "services",
        "tenant_alert_numbers",
        "tenant_called_numbers",
        "tenant_vapi_assistants",
    ] {
        // Table names come from the list above, never from input.
        diesel::sql_query(format!("DELETE FROM {table} WHERE tenant_id = $1"))
            .bind::<SqlUuid, _>(id)
            .execute(conn)
            .await?;
    }
    let called: Vec<_> = config
        .called_numbers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                tenant_called_numbers::tenant_id.eq(id),
                tenant_called_numbers::position.eq(i as i32),
                tenant_called_numbers::number.eq(c.number.as_str()),
                tenant_called_numbers::vapi_phone_number_id
                    .eq(c.vapi_phone_number_id.as_ref().map(|v| v.as_str())),
            )
        })
        .collect();
    if !called.is_empty() {
        diesel::insert_into(tenant_called_numbers::table)
            .values(called)
            .execute(conn)
            .await?;
    }
    for (position, assistant) in config.vapi_assistant_ids.iter().enumerate() {
        diesel::sql_query(
            "INSERT INTO tenant_vapi_assistants (tenant_id, position, assistant_id) \
             VALUES ($1, $2, $3)",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Int4, _>(position as i32)
        .bind::<Text, _>(assistant.as_str())
        .execute(conn)
        .await?;
    }
    let alerts: Vec<_> = config
        .alert_numbers
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                tenant_alert_numbers::tenant_id.eq(id),
                tenant_alert_numbers::position.eq(i as i32),
                tenant_alert_numbers::number.eq(n.as_str()),
            )
        })
        .collect();
    if !alerts.is_empty() {
        diesel::insert_into(tenant_alert_numbers::table)
            .values(alerts)
            .execute(conn)
            .await?;
    }
    let mut service_rows = Vec::with_capacity(config.services.len());
    for (i, s) in config.services.iter().enumerate() {
        service_rows.push((
            services::tenant_id.eq(id),
            services::position.eq(i as i32),
            services::name.eq(s.name.as_str()),
            services::duration_minutes.eq(i32_of("service duration", s.duration.get())?),
            services::value_cents.eq(s.value_cents.map(i64::from)),
        ));
    }
    if !service_rows.is_empty() {
        diesel::insert_into(services::table)
            .values(service_rows)
            .execute(conn)
            .await?;
    }
    for (day, hours) in config.weekly_hours.iter() {
        for r in hours.ranges() {
            diesel::sql_query("INSERT INTO weekly_hours (tenant_id, weekday, opens, closes) VALUES ($1, $2, $3::time, $4::time)")
                .bind::<SqlUuid, _>(id)
                .bind::<Int2, _>(i16::from(day.to_monday_zero_offset()))
                .bind::<Text, _>(time_to_db(r.start()))
                .bind::<Text, _>(time_to_db(r.end()))
                .execute(conn)
                .await?;
        }
    }
    for (i, o) in config.date_overrides.iter().enumerate() {
        diesel::sql_query(
            "INSERT INTO date_overrides (tenant_id, position, day, note) VALUES ($1, $2, $3, $4)",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Int4, _>(i as i32)
        .bind::<diesel::sql_types::Date, _>(date(o.date))
        .bind::<diesel::sql_types::Nullable<Text>, _>(o.note.as_deref())
        .execute(conn)
        .await?;
        for r in o.hours.ranges() {
            diesel::sql_query(
                "INSERT INTO date_override_hours (tenant_id, override_position, opens, closes) \
                 VALUES ($1, $2, $3::time, $4::time)",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<Int4, _>(i as i32)
            .bind::<Text, _>(time_to_db(r.start()))
            .bind::<Text, _>(time_to_db(r.end()))
            .execute(conn)
            .await?;
        }
    }
    for (position, p) in config.providers.iter().enumerate() {
        let services = match &p.services {
            ProviderServices::Every => None,
            ProviderServices::Only(names) => Some(
                names
                    .iter()
                    .map(|n| n.as_str().to_owned())
                    .collect::<Vec<_>>(),
            ),
        };
        diesel::sql_query(
            "INSERT INTO providers (tenant_id, id, position, name, services, weekly_hours, \
             date_overrides, max_per_day, max_per_week, retired) \
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10)",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(*p.id.as_uuid())
        .bind::<Int4, _>(position as i32)
        .bind::<Text, _>(p.name.as_str())
        .bind::<Nullable<Array<Text>>, _>(services)
        .bind::<Nullable<Text>, _>(p.weekly_hours.as_ref().map(to_json).transpose()?)
        .bind::<Text, _>(to_json(&p.date_overrides)?)
        .bind::<Nullable<Int4>, _>(
            p.max_per_day
                .map(|c| i32_of("provider daily limit", c.get()))
                .transpose()?,
        )
        .bind::<Nullable<Int4>, _>(
            p.max_per_week
                .map(|c| i32_of("provider weekly limit", c.get()))
                .transpose()?,
        )
        .bind::<Bool, _>(!p.is_active())
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// A provider's hours as the JSON the `providers` table keeps.
fn to_json<T: serde::Serialize>(v: &T) -> Result<String, Fail> {
    serde_json::to_string(v)
        .map_err(|e| Fail::Store(booking_core::ports::StoreError::Internal(e.to_string())))
}
