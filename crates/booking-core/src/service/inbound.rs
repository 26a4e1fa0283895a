//! Texts callers send to the clinic's number: keywords, auto-replies and forwards.

use crate::outbox::MessageDraft;
use crate::ports::Texting;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::booking::BookingStatus;
use crate::messages;
use crate::messages::{InboundKeyword, ReminderReply};
use crate::otp::ChangeProof;
use crate::outbox::{
    CANCEL_ASK_PREFIX, DedupeKey, MessageKind, MessageStatus, NewMessage, REMINDER_PREFIX,
};
use crate::phone::PhoneNumber;
use crate::ports::{InboundCounter, InboundPurpose};
use crate::service::{BookingService, ServiceResult, clean_text};
use crate::tenant::{KeywordReplies, Tenant};

/// One automatic reply per sender per clinic in this window.
pub const AUTO_REPLY_WINDOW: SignedDuration = SignedDuration::from_hours(24);
/// The window of the forward limits.
pub const FORWARD_WINDOW: SignedDuration = SignedDuration::from_hours(1);
/// Texts of one sender passed on to the clinic per [`FORWARD_WINDOW`]; the next one is replaced
/// by a note that the sender's texts are paused, and the rest are not passed on.
pub const FORWARDS_PER_SENDER: u32 = 3;
/// Texts of all senders passed on to the clinic per [`FORWARD_WINDOW`].
pub const FORWARDS_PER_CLINIC: u32 = 30;

/// A reply to a reminder is about the last reminder sent to that number this long ago at most.
pub const REMINDER_REPLY_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);
/// How long the confirmation word is awaited after the question was asked.
pub const CANCEL_CONFIRM_WINDOW: SignedDuration =
    SignedDuration::from_mins(messages::CANCEL_CONFIRM_MINUTES as i64);

/// An inbound text, as Twilio's webhook gave it. Debug shows the body's length, not the body.
#[derive(Clone, Copy)]
pub struct InboundText<'a> {
    pub from: &'a PhoneNumber,
    pub body: &'a str,
    /// The inbound message's sid (`SM…`): the dedupe key of what it causes.
    pub sid: &'a str,
    /// The keyword Twilio matched and answered (`OptOutType` of Advanced Opt-Out), if any.
    pub twilio_keyword: Option<InboundKeyword>,
    /// Who answers keywords for this clinic's sender.
    pub keyword_replies: KeywordReplies,
}

impl std::fmt::Debug for InboundText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundText")
            .field("from", &self.from)
            .field(
                "body",
                &format_args!("<{} chars>", self.body.chars().count()),
            )
            .field("sid", &self.sid)
            .field("twilio_keyword", &self.twilio_keyword)
            .field("keyword_replies", &self.keyword_replies)
            .finish()
    }
}

/// What an inbound text was and what it caused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InboundOutcome {
    /// "opt_out", "opt_in", "help", "other", "from_clinic_number", "cancel_asked" (a "C" in
    /// reply to a reminder: the confirmation word was asked for) or "cancelled" (the word came:
    /// the appointment is cancelled).
    pub keyword: &'static str,
    /// Replies to the sender and forwards to the clinic queued (0 for a replayed webhook).
    pub queued: u32,
}

impl BookingService {
    /// A text a caller sent to the clinic's number (Twilio's inbound webhook).
    ///
    /// The keyword is the one Twilio matched (`OptOutType`) first, else ours. STOP and friends
    /// opt the number out, START opts it back in; the reply to those and to HELP is sent only
    /// when the clinic answers them itself ([`KeywordReplies::Clinic`]) and Twilio did not
    /// already (no `OptOutType`). Anything else is forwarded to the clinic's alert numbers and
    /// answered with how to reach the clinic, within limits: one auto-reply per sender per
    /// [`AUTO_REPLY_WINDOW`], [`FORWARDS_PER_SENDER`] forwards per sender and
    /// [`FORWARDS_PER_CLINIC`] per clinic per [`FORWARD_WINDOW`] (then one note saying the
    /// sender's texts are paused), and nothing at all to or from a number a clinic texts from.
    /// All through the outbox, keyed by the inbound message's sid, so a replayed webhook queues
    /// nothing twice.
    pub async fn handle_inbound_sms(
        &self,
        tenant: &Tenant,
        text: &InboundText<'_>,
    ) -> ServiceResult<InboundOutcome> {
        let cfg = &tenant.config;
        let from = text.from;
        let body = text.body;
        let now = self.clock.now();
        let sid = clean_text(text.sid, 64);
        let reply = |text: String| {
            self.new_message(
                MessageDraft {
                    tenant: tenant.id,
                    kind: MessageKind::InboundReply,
                    dedupe_key: DedupeKey::inbound(MessageKind::InboundReply, &sid, from),
                    to: from.clone(),
                    body: text,
                    due_at: now,
                    booking: None,
                    call_id: None,
                },
                now,
            )
        };
        // Twilio answered the keyword itself when it matched it (Advanced Opt-Out) or when the
        // clinic leaves keyword replies to it.
        let we_answer =
            text.twilio_keyword.is_none() && text.keyword_replies == KeywordReplies::Clinic;
        let answer = |msg: String| {
            if we_answer {
                vec![reply(msg)]
            } else {
                Vec::new()
            }
        };
        let (keyword, msgs) = match messages::inbound_keyword(text.twilio_keyword, body) {
            InboundKeyword::OptOut => {
                self.store
                    .set_texting(tenant.id, from, Texting::OptedOut, now)
                    .await?;
                ("opt_out", answer(messages::opt_out_reply(&cfg.name)))
            }
            InboundKeyword::OptIn => {
                self.store
                    .set_texting(tenant.id, from, Texting::OptedIn, now)
                    .await?;
                ("opt_in", answer(messages::opt_in_reply(&cfg.name)))
            }
            InboundKeyword::Help => (
                "help",
                answer(messages::help_reply(&cfg.name, cfg.contact_number())),
            ),
            InboundKeyword::Other => {
                if self.store.is_clinic_texting_number(from).await? {
                    // Another clinic's (or this clinic's own) texting number: answering or
                    // forwarding could start a loop between two automatic senders.
                    return Ok(InboundOutcome {
                        keyword: "from_clinic_number",
                        queued: 0,
                    });
                }
                if let Some(outcome) = self.reminder_reply(tenant, from, body, now).await? {
                    return Ok(outcome);
                }
                let mut msgs = self.inbound_forwards(tenant, from, body, &sid, now).await?;
                // Someone who opted out gets no automatic answer; the clinic still sees the text.
                if !self.store.is_opted_out(tenant.id, from).await?
                    && self
                        .store
                        .count_inbound_text(
                            tenant.id,
                            InboundPurpose::AutoReply,
                            InboundCounter::Sender(from),
                            AUTO_REPLY_WINDOW,
                            now,
                        )
                        .await?
                        .count
                        == 1
                {
                    msgs.push(reply(messages::inbound_auto_reply(
                        &cfg.name,
                        cfg.contact_number(),
                    )));
                }
                ("other", msgs)
            }
        };
        let queued = if msgs.is_empty() {
            0
        } else {
            self.store.enqueue(&msgs).await?
        };
        Ok(InboundOutcome { keyword, queued })
    }

    /// "C" / "CANCEL APPOINTMENT" in reply to a reminder of an upcoming appointment asks for the
    /// confirmation word; the word within [`CANCEL_CONFIRM_WINDOW`] of that question cancels the
    /// appointment through the phone's cancel (the same text, the reminder withdrawn, the slot
    /// freed). `None`: the text is no such reply (no reminder went to this number, or no
    /// question is open), and it is forwarded as any other.
    async fn reminder_reply(
        &self,
        tenant: &Tenant,
        from: &PhoneNumber,
        body: &str,
        now: Timestamp,
    ) -> ServiceResult<Option<InboundOutcome>> {
        let (kind, prefix, since) = match messages::classify_reminder_reply(body) {
            ReminderReply::CancelRequest => (
                MessageKind::Reminder,
                REMINDER_PREFIX,
                now - REMINDER_REPLY_WINDOW,
            ),
            ReminderReply::CancelConfirm => (
                MessageKind::InboundReply,
                CANCEL_ASK_PREFIX,
                now - CANCEL_CONFIRM_WINDOW,
            ),
            ReminderReply::Other => return Ok(None),
        };
        let Some(asked) = self
            .store
            .last_message_to(tenant.id, from, kind, prefix, since)
            .await?
        else {
            return Ok(None);
        };
        // The reminder must have gone out; the question must not have been withdrawn.
        let went_out = matches!(
            asked.status,
            MessageStatus::Queued | MessageStatus::Sent | MessageStatus::Delivered
        ) || (kind == MessageKind::InboundReply
            && !matches!(
                asked.status,
                MessageStatus::Failed
                    | MessageStatus::Undelivered
                    | MessageStatus::Suppressed
                    | MessageStatus::Withdrawn
            ));
        let Some(booking) = asked.booking.filter(|_| went_out) else {
            return Ok(None);
        };
        let Some(b) = self.store.booking(tenant.id, booking).await? else {
            return Ok(None);
        };
        if kind == MessageKind::InboundReply && b.status == BookingStatus::Cancelled {
            // The word again (or two at once): the question was answered, the appointment is
            // cancelled; nothing more to do, and nothing for the clinic to read.
            return Ok(Some(InboundOutcome {
                keyword: "cancelled",
                queued: 0,
            }));
        }
        if b.status != BookingStatus::Confirmed || b.slot.start <= now {
            return Ok(None);
        }
        if kind == MessageKind::InboundReply {
            self.cancel(tenant, &b, ChangeProof::PatientReply, None)
                .await?;
            return Ok(Some(InboundOutcome {
                keyword: "cancelled",
                queued: 1,
            }));
        }
        let cfg = &tenant.config;
        let window = now.as_second() / CANCEL_CONFIRM_WINDOW.as_secs();
        let ask = self.new_message(
            MessageDraft {
                tenant: tenant.id,
                kind: MessageKind::InboundReply,
                dedupe_key: DedupeKey::cancel_ask(b.id, window),
                to: from.clone(),
                body: messages::cancel_confirm_ask_text(
                    &cfg.name,
                    &cfg.zone,
                    &b.service,
                    b.slot.start,
                ),
                due_at: now,
                booking: Some(b.id),
                call_id: None,
            },
            now,
        );
        let queued = self.store.enqueue(&[ask]).await?;
        Ok(Some(InboundOutcome {
            keyword: "cancel_asked",
            queued,
        }))
    }

    /// The forwards of one inbound text to the clinic's alert numbers, within the limits.
    async fn inbound_forwards(
        &self,
        tenant: &Tenant,
        from: &PhoneNumber,
        body: &str,
        sid: &str,
        now: Timestamp,
    ) -> ServiceResult<Vec<NewMessage>> {
        let cfg = &tenant.config;
        let mut alerts: Vec<&PhoneNumber> = Vec::new();
        for alert in &cfg.alert_numbers {
            if alert == from || alerts.contains(&alert) {
                continue;
            }
            // Refused when configured; checked again in case a clinic claimed it since.
            if self.store.is_clinic_texting_number(alert).await? {
                continue;
            }
            alerts.push(alert);
        }
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let by_sender = self
            .store
            .count_inbound_text(
                tenant.id,
                InboundPurpose::Forward,
                InboundCounter::Sender(from),
                FORWARD_WINDOW,
                now,
            )
            .await?;
        let text = if by_sender.count <= FORWARDS_PER_SENDER {
            messages::inbound_forward_text(&cfg.name, from, body)
        } else if by_sender.count == FORWARDS_PER_SENDER + 1 {
            // The sender's further texts in this window are grouped under this one note.
            let until =
                messages::local_time(&cfg.zone, by_sender.window_started_at + FORWARD_WINDOW);
            messages::inbound_forward_paused_text(&cfg.name, from, &until)
        } else {
            return Ok(Vec::new());
        };
        let clinic = self
            .store
            .count_inbound_text(
                tenant.id,
                InboundPurpose::Forward,
                InboundCounter::Clinic,
                FORWARD_WINDOW,
                now,
            )
            .await?;
        if clinic.count > FORWARDS_PER_CLINIC {
            return Ok(Vec::new());
        }
        Ok(alerts
            .into_iter()
            .map(|alert| {
                self.new_message(
                    MessageDraft {
                        tenant: tenant.id,
                        kind: MessageKind::InboundForward,
                        dedupe_key: DedupeKey::inbound(MessageKind::InboundForward, sid, alert),
                        to: alert.clone(),
                        body: text.clone(),
                        due_at: now,
                        booking: None,
                        call_id: None,
                    },
                    now,
                )
            })
            .collect())
    }
}
