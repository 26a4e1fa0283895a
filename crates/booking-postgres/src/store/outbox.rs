//! The outbox (every text a row first) and contacts' opt-outs.
//!
//! Workers claim due rows with `FOR UPDATE SKIP LOCKED`, so several api instances share the
//! work without ever taking the same row; a claim is a lease (`lease_until`) with a fresh
//! token, and an outcome is recorded only under the token of the current claim.

use async_trait::async_trait;
use booking_core::outbox::{
    ClaimedMessage, DedupeKey, DeliveryUpdate, MessageKind, MessageStatus, NewMessage,
    OutboundMessage, StatusApplied,
};
use booking_core::ports::Texting;
use booking_core::ports::{
    ContactStore, InboundCount, InboundCounter, InboundPurpose, OutboxStore, SENT_CODE_BODY,
    StoreError, StoreResult,
};
use booking_core::{CallId, MessageId, PhoneNumber, TenantId};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jiff::Timestamp;
use uuid::Uuid;

use super::PgStore;
use super::rows::{MessageRow, message_status};
use crate::convert::{i32_of, ts};
use crate::error::Fail;
use crate::fixed::{Bind, Fixed};
use crate::schema::{contacts, outbound_messages as m};

/// Messages queued by a unit of work must belong to the tenant it works for.
pub(super) fn check_messages(tenant: TenantId, messages: &[NewMessage]) -> StoreResult<()> {
    if messages.iter().any(|msg| msg.tenant != tenant) {
        return Err(StoreError::Internal("a message for another tenant".into()));
    }
    Ok(())
}

/// Messages as one array per column, one element per message, for a server-side function
/// that queues them with `unnest` (see the migration `confirm_hold`).
pub(super) struct MessageColumns<'a> {
    pub ids: Vec<Uuid>,
    pub kinds: Vec<&'a str>,
    pub keys: Vec<&'a str>,
    pub to: Vec<&'a str>,
    pub bodies: Vec<&'a str>,
    pub due: Vec<chrono::DateTime<chrono::Utc>>,
    pub bookings: Vec<Option<Uuid>>,
    pub calls: Vec<Option<&'a str>>,
    pub created: Vec<chrono::DateTime<chrono::Utc>>,
}

impl<'a> MessageColumns<'a> {
    pub(super) fn of(messages: &'a [NewMessage]) -> Self {
        Self {
            ids: messages.iter().map(|m| *m.id.as_uuid()).collect(),
            kinds: messages.iter().map(|m| m.kind.as_str()).collect(),
            keys: messages.iter().map(|m| m.dedupe_key.as_str()).collect(),
            to: messages.iter().map(|m| m.to.as_str()).collect(),
            bodies: messages.iter().map(|m| m.body.as_str()).collect(),
            due: messages.iter().map(|m| ts(m.due_at)).collect(),
            bookings: messages
                .iter()
                .map(|m| m.booking.map(|b| *b.as_uuid()))
                .collect(),
            calls: messages
                .iter()
                .map(|m| m.call_id.as_ref().map(CallId::as_str))
                .collect(),
            created: messages.iter().map(|m| ts(m.created_at)).collect(),
        }
    }

    /// The binds, in the order the function takes them.
    pub(super) fn binds(&'a self) -> [Bind<'a>; 9] {
        [
            Bind::Uuids(&self.ids),
            Bind::Texts(&self.kinds),
            Bind::Texts(&self.keys),
            Bind::Texts(&self.to),
            Bind::Texts(&self.bodies),
            Bind::Timestamps(&self.due),
            Bind::OptionalUuids(&self.bookings),
            Bind::OptionalTexts(&self.calls),
            Bind::Timestamps(&self.created),
        ]
    }
}

/// Queues messages inside the caller's transaction, in one statement; a dedupe key the tenant
/// already has is skipped. Returns how many were new.
pub(super) async fn enqueue_in(
    conn: &mut AsyncPgConnection,
    messages: &[NewMessage],
) -> Result<u32, Fail> {
    if messages.is_empty() {
        return Ok(0);
    }
    let rows: Vec<_> = messages
        .iter()
        .map(|msg| {
            (
                m::tenant_id.eq(msg.tenant.as_uuid()),
                m::id.eq(msg.id.as_uuid()),
                m::kind.eq(msg.kind.as_str()),
                m::dedupe_key.eq(msg.dedupe_key.as_str()),
                m::to_number.eq(msg.to.as_str()),
                m::body.eq(&msg.body),
                m::status.eq(MessageStatus::Pending.as_str()),
                m::due_at.eq(ts(msg.due_at)),
                m::booking_id.eq(msg.booking.map(|b| *b.as_uuid())),
                m::call_id.eq(msg.call_id.as_ref().map(CallId::as_str)),
                m::created_at.eq(ts(msg.created_at)),
                m::updated_at.eq(ts(msg.created_at)),
            )
        })
        .collect();
    let inserted = diesel::insert_into(m::table)
        .values(rows)
        .on_conflict((m::tenant_id, m::dedupe_key))
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted as u32)
}

/// Withdraws the tenant's pending messages with these keys.
pub(super) async fn withdraw_in(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    keys: &[DedupeKey],
    now: Timestamp,
) -> Result<(), Fail> {
    if keys.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = keys.iter().map(DedupeKey::as_str).collect();
    diesel::update(
        m::table
            .filter(m::tenant_id.eq(tenant))
            .filter(m::status.eq(MessageStatus::Pending.as_str()))
            .filter(m::dedupe_key.eq_any(keys)),
    )
    .set((
        m::status.eq(MessageStatus::Withdrawn.as_str()),
        m::updated_at.eq(ts(now)),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn enqueue(&self, messages: &[NewMessage]) -> StoreResult<u32> {
        if messages.is_empty() {
            return Ok(0);
        }
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| enqueue_in(conn, messages).await)
                .await
        })
        .await
    }

    async fn message_by_key(
        &self,
        tenant: TenantId,
        key: &DedupeKey,
    ) -> StoreResult<Option<OutboundMessage>> {
        let row = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(m::table
                    .filter(m::tenant_id.eq(tenant.as_uuid()))
                    .filter(m::dedupe_key.eq(key.as_str()))
                    .select(MessageRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        row.map(MessageRow::into_domain).transpose()
    }

    async fn message(
        &self,
        tenant: TenantId,
        id: MessageId,
    ) -> StoreResult<Option<OutboundMessage>> {
        let row = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(m::table
                    .find((tenant.as_uuid(), id.as_uuid()))
                    .select(MessageRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        row.map(MessageRow::into_domain).transpose()
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        worker: &str,
    ) -> StoreResult<Vec<ClaimedMessage>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i32_of("claim limit", limit)?;
        // Never a text of a clinic whose credentials are under a key this server does not hold:
        // it could not send it, and the claim would keep it from a server that can until its
        // lease ran out.
        let held_keys = self.keys().ids_csv();
        let mut rows: Vec<MessageRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                // The due and the lapsed, each down its own index in order and no further than
                // the limit; a row another worker holds is skipped, not waited for, and one
                // claimed and committed meanwhile fails the re-check of the WHERE clause on its
                // new version. A clinic's state is read per candidate row by primary key. See
                // the migrations `outbox_due_order` and `claim_due_messages` (planned once per
                // connection).
                Ok(Fixed::new(
                    "SELECT * FROM claim_due_messages(?, ?, ?, ?, ?)",
                    [
                        Bind::Timestamp(ts(now)),
                        Bind::Text(&held_keys),
                        Bind::Int(limit),
                        Bind::Text(worker),
                        Bind::Timestamp(ts(lease_until)),
                    ],
                )
                .load(&mut conn)
                .await?)
            })
            .await?;
        rows.sort_by_key(|r| (r.due_at, r.seq));
        rows.into_iter().map(MessageRow::into_claim).collect()
    }

    async fn record_delivery(
        &self,
        claim: &ClaimedMessage,
        update: &DeliveryUpdate,
        now: Timestamp,
    ) -> StoreResult<bool> {
        // One statement whatever the outcome: each outcome sets the columns it knows and keeps
        // the others (NULL binds below mean "leave as it is").
        let mut status = MessageStatus::Pending;
        let mut sid = None;
        let mut due = None;
        let mut code = None;
        let mut message = None;
        let mut attempted = 1;
        // Retry and Failed say what Twilio's code was, including none.
        let mut sets_code = false;
        // The code is kept only hashed: an OTP text's body goes once nothing needs it.
        let mut done_with_body = false;
        match update {
            DeliveryUpdate::Accepted { sid: s, status: st } => {
                status = if st.rank() >= MessageStatus::Queued.rank() {
                    *st
                } else {
                    MessageStatus::Queued
                };
                sid = Some(s.as_str());
                done_with_body = true;
            }
            DeliveryUpdate::Retry {
                next_attempt_at,
                error_code,
                error_message,
            } => {
                due = Some(ts(*next_attempt_at));
                code = error_code.map(|c| i32_of("error code", c)).transpose()?;
                sets_code = true;
                message = Some(error_message.as_str());
            }
            DeliveryUpdate::Ambiguous {
                next_attempt_at,
                error_message,
            } => {
                status = MessageStatus::Ambiguous;
                due = Some(ts(*next_attempt_at));
                message = Some(error_message.as_str());
            }
            DeliveryUpdate::Failed {
                error_code,
                error_message,
            } => {
                status = MessageStatus::Failed;
                code = error_code.map(|c| i32_of("error code", c)).transpose()?;
                sets_code = true;
                message = Some(error_message.as_str());
                done_with_body = true;
            }
            DeliveryUpdate::Suppressed { reason } => {
                status = MessageStatus::Suppressed;
                message = Some(reason.as_str());
                attempted = 0;
                done_with_body = true;
            }
            DeliveryUpdate::Deferred { until, reason } => {
                // A message that may already be at Twilio stays marked for reconciliation.
                if claim.needs_reconcile {
                    status = MessageStatus::Ambiguous;
                }
                due = Some(ts(*until));
                message = Some(reason.as_str());
                attempted = 0;
            }
        }
        let scrub = done_with_body && claim.message.kind == MessageKind::Otp;
        self.run(async {
            let mut conn = self.conn().await?;
            // The claim was committed durably before the send; an outcome lost to a crash of
            // PostgreSQL leaves the row `sending` under a lapsing lease, and the next claim
            // reconciles it with Twilio before anything is resent.
            let updated = Fixed::new(
                concat!(
                    no_flush_wait!(),
                    " UPDATE outbound_messages SET \
                       status = ?, \
                       twilio_sid = COALESCE(?, twilio_sid), \
                       due_at = COALESCE(?, due_at), \
                       error_code = CASE WHEN ? THEN ? ELSE error_code END, \
                       error_message = COALESCE(?, error_message), \
                       attempts = attempts + ?, \
                       body = CASE WHEN ? THEN ? ELSE body END, \
                       claim_token = NULL, claimed_by = NULL, lease_until = NULL, \
                       needs_reconcile = false, updated_at = ? \
                     FROM no_flush_wait \
                     WHERE tenant_id = ? AND id = ? AND status = 'sending' AND claim_token = ?"
                ),
                [
                    Bind::Text(status.as_str()),
                    Bind::OptionalText(sid),
                    Bind::OptionalTimestamp(due),
                    Bind::Bool(sets_code),
                    Bind::OptionalInt(code),
                    Bind::OptionalText(message),
                    Bind::Int(attempted),
                    Bind::Bool(scrub),
                    Bind::Text(SENT_CODE_BODY),
                    Bind::Timestamp(ts(now)),
                    Bind::Uuid(*claim.message.tenant.as_uuid()),
                    Bind::Uuid(*claim.message.id.as_uuid()),
                    Bind::Uuid(claim.claim_token),
                ],
            )
            .execute(&mut conn)
            .await?;
            if updated == 1
                && let Some(sid) = sid
            {
                // Status callbacks that came before this record of the sid.
                let t = *claim.message.tenant.as_uuid();
                conn.transaction::<_, Fail, _>(async |conn| {
                    lock_sid(conn, sid).await?;
                    #[derive(QueryableByName)]
                    struct Early {
                        #[diesel(sql_type = Text)]
                        status: String,
                        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Int4>)]
                        error_code: Option<i32>,
                    }
                    let early: Vec<Early> = diesel::sql_query(
                        "DELETE FROM early_status_callbacks WHERE tenant_id = $1 AND twilio_sid = $2 \
                         RETURNING status, error_code",
                    )
                    .bind::<diesel::sql_types::Uuid, _>(t)
                    .bind::<Text, _>(sid)
                    .load(conn)
                    .await?;
                    let mut early = early
                        .into_iter()
                        .map(|e| Ok((message_status(&e.status)?, e.error_code)))
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    early.sort_by_key(|(status, _)| status.rank());
                    for (status, code) in early {
                        apply_status_in(conn, t, sid, status, code, now).await?;
                    }
                    Ok(())
                })
                .await?;
            }
            Ok(updated == 1)
        })
        .await
    }

    async fn release_claims(&self, worker: &str, now: Timestamp) -> StoreResult<u32> {
        self.run(async {
            let mut conn = self.conn().await?;
            let n = diesel::sql_query(
                "UPDATE outbound_messages
                 SET status = CASE WHEN needs_reconcile THEN 'ambiguous' ELSE 'pending' END,
                     claim_token = NULL, claimed_by = NULL, lease_until = NULL, needs_reconcile = false,
                     updated_at = $2
                 WHERE status = 'sending' AND claimed_by = $1",
            )
            .bind::<Text, _>(worker)
            .bind::<Timestamptz, _>(ts(now))
            .execute(&mut conn)
            .await?;
            Ok(n as u32)
        })
        .await
    }

    async fn apply_status(
        &self,
        tenant: TenantId,
        sid: &str,
        status: MessageStatus,
        error_code: Option<u32>,
        at: Timestamp,
    ) -> StoreResult<StatusApplied> {
        let t = *tenant.as_uuid();
        let code = error_code.map(|c| i32_of("error code", c)).transpose()?;
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                lock_sid(conn, sid).await?;
                if let Some(applied) = apply_status_in(conn, t, sid, status, code, at).await? {
                    return Ok(applied);
                }
                // Not recorded yet: kept until it is (record_delivery applies it), for a day.
                diesel::sql_query(
                    "INSERT INTO early_status_callbacks (tenant_id, twilio_sid, status, error_code, received_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind::<diesel::sql_types::Uuid, _>(t)
                .bind::<Text, _>(sid)
                .bind::<Text, _>(status.as_str())
                .bind::<diesel::sql_types::Nullable<diesel::sql_types::Int4>, _>(code)
                .bind::<Timestamptz, _>(ts(at))
                .execute(conn)
                .await?;
                diesel::sql_query(
                    "DELETE FROM early_status_callbacks WHERE received_at < $1",
                )
                .bind::<Timestamptz, _>(ts(at - jiff::SignedDuration::from_hours(24)))
                .execute(conn)
                .await?;
                Ok(StatusApplied::Kept)
            })
            .await
        })
        .await
    }

    async fn last_message_to(
        &self,
        tenant: TenantId,
        to: &PhoneNumber,
        kind: MessageKind,
        key_prefix: &str,
        since: Timestamp,
    ) -> StoreResult<Option<OutboundMessage>> {
        let row: Option<MessageRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(m::table
                    .filter(m::tenant_id.eq(tenant.as_uuid()))
                    .filter(m::to_number.eq(to.as_str()))
                    .filter(m::kind.eq(kind.as_str()))
                    .filter(m::dedupe_key.like(format!("{}%", like_escape(key_prefix))))
                    .filter(m::created_at.ge(ts(since)))
                    .order((m::created_at.desc(), m::seq.desc()))
                    .select(MessageRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        row.map(MessageRow::into_domain).transpose()
    }

    async fn list_messages(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<OutboundMessage>> {
        let rows: Vec<MessageRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(m::table
                    .filter(m::tenant_id.eq(tenant.as_uuid()))
                    .order((m::created_at.desc(), m::seq.desc()))
                    .limit(i64::from(limit))
                    .select(MessageRow::as_select())
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.into_iter().map(MessageRow::into_domain).collect()
    }
}

/// `s` matched literally by LIKE (its default escape character is the backslash).
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Serialises what happens to one sid: a status callback that finds no message and the record
/// of that sid looking for kept callbacks cannot miss each other.
async fn lock_sid(conn: &mut AsyncPgConnection, sid: &str) -> Result<(), Fail> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended('twilio-sid:' || $1, 0))")
        .bind::<Text, _>(sid)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves the tenant's message with `sid` forward only; `None` when no message has the sid.
async fn apply_status_in(
    conn: &mut AsyncPgConnection,
    t: Uuid,
    sid: &str,
    status: MessageStatus,
    code: Option<i32>,
    at: Timestamp,
) -> Result<Option<StatusApplied>, Fail> {
    let found: Option<(Uuid, String, Option<i32>)> = m::table
        .filter(m::tenant_id.eq(t))
        .filter(m::twilio_sid.eq(sid))
        .select((m::id, m::status, m::error_code))
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let Some((id, current, current_code)) = found else {
        return Ok(None);
    };
    if !message_status(&current)?.may_advance_to(status) {
        return Ok(Some(StatusApplied::Ignored));
    }
    diesel::update(m::table.find((t, id)))
        .set((
            m::status.eq(status.as_str()),
            m::error_code.eq(code.or(current_code)),
            m::updated_at.eq(ts(at)),
        ))
        .execute(conn)
        .await?;
    Ok(Some(StatusApplied::Updated))
}

#[async_trait]
impl ContactStore for PgStore {
    async fn count_inbound_text(
        &self,
        tenant: TenantId,
        purpose: InboundPurpose,
        counter: InboundCounter<'_>,
        window: jiff::SignedDuration,
        now: Timestamp,
    ) -> StoreResult<InboundCount> {
        let sender = match counter {
            InboundCounter::Sender(p) => p.as_str(),
            InboundCounter::Clinic => "",
        };
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Int4)]
            count: i32,
            #[diesel(sql_type = Timestamptz)]
            window_started_at: chrono::DateTime<chrono::Utc>,
        }
        let row: Row = self
            .run(async {
                let mut conn = self.conn().await?;
                // One statement: concurrent texts queue on the row and each gets its own count.
                Ok(diesel::sql_query(
                    "INSERT INTO inbound_text_counts AS c (tenant_id, purpose, sender, window_started_at, count) \
                     VALUES ($1, $2, $3, $4, 1) \
                     ON CONFLICT (tenant_id, purpose, sender) DO UPDATE SET \
                       count = CASE WHEN c.window_started_at <= $5 THEN 1 ELSE c.count + 1 END, \
                       window_started_at = CASE WHEN c.window_started_at <= $5 THEN $4 ELSE c.window_started_at END \
                     RETURNING count, window_started_at",
                )
                .bind::<diesel::sql_types::Uuid, _>(*tenant.as_uuid())
                .bind::<Text, _>(purpose.as_str())
                .bind::<Text, _>(sender)
                .bind::<Timestamptz, _>(ts(now))
                .bind::<Timestamptz, _>(ts(now - window))
                .get_result(&mut conn)
                .await?)
            })
            .await?;
        Ok(InboundCount {
            count: u32::try_from(row.count).map_err(|e| StoreError::Internal(e.to_string()))?,
            window_started_at: crate::convert::from_ts(row.window_started_at)?,
        })
    }

    async fn is_opted_out(&self, tenant: TenantId, phone: &PhoneNumber) -> StoreResult<bool> {
        let at: Option<Option<chrono::DateTime<chrono::Utc>>> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(contacts::table
                    .find((tenant.as_uuid(), phone.as_str()))
                    .select(contacts::opted_out_at)
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        Ok(matches!(at, Some(Some(_))))
    }

    async fn set_texting(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        texting: Texting,
        at: Timestamp,
    ) -> StoreResult<()> {
        let opted_out_at = (texting == Texting::OptedOut).then(|| ts(at));
        self.run(async {
            let mut conn = self.conn().await?;
            diesel::insert_into(contacts::table)
                .values((
                    contacts::tenant_id.eq(tenant.as_uuid()),
                    contacts::phone.eq(phone.as_str()),
                    contacts::opted_out_at.eq(opted_out_at),
                    contacts::created_at.eq(ts(at)),
                    contacts::updated_at.eq(ts(at)),
                ))
                .on_conflict((contacts::tenant_id, contacts::phone))
                .do_update()
                .set((
                    contacts::opted_out_at.eq(opted_out_at),
                    contacts::updated_at.eq(ts(at)),
                ))
                .execute(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }
}
