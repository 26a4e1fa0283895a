//! The form fields of Twilio's messaging webhooks: status callbacks (`MessageStatus` of a message
//! we sent) and inbound messages (`Body` of a text a caller sent to the clinic's number).

use std::fmt;

use booking_core::PhoneNumber;
use booking_core::ids::MessageSid;
use booking_core::messages::InboundKeyword;
use booking_core::outbox::MessageStatus;

/// Why a webhook's fields could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook has no {0}")]
    Missing(&'static str),
    #[error("the webhook's {field} is not valid: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

/// A messaging webhook from Twilio, status callback or inbound message. Fields Twilio adds that
/// are not listed here are ignored.
///
/// Debug never prints the body (it may hold a one-time code) nor a whole phone number.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageWebhook {
    /// `MessageSid` (or the legacy `SmsSid`).
    pub message_sid: MessageSid,
    /// `AccountSid`: the Twilio account, which identifies the tenant (and its auth token).
    pub account_sid: String,
    /// `MessageStatus` (or the legacy `SmsStatus`) as Twilio wrote it: `sent`, `delivered`,
    /// `received`, …
    pub raw_status: Option<String>,
    /// The status in our terms, when it is one an outbound message can have
    /// ([`MessageStatus::from_twilio`]); `None` for `received` and unknown statuses.
    pub status: Option<MessageStatus>,
    /// `ErrorCode`: set when delivery failed (30003, 30005, …).
    pub error_code: Option<u32>,
    /// `From`, when it is an E.164 number (a short code or sender id is `None`).
    pub from: Option<PhoneNumber>,
    /// `To`, when it is an E.164 number.
    pub to: Option<PhoneNumber>,
    /// `Body` of an inbound message.
    pub body: Option<String>,
    /// `MessagingServiceSid`: the Messaging Service the inbound number belongs to (`MG…`).
    pub messaging_service_sid: Option<String>,
    /// `OptOutType` of an inbound message: the keyword Twilio matched and answered (`STOP`,
    /// `START` or `HELP`; with Advanced Opt-Out, for the clinic's own words too). Another value
    /// is read as none.
    pub opt_out_type: Option<InboundKeyword>,
}

impl MessageWebhook {
    /// Reads the fields of an `application/x-www-form-urlencoded` body.
    pub fn from_form(body: &[u8]) -> Result<Self, WebhookError> {
        Self::from_pairs(form_urlencoded::parse(body))
    }

    /// Reads decoded form fields. A field that appears twice keeps its first value.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, WebhookError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut fields = Fields::default();
        for (k, v) in pairs {
            let v = v.as_ref();
            let slot = match k.as_ref() {
                "MessageSid" => &mut fields.message_sid,
                "SmsSid" => &mut fields.sms_sid,
                "AccountSid" => &mut fields.account_sid,
                "MessageStatus" => &mut fields.message_status,
                "SmsStatus" => &mut fields.sms_status,
                "ErrorCode" => &mut fields.error_code,
                "From" => &mut fields.from,
                "To" => &mut fields.to,
                "Body" => &mut fields.body,
                "MessagingServiceSid" => &mut fields.messaging_service_sid,
                "OptOutType" => &mut fields.opt_out_type,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v.to_owned());
            }
        }

        let sid = non_empty(fields.message_sid)
            .or_else(|| non_empty(fields.sms_sid))
            .ok_or(WebhookError::Missing("MessageSid"))?;
        let message_sid = MessageSid::parse(&sid).map_err(|e| WebhookError::Invalid {
            field: "MessageSid",
            problem: e.problem().to_owned(),
        })?;
        let account_sid =
            non_empty(fields.account_sid).ok_or(WebhookError::Missing("AccountSid"))?;
        // It is looked up before the signature can be checked: anything but a short ASCII token
        // (a NUL, which PostgreSQL refuses in text, or a megabyte) stops here.
        let trimmed = account_sid.trim();
        if trimmed.len() > 64 || !trimmed.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(WebhookError::Invalid {
                field: "AccountSid",
                problem: "is not an account sid".to_owned(),
            });
        }
        let raw_status = non_empty(fields.message_status).or_else(|| non_empty(fields.sms_status));
        let status = raw_status.as_deref().and_then(MessageStatus::from_twilio);
        let error_code = match non_empty(fields.error_code) {
            None => None,
            Some(code) => Some(code.parse::<u32>().map_err(|_| WebhookError::Invalid {
                field: "ErrorCode",
                problem: "is not a number".to_owned(),
            })?),
        };
        Ok(Self {
            message_sid,
            account_sid: account_sid.trim().to_owned(),
            raw_status,
            status,
            error_code,
            from: fields
                .from
                .as_deref()
                .and_then(|s| PhoneNumber::parse(s).ok()),
            to: fields
                .to
                .as_deref()
                .and_then(|s| PhoneNumber::parse(s).ok()),
            body: fields.body,
            messaging_service_sid: non_empty(fields.messaging_service_sid)
                .map(|s| s.trim().to_owned())
                .filter(|s| {
                    s.starts_with("MG")
                        && s.len() <= 64
                        && s.bytes().all(|b| b.is_ascii_alphanumeric())
                }),
            opt_out_type: fields.opt_out_type.as_deref().and_then(|t| {
                match t.trim().to_ascii_uppercase().as_str() {
                    "STOP" => Some(InboundKeyword::OptOut),
                    "START" => Some(InboundKeyword::OptIn),
                    "HELP" => Some(InboundKeyword::Help),
                    _ => None,
                }
            }),
        })
    }
}

impl fmt::Debug for MessageWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageWebhook")
            .field("message_sid", &self.message_sid)
            .field("account_sid", &self.account_sid)
            .field("raw_status", &self.raw_status)
            .field("status", &self.status)
            .field("error_code", &self.error_code)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("messaging_service_sid", &self.messaging_service_sid)
            .field("opt_out_type", &self.opt_out_type)
            .field(
                "body",
                &self
                    .body
                    .as_ref()
                    .map(|b| format!("<{} chars>", b.chars().count())),
            )
            .finish()
    }
}

#[derive(Default)]
struct Fields {
    message_sid: Option<String>,
    sms_sid: Option<String>,
    account_sid: Option<String>,
    message_status: Option<String>,
    sms_status: Option<String>,
    error_code: Option<String>,
    from: Option<String>,
    to: Option<String>,
    body: Option<String>,
    messaging_service_sid: Option<String>,
    opt_out_type: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_callback_with_extra_fields() {
        let body = b"SmsSid=SM0123456789abcdef0123456789abcdef&SmsStatus=delivered&MessageStatus=delivered\
&To=%2B15558675310&MessageSid=SM0123456789abcdef0123456789abcdef&AccountSid=AC0123456789abcdef0123456789abcdef\
&From=%2B15017250604&ApiVersion=2010-04-01&RawDlrDoneDate=2401011200";
        let w = MessageWebhook::from_form(body).unwrap();
        assert_eq!(w.message_sid.as_str(), "SM0123456789abcdef0123456789abcdef");
        assert_eq!(w.account_sid, "AC0123456789abcdef0123456789abcdef");
        assert_eq!(w.raw_status.as_deref(), Some("delivered"));
        assert_eq!(w.status, Some(MessageStatus::Delivered));
        assert_eq!(w.error_code, None);
        assert_eq!(w.to.as_ref().map(PhoneNumber::as_str), Some("+15558675310"));
        assert_eq!(
            w.from.as_ref().map(PhoneNumber::as_str),
            Some("+15017250604")
        );
        assert_eq!(w.body, None);
    }

    #[test]
    fn failed_status_carries_its_error_code() {
        let w = MessageWebhook::from_pairs([
            ("MessageSid", "SMabc"),
            ("AccountSid", "ACabc"),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30007"),
        ])
        .unwrap();
        assert_eq!(w.status, Some(MessageStatus::Undelivered));
        assert_eq!(w.error_code, Some(30007));
    }

    #[test]
    fn inbound_message_keeps_its_body_but_debug_hides_it() {
        let w = MessageWebhook::from_pairs([
            ("MessageSid", "SMin"),
            ("SmsStatus", "received"),
            ("AccountSid", "ACabc"),
            ("From", "+15558675310"),
            ("To", "+15017250604"),
            ("Body", "Stop"),
            ("NumMedia", "0"),
        ])
        .unwrap();
        assert_eq!(w.body.as_deref(), Some("Stop"));
        assert_eq!(w.raw_status.as_deref(), Some("received"));
        assert_eq!(w.status, None);
        let dbg = format!("{w:?}");
        assert!(!dbg.contains("Stop"), "{dbg}");
        assert!(!dbg.contains("+15558675310"), "{dbg}");
        assert!(dbg.contains("+*******5310"), "{dbg}");
    }

    #[test]
    fn advanced_opt_out_type_and_messaging_service() {
        let w = MessageWebhook::from_pairs([
            ("MessageSid", "SMin"),
            ("AccountSid", "ACabc"),
            ("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"),
            ("From", "+15558675310"),
            ("To", "+15017250604"),
            ("Body", "ALTO"),
            ("OptOutType", "STOP"),
        ])
        .unwrap();
        assert_eq!(w.opt_out_type, Some(InboundKeyword::OptOut));
        assert_eq!(
            w.messaging_service_sid.as_deref(),
            Some("MG0123456789abcdef0123456789abcdef")
        );
        for (raw, want) in [
            ("START", Some(InboundKeyword::OptIn)),
            ("HELP", Some(InboundKeyword::Help)),
            ("help", Some(InboundKeyword::Help)),
            ("", None),
            ("UNKNOWN", None),
        ] {
            let w = MessageWebhook::from_pairs([
                ("MessageSid", "SMin"),
                ("AccountSid", "ACabc"),
                ("OptOutType", raw),
            ])
            .unwrap();
            assert_eq!(w.opt_out_type, want, "{raw:?}");
        }
        let w = MessageWebhook::from_pairs([
            ("MessageSid", "SMin"),
            ("AccountSid", "ACabc"),
            ("MessagingServiceSid", "MG'; drop"),
        ])
        .unwrap();
        assert_eq!(w.messaging_service_sid, None);
    }

    #[test]
    fn legacy_sid_and_empty_error_code() {
        let w = MessageWebhook::from_pairs([
            ("SmsSid", "SMold"),
            ("AccountSid", "ACx"),
            ("ErrorCode", ""),
        ])
        .unwrap();
        assert_eq!(w.message_sid.as_str(), "SMold");
        assert_eq!(w.error_code, None);
    }

    #[test]
    fn short_code_sender_is_not_a_phone_number() {
        let w = MessageWebhook::from_pairs([
            ("MessageSid", "SM1"),
            ("AccountSid", "ACx"),
            ("From", "72345"),
        ])
        .unwrap();
        assert_eq!(w.from, None);
    }

    #[test]
    fn missing_or_bad_fields_are_refused() {
        assert_eq!(
            MessageWebhook::from_pairs([("AccountSid", "ACx")]),
            Err(WebhookError::Missing("MessageSid"))
        );
        assert_eq!(
            MessageWebhook::from_pairs([("MessageSid", "SM1")]),
            Err(WebhookError::Missing("AccountSid"))
        );
        assert!(matches!(
            MessageWebhook::from_pairs([
                ("MessageSid", "SM1"),
                ("AccountSid", "ACx"),
                ("ErrorCode", "abc")
            ]),
            Err(WebhookError::Invalid {
                field: "ErrorCode",
                ..
            })
        ));
        assert!(matches!(
            MessageWebhook::from_pairs([("MessageSid", "SM 1"), ("AccountSid", "ACx")]),
            Err(WebhookError::Invalid {
                field: "MessageSid",
                ..
            })
        ));
    }
}
