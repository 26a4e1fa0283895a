use super::*;

#[test]
fn keywords_are_the_whole_message_in_any_case() {
    use InboundKeyword::*;
    for k in [
        "STOP",
        "stop",
        " Stop ",
        "UNSUBSCRIBE",
        "end",
        "Quit",
        "STOPALL",
        "revoke",
        "OptOut",
        "CANCEL",
        "stop.",
    ] {
        assert_eq!(classify_inbound(k), OptOut, "{k:?}");
    }
    for k in ["START", "yes", "Unstop", "Yes!"] {
        assert_eq!(classify_inbound(k), OptIn, "{k:?}");
    }
    for k in ["HELP", "info", "\tHelp\n"] {
        assert_eq!(classify_inbound(k), Help, "{k:?}");
    }
    for k in [
        "",
        "please stop",
        "stop texting me",
        "STOP ALL",
        "ok",
        "yes please",
        "can I cancel?",
        "helpful",
    ] {
        assert_eq!(classify_inbound(k), Other, "{k:?}");
    }
}

#[test]
fn replies_to_a_reminder_that_cancel() {
    for k in [
        "C",
        "c",
        " c ",
        "CANCEL APPOINTMENT",
        "cancel  appointment",
        "Cancel appointment.",
    ] {
        assert_eq!(classify_inbound(k), InboundKeyword::Other, "{k:?}");
        assert_eq!(
            classify_reminder_reply(k),
            ReminderReply::CancelRequest,
            "{k:?}"
        );
    }
    for k in ["RELEASE", "release", " Release! "] {
        assert_eq!(classify_inbound(k), InboundKeyword::Other, "{k:?}");
        assert_eq!(
            classify_reminder_reply(k),
            ReminderReply::CancelConfirm,
            "{k:?}"
        );
    }
    for k in [
        "CANCEL",
        "cancel",
        "CC",
        "can I cancel?",
        "cancel my appointment",
        "YES",
        "",
    ] {
        assert_eq!(classify_reminder_reply(k), ReminderReply::Other, "{k:?}");
    }
    // CANCEL alone stays an opt-out; the confirmation word is none of Twilio's keywords.
    assert_eq!(classify_inbound("CANCEL"), InboundKeyword::OptOut);
    assert_eq!(classify_inbound(CANCEL_CONFIRM_WORD), InboundKeyword::Other);
}
