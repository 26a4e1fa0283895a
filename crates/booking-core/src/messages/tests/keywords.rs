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
