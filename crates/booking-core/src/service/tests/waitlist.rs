//! `join_waitlist`, the offers of freed times and their claims.

use super::*;
use crate::link_token::LinkToken;
use crate::ports::WaitlistStore;
use crate::waitlist::PartOfDay;

/// Offers are links: the service needs the deployment's public address.
async fn harness_with_links() -> Harness {
    harness_with(ServiceConfig {
        link_base: crate::patient_link::LinkBase::parse("https://book.example.com"),
        ..ServiceConfig::default()
    })
    .await
}

fn join(service: &str, from: &str, to: &str) -> JoinWaitlist {
    JoinWaitlist {
        service: service.into(),
        caller_name: "Grace Hopper".into(),
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
        provider: None,
        part_of_day: None,
    }
}

impl Harness {
    async fn joins(&self, c: &Caller) -> crate::ids::WaitlistEntryId {
        match self
            .service
            .join_waitlist(&c.ctx, join("Teeth Whitening", "2030-03-05", "2030-03-06"))
            .await
            .unwrap()
        {
            JoinOutcome::Joined { entry, .. } => entry,
            other => panic!("not joined: {other:?}"),
        }
    }

    /// The link token in the newest offer text to `to`.
    async fn offer_link(&self, to: &PhoneNumber) -> Option<LinkToken> {
        let msgs = self.messages().await;
        let m = msgs
            .iter()
            .find(|m| m.kind == MessageKind::WaitlistOffer && &m.to == to)?;
        let at = m.body.find("/w/")? + 3;
        LinkToken::from_presented(&m.body[at..at + 22])
    }
}

#[tokio::test]
async fn joining_reads_the_days_service_and_provider_and_refuses_in_words() {
    let h = harness_with_links().await;
    let c = h.caller();
    // Days before today are dropped.
    let joined = h
        .service
        .join_waitlist(&c.ctx, join("teeth whitening", "2030-03-01", "2030-03-06"))
        .await
        .unwrap();
    match joined {
        JoinOutcome::Joined {
            from, to, service, ..
        } => {
            assert_eq!(from.to_string(), "2030-03-04");
            assert_eq!(to.to_string(), "2030-03-06");
            assert_eq!(service, "Teeth Whitening");
        }
        other => panic!("{other:?}"),
    }
    let refusal = |o: JoinOutcome| match o {
        JoinOutcome::Refused(r) => r,
        other => panic!("not refused: {other:?}"),
    };
    let again = h
        .service
        .join_waitlist(&c.ctx, join("Teeth Whitening", "2030-03-06", "2030-03-09"))
        .await
        .unwrap();
    assert_eq!(refusal(again), JoinWaitlistRefusal::AlreadyWaiting);
    let out_of_order = h
        .service
        .join_waitlist(&c.ctx, join("Checkup", "2030-03-09", "2030-03-06"))
        .await
        .unwrap();
    assert_eq!(refusal(out_of_order), JoinWaitlistRefusal::DaysOutOfOrder);
    let past = h
        .service
        .join_waitlist(&c.ctx, join("Checkup", "2030-02-01", "2030-02-02"))
        .await
        .unwrap();
    assert!(matches!(
        refusal(past),
        JoinWaitlistRefusal::DaysPast { .. }
    ));
    let far = h
        .service
        .join_waitlist(&c.ctx, join("Checkup", "2031-03-01", "2031-03-02"))
        .await
        .unwrap();
    assert!(matches!(
        refusal(far),
        JoinWaitlistRefusal::BeyondHorizon { .. }
    ));
    let unknown = h
        .service
        .join_waitlist(&c.ctx, join("Tattoo", "2030-03-05", "2030-03-05"))
        .await
        .unwrap();
    assert!(matches!(
        refusal(unknown),
        JoinWaitlistRefusal::UnknownService(_)
    ));
    let mut nobody = join("Checkup", "2030-03-05", "2030-03-05");
    nobody.provider = Some("Dr. Nobody".into());
    let nobody = h.service.join_waitlist(&c.ctx, nobody).await.unwrap();
    assert!(matches!(refusal(nobody), JoinWaitlistRefusal::Provider(_)));
    let mut hidden = h.caller();
    hidden.ctx.caller = None;
    let hidden = h
        .service
        .join_waitlist(&hidden.ctx, join("Checkup", "2030-03-05", "2030-03-05"))
        .await
        .unwrap();
    assert_eq!(refusal(hidden), JoinWaitlistRefusal::HiddenNumber);
    assert_eq!(h.store.waitlist(h.tenant.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_cancelled_time_is_offered_to_the_first_who_wants_it_and_claimed_once() {
    let h = harness_with_links().await;
    let booker = h.caller();
    let booked = h.book(&booker, &tue(10, 0)).await;
    let (ana, ben, cal) = (h.caller(), h.caller(), h.caller());
    // Ana only wants afternoons: 10:00 is not for her.
    let mut afternoons = join("Teeth Whitening", "2030-03-05", "2030-03-05");
    afternoons.part_of_day = Some(PartOfDay::Afternoon);
    assert!(matches!(
        h.service.join_waitlist(&ana.ctx, afternoons).await.unwrap(),
        JoinOutcome::Joined { .. }
    ));
    h.joins(&ben).await;
    h.joins(&cal).await;
    assert_eq!(
        h.service.offer_freed_slots().await.unwrap(),
        0,
        "nothing freed yet"
    );

    h.service
        .cancel_booking_for_owner(&h.tenant, booked)
        .await
        .unwrap();
    assert_eq!(h.service.offer_freed_slots().await.unwrap(), 1);
    assert_eq!(
        h.service.offer_freed_slots().await.unwrap(),
        0,
        "one live offer"
    );
    assert!(h.offer_link(&ana.phone).await.is_none());
    assert!(h.offer_link(&cal.phone).await.is_none());
    let token = h.offer_link(&ben.phone).await.expect("Ben's offer");

    let page = h
        .service
        .waitlist_offer(&token)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(page.offer.entry.phone, ben.phone);
    let claimed = h.service.claim_waitlist_offer(&token).await.unwrap();
    let ClaimOutcome::Claimed { booking, .. } = claimed else {
        panic!("not claimed: {claimed:?}")
    };
    assert_eq!(booking.caller_phone, ben.phone);
    assert_eq!(h.status(booking.id).await, BookingStatus::Confirmed);
    assert_eq!(h.count_key(&DedupeKey::confirmation(booking.id)).await, 1);
    assert!(matches!(
        h.service.claim_waitlist_offer(&token).await.unwrap(),
        ClaimOutcome::AlreadyClaimed { .. }
    ));
    // A guessed link is nothing.
    let guessed = LinkToken::from_presented("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
    assert_eq!(
        h.service.claim_waitlist_offer(&guessed).await.unwrap(),
        ClaimOutcome::Gone
    );
    assert_eq!(h.service.offer_freed_slots().await.unwrap(), 0, "filled");
}

#[tokio::test]
async fn a_lapsed_offer_passes_on_and_its_link_is_gone() {
    let h = harness_with_links().await;
    let booked = h.book(&h.caller(), &tue(10, 0)).await;
    let (ana, ben) = (h.caller(), h.caller());
    h.joins(&ana).await;
    h.joins(&ben).await;
    h.service
        .cancel_booking_for_owner(&h.tenant, booked)
        .await
        .unwrap();
    h.service.offer_freed_slots().await.unwrap();
    let first = h.offer_link(&ana.phone).await.expect("Ana's offer");
    h.clock.advance(SignedDuration::from_mins(30));
    assert_eq!(h.service.offer_freed_slots().await.unwrap(), 1);
    assert!(h.offer_link(&ben.phone).await.is_some());
    assert_eq!(
        h.service.claim_waitlist_offer(&first).await.unwrap(),
        ClaimOutcome::Gone
    );
    assert_eq!(h.service.waitlist_offer(&first).await.unwrap(), None);
}

#[tokio::test]
async fn a_time_taken_by_phone_meanwhile_is_just_taken_and_the_entry_stays() {
    let h = harness_with_links().await;
    let booked = h.book(&h.caller(), &tue(10, 0)).await;
    let ana = h.caller();
    h.joins(&ana).await;
    h.service
        .cancel_booking_for_owner(&h.tenant, booked)
        .await
        .unwrap();
    h.service.offer_freed_slots().await.unwrap();
    let token = h.offer_link(&ana.phone).await.expect("offer");
    h.reserve(&h.caller(), &tue(10, 0)).await;
    assert!(matches!(
        h.service.claim_waitlist_offer(&token).await.unwrap(),
        ClaimOutcome::Taken { .. }
    ));
    assert_eq!(h.store.waitlist(h.tenant.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_opted_out_number_is_passed_over() {
    let h = harness_with_links().await;
    let booked = h.book(&h.caller(), &tue(10, 0)).await;
    let (ana, ben) = (h.caller(), h.caller());
    h.joins(&ana).await;
    h.joins(&ben).await;
    h.store
        .set_texting(
            h.tenant.id,
            &ana.phone,
            crate::ports::Texting::OptedOut,
            base_time(),
        )
        .await
        .unwrap();
    h.service
        .cancel_booking_for_owner(&h.tenant, booked)
        .await
        .unwrap();
    h.service.offer_freed_slots().await.unwrap();
    assert!(h.offer_link(&ana.phone).await.is_none());
    assert!(h.offer_link(&ben.phone).await.is_some());
}
