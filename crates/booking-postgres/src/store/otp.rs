//! One-time codes on PostgreSQL: a challenge stored with its text under the send limits, and
//! each check counted before the code is compared.

use async_trait::async_trait;
use booking_core::otp::{
    Challenge, CheckClaim, NewChallenge, OtpPolicy, SendCounts, SendRefused, SendTurn,
};
use booking_core::outbox::NewMessage;
use booking_core::ports::{OtpStore, StoreError, StoreResult};
use booking_core::{BookingId, CallId, PhoneNumber, TenantId};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jiff::Timestamp;
use uuid::Uuid;

use super::PgStore;
use super::outbox::{MessageColumns, check_messages};
use super::rows::ChallengeRow;
use crate::convert::{from_ts, ts};
use crate::error::Fail;
use crate::fixed::{Bind, Fixed};
use crate::schema::otp_challenges as ch;

/// The class of the advisory locks that serialise the code sends of a tenant (`otp_`), so that
/// the counts a send is checked against cannot change until it is stored.
const OTP_SEND_LOCK_CLASS: i32 = 0x6f74_705f;

/// The counts of the send limits: to `phone` and by the tenant since `since`, in `call` ever,
/// and whether `call` already texted `phone`.
async fn send_counts_in(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    phone: &PhoneNumber,
    call: Option<&CallId>,
    since: Timestamp,
) -> Result<(SendCounts, bool), Fail> {
    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        to_number: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        by_tenant: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        in_call: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        distinct_in_call: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        to_number_in_call: i64,
    }
    let c: Counts = Fixed::new(
        "SELECT recent.to_number, recent.by_tenant, in_call.n AS in_call, in_call.distinct_numbers AS distinct_in_call,
                in_call.to_number AS to_number_in_call
         FROM (SELECT count(*) FILTER (WHERE phone = ?) AS to_number, count(*) AS by_tenant
               FROM otp_challenges WHERE tenant_id = ? AND created_at >= ?) AS recent,
              (SELECT count(*) AS n, count(DISTINCT phone) AS distinct_numbers,
                      count(*) FILTER (WHERE phone = ?) AS to_number
               FROM otp_challenges WHERE tenant_id = ? AND ?::text IS NOT NULL AND call_id = ?) AS in_call",
        [
            Bind::Text(phone.as_str()),
            Bind::Uuid(tenant),
            Bind::Timestamp(ts(since)),
            Bind::Text(phone.as_str()),
            Bind::Uuid(tenant),
            Bind::OptionalText(call.map(CallId::as_str)),
            Bind::OptionalText(call.map(CallId::as_str)),
        ],
    )
    .get_result(conn)
    .await?;
    let n = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    Ok((
        SendCounts {
            to_number: n(c.to_number),
            in_call: n(c.in_call),
            distinct_numbers_in_call: n(c.distinct_in_call),
            by_tenant: n(c.by_tenant),
        },
        c.to_number_in_call > 0,
    ))
}

/// What `otp_send_turn_and_opt_out` returns: the booking's caller number, the counts of the send
/// limits over the per-number and the per-tenant windows, and whether the number opted out.
#[derive(QueryableByName)]
struct TurnRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    caller_phone: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    number_to_number: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    number_by_tenant: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    tenant_to_number: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    tenant_by_tenant: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    in_call: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    distinct_in_call: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    to_number_in_call: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    opted_out: bool,
}

impl TurnRow {
    /// What the send is decided on, for a code to `to`.
    fn turn(&self, to: &PhoneNumber) -> SendTurn {
        let (number_counts, tenant_counts) = self.counts();
        SendTurn {
            number_counts,
            tenant_counts,
            number_known_in_call: self.to_number_in_call > 0 || self.caller_phone == to.as_str(),
            opted_out: self.opted_out,
        }
    }

    /// The counts over the per-number window and over the per-tenant window.
    fn counts(&self) -> (SendCounts, SendCounts) {
        let n = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        let over = |to_number, by_tenant| SendCounts {
            to_number: n(to_number),
            in_call: n(self.in_call),
            distinct_numbers_in_call: n(self.distinct_in_call),
            by_tenant: n(by_tenant),
        };
        (
            over(self.number_to_number, self.number_by_tenant),
            over(self.tenant_to_number, self.tenant_by_tenant),
        )
    }
}

#[async_trait]
impl OtpStore for PgStore {
    async fn create_challenge(
        &self,
        challenge: &NewChallenge,
        message: &NewMessage,
        policy: &OtpPolicy,
    ) -> StoreResult<Result<Challenge, SendRefused>> {
        check_messages(challenge.tenant, std::slice::from_ref(message))?;
        let (t, bid) = (*challenge.tenant.as_uuid(), *challenge.booking.as_uuid());
        let columns = MessageColumns::of(std::slice::from_ref(message));
        let (to, call, now) = (
            &challenge.phone,
            challenge.call_id.as_ref(),
            challenge.created_at,
        );
        let row = self
            .run(async {
                let mut conn = self.conn().await?;
                conn.transaction::<_, Fail, _>(async |conn| {
                    // The tenant's sends take turns from here to the commit, and the booking is
                    // locked: the counts cannot change before this code is stored (or refused).
                    // See the migrations `otp_send_turn` and `otp_send_turn_opt_out`.
                    let turn: Option<TurnRow> = Fixed::new(
                        "SELECT * FROM otp_send_turn_and_opt_out(?, ?, ?, ?, ?, ?, ?)",
                        [
                            Bind::Int(OTP_SEND_LOCK_CLASS),
                            Bind::Uuid(t),
                            Bind::Uuid(bid),
                            Bind::Text(to.as_str()),
                            Bind::OptionalText(call.map(CallId::as_str)),
                            Bind::Timestamp(ts(now - policy.per_number.window)),
                            Bind::Timestamp(ts(now - policy.per_tenant.window)),
                        ],
                    )
                    .get_result(conn)
                    .await
                    .optional()?;
                    let turn = turn.ok_or(Fail::Store(StoreError::NotFound))?;
                    if let Err(why) = policy.decide_send(&turn.turn(to)) {
                        return Ok(Err(why));
                    }
                    // The booking's live codes superseded, this one stored and its text queued:
                    // one statement (the update does not see the row the insert makes).
                    let row: ChallengeRow = Fixed::new(
                        "WITH superseded AS ( \
                             UPDATE otp_challenges SET superseded_at = ? \
                             WHERE tenant_id = ? AND booking_id = ? \
                               AND consumed_at IS NULL AND superseded_at IS NULL), \
                         text AS ( \
                             INSERT INTO outbound_messages (tenant_id, id, kind, dedupe_key, \
                                 to_number, body, status, due_at, booking_id, call_id, \
                                 created_at, updated_at) \
                             SELECT ?, m.id, m.kind, m.dedupe_key, m.to_number, m.body, \
                                 'pending', m.due_at, m.booking_id, m.call_id, m.created_at, \
                                 m.created_at \
                             FROM unnest(?, ?, ?, ?, ?, ?, ?, ?, ?) AS m(id, kind, \
                                 dedupe_key, to_number, body, due_at, booking_id, call_id, \
                                 created_at) \
                             ON CONFLICT (tenant_id, dedupe_key) DO NOTHING) \
                         INSERT INTO otp_challenges (tenant_id, id, booking_id, call_id, phone, \
                             code_hash, created_at, expires_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                         RETURNING tenant_id, id, booking_id, call_id, phone, code_hash, \
                             created_at, expires_at, failed_checks, consumed_at, superseded_at",
                        [
                            Bind::Timestamp(ts(challenge.created_at)),
                            Bind::Uuid(t),
                            Bind::Uuid(bid),
                            Bind::Uuid(t),
                        ]
                        .into_iter()
                        .chain(columns.binds())
                        .chain([
                            Bind::Uuid(t),
                            Bind::Uuid(*challenge.id.as_uuid()),
                            Bind::Uuid(bid),
                            Bind::OptionalText(challenge.call_id.as_ref().map(CallId::as_str)),
                            Bind::Text(challenge.phone.as_str()),
                            Bind::Bytes(challenge.code_hash.0.as_slice()),
                            Bind::Timestamp(ts(challenge.created_at)),
                            Bind::Timestamp(ts(challenge.expires_at)),
                        ]),
                    )
                    .get_result(conn)
                    .await?;
                    Ok(Ok(row))
                })
                .await
            })
            .await?;
        match row {
            Ok(row) => row.into_domain().map(Ok),
            Err(limit) => Ok(Err(limit)),
        }
    }

    async fn active_challenge(
        &self,
        tenant: TenantId,
        booking: BookingId,
    ) -> StoreResult<Option<Challenge>> {
        let row = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(ch::table
                    .filter(ch::tenant_id.eq(tenant.as_uuid()))
                    .filter(ch::booking_id.eq(booking.as_uuid()))
                    .filter(ch::consumed_at.is_null())
                    .filter(ch::superseded_at.is_null())
                    .order((ch::created_at.desc(), ch::seq))
                    .select(ChallengeRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        row.map(ChallengeRow::into_domain).transpose()
    }

    async fn begin_check(
        &self,
        tenant: TenantId,
        booking: BookingId,
        now: Timestamp,
        max_checks: u32,
    ) -> StoreResult<CheckClaim> {
        let max = crate::convert::i32_of("max checks", max_checks)?;
        let (t, bid) = (*tenant.as_uuid(), *booking.as_uuid());
        let claim = self
            .run(async {
                let mut conn = self.conn().await?;
                // A newer code sent between the choice of the row and the update makes the
                // update count nothing: the check is then made against that code (once more).
                let mut tries = 0;
                loop {
                    tries += 1;
                    // One statement: the count and the limit are decided by the row as it is
                    // when the update takes it, whatever else runs at once. A code superseded
                    // or consumed between the choice of the row and the update fails the
                    // re-check of the WHERE clause on its new version and is not counted.
                    let counted: Option<ChallengeRow> = Fixed::new(
                        "UPDATE otp_challenges SET failed_checks = failed_checks + 1 \
                         WHERE (tenant_id, id) = ( \
                             SELECT tenant_id, id FROM otp_challenges \
                             WHERE tenant_id = ? AND booking_id = ? \
                               AND consumed_at IS NULL AND superseded_at IS NULL \
                             ORDER BY created_at DESC, seq LIMIT 1) \
                           AND consumed_at IS NULL AND superseded_at IS NULL \
                           AND expires_at > ? AND failed_checks < ? \
                         RETURNING tenant_id, id, booking_id, call_id, phone, code_hash, \
                             created_at, expires_at, failed_checks, consumed_at, superseded_at",
                        [
                            Bind::Uuid(t),
                            Bind::Uuid(bid),
                            Bind::Timestamp(ts(now)),
                            Bind::Int(max),
                        ],
                    )
                    .get_result(&mut conn)
                    .await
                    .optional()?;
                    if let Some(row) = counted {
                        return Ok(Ok(row));
                    }
                    // Not counted: say why, from the live code as it is now.
                    let live: Option<(chrono::DateTime<chrono::Utc>, i32)> = ch::table
                        .filter(ch::tenant_id.eq(t))
                        .filter(ch::booking_id.eq(bid))
                        .filter(ch::consumed_at.is_null())
                        .filter(ch::superseded_at.is_null())
                        .order((ch::created_at.desc(), ch::seq))
                        .select((ch::expires_at, ch::failed_checks))
                        .first(&mut conn)
                        .await
                        .optional()?;
                    let checkable = |(expires, checks): &(chrono::DateTime<chrono::Utc>, i32)| {
                        *expires > ts(now) && *checks < max
                    };
                    match live {
                        Some(l) if checkable(&l) && tries < 3 => continue,
                        other => return Ok(Err(other)),
                    }
                }
            })
            .await?;
        Ok(match claim {
            Ok(row) => CheckClaim::Counted(Box::new(row.into_domain()?)),
            Err(Some((expires, _))) if from_ts(expires)? <= now => CheckClaim::Expired,
            Err(Some((_, checks))) if checks >= max => CheckClaim::Exhausted,
            Err(_) => CheckClaim::Gone,
        })
    }

    async fn send_counts(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        call: Option<&CallId>,
        since: Timestamp,
    ) -> StoreResult<SendCounts> {
        let (counts, _) = self
            .run(async {
                let mut conn = self.conn().await?;
                send_counts_in(&mut conn, *tenant.as_uuid(), phone, call, since).await
            })
            .await?;
        Ok(counts)
    }
}
