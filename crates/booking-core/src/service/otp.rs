//! `send_otp` and `verify_otp`: the code texted to the caller, and the booking it confirms.

use jiff::Timestamp;
use serde::Serialize;

use crate::booking::{Booking, BookingStatus};
use crate::ids::{BookingId, CallId, ChallengeId, TenantId};
use crate::messages;
use crate::otp::{Challenge, CheckClaim, NewChallenge, OtpAttempt, SendLimit};
use crate::outbox::{DedupeKey, MessageKind};
use crate::phone::PhoneNumber;
use crate::ports::StoreError;
use crate::service::{
    BookingService, CallContext, ServiceResult, SlotOffer, ToolResult, join_or, reminder_due,
    rfc3339,
};
use crate::tenant::{Tenant, TenantConfig};

/// What `send_otp` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SendOtpOutcome {
    Sent {
        hold_id: BookingId,
        /// "+*******7621"
        sent_to: String,
        #[serde(skip)]
        last_four: String,
        expires_at: String,
    },
    /// The hold is an appointment already: nothing to verify.
    AlreadyConfirmed {
        appointment_id: BookingId,
    },
    /// A send limit was reached.
    Limited {
        limit: SendLimit,
    },
    Refused {
        reason: String,
    },
}

impl ToolResult for SendOtpOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Sent { .. } | Self::AlreadyConfirmed { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Sent { last_four, .. } => format!(
                "I texted a code to the number ending in {last_four}. Ask the caller to read it out, then call verify_otp with it."
            ),
            Self::AlreadyConfirmed { .. } => "This appointment is already confirmed; no code is needed.".into(),
            Self::Limited { limit } => match limit {
                SendLimit::PerNumber => "Too many codes were sent to that number recently; ask the caller to wait ten minutes, or offer to take a message with capture_lead.".into(),
                SendLimit::PerCall => "No more codes can be sent during this call; offer to take a message with capture_lead so the clinic can confirm the booking.".into(),
                SendLimit::NumbersPerCall => "Codes have been sent to too many different numbers during this call; send it to a number already used, or take a message with capture_lead.".into(),
                SendLimit::PerTenant => "The clinic cannot send more codes right now; offer to take a message with capture_lead so the clinic can call back.".into(),
                SendLimit::PerTenantRepeat => "The clinic is sending many codes right now and this number already had one within the hour; ask the caller to use the code already texted, or offer to take a message with capture_lead so the clinic can call back.".into(),
            },
            Self::Refused { reason } => reason.clone(),
        }
    }
}

/// What `verify_otp` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum VerifyOutcome {
    Confirmed {
        appointment_id: BookingId,
        status: BookingStatus,
        start: String,
        spoken: String,
        service: String,
    },
    WrongCode {
        attempts_left: u32,
    },
    /// The code took too many wrong tries: a new one must be sent.
    TooManyAttempts,
    CodeExpired,
    /// No code is waiting for this hold.
    NoCode,
    Refused {
        reason: String,
    },
}

impl ToolResult for VerifyOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Confirmed { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Confirmed {
                spoken, service, ..
            } => format!(
                "The appointment for {service} on {spoken} is confirmed; a confirmation text is on its way."
            ),
            Self::WrongCode { attempts_left: 0 } => {
                "That code is wrong and it was the last try; call send_otp to text a new code."
                    .into()
            }
            Self::WrongCode { attempts_left } => format!(
                "That code is wrong; ask the caller to read it again ({attempts_left} {} left).",
                if *attempts_left == 1 { "try" } else { "tries" }
            ),
            Self::TooManyAttempts => {
                "That code had too many wrong tries; call send_otp to text a new code.".into()
            }
            Self::CodeExpired => "That code has expired; call send_otp to text a new one.".into(),
            Self::NoCode => "No code is waiting for this hold; call send_otp to text one.".into(),
            Self::Refused { reason } => reason.clone(),
        }
    }
}

impl BookingService {
    /// `send_otp(hold_id, phone?)`: texts a code for the hold, to the number it was made for
    /// unless the caller gives another.
    pub async fn send_otp(
        &self,
        ctx: &CallContext,
        hold_id: BookingId,
        phone: Option<PhoneNumber>,
    ) -> ServiceResult<SendOtpOutcome> {
        let tenant = &ctx.tenant;
        let cfg = &tenant.config;
        let now = self.clock.now();
        let refused = |reason: &str| SendOtpOutcome::Refused {
            reason: reason.into(),
        };
        let Some(hold) = self.callers_booking(ctx, hold_id).await? else {
            return Ok(refused(
                "I could not find that hold; use the hold_id that reserve_slot returned, or reserve the time again.",
            ));
        };
        match hold.effective_status(now) {
            BookingStatus::Held => {}
            BookingStatus::Confirmed => {
                return Ok(SendOtpOutcome::AlreadyConfirmed {
                    appointment_id: hold.id,
                });
            }
            _ => {
                return Ok(refused(
                    "That hold has run out; call reserve_slot again for the time the caller wants.",
                ));
            }
        }
        let to = phone.unwrap_or_else(|| hold.caller_phone.clone());
        let call = ctx.call_id.as_ref().or(hold.call_id.as_ref());
        match self.text_code(tenant, &hold, &to, call, now).await? {
            Ok(stored) => Ok(SendOtpOutcome::Sent {
                hold_id: hold.id,
                sent_to: to.masked(),
                last_four: to.last_four().to_owned(),
                expires_at: rfc3339(&cfg.zone, stored.expires_at),
            }),
            Err(refusal) => Ok(refusal),
        }
    }

    /// Texts a new code for `booking` to `to`: the clinic must be able to text, the number must
    /// not have opted out and must be in a country the clinic allows, and the send limits must
    /// allow it (the store decides them, under a lock, with the code's own insert). The refusal
    /// is a `send_otp` outcome (`Limited` or `Refused`).
    pub(super) async fn text_code(
        &self,
        tenant: &Tenant,
        booking: &Booking,
        to: &PhoneNumber,
        call: Option<&CallId>,
        now: Timestamp,
    ) -> ServiceResult<Result<Challenge, SendOtpOutcome>> {
        let cfg = &tenant.config;
        let refused = |reason: String| Ok(Err(SendOtpOutcome::Refused { reason }));
        if !matches!(tenant.sms_health, crate::tenant::SmsHealth::Ok) {
            return refused(
                "The clinic cannot send text messages right now, so this cannot be confirmed by code; offer to take a message with capture_lead so the clinic calls back.".into(),
            );
        }
        if !cfg.allows_code_to(to) {
            let countries: Vec<String> =
                cfg.code_countries().iter().map(|c| c.to_string()).collect();
            return refused(if countries.is_empty() {
                "The clinic does not text codes to that number; offer to take a message with capture_lead so the clinic calls back.".into()
            } else {
                format!(
                    "The clinic texts codes only to mobile numbers in {}; ask for a mobile number from there, or offer to take a message with capture_lead.",
                    join_or(&countries, "or")
                )
            });
        }
        if self.store.is_opted_out(tenant.id, to).await? {
            return refused(
                "That number has opted out of the clinic's texts (it replied STOP); ask for another mobile number, or the caller can text START to opt back in.".into(),
            );
        }
        let policy = &self.config.otp;
        let code = policy.generate_code(self.random.as_ref());
        let challenge_id = ChallengeId::from_random_bytes(self.random.bytes16());
        let challenge = NewChallenge {
            id: challenge_id,
            tenant: tenant.id,
            booking: booking.id,
            call_id: call.cloned(),
            phone: to.clone(),
            code_hash: self.hasher.hash(challenge_id, &code),
            created_at: now,
            expires_at: now + policy.validity,
        };
        let text = self.new_message(
            tenant.id,
            MessageKind::Otp,
            DedupeKey::otp(challenge_id),
            to,
            messages::otp_text(&cfg.name, code.as_str()),
            now,
            Some(booking.id),
            call,
            now,
        );
        Ok(self
            .store
            .create_challenge(&challenge, &text, policy)
            .await?
            .map_err(|limit| SendOtpOutcome::Limited { limit }))
    }

    /// Checks a code read back for the live code of `booking`. The check is counted by the store
    /// before the code is compared, so that no number of concurrent guesses gets more than
    /// `max_checks` comparisons. `Ok(challenge)` when it is right (the caller then consumes it
    /// with the change it proves); otherwise the refusal, as `verify_otp` words it.
    pub(super) async fn check_code(
        &self,
        tenant: TenantId,
        booking: BookingId,
        code: &OtpAttempt,
        now: Timestamp,
    ) -> ServiceResult<Result<Challenge, VerifyOutcome>> {
        let policy = &self.config.otp;
        let Some(challenge) = self.store.active_challenge(tenant, booking).await? else {
            return Ok(Err(VerifyOutcome::NoCode));
        };
        if challenge.failed_checks >= policy.max_checks {
            return Ok(Err(VerifyOutcome::TooManyAttempts));
        }
        if challenge.expires_at <= now {
            return Ok(Err(VerifyOutcome::CodeExpired));
        }
        let Some(code) = policy.code_of(code) else {
            // Not a code at all: no guess was made, so no try is used up.
            return Ok(Err(VerifyOutcome::Refused {
                reason: format!(
                    "The code has {} digits; ask the caller to read it again.",
                    policy.code_length.get()
                ),
            }));
        };
        let checks = match self
            .store
            .begin_check(tenant, challenge.id, now, policy.max_checks)
            .await?
        {
            CheckClaim::Counted { checks } => checks,
            CheckClaim::Exhausted => return Ok(Err(VerifyOutcome::TooManyAttempts)),
            CheckClaim::Expired => return Ok(Err(VerifyOutcome::CodeExpired)),
            CheckClaim::Gone => return Ok(Err(VerifyOutcome::NoCode)),
        };
        if self
            .hasher
            .verify(challenge.id, &code, &challenge.code_hash)
        {
            Ok(Ok(challenge))
        } else {
            Ok(Err(VerifyOutcome::WrongCode {
                attempts_left: policy.max_checks.saturating_sub(checks),
            }))
        }
    }

    fn confirmed(&self, cfg: &TenantConfig, b: &Booking) -> VerifyOutcome {
        let offer = SlotOffer::new(&cfg.zone, b.slot.start);
        VerifyOutcome::Confirmed {
            appointment_id: b.id,
            status: BookingStatus::Confirmed,
            start: offer.start,
            spoken: offer.spoken,
            service: b.service.to_string(),
        }
    }

    /// `verify_otp(hold_id, code)`: the right code confirms the hold and, in the same store call,
    /// queues the confirmation (due now) and the reminder (see [`reminder_due`]), both to the
    /// number that proved it. Asking again for a confirmed appointment answers the same and
    /// queues nothing.
    pub async fn verify_otp(
        &self,
        ctx: &CallContext,
        hold_id: BookingId,
        code: &OtpAttempt,
    ) -> ServiceResult<VerifyOutcome> {
        let tenant = &ctx.tenant;
        let cfg = &tenant.config;
        let now = self.clock.now();
        let Some(hold) = self.callers_booking(ctx, hold_id).await? else {
            return Ok(VerifyOutcome::Refused {
                reason: "I could not find that hold; use the hold_id that reserve_slot returned."
                    .into(),
            });
        };
        match hold.effective_status(now) {
            BookingStatus::Held => {}
            BookingStatus::Confirmed => return Ok(self.confirmed(cfg, &hold)),
            _ => {
                return Ok(VerifyOutcome::Refused {
                    reason: "That hold has run out and the time is no longer kept; call reserve_slot again.".into(),
                });
            }
        }
        let challenge = match self.check_code(tenant.id, hold.id, code, now).await? {
            Ok(c) => c,
            // A concurrent verify may have just used the code and confirmed the hold.
            Err(VerifyOutcome::NoCode) => {
                return match self.store.booking(tenant.id, hold.id).await? {
                    Some(b) if b.status == BookingStatus::Confirmed => Ok(self.confirmed(cfg, &b)),
                    _ => Ok(VerifyOutcome::NoCode),
                };
            }
            Err(refusal) => return Ok(refusal),
        };

        let start = hold.slot.start;
        let to = &challenge.phone;
        let confirmation = self.new_message(
            tenant.id,
            MessageKind::Confirmation,
            DedupeKey::confirmation(hold.id),
            to,
            messages::confirmation_text(&cfg.name, &cfg.zone, &hold.service, start),
            now,
            Some(hold.id),
            hold.call_id.as_ref(),
            now,
        );
        let reminder = self.new_message(
            tenant.id,
            MessageKind::Reminder,
            DedupeKey::reminder(hold.id),
            to,
            messages::reminder_text(&cfg.name, &cfg.zone, &hold.service, start),
            reminder_due(
                now,
                start,
                self.config.reminder_before,
                self.config.reminder_min_gap,
            ),
            Some(hold.id),
            hold.call_id.as_ref(),
            now,
        );
        match self
            .store
            .confirm_hold(
                tenant.id,
                hold.id,
                challenge.id,
                now,
                &[confirmation, reminder],
            )
            .await
        {
            Ok(b) => Ok(self.confirmed(cfg, &b)),
            // A concurrent verify may have won: read what the hold is now.
            Err(StoreError::WrongState { .. }) | Err(StoreError::NotFound) => {
                match self.store.booking(tenant.id, hold.id).await? {
                    Some(b) if b.status == BookingStatus::Confirmed => Ok(self.confirmed(cfg, &b)),
                    Some(b) if b.effective_status(now) == BookingStatus::Held => Ok(VerifyOutcome::CodeExpired),
                    _ => Ok(VerifyOutcome::Refused {
                        reason: "That hold has run out and the time is no longer kept; call reserve_slot again.".into(),
                    }),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}
