//! The patient's link: the texts carry it, it cancels and moves through the phone's use-cases,
//! refuses inside the notice window and past its limits; and replies to the reminder.

use super::*;
use crate::link_token::LinkToken;
use crate::patient_link::{ACTIONS_PER_LINK, LinkBase};

async fn linked_harness() -> Harness {
    harness_with(ServiceConfig {
        link_base: LinkBase::parse("https://book.example.com"),
        ..ServiceConfig::default()
    })
    .await
}

/// The token in a text's link.
fn token_in(body: &str) -> LinkToken {
    let at = body
        .find("/a/")
        .unwrap_or_else(|| panic!("no link: {body}"));
    LinkToken::from_presented(&body[at + 3..at + 25]).expect("a token")
}

#[tokio::test]
async fn both_texts_carry_one_link_and_it_cancels_through_the_phones_cancel() {
    let h = linked_harness().await;
    let c = h.caller();
    let id = h.book(&c, &tue(10, 0)).await;
    let conf = h.by_key(&DedupeKey::confirmation(id)).await.unwrap();
    let reminder = h.by_key(&DedupeKey::reminder(id)).await.unwrap();
    assert!(
        conf.body
            .contains("To change or cancel it: https://book.example.com/a/"),
        "{}",
        conf.body
    );
    let token = token_in(&conf.body);
    assert_eq!(token_in(&reminder.body), token);
    let linked = h.service.open_link(&token).await.unwrap().expect("opens");
    assert_eq!(
        (linked.booking.id, linked.state),
        (id, LinkState::Changeable)
    );

    let out = h
        .service
        .cancel_by_link(&token, "198.51.100.1")
        .await
        .unwrap();
    assert!(
        matches!(out, Ok(CancelOutcome::Cancelled { .. })),
        "{out:?}"
    );
    assert_eq!(h.status(id).await, BookingStatus::Cancelled);
    assert_eq!(
        h.by_key(&DedupeKey::reminder(id)).await.unwrap().status,
        MessageStatus::Withdrawn
    );
    assert_eq!(h.count_key(&DedupeKey::cancellation(id)).await, 1);
    // Again: it says cancelled, and nothing more is queued.
    let again = h
        .service
        .cancel_by_link(&token, "198.51.100.1")
        .await
        .unwrap();
    assert_eq!(again, Err(LinkRefusal::Cancelled));
    assert_eq!(h.count_key(&DedupeKey::cancellation(id)).await, 1);
    // A guessed token opens nothing.
    let guessed = LinkToken::from_presented("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
    assert!(h.service.open_link(&guessed).await.unwrap().is_none());
    assert_eq!(
        h.service
            .cancel_by_link(&guessed, "198.51.100.1")
            .await
            .unwrap(),
        Err(LinkRefusal::NotFound)
    );
}

#[tokio::test]
async fn without_a_link_base_the_texts_say_to_call() {
    let h = harness().await;
    let c = h.caller();
    let id = h.book(&c, &tue(10, 0)).await;
    let conf = h.by_key(&DedupeKey::confirmation(id)).await.unwrap();
    assert!(
        conf.body.contains("To change or cancel it, call us."),
        "{}",
        conf.body
    );
}

#[tokio::test]
async fn a_move_by_link_gives_a_new_link_and_revokes_the_old() {
    let h = linked_harness().await;
    let c = h.caller();
    let id = h.book(&c, &tue(10, 0)).await;
    let token = token_in(&h.by_key(&DedupeKey::confirmation(id)).await.unwrap().body);
    let linked = h.service.open_link(&token).await.unwrap().unwrap();
    let (options, _) = h
        .service
        .move_options(&linked, None, ProviderChoice::Same)
        .await
        .unwrap();
    let to = options
        .iter()
        .find(|o| o.start != linked.booking.slot.start)
        .expect("a free time");
    let moved = h
        .service
        .reschedule_by_link(
            &token,
            "198.51.100.1",
            &SlotStart::Exact(to.start),
            Some(to.provider),
        )
        .await
        .unwrap()
        .expect("allowed");
    let RescheduleOutcome::Rescheduled { appointment_id, .. } = moved.outcome else {
        panic!("{moved:?}")
    };
    let new_token = moved.new_link.expect("a new link");
    assert_ne!(new_token, token);
    assert!(
        h.service.open_link(&token).await.unwrap().is_none(),
        "the old link is revoked"
    );
    let new = h.service.open_link(&new_token).await.unwrap().unwrap();
    assert_eq!(new.booking.id, appointment_id);
    let text = h
        .by_key(&DedupeKey::confirmation(appointment_id))
        .await
        .unwrap();
    assert_eq!(token_in(&text.body), new_token);
    assert!(text.body.contains("has moved to"), "{}", text.body);
}

#[tokio::test]
async fn inside_the_notice_window_and_past_the_limits_nothing_changes() {
    let h = linked_harness().await;
    let c = h.caller();
    let id = h.book(&c, &tue(10, 0)).await;
    let token = token_in(&h.by_key(&DedupeKey::confirmation(id)).await.unwrap().body);
    // 24 hours before Tuesday 10:00 is Monday 10:00; "now" is Monday 09:00.
    h.clock.advance(SignedDuration::from_mins(61));
    let linked = h.service.open_link(&token).await.unwrap().unwrap();
    assert_eq!(linked.state, LinkState::InsideNotice);
    assert_eq!(
        h.service
            .cancel_by_link(&token, "198.51.100.1")
            .await
            .unwrap(),
        Err(LinkRefusal::InsideNotice)
    );
    h.clock.set(base_time());
    for _ in 0..ACTIONS_PER_LINK {
        h.store
            .count_link_action(
                &crate::patient_link::ActionKey::link(&token.hash()),
                crate::patient_link::ACTION_WINDOW,
                base_time(),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        h.service
            .cancel_by_link(&token, "198.51.100.2")
            .await
            .unwrap(),
        Err(LinkRefusal::TooMany)
    );
    assert_eq!(h.status(id).await, BookingStatus::Confirmed);
    assert_eq!(h.count_key(&DedupeKey::cancellation(id)).await, 0);
}

/// A reply from `from` to the clinic's number.
async fn reply(h: &Harness, from: &PhoneNumber, body: &str, sid: &str) -> InboundOutcome {
    h.service
        .handle_inbound_sms(
            &h.tenant,
            &InboundText {
                from,
                body,
                sid,
                twilio_keyword: None,
                keyword_replies: KeywordReplies::Clinic,
            },
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn the_confirmation_word_again_after_the_cancel_is_not_forwarded() {
    let h = linked_harness().await;
    let c = h.caller();
    let id = h.book(&c, &tue(10, 0)).await;
    // The reminder goes out.
    let later = base_time() + SignedDuration::from_hours(2);
    let claims = h
        .store
        .claim_due(later, 10, later + SignedDuration::from_secs(60), "w")
        .await
        .unwrap();
    let reminder = claims
        .iter()
        .find(|m| m.message.dedupe_key == DedupeKey::reminder(id))
        .expect("the reminder is due");
    h.store
        .record_delivery(
            reminder,
            &DeliveryUpdate::Accepted {
                sid: MessageSid::parse("SMreminder").unwrap(),
                status: MessageStatus::Queued,
            },
            later,
        )
        .await
        .unwrap();

    assert_eq!(
        reply(&h, &c.phone, "C", "SMin1").await.keyword,
        "cancel_asked"
    );
    assert_eq!(
        reply(&h, &c.phone, "RELEASE", "SMin2").await.keyword,
        "cancelled"
    );
    assert_eq!(h.status(id).await, BookingStatus::Cancelled);
    // The word again (a second tap, or two sent at once): an answered question, not a text
    // for the clinic.
    let again = reply(&h, &c.phone, "Release", "SMin3").await;
    assert_eq!((again.keyword, again.queued), ("cancelled", 0));
    let forwards = h
        .messages()
        .await
        .into_iter()
        .filter(|m| m.kind == MessageKind::InboundForward)
        .count();
    assert_eq!(forwards, 0);
    assert_eq!(h.count_key(&DedupeKey::cancellation(id)).await, 1);
}
