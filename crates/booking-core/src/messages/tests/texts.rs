use super::*;

#[test]
fn local_time_in_the_clinics_zone_with_its_abbreviation() {
    let ny = zone("America/New_York");
    assert_eq!(
        local_time(&ny, ts("2026-11-26T19:00:00Z")),
        "Thu, Nov 26 at 2:00 PM EST"
    );
    assert_eq!(
        local_time(&ny, ts("2026-07-04T13:05:00Z")),
        "Sat, Jul 4 at 9:05 AM EDT"
    );
    assert_eq!(
        local_time(&ny, ts("2026-07-04T04:30:00Z")),
        "Sat, Jul 4 at 12:30 AM EDT"
    );
    assert_eq!(
        local_time(&ny, ts("2026-07-04T16:00:00Z")),
        "Sat, Jul 4 at 12:00 PM EDT"
    );
    // The repeated hour: the abbreviation tells the two 1:30s apart.
    assert_eq!(
        local_time(&ny, ts("2026-11-01T05:30:00Z")),
        "Sun, Nov 1 at 1:30 AM EDT"
    );
    assert_eq!(
        local_time(&ny, ts("2026-11-01T06:30:00Z")),
        "Sun, Nov 1 at 1:30 AM EST"
    );
    let london = zone("Europe/London");
    assert_eq!(
        local_time(&london, ts("2026-01-15T09:00:00Z")),
        "Thu, Jan 15 at 9:00 AM GMT"
    );
    assert_eq!(
        local_time(&london, ts("2026-06-15T09:00:00Z")),
        "Mon, Jun 15 at 10:00 AM BST"
    );
    let lord_howe = zone("Australia/Lord_Howe");
    assert_eq!(
        local_time(&lord_howe, ts("2026-06-15T00:00:00Z")),
        "Mon, Jun 15 at 10:30 AM +1030"
    );
    assert_eq!(
        local_time(&lord_howe, ts("2026-12-15T00:00:00Z")),
        "Tue, Dec 15 at 11:00 AM +11"
    );
    assert_eq!(
        local_time(&zone("UTC"), ts("2026-12-31T23:59:00Z")),
        "Thu, Dec 31 at 11:59 PM UTC"
    );
    assert_eq!(numeric_offset(-(3 * 3600 + 1800)), "-0330");
    assert_eq!(numeric_offset(0), "UTC");
}

#[test]
fn otp_text_says_the_code_its_validity_and_not_to_share_it() {
    let text = otp_text(&clinic("Smile Dental"), "048213");
    assert_eq!(
        text,
        "Smile Dental: your code is 048213. It is valid for 10 minutes. Don't share it with anyone. \
         Reply STOP to opt out."
    );
    assert_eq!(
        SignedDuration::from_mins(i64::from(OTP_VALIDITY_MINUTES)),
        OtpPolicy::default().validity
    );
}

use jiff::SignedDuration;

#[test]
fn booking_texts_name_the_clinic_service_and_local_time() {
    let (c, s, z) = (
        clinic("Smile Dental"),
        service("Teeth Whitening"),
        zone("America/New_York"),
    );
    let t = ts("2026-11-26T19:00:00Z");
    assert_eq!(
        confirmation_text(&c, &z, &s, None, t, None),
        "Smile Dental: your Teeth Whitening appointment is confirmed for Thu, Nov 26 at 2:00 PM EST. \
         To change or cancel it, call us. Reply STOP to opt out."
    );
    let reminder = reminder_text(&c, &z, &s, None, t, None);
    assert!(reminder.starts_with("Reminder from Smile Dental: "));
    assert!(reminder.contains("Teeth Whitening appointment is on Thu, Nov 26 at 2:00 PM EST"));
    let cancelled = cancellation_text(&c, &z, &s, t);
    assert!(
        cancelled.contains("Thu, Nov 26 at 2:00 PM EST is cancelled"),
        "{cancelled}"
    );
    let moved = rescheduled_text(&c, &z, &s, None, t, ts("2026-12-01T15:30:00Z"), None);
    assert!(
        moved.contains("moved to Tue, Dec 1 at 10:30 AM EST (it was Thu, Nov 26 at 2:00 PM EST)"),
        "{moved}"
    );
    let link = "https://book.example.com/a/AbCdEfGhIjKlMnOpQrStUg";
    assert_eq!(
        confirmation_text(&c, &z, &s, None, t, Some(link)),
        "Smile Dental: your Teeth Whitening appointment is confirmed for Thu, Nov 26 at 2:00 PM EST. \
         To change or cancel it: https://book.example.com/a/AbCdEfGhIjKlMnOpQrStUg Reply STOP to opt out."
    );
    assert_eq!(
        cancel_confirm_ask_text(&c, &z, &s, t),
        "Smile Dental: to cancel your Teeth Whitening appointment on Thu, Nov 26 at 2:00 PM EST, \
         reply RELEASE within 30 minutes. Anything else keeps it. Reply STOP to opt out."
    );
}

#[test]
fn replies_to_keywords() {
    let c = clinic("Smile Dental");
    let out = opt_out_reply(&c);
    assert!(out.starts_with("Smile Dental: you are unsubscribed"));
    assert!(out.contains("Reply START"));
    assert!(opt_in_reply(&c).contains("Reply STOP to opt out."));
    let help = help_reply(&c, Some(&phone("+19254207621")));
    assert_eq!(
        help,
        "Smile Dental: appointment texts. For help, call +19254207621. Msg & data rates may apply. \
         Reply STOP to opt out."
    );
    assert!(help_reply(&c, None).contains("For help, call the clinic."));
    assert!(inbound_auto_reply(&c, Some(&phone("+19254207621"))).contains("call +19254207621"));
    assert!(test_text(&c).starts_with("Smile Dental: this is a test"));
}

#[test]
fn hot_lead_text_has_name_number_service_score_and_top_reasons() {
    let score = crate::scoring::score(
        &crate::scoring::LeadSignals {
            booked: true,
            service_value_cents: Some(45_000),
            duration_seconds: Some(400),
            wants_callback: true,
            buying_intent: true,
            repeat_caller: true,
            no_shows: 0,
        },
        &crate::scoring::ScoreWeights::default(),
    );
    let text = hot_lead_text(
        &clinic("Smile Dental"),
        Some("Jane Doe"),
        Some(&phone("+19254207621")),
        Some("Teeth Whitening"),
        &score,
    );
    assert_eq!(
        text,
        "Smile Dental: hot lead, score 100/100. Jane Doe at +19254207621, interested in Teeth Whitening. \
         Why: Booked an appointment during the call (+75); Asked to be called back (+20); Interested in a \
         service worth 450 (+20). Call them back soon."
    );
    assert!(fits(&text));

    let text = hot_lead_text(&clinic("Smile Dental"), None, None, None, &score);
    assert!(text.contains("A caller at number withheld."), "{text}");
    let text = hot_lead_text(
        &clinic("Smile Dental"),
        Some("Jo"),
        None,
        Some("Botox!"),
        &score,
    );
    assert!(
        text.contains("Jo at number withheld, interested in Botox! Why: "),
        "{text}"
    );

    let nothing = LeadScore {
        total: 0,
        reasons: Vec::new(),
        no_shows: 0,
    };
    let text = hot_lead_text(
        &clinic("Smile Dental"),
        Some("  "),
        Some(&phone("+442071234567")),
        None,
        &nothing,
    );
    assert_eq!(
        text,
        "Smile Dental: hot lead, score 0/100. A caller at +442071234567. Call them back soon."
    );
}

#[test]
fn hot_lead_text_drops_the_third_reason_before_shortening_names() {
    let reasons = (0..3)
        .map(|i| ScoreReason {
            points: 30 - i,
            reason: format!("A reason of some length #{i}"),
        })
        .collect();
    let score = LeadScore {
        total: 87,
        reasons,
        no_shows: 0,
    };
    let name = "Maximilian Alexander Montgomery-Worthington";
    let text = hot_lead_text(
        &clinic(CLINIC_40),
        Some(name),
        Some(&phone("+19254207621")),
        Some(SERVICE_40),
        &score,
    );
    assert!(fits(&text), "{text}");
    assert!(
        text.contains("Why: A reason of some length #0 (+30); A reason of some length #1 (+29)."),
        "{text}"
    );
    assert!(!text.contains("#2"), "{text}");
    assert!(
        text.contains(name) && text.contains(SERVICE_40) && text.contains(CLINIC_40),
        "{text}"
    );
    assert!(text.contains("+19254207621"));
    // The three would not have fitted.
    let three = text.replace(" (+29).", " (+29); A reason of some length #2 (+28).");
    assert!(!fits(&three), "{three}");
}

#[test]
fn forwarded_texts_are_cut_to_two_segments() {
    let c = clinic("Smile Dental");
    let from = phone("+19254207621");
    assert_eq!(
        inbound_forward_text(&c, &from, " Can I come at 3\ninstead?  "),
        "Smile Dental: text from +19254207621: \"Can I come at 3 instead?\""
    );
    let long = "word ".repeat(400);
    let text = inbound_forward_text(&c, &from, &long);
    assert!(fits(&text));
    assert_eq!(segments(&text), seg(Encoding::Gsm7, 2));
    assert!(text.ends_with("...\""), "{text}");
    assert!(
        text.chars().count() > 290,
        "cut more than needed: {}",
        text.chars().count()
    );
    // An emoji makes it UCS-2: cut to two UCS-2 segments.
    let text = inbound_forward_text(&c, &from, &format!("Thanks 😀 {long}"));
    assert_eq!(segments(&text), seg(Encoding::Ucs2, 2));
    assert!(text.contains("Thanks 😀"));
}

#[test]
fn hot_lead_text_mentions_a_history_of_no_shows() {
    let score = crate::scoring::score(
        &crate::scoring::LeadSignals {
            booked: true,
            no_shows: 2,
            ..crate::scoring::LeadSignals::default()
        },
        &crate::scoring::ScoreWeights::default(),
    );
    let text = hot_lead_text(
        &clinic("Smile Dental"),
        Some("Jane Doe"),
        Some(&phone("+19254207621")),
        Some("Teeth Whitening"),
        &score,
    );
    assert_eq!(
        text,
        "Smile Dental: hot lead, score 75/100. Jane Doe at +19254207621, interested in Teeth Whitening. \
         Missed 2 earlier appointments (no-shows). Why: Booked an appointment during the call (+75). \
         Call them back soon."
    );
    // The longest names and reasons still leave room for it.
    let reasons = (0..3)
        .map(|i| ScoreReason {
            points: 30 - i,
            reason: format!("A reason of some length that goes on and on #{i}"),
        })
        .collect();
    let score = LeadScore {
        total: 87,
        reasons,
        no_shows: 1,
    };
    let text = hot_lead_text(
        &clinic(CLINIC_40),
        Some("Maximilian Alexander Montgomery-Worthington"),
        Some(&phone("+19254207621")),
        Some(SERVICE_40),
        &score,
    );
    assert!(fits(&text), "{text}");
    assert!(
        text.contains("Missed 1 earlier appointment (no-show)."),
        "{text}"
    );
}
