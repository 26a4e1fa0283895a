//! Twilio's error codes and our own message statuses, in words an owner can act on.

use booking_core::outbox::MessageStatus;

/// What a Twilio error code means for the owner. Unknown codes get a pointer to Twilio's list.
pub fn explain_error(code: u32) -> String {
    let text = match code {
        20003 => {
            "Twilio refused the clinic's credentials (wrong Account SID, auth token or API key). \
             Texts are paused until you enter the right ones in Settings."
        }
        20429 | 14107 => "Twilio asked us to slow down; the text is retried shortly.",
        21211 => "The phone number is not a valid number, so Twilio could not text it.",
        21408 => {
            "Your Twilio account is not allowed to text this country. Enable it in Twilio's \
             geographic permissions."
        }
        21606 => "The clinic's sending number cannot send texts (it is not SMS-capable in Twilio).",
        21608 => {
            "Your Twilio trial account can only text verified numbers. Verify the number in \
             Twilio or upgrade the account."
        }
        21610 => {
            "The recipient replied STOP to this number, so Twilio will not deliver texts to them \
             until they reply START."
        }
        21612 => "Twilio cannot route a text between these two numbers.",
        21614 => "The number is not a mobile number, so it cannot receive texts.",
        30001 => "Twilio's queue for the clinic's number overflowed; send fewer texts at once.",
        30002 => "The clinic's Twilio account is suspended.",
        30003 => {
            "The phone was unreachable (switched off or out of coverage). The carrier may deliver \
             it later; otherwise ask the caller to check their phone."
        }
        30004 => "The recipient's carrier blocked the text (the number may block texts).",
        30005 => "The number does not exist or is no longer in service.",
        30006 => "The number is a landline or cannot receive texts.",
        30007 => {
            "The carrier filtered the text as spam. Register your number for A2P 10DLC with \
             Twilio, and keep texts clearly from your clinic."
        }
        30008 => "The carrier could not deliver the text for an unknown reason; it may work later.",
        30010 => "The text was priced above your account's maximum price.",
        30032 => "The clinic's toll-free number is not verified with Twilio yet.",
        30034 => {
            "The clinic's number is not registered for A2P 10DLC, so US carriers block its texts."
        }
        30500 => "Twilio had a temporary problem; the text is retried later.",
        _ => return format!("Twilio error {code}: see twilio.com/docs/api/errors/{code}."),
    };
    format!("{text} (Twilio error {code})")
}

/// What a status means, for the Messages screen.
pub fn explain_status(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Pending => "Waiting to be sent.",
        MessageStatus::Sending => "Being sent now.",
        MessageStatus::Ambiguous => {
            "Twilio did not answer clearly; we check with Twilio before trying again, so it is never sent twice."
        }
        MessageStatus::Queued => "Accepted by Twilio.",
        MessageStatus::Sent => "Handed to the carrier.",
        MessageStatus::Delivered => "Delivered to the phone.",
        MessageStatus::Undelivered => "The carrier could not deliver it.",
        MessageStatus::Failed => "Not sent, and it will not be retried.",
        MessageStatus::Suppressed => {
            "Not sent: the recipient opted out of texts (replied STOP). It goes again only if they reply START."
        }
        MessageStatus::Withdrawn => {
            "Not sent: what it was about changed (for example a reminder for an appointment that was cancelled or moved)."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_owners_meet_are_explained() {
        for code in [
            30003, 30005, 30006, 30007, 30008, 21610, 21211, 20003, 21614, 21408,
        ] {
            let text = explain_error(code);
            assert!(!text.starts_with("Twilio error"), "{code}: {text}");
            assert!(text.contains(&code.to_string()));
        }
        assert!(explain_error(20003).contains("Settings"));
        assert!(explain_error(21610).contains("STOP"));
        assert!(explain_error(99999).contains("twilio.com/docs/api/errors/99999"));
        assert!(explain_status(MessageStatus::Suppressed).contains("opted out"));
        assert!(explain_status(MessageStatus::Withdrawn).contains("cancelled"));
    }
}
