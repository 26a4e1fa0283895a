//! Inbound texts.

use super::*;
use crate::ports::Texting;

/// An inbound text with no `OptOutType`, for a clinic that answers keywords itself unless
/// `replies` says otherwise.
async fn inbound(
    h: &Harness,
    from: &PhoneNumber,
    body: &str,
    sid: &str,
    twilio_keyword: Option<InboundKeyword>,
    replies: KeywordReplies,
) -> InboundOutcome {
    h.service
        .handle_inbound_sms(
            &h.tenant,
            &InboundText {
                from,
                body,
                sid,
                twilio_keyword,
                keyword_replies: replies,
            },
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn stop_and_start_round_trip() {
    let h = harness().await;
    let c = h.caller();
    let out = inbound(
        &h,
        &c.phone,
        " stop ",
        "SMin1",
        None,
        KeywordReplies::Clinic,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("opt_out", 1));
    assert!(h.store.is_opted_out(h.tenant.id, &c.phone).await.unwrap());
    let reply = h
        .by_key(&DedupeKey::inbound(
            MessageKind::InboundReply,
            "SMin1",
            &c.phone,
        ))
        .await
        .unwrap();
    assert_eq!(reply.to, c.phone);
    // No code can be sent to that number now.
    let hold = h.reserve(&c, &tue(10, 0)).await;
    assert!(!h.service.send_otp(&c.ctx, hold, None).await.unwrap().ok());
    let out = inbound(&h, &c.phone, "START", "SMin2", None, KeywordReplies::Clinic).await;
    assert_eq!(out.keyword, "opt_in");
    assert!(!h.store.is_opted_out(h.tenant.id, &c.phone).await.unwrap());
    assert!(h.service.send_otp(&c.ctx, hold, None).await.unwrap().ok());
}

#[tokio::test]
async fn keywords_twilio_answers_get_no_second_reply() {
    let h = harness().await;
    let from = random_phone();
    // Twilio's default handling answered STOP, START and HELP: we record, and send nothing.
    let out = inbound(&h, &from, "STOP", "SMt1", None, KeywordReplies::Twilio).await;
    assert_eq!((out.keyword, out.queued), ("opt_out", 0));
    assert!(h.store.is_opted_out(h.tenant.id, &from).await.unwrap());
    let out = inbound(&h, &from, "start", "SMt2", None, KeywordReplies::Twilio).await;
    assert_eq!((out.keyword, out.queued), ("opt_in", 0));
    assert!(!h.store.is_opted_out(h.tenant.id, &from).await.unwrap());
    let out = inbound(&h, &from, "HELP", "SMt3", None, KeywordReplies::Twilio).await;
    assert_eq!((out.keyword, out.queued), ("help", 0));
}

#[tokio::test]
async fn advanced_opt_out_type_comes_first() {
    let h = harness().await;
    let from = random_phone();
    // "ALTO" is the clinic's own opt-out word in Advanced Opt-Out: Twilio says STOP. Even a
    // clinic that answers keywords itself sends nothing (Twilio replied), forwards nothing.
    let out = inbound(
        &h,
        &from,
        "ALTO",
        "SMa1",
        Some(InboundKeyword::OptOut),
        KeywordReplies::Clinic,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("opt_out", 0));
    assert!(h.store.is_opted_out(h.tenant.id, &from).await.unwrap());
    for alert in &h.tenant.config.alert_numbers {
        assert!(
            h.by_key(&DedupeKey::inbound(
                MessageKind::InboundForward,
                "SMa1",
                alert
            ))
            .await
            .is_none()
        );
    }
    let out = inbound(
        &h,
        &from,
        "ARRET",
        "SMa2",
        Some(InboundKeyword::OptOut),
        KeywordReplies::Twilio,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("opt_out", 0));
    let out = inbound(
        &h,
        &from,
        "AIDE",
        "SMa3",
        Some(InboundKeyword::Help),
        KeywordReplies::Clinic,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("help", 0));
    let out = inbound(
        &h,
        &from,
        "OUI",
        "SMa4",
        Some(InboundKeyword::OptIn),
        KeywordReplies::Clinic,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("opt_in", 0));
    assert!(!h.store.is_opted_out(h.tenant.id, &from).await.unwrap());
}

#[tokio::test]
async fn help_gets_a_reply() {
    let h = harness().await;
    let from = random_phone();
    let out = inbound(&h, &from, "Help", "SMhelp", None, KeywordReplies::Clinic).await;
    assert_eq!((out.keyword, out.queued), ("help", 1));
    let m = h
        .by_key(&DedupeKey::inbound(
            MessageKind::InboundReply,
            "SMhelp",
            &from,
        ))
        .await
        .unwrap();
    assert!(m.body.contains("Smile Dental"), "{}", m.body);
}

#[tokio::test]
async fn other_texts_are_forwarded_once() {
    let h = harness().await;
    let from = random_phone();
    let body = "Can I move my appointment?";
    let out = inbound(&h, &from, body, "SMq", None, KeywordReplies::Twilio).await;
    assert_eq!((out.keyword, out.queued), ("other", 3));
    for alert in &h.tenant.config.alert_numbers {
        let m = h
            .by_key(&DedupeKey::inbound(
                MessageKind::InboundForward,
                "SMq",
                alert,
            ))
            .await
            .unwrap();
        assert!(m.body.contains("move my appointment"), "{}", m.body);
    }
    assert!(
        h.by_key(&DedupeKey::inbound(MessageKind::InboundReply, "SMq", &from))
            .await
            .is_some()
    );
    // Twilio retries the webhook: nothing new.
    let again = inbound(&h, &from, body, "SMq", None, KeywordReplies::Twilio).await;
    assert_eq!(again.queued, 0);
    // An opted-out sender is forwarded but not answered.
    let quiet = random_phone();
    h.store
        .set_texting(h.tenant.id, &quiet, Texting::OptedOut, base_time())
        .await
        .unwrap();
    let out = inbound(&h, &quiet, "hello?", "SMr", None, KeywordReplies::Twilio).await;
    assert_eq!(out.queued, 2);
    assert!(
        h.by_key(&DedupeKey::inbound(
            MessageKind::InboundReply,
            "SMr",
            &quiet
        ))
        .await
        .is_none()
    );
}

#[tokio::test]
async fn one_auto_reply_per_sender_per_day() {
    let h = harness().await;
    let from = random_phone();
    let mut replies = 0;
    for i in 0..10 {
        inbound(
            &h,
            &from,
            "are you open?",
            &format!("SMl{i}"),
            None,
            KeywordReplies::Twilio,
        )
        .await;
        if h.by_key(&DedupeKey::inbound(
            MessageKind::InboundReply,
            &format!("SMl{i}"),
            &from,
        ))
        .await
        .is_some()
        {
            replies += 1;
        }
    }
    assert_eq!(replies, 1, "an auto-responder gets one reply a day");
    h.clock.advance(AUTO_REPLY_WINDOW);
    inbound(
        &h,
        &from,
        "hello again",
        "SMl-next",
        None,
        KeywordReplies::Twilio,
    )
    .await;
    assert!(
        h.by_key(&DedupeKey::inbound(
            MessageKind::InboundReply,
            "SMl-next",
            &from
        ))
        .await
        .is_some(),
        "a new day, a new reply"
    );
}

#[tokio::test]
async fn forwards_per_sender_are_limited_then_paused_once() {
    let h = harness().await;
    let from = random_phone();
    let alert = h.tenant.config.alert_numbers[0].clone();
    let mut bodies = Vec::new();
    for i in 0..(FORWARDS_PER_SENDER + 5) {
        let sid = format!("SMf{i}");
        inbound(
            &h,
            &from,
            &format!("text {i}"),
            &sid,
            None,
            KeywordReplies::Twilio,
        )
        .await;
        if let Some(m) = h
            .by_key(&DedupeKey::inbound(
                MessageKind::InboundForward,
                &sid,
                &alert,
            ))
            .await
        {
            bodies.push(m.body);
        }
    }
    assert_eq!(bodies.len() as u32, FORWARDS_PER_SENDER + 1, "{bodies:?}");
    assert!(
        bodies.last().unwrap().contains("keeps texting"),
        "{bodies:?}"
    );
    // Another sender is still forwarded.
    let other = random_phone();
    inbound(&h, &other, "hi", "SMf-other", None, KeywordReplies::Twilio).await;
    assert!(
        h.by_key(&DedupeKey::inbound(
            MessageKind::InboundForward,
            "SMf-other",
            &alert
        ))
        .await
        .is_some()
    );
}

#[tokio::test]
async fn forwards_per_clinic_are_limited() {
    let h = harness().await;
    let alert = h.tenant.config.alert_numbers[0].clone();
    let mut forwarded = 0;
    for i in 0..(FORWARDS_PER_CLINIC + 10) {
        let sid = format!("SMc{i}");
        inbound(
            &h,
            &random_phone(),
            "hello",
            &sid,
            None,
            KeywordReplies::Twilio,
        )
        .await;
        if h.by_key(&DedupeKey::inbound(
            MessageKind::InboundForward,
            &sid,
            &alert,
        ))
        .await
        .is_some()
        {
            forwarded += 1;
        }
    }
    assert_eq!(forwarded, FORWARDS_PER_CLINIC);
}

#[tokio::test]
async fn texts_from_a_clinic_number_are_neither_answered_nor_forwarded() {
    let h = harness().await;
    // Another clinic's texting number (its auto-reply, say).
    let other = create_tenant(&*h.store, "Other Clinic").await;
    let account = h.store.sms_account(other.id).await.unwrap().unwrap();
    let SmsSender::From(their_number) = account.sender else {
        unreachable!()
    };
    let out = inbound(
        &h,
        &their_number,
        "thanks, we passed your message on",
        "SMloop",
        None,
        KeywordReplies::Twilio,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("from_clinic_number", 0));
    // And this clinic's own number.
    let mine = h.store.sms_account(h.tenant.id).await.unwrap().unwrap();
    let SmsSender::From(my_number) = mine.sender else {
        unreachable!()
    };
    let out = inbound(
        &h,
        &my_number,
        "echo",
        "SMloop2",
        None,
        KeywordReplies::Twilio,
    )
    .await;
    assert_eq!(out.queued, 0);
}
