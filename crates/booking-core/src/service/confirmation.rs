//! `send_confirmation_sms`: the state of the confirmation text queued with the booking.

use crate::booking::BookingStatus;
use crate::ids::BookingId;
use crate::outbox::{DedupeKey, MessageStatus};
use crate::service::{BookingService, CallContext, ServiceResult};

/// What `send_confirmation_sms` found. It never queues a text: the confirmation was queued when
/// the appointment was confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfirmationSmsOutcome {
    Status {
        appointment_id: BookingId,
        sms_status: MessageStatus,
    },
    Refused(ConfirmationSmsRefusal),
}

/// Why there is no confirmation text to report on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmationSmsRefusal {
    /// No appointment with that id that this caller may see.
    UnknownAppointment,
    /// Only held: not confirmed yet.
    OnlyHeld,
    /// Cancelled, or its hold ran out.
    NotBooked,
    /// Confirmed, but no confirmation text is on record.
    NoTextOnRecord,
}

impl BookingService {
    /// `send_confirmation_sms(appointment_id)`: the state of the confirmation queued when the
    /// appointment was confirmed. Never queues a text.
    pub async fn send_confirmation_sms(
        &self,
        ctx: &CallContext,
        appointment_id: BookingId,
    ) -> ServiceResult<ConfirmationSmsOutcome> {
        let now = self.clock.now();
        let Some(b) = self.callers_booking(ctx, appointment_id).await? else {
            return Ok(ConfirmationSmsOutcome::Refused(
                ConfirmationSmsRefusal::UnknownAppointment,
            ));
        };
        match b.effective_status(now) {
            BookingStatus::Confirmed => {}
            BookingStatus::Held => {
                return Ok(ConfirmationSmsOutcome::Refused(
                    ConfirmationSmsRefusal::OnlyHeld,
                ));
            }
            _ => {
                return Ok(ConfirmationSmsOutcome::Refused(
                    ConfirmationSmsRefusal::NotBooked,
                ));
            }
        }
        match self
            .store
            .message_by_key(ctx.tenant.id, &DedupeKey::confirmation(b.id))
            .await?
        {
            Some(m) => Ok(ConfirmationSmsOutcome::Status {
                appointment_id: b.id,
                sms_status: m.status,
            }),
            None => Ok(ConfirmationSmsOutcome::Refused(
                ConfirmationSmsRefusal::NoTextOnRecord,
            )),
        }
    }
}
