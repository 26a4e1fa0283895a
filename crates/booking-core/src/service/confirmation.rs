//! `send_confirmation_sms`: the state of the confirmation text queued with the booking.

use serde::Serialize;

use crate::booking::BookingStatus;
use crate::ids::BookingId;
use crate::outbox::{DedupeKey, MessageStatus};
use crate::service::{BookingService, CallContext, ServiceResult, ToolResult};

/// What `send_confirmation_sms` found. It never queues a text: the confirmation was queued when
/// the appointment was confirmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ConfirmationSmsOutcome {
    Status {
        appointment_id: BookingId,
        sms_status: MessageStatus,
    },
    Refused {
        reason: String,
    },
}

impl ToolResult for ConfirmationSmsOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Status { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Status { sms_status, .. } => match sms_status {
                MessageStatus::Pending | MessageStatus::Sending | MessageStatus::Ambiguous => {
                    "The confirmation text is on its way; there is no need to send it again.".into()
                }
                MessageStatus::Queued | MessageStatus::Sent => "The confirmation text has been sent.".into(),
                MessageStatus::Delivered => "The confirmation text was delivered.".into(),
                MessageStatus::Suppressed => {
                    "This number has opted out of texts, so no confirmation text was sent; the appointment still stands.".into()
                }
                MessageStatus::Undelivered | MessageStatus::Failed | MessageStatus::Withdrawn => {
                    "The confirmation text could not be delivered, but the appointment still stands; the clinic will follow up.".into()
                }
            },
            Self::Refused { reason } => reason.clone(),
        }
    }
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
            return Ok(ConfirmationSmsOutcome::Refused {
                reason: "I could not find that appointment; use the appointment_id that verify_otp returned.".into(),
            });
        };
        match b.effective_status(now) {
            BookingStatus::Confirmed => {}
            BookingStatus::Held => {
                return Ok(ConfirmationSmsOutcome::Refused {
                    reason: "That time is only held, not booked yet; confirm it with send_otp and verify_otp first.".into(),
                });
            }
            _ => {
                return Ok(ConfirmationSmsOutcome::Refused {
                    reason:
                        "That appointment is not booked (it was cancelled, or the hold ran out)."
                            .into(),
                });
            }
        }
        match self.store.message_by_key(ctx.tenant.id, &DedupeKey::confirmation(b.id)).await? {
            Some(m) => Ok(ConfirmationSmsOutcome::Status {
                appointment_id: b.id,
                sms_status: m.status,
            }),
            None => Ok(ConfirmationSmsOutcome::Refused {
                reason: "No confirmation text is on record for that appointment; the appointment still stands and the clinic will follow up.".into(),
            }),
        }
    }
}
