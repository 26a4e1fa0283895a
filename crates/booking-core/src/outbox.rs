//! The outbox: every text is a row first, written in the transaction that made it necessary.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{BookingId, CallId, ChallengeId, MessageId, MessageSid, TenantId};
use crate::phone::PhoneNumber;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Otp,
    Confirmation,
    Reminder,
    Cancellation,
    HotLead,
    /// An automatic answer to an inbound text (HELP, STOP, START, anything else).
    InboundReply,
    /// An inbound text passed on to the clinic's alert numbers.
    InboundForward,
    /// A test text from the owner's settings.
    Test,
    /// A freed time offered to someone on the waitlist.
    WaitlistOffer,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Otp => "otp",
            Self::Confirmation => "confirmation",
            Self::Reminder => "reminder",
            Self::Cancellation => "cancellation",
            Self::HotLead => "hot_lead",
            Self::InboundReply => "inbound_reply",
            Self::InboundForward => "inbound_forward",
            Self::Test => "test",
            Self::WaitlistOffer => "waitlist_offer",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "otp" => Self::Otp,
            "confirmation" => Self::Confirmation,
            "reminder" => Self::Reminder,
            "cancellation" => Self::Cancellation,
            "hot_lead" => Self::HotLead,
            "inbound_reply" => Self::InboundReply,
            "inbound_forward" => Self::InboundForward,
            "test" => Self::Test,
            "waitlist_offer" => Self::WaitlistOffer,
            _ => return None,
        })
    }
    /// Texts to callers honour their opt-out; texts to the clinic's own alert numbers, and the
    /// reply confirming an opt-out, do not.
    pub fn honours_opt_out(self) -> bool {
        matches!(
            self,
            Self::Otp
                | Self::Confirmation
                | Self::Reminder
                | Self::Cancellation
                | Self::WaitlistOffer
        )
    }
}

/// What the keys of [`DedupeKey::cancel_ask`] start with.
pub const CANCEL_ASK_PREFIX: &str = "cancel-ask:";
/// What the keys of [`DedupeKey::reminder`] start with.
pub const REMINDER_PREFIX: &str = "reminder:";

/// The key that makes a text unique within a tenant: the same key is never queued twice.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DedupeKey(String);

impl DedupeKey {
    pub fn confirmation(b: BookingId) -> Self {
        Self(format!("confirmation:{b}"))
    }
    pub fn reminder(b: BookingId) -> Self {
        Self(format!("{REMINDER_PREFIX}{b}"))
    }
    pub fn cancellation(b: BookingId) -> Self {
        Self(format!("cancellation:{b}"))
    }
    /// The question "reply RELEASE to cancel" about booking `b`, asked at most once per
    /// `window`-th window of time (two "C" replies at once ask once).
    pub fn cancel_ask(b: BookingId, window: i64) -> Self {
        Self(format!("{CANCEL_ASK_PREFIX}{b}:{window}"))
    }
    pub fn hot_lead(call: &CallId, alert: &PhoneNumber) -> Self {
        Self(format!("hot-lead:{call}:{alert}"))
    }
    pub fn otp(c: ChallengeId) -> Self {
        Self(format!("otp:{c}"))
    }
    /// A reply or a forward caused by one inbound text (`SM…`), to one number.
    pub fn inbound(kind: MessageKind, inbound_sid: &str, to: &PhoneNumber) -> Self {
        Self(format!("{}:{inbound_sid}:{to}", kind.as_str()))
    }
    /// The offer of one freed time (`calendar`, `start`) to one waitlist entry: one text per
    /// entry and time, however many bookings free that time.
    pub fn waitlist_offer(
        entry: crate::ids::WaitlistEntryId,
        calendar: crate::ids::CalendarId,
        start: Timestamp,
    ) -> Self {
        Self(format!("waitlist-offer:{entry}:{calendar}:{start}"))
    }
    pub fn test(id: MessageId) -> Self {
        Self(format!("test:{id}"))
    }
    /// A key read back from storage.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Keys hold phone numbers: Debug masks nothing structured, so it prints only the prefix.
impl fmt::Debug for DedupeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = self.0.split(':').next().unwrap_or("");
        write!(f, "DedupeKey({prefix}:…)")
    }
}

/// Where a message is in its life. The order of [`MessageStatus::rank`] is the only direction a
/// status may move in; terminal statuses never move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for its due time or for a worker.
    Pending,
    /// Claimed by a worker, send under way (or the worker died: the lease tells).
    Sending,
    /// A send may or may not have reached Twilio; must be reconciled before any resend.
    Ambiguous,
    /// Accepted by Twilio (`queued`, `accepted`, `scheduled`).
    Queued,
    /// Twilio handed it to the carrier.
    Sent,
    Delivered,
    /// Twilio or the carrier could not deliver it.
    Undelivered,
    /// Not sent and never will be: a permanent error, or retries exhausted.
    Failed,
    /// Not sent because the recipient opted out.
    Suppressed,
    /// Not sent because what it was about went away (a cancelled appointment's reminder).
    Withdrawn,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Ambiguous => "ambiguous",
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
            Self::Failed => "failed",
            Self::Suppressed => "suppressed",
            Self::Withdrawn => "withdrawn",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sending" => Self::Sending,
            "ambiguous" => Self::Ambiguous,
            "queued" => Self::Queued,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "undelivered" => Self::Undelivered,
            "failed" => Self::Failed,
            "suppressed" => Self::Suppressed,
            "withdrawn" => Self::Withdrawn,
            _ => return None,
        })
    }
    /// Twilio's status names (`MessageStatus` in callbacks, `status` in API answers).
    pub fn from_twilio(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "queued" | "accepted" | "scheduled" | "sending" => Self::Queued,
            "sent" => Self::Sent,
            "delivered" | "read" => Self::Delivered,
            // Some parts of a multi-part text arrived and some did not: final, and not what
            // was asked for, so the clinic sees it as not delivered.
            "undelivered" | "partially_delivered" => Self::Undelivered,
            "failed" | "canceled" => Self::Failed,
            _ => return None,
        })
    }
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::Undelivered | Self::Failed | Self::Suppressed | Self::Withdrawn
        )
    }
    /// Whether Twilio has the message (it has a sid).
    pub fn is_with_twilio(self) -> bool {
        matches!(
            self,
            Self::Queued | Self::Sent | Self::Delivered | Self::Undelivered
        )
    }
    /// Position along the only direction of travel.
    pub fn rank(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Sending => 1,
            Self::Ambiguous => 2,
            Self::Queued => 3,
            Self::Sent => 4,
            Self::Delivered
            | Self::Undelivered
            | Self::Failed
            | Self::Suppressed
            | Self::Withdrawn => 5,
        }
    }
    /// Whether a status report may move a message from `self` to `next`: forward only, never out
    /// of a terminal status.
    pub fn may_advance_to(self, next: MessageStatus) -> bool {
        !self.is_terminal() && next.rank() > self.rank()
    }
}

/// A text to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub id: MessageId,
    pub tenant: TenantId,
    pub kind: MessageKind,
    pub dedupe_key: DedupeKey,
    pub to: PhoneNumber,
    pub body: String,
    /// Not sent before this time (reminders are queued with their due time).
    pub due_at: Timestamp,
    pub booking: Option<BookingId>,
    pub call_id: Option<CallId>,
    pub created_at: Timestamp,
}

/// A text the use-cases want sent: a [`NewMessage`] before it has an id and a creation time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageDraft {
    pub tenant: TenantId,
    pub kind: MessageKind,
    pub dedupe_key: DedupeKey,
    pub to: PhoneNumber,
    pub body: String,
    /// Not sent before this time.
    pub due_at: Timestamp,
    pub booking: Option<BookingId>,
    pub call_id: Option<CallId>,
}

impl MessageDraft {
    pub fn into_message(self, id: MessageId, created_at: Timestamp) -> NewMessage {
        NewMessage {
            id,
            tenant: self.tenant,
            kind: self.kind,
            dedupe_key: self.dedupe_key,
            to: self.to,
            body: self.body,
            due_at: self.due_at,
            booking: self.booking,
            call_id: self.call_id,
            created_at,
        }
    }
}

/// A text as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundMessage {
    pub id: MessageId,
    pub tenant: TenantId,
    pub kind: MessageKind,
    pub dedupe_key: DedupeKey,
    pub to: PhoneNumber,
    pub body: String,
    pub status: MessageStatus,
    pub due_at: Timestamp,
    pub booking: Option<BookingId>,
    pub call_id: Option<CallId>,
    pub twilio_sid: Option<MessageSid>,
    /// Twilio's error code, or ours (see [`crate::outbox`] for the reasons we record).
    pub error_code: Option<u32>,
    pub error_message: Option<String>,
    /// Send attempts made so far (claims that reached the gateway step).
    pub attempts: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the first send attempt was made: reconciliation looks for messages since then.
    pub first_attempt_at: Option<Timestamp>,
}

/// A message claimed by one worker until `lease_until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedMessage {
    pub message: OutboundMessage,
    /// Changes on every claim; an outcome recorded with a stale token is ignored.
    pub claim_token: uuid::Uuid,
    pub lease_until: Timestamp,
    /// The previous claim ended without a recorded outcome (the worker died, or the send was
    /// ambiguous): the message may be at Twilio already and must be reconciled before a resend.
    pub needs_reconcile: bool,
}

/// What a worker learned about a claimed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryUpdate {
    /// Twilio accepted it (or reconciliation found it there).
    Accepted {
        sid: MessageSid,
        status: MessageStatus,
    },
    /// Try again at `next_attempt_at`.
    Retry {
        next_attempt_at: Timestamp,
        error_code: Option<u32>,
        error_message: String,
    },
    /// The send may have gone out; reconcile at `next_attempt_at` before any resend.
    Ambiguous {
        next_attempt_at: Timestamp,
        error_message: String,
    },
    /// Never to be sent.
    Failed {
        error_code: Option<u32>,
        error_message: String,
    },
    /// The recipient opted out.
    Suppressed { reason: String },
    /// Put back unsent (the tenant's sending is paused, or the worker is shutting down).
    Deferred { until: Timestamp, reason: String },
}

/// What a status callback did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusApplied {
    Updated,
    /// Known message, but the status would move it backwards or out of a terminal state.
    Ignored,
    /// No message with that sid for that tenant yet (Twilio can call back before our record of
    /// its answer commits): kept, and applied when the sid is recorded.
    Kept,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value of `message_enum_status` in Twilio's API definition (twilio/twilio-oai,
    /// `spec/json/twilio_api_v2010.json` at d50069b44ea8cd23141385bdb6db48f16ff75bb5): each
    /// status an outbound message can have maps to one of ours; only the two statuses of
    /// inbound messages do not.
    #[test]
    fn every_twilio_message_status_maps() {
        use MessageStatus::*;
        for (twilio, ours) in [
            ("queued", Some(Queued)),
            ("sending", Some(Queued)),
            ("sent", Some(Sent)),
            ("failed", Some(Failed)),
            ("delivered", Some(Delivered)),
            ("undelivered", Some(Undelivered)),
            ("receiving", None),
            ("received", None),
            ("accepted", Some(Queued)),
            ("scheduled", Some(Queued)),
            ("read", Some(Delivered)),
            ("partially_delivered", Some(Undelivered)),
            ("canceled", Some(Failed)),
        ] {
            assert_eq!(MessageStatus::from_twilio(twilio), ours, "{twilio}");
        }
        // Final, so a late `sent` cannot move it back.
        assert!(MessageStatus::Undelivered.is_terminal());
        assert!(!MessageStatus::Undelivered.may_advance_to(MessageStatus::Sent));
    }
}
