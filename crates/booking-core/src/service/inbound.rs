//! Texts callers send to the clinic's number: keywords, auto-replies and forwards.

use crate::outbox::MessageDraft;
use crate::ports::Texting;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::messages;
use crate::messages::InboundKeyword;
use crate::outbox::{DedupeKey, MessageKind, NewMessage};
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
    /// "opt_out", "opt_in", "help", "other" or "from_clinic_number".
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
