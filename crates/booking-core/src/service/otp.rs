//! `send_otp` and `verify_otp`: the code texted to the caller, and the booking it confirms.

use crate::outbox::MessageDraft;
use jiff::Timestamp;

use crate::booking::{Booking, BookingStatus};
use crate::ids::{BookingId, CallId, ChallengeId, TenantId};
use crate::messages;
use crate::otp::{Challenge, CheckClaim, NewChallenge, OtpAttempt, SendLimit, SendRefused};
use crate::outbox::{DedupeKey, MessageKind};
use crate::phone::PhoneNumber;
use crate::ports::StoreError;
use crate::service::{BookingService, CallContext, ServiceResult, reminder_due};
use crate::tenant::Tenant;

/// What `send_otp` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOtpOutcome {
    Sent {
        hold_id: BookingId,
        sent_to: PhoneNumber,
        expires_at: Timestamp,
    },
    /// The hold is an appointment already: nothing to verify.
    AlreadyConfirmed {
        appointment_id: BookingId,
    },
    /// A send limit was reached.
    Limited {
        limit: SendLimit,
    },
    Refused(SendOtpRefusal),
}

/// Why `send_otp` texted nothing (other than a send limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOtpRefusal {
    /// No hold with that id that this caller may use.
    UnknownHold,
    /// The hold ran out (or was cancelled).
    HoldExpired,
    NotTexted(NotTexted),
}

/// Why the clinic will not text a code to a number (whatever the send limits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotTexted {
    /// The clinic's texting is not working (its SMS account is not set up or was refused).
    ClinicCannotText,
    /// The number is in no country the clinic texts codes to; `countries` are the ones it does
    /// (none: it texts codes nowhere).
    CountryNotAllowed { countries: Vec<String> },
    /// The number replied STOP.
    OptedOut,
}

/// Why no code was texted: the clinic will not text that number, or a send limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeNotSent {
    NotTexted(NotTexted),
    Limited(SendLimit),
}

impl From<CodeNotSent> for SendOtpOutcome {
    fn from(e: CodeNotSent) -> Self {
        match e {
            CodeNotSent::NotTexted(n) => SendOtpOutcome::Refused(SendOtpRefusal::NotTexted(n)),
            CodeNotSent::Limited(limit) => SendOtpOutcome::Limited { limit },
        }
    }
}

/// What `verify_otp` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyOutcome {
    Confirmed {
        appointment_id: BookingId,
        status: BookingStatus,
        start: Timestamp,
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
    Refused(VerifyRefusal),
}

/// Why `verify_otp` checked no code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyRefusal {
    /// No hold with that id that this caller may use.
    UnknownHold,
    /// The hold ran out and its time is no longer kept.
    HoldExpired,
    /// What was read back has not the clinic's number of digits: no guess, no try used.
    WrongLength { digits: u8 },
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
        let now = self.clock.now();
        let Some(hold) = self.callers_booking(ctx, hold_id).await? else {
            return Ok(SendOtpOutcome::Refused(SendOtpRefusal::UnknownHold));
        };
        match hold.effective_status(now) {
            BookingStatus::Held => {}
            BookingStatus::Confirmed => {
                return Ok(SendOtpOutcome::AlreadyConfirmed {
                    appointment_id: hold.id,
                });
            }
            _ => return Ok(SendOtpOutcome::Refused(SendOtpRefusal::HoldExpired)),
        }
        let to = phone.unwrap_or_else(|| hold.caller_phone.clone());
        let call = ctx.call_id.as_ref().or(hold.call_id.as_ref());
        match self.text_code(tenant, &hold, &to, call, now).await? {
            Ok(stored) => Ok(SendOtpOutcome::Sent {
                hold_id: hold.id,
                sent_to: to,
                expires_at: stored.expires_at,
            }),
            Err(not_sent) => Ok(not_sent.into()),
        }
    }

    /// Texts a new code for `booking` to `to`: the clinic must be able to text, the number must
    /// be in a country the clinic allows, must not have opted out, and the send limits must
    /// allow it (the last two are decided in the store's turn, under its lock, with the code's own
    /// insert: [`crate::otp::OtpPolicy::decide_send`]).
    pub(super) async fn text_code(
        &self,
        tenant: &Tenant,
        booking: &Booking,
        to: &PhoneNumber,
        call: Option<&CallId>,
        now: Timestamp,
    ) -> ServiceResult<Result<Challenge, CodeNotSent>> {
        let cfg = &tenant.config;
        let refused = |why| Ok(Err(CodeNotSent::NotTexted(why)));
        if !matches!(tenant.sms_health, crate::tenant::SmsHealth::Ok) {
            return refused(NotTexted::ClinicCannotText);
        }
        if !cfg.allows_code_to(to) {
            let countries = cfg.code_countries().iter().map(|c| c.to_string()).collect();
            return refused(NotTexted::CountryNotAllowed { countries });
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
            MessageDraft {
                tenant: tenant.id,
                kind: MessageKind::Otp,
                dedupe_key: DedupeKey::otp(challenge_id),
                to: to.clone(),
                body: messages::otp_text(&cfg.name, code.as_str()),
                due_at: now,
                booking: Some(booking.id),
                call_id: call.cloned(),
            },
            now,
        );
        Ok(self
            .store
            .create_challenge(&challenge, &text, policy)
            .await?
            .map_err(|why| match why {
                SendRefused::OptedOut => CodeNotSent::NotTexted(NotTexted::OptedOut),
                SendRefused::Limited(limit) => CodeNotSent::Limited(limit),
            }))
    }

    /// Checks a code read back for the live code of `booking`. The check is counted by the store
    /// before the code is compared, so that no number of concurrent guesses gets more than
    /// `max_checks` comparisons. `Ok(challenge)` when it is right (the caller then consumes it
    /// with the change it proves); otherwise the refusal, as `verify_otp` has it.
    pub(super) async fn check_code(
        &self,
        tenant: TenantId,
        booking: BookingId,
        code: &OtpAttempt,
        now: Timestamp,
    ) -> ServiceResult<Result<Challenge, VerifyOutcome>> {
        let policy = &self.config.otp;
        let Some(code) = policy.code_of(code) else {
            // Not a code at all: no guess was made, so no try is used up. What a code would have
            // met comes first.
            let refusal = match self.store.active_challenge(tenant, booking).await? {
                None => VerifyOutcome::NoCode,
                Some(c) if c.failed_checks >= policy.max_checks => VerifyOutcome::TooManyAttempts,
                Some(c) if c.expires_at <= now => VerifyOutcome::CodeExpired,
                Some(_) => VerifyOutcome::Refused(VerifyRefusal::WrongLength {
                    digits: policy.code_length.get(),
                }),
            };
            return Ok(Err(refusal));
        };
        let challenge = match self
            .store
            .begin_check(tenant, booking, now, policy.max_checks)
            .await?
        {
            CheckClaim::Counted(challenge) => *challenge,
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
                attempts_left: policy.max_checks.saturating_sub(challenge.failed_checks),
            }))
        }
    }

    fn confirmed(b: &Booking) -> VerifyOutcome {
        VerifyOutcome::Confirmed {
            appointment_id: b.id,
            status: BookingStatus::Confirmed,
            start: b.slot.start,
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
        let now = self.clock.now();
        let Some(hold) = self.callers_booking(ctx, hold_id).await? else {
            return Ok(VerifyOutcome::Refused(VerifyRefusal::UnknownHold));
        };
        match hold.effective_status(now) {
            BookingStatus::Held => {}
            BookingStatus::Confirmed => return Ok(Self::confirmed(&hold)),
            _ => return Ok(VerifyOutcome::Refused(VerifyRefusal::HoldExpired)),
        }
        let challenge = match self.check_code(tenant.id, hold.id, code, now).await? {
            Ok(c) => c,
            // A concurrent verify may have just used the code and confirmed the hold.
            Err(VerifyOutcome::NoCode) => {
                return match self.store.booking(tenant.id, hold.id).await? {
                    Some(b) if b.status == BookingStatus::Confirmed => Ok(Self::confirmed(&b)),
                    _ => Ok(VerifyOutcome::NoCode),
                };
            }
            Err(refusal) => return Ok(refusal),
        };

        // The patient's link, in both texts, stored with the confirmation: a verify that loses
        // to a concurrent one stores no link.
        let link = self.new_link(tenant.id, hold.id, hold.slot.end, now);
        let [confirmation, reminder] = self.appointment_texts(
            tenant,
            &hold,
            &challenge.phone,
            link.as_ref().map(|l| l.url.as_str()),
            now,
        );
        match self
            .store
            .confirm_hold(
                tenant.id,
                hold.id,
                challenge.id,
                now,
                link.as_ref().map(|l| &l.stored),
                &[confirmation, reminder],
            )
            .await
        {
            Ok(b) => Ok(Self::confirmed(&b)),
            // A concurrent verify may have won: read what the hold is now.
            Err(StoreError::WrongState { .. }) | Err(StoreError::NotFound) => {
                match self.store.booking(tenant.id, hold.id).await? {
                    Some(b) if b.status == BookingStatus::Confirmed => Ok(Self::confirmed(&b)),
                    Some(b) if b.effective_status(now) == BookingStatus::Held => {
                        Ok(VerifyOutcome::CodeExpired)
                    }
                    _ => Ok(VerifyOutcome::Refused(VerifyRefusal::HoldExpired)),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The confirmation (due now) and the reminder (see [`reminder_due`]) of `booking`, to `to`,
    /// each with the patient's `link` when there is one: queued in the same store call that
    /// confirms it.
    pub(super) fn appointment_texts(
        &self,
        tenant: &crate::tenant::Tenant,
        booking: &Booking,
        to: &crate::phone::PhoneNumber,
        link: Option<&str>,
        now: Timestamp,
    ) -> [crate::outbox::NewMessage; 2] {
        let cfg = &tenant.config;
        let start = booking.slot.start;
        let with = tenant.provider_to_name(booking.calendar);
        let confirmation = self.new_message(
            MessageDraft {
                tenant: tenant.id,
                kind: MessageKind::Confirmation,
                dedupe_key: DedupeKey::confirmation(booking.id),
                to: to.clone(),
                body: messages::confirmation_text(
                    &cfg.name,
                    &cfg.zone,
                    &booking.service,
                    with.as_ref(),
                    start,
                    link,
                ),
                due_at: now,
                booking: Some(booking.id),
                call_id: booking.call_id.as_ref().cloned(),
            },
            now,
        );
        let reminder = self.new_message(
            MessageDraft {
                tenant: tenant.id,
                kind: MessageKind::Reminder,
                dedupe_key: DedupeKey::reminder(booking.id),
                to: to.clone(),
                body: messages::reminder_text(
                    &cfg.name,
                    &cfg.zone,
                    &booking.service,
                    with.as_ref(),
                    start,
                    link,
                ),
                due_at: reminder_due(
                    now,
                    start,
                    self.config.reminder_before,
                    self.config.reminder_min_gap,
                ),
                booking: Some(booking.id),
                call_id: booking.call_id.as_ref().cloned(),
            },
            now,
        );
        [confirmation, reminder]
    }
}
