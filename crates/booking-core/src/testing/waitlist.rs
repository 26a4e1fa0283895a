//! The waitlist: joins and their limits, the freed times due an offer, offers and claims.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use crate::accounts::TokenHash;
use crate::booking::{BookingStatus, CallHolds, HOLD_TTL};
use crate::ids::{BookingId, WaitlistEntryId, WaitlistOfferId};
use crate::otp::ChangeProof;
use crate::outbox::{DedupeKey, MessageKind, NewMessage};
use crate::phone::PhoneNumber;
use crate::ports::{Store, StoreError};
use crate::tenant::Tenant;
use crate::testing::{
    base_time, booking_texts, confirmed, count_key, create_tenant, futures_join_all, hold, message,
    random_phone, span, status_of,
};
use crate::waitlist::{
    EntryStatus, JoinRefusal, NewOffer, NewWaitlistEntry, OfferDue, WaitlistDays,
};

fn date(s: &str) -> Date {
    s.parse().expect("a date")
}

/// An entry for the tenant's second service (the one [`hold`] books), any provider, any part
/// of the day, on the days given.
pub fn entry(
    tenant: &Tenant,
    phone: &PhoneNumber,
    days: (&str, &str),
    at: Timestamp,
) -> NewWaitlistEntry {
    NewWaitlistEntry {
        id: WaitlistEntryId::from_uuid(uuid::Uuid::new_v4()),
        tenant: tenant.id,
        service: tenant.config.services[1].name.clone(),
        provider: None,
        caller_name: "Grace Hopper".into(),
        phone: phone.clone(),
        days: WaitlistDays::new(date(days.0), date(days.1)).expect("days in order"),
        part_of_day: None,
        call_id: None,
        created_at: at,
    }
}

/// The suite's days: `span` is on 2030-03-05.
const DAYS: (&str, &str) = ("2030-03-01", "2030-03-09");

fn offer_of(due: &OfferDue, entry: WaitlistEntryId, now: Timestamp, ttl_min: i64) -> NewOffer {
    NewOffer {
        id: WaitlistOfferId::from_uuid(uuid::Uuid::new_v4()),
        tenant: due.slot.tenant,
        entry,
        slot: due.slot.clone(),
        token_hash: {
            let mut h = [0u8; 32];
            h[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            TokenHash(h)
        },
        offered_at: now,
        expires_at: now + SignedDuration::from_mins(ttl_min),
    }
}

fn offer_text(offer: &NewOffer, to: &PhoneNumber, now: Timestamp) -> NewMessage {
    message(
        offer.tenant,
        MessageKind::WaitlistOffer,
        DedupeKey::waitlist_offer(offer.entry, offer.slot.calendar, offer.slot.slot.start),
        to,
        now,
    )
}

async fn due_for<S: Store + ?Sized>(
    store: &S,
    freed: BookingId,
    now: Timestamp,
) -> Option<OfferDue> {
    store
        .freed_slots(now, 10_000)
        .await
        .expect("freed_slots")
        .into_iter()
        .find(|d| d.slot.freed == freed)
}

/// One entry per number per service on overlapping days; a cap per number; another tenant's
/// entries are neither listed nor removable; removed entries leave the list.
pub async fn waitlist_joins_and_limits<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "waitlist_joins_and_limits";
    let t = create_tenant(store, "Waitlist Clinic").await;
    let other = create_tenant(store, "Other Waitlist Clinic").await;
    let now = base_time();
    let p = random_phone();

    let first = store
        .join_waitlist(&entry(&t, &p, DAYS, now), 2)
        .await
        .expect("join");
    check!(NAME, first.is_ok(), "first join refused: {first:?}");
    let overlapping = store
        .join_waitlist(&entry(&t, &p, ("2030-03-09", "2030-03-12"), now), 2)
        .await
        .expect("join");
    check!(
        NAME,
        overlapping == Err(JoinRefusal::AlreadyWaiting),
        "overlapping days joined: {overlapping:?}"
    );
    let mut other_service = entry(&t, &p, DAYS, now);
    other_service.service = t.config.services[0].name.clone();
    let second = store.join_waitlist(&other_service, 2).await.expect("join");
    check!(NAME, second.is_ok(), "another service refused: {second:?}");
    let third = store
        .join_waitlist(&entry(&t, &p, ("2030-04-01", "2030-04-02"), now), 2)
        .await
        .expect("join");
    check!(
        NAME,
        third == Err(JoinRefusal::TooManyEntries { max: 2 }),
        "past the cap: {third:?}"
    );
    // The same number at another clinic is another list.
    let elsewhere = store
        .join_waitlist(&entry(&other, &p, DAYS, now), 2)
        .await
        .expect("join");
    check!(
        NAME,
        elsewhere.is_ok(),
        "another clinic refused: {elsewhere:?}"
    );

    let list = store.waitlist(t.id).await.expect("list");
    check!(NAME, list.len() == 2, "list {list:?}");
    let ids: Vec<_> = list.iter().map(|e| e.id).collect();
    let first = first.expect("joined");
    check!(NAME, ids[0] == first.id, "not in join order: {ids:?}");
    check!(
        NAME,
        list.iter()
            .all(|e| e.tenant == t.id && e.status == EntryStatus::Waiting),
        "list {list:?}"
    );

    let theirs = store.remove_from_waitlist(other.id, first.id, now).await;
    check!(
        NAME,
        theirs == Err(StoreError::NotFound),
        "another clinic removed ours: {theirs:?}"
    );
    store
        .remove_from_waitlist(t.id, first.id, now)
        .await
        .expect("remove");
    let again = store.remove_from_waitlist(t.id, first.id, now).await;
    check!(
        NAME,
        again == Err(StoreError::NotFound),
        "removed twice: {again:?}"
    );
    check!(
        NAME,
        store.waitlist(t.id).await.expect("list").len() == 1,
        "removed entry still listed"
    );
    // Its place is free again.
    let back = store
        .join_waitlist(&entry(&t, &p, DAYS, now), 2)
        .await
        .expect("join");
    check!(NAME, back.is_ok(), "rejoin after removal refused: {back:?}");
}

/// Twenty joins of one number at once: one per overlapping window, the cap holds.
pub async fn concurrent_joins_hold_the_limits<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "concurrent_joins_hold_the_limits";
    let t = create_tenant(store, "Busy Waitlist Clinic").await;
    let now = base_time();
    let p = random_phone();
    let same: Vec<NewWaitlistEntry> = (0..20).map(|_| entry(&t, &p, DAYS, now)).collect();
    let results = futures_join_all(same.iter().map(|e| store.join_waitlist(e, 3))).await;
    let ok = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    check!(
        NAME,
        ok == 1,
        "{ok} of 20 identical joins got in: {results:?}"
    );

    let q = random_phone();
    let spread: Vec<NewWaitlistEntry> = (0..20)
        .map(|i| {
            let d = date("2030-03-01").saturating_add(jiff::Span::new().days(i * 2));
            let d = d.to_string();
            entry(&t, &q, (&d, &d), now)
        })
        .collect();
    let results = futures_join_all(spread.iter().map(|e| store.join_waitlist(e, 3))).await;
    let ok = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    check!(
        NAME,
        ok == 3,
        "{ok} of 20 distinct joins got in past a cap of 3"
    );
    let mine = store
        .waitlist(t.id)
        .await
        .expect("list")
        .into_iter()
        .filter(|e| e.phone == q)
        .count();
    check!(NAME, mine == 3, "{mine} stored");
}

/// A cancelled appointment, a lapsed hold and a released hold are due an offer while their time
/// is free and someone waits for it; a taken time, a past one or one without a candidate is not.
/// A live offer keeps the time from a second one; once it lapses, the next candidate's turn
/// comes and the first is never offered that time again.
pub async fn freed_times_are_due_once_at_a_time<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "freed_times_are_due_once_at_a_time";
    let t = create_tenant(store, "Freed Clinic").await;
    let now = base_time();
    let (a, b) = (random_phone(), random_phone());
    let booked = confirmed(store, &t, span(0, 60), &random_phone(), now).await;
    check!(
        NAME,
        due_for(store, booked, now).await.is_none(),
        "a confirmed appointment is due"
    );
    store
        .cancel_booking(t.id, booked, ChangeProof::Owner, now, &[], &[])
        .await
        .expect("cancel");
    check!(
        NAME,
        due_for(store, booked, now).await.is_none(),
        "due with nobody waiting"
    );

    let ea = store
        .join_waitlist(&entry(&t, &a, DAYS, now), 3)
        .await
        .expect("join")
        .expect("joined");
    let eb = store
        .join_waitlist(&entry(&t, &b, DAYS, now), 3)
        .await
        .expect("join")
        .expect("joined");
    let due = due_for(store, booked, now)
        .await
        .expect("the cancelled time is due");
    let order: Vec<_> = due.candidates.iter().map(|e| e.id).collect();
    check!(NAME, order == [ea.id, eb.id], "candidates {order:?}");
    check!(
        NAME,
        due.slot.slot == span(0, 60) && due.slot.calendar == t.calendar(),
        "slot {:?}",
        due.slot
    );

    // A hold on the time takes it off; when the hold lapses, the time is due again, and so is
    // the lapsed hold's own time.
    let h = store
        .insert_hold(
            &hold(&t, span(0, 60), &random_phone(), None, now),
            now,
            CallHolds::Keep,
        )
        .await
        .expect("hold");
    check!(
        NAME,
        due_for(store, booked, now).await.is_none(),
        "due while held"
    );
    let later = now + HOLD_TTL + SignedDuration::from_secs(1);
    check!(
        NAME,
        due_for(store, booked, later).await.is_some(),
        "not due after the hold lapsed"
    );
    check!(
        NAME,
        due_for(store, h.id, later).await.is_some(),
        "the lapsed hold is not due"
    );
    // Once its start has passed, nothing is due.
    check!(
        NAME,
        due_for(store, booked, span(0, 60).start).await.is_none(),
        "a past time is due"
    );
    // A hold let go frees the time at once.
    store.release_hold(t.id, h.id, now).await.expect("release");
    check!(
        NAME,
        due_for(store, booked, now).await.is_some(),
        "not due after the hold was let go"
    );

    // The first offer: recorded once, its text queued once.
    let o1 = offer_of(&due, ea.id, now, 30);
    check!(
        NAME,
        store
            .record_offer(&o1, &offer_text(&o1, &a, now), now)
            .await
            .expect("offer"),
        "offer refused"
    );
    let key = DedupeKey::waitlist_offer(ea.id, t.calendar(), span(0, 60).start);
    check!(
        NAME,
        count_key(store, t.id, &key).await == 1,
        "offer text not queued once"
    );
    check!(
        NAME,
        due_for(store, booked, now).await.is_none(),
        "due while an offer is live"
    );
    let o2 = offer_of(&due, eb.id, now, 30);
    check!(
        NAME,
        !store
            .record_offer(&o2, &offer_text(&o2, &b, now), now)
            .await
            .expect("offer"),
        "a second live offer"
    );

    // Lapsed: the next in line, never the first again.
    let lapsed = now + SignedDuration::from_mins(31);
    let due2 = due_for(store, booked, lapsed)
        .await
        .expect("due after the offer lapsed");
    let order: Vec<_> = due2.candidates.iter().map(|e| e.id).collect();
    check!(
        NAME,
        order == [eb.id],
        "candidates after the lapse {order:?}"
    );
    let again = offer_of(&due2, ea.id, lapsed, 30);
    check!(
        NAME,
        !store
            .record_offer(&again, &offer_text(&again, &a, lapsed), lapsed)
            .await
            .expect("offer"),
        "offered the same time twice"
    );
    check!(
        NAME,
        count_key(store, t.id, &key).await == 1,
        "a second text for the same time"
    );
    let o3 = offer_of(&due2, eb.id, lapsed, 30);
    check!(
        NAME,
        store
            .record_offer(&o3, &offer_text(&o3, &b, lapsed), lapsed)
            .await
            .expect("offer"),
        "next offer refused"
    );
    let gone = store
        .offer_by_token(&o1.token_hash, lapsed)
        .await
        .expect("read");
    check!(NAME, gone.is_none(), "a lapsed offer is found: {gone:?}");
    let live = store
        .offer_by_token(&o3.token_hash, lapsed)
        .await
        .expect("read")
        .expect("live");
    check!(
        NAME,
        live.entry.id == eb.id && live.slot.freed == booked && live.claimed.is_none(),
        "live {live:?}"
    );

    // Another booking freeing the same time later: an entry already offered it is not a
    // candidate.
    let booked2 = confirmed(store, &t, span(0, 60), &random_phone(), lapsed).await;
    store
        .cancel_booking(t.id, booked2, ChangeProof::Owner, lapsed, &[], &[])
        .await
        .expect("cancel");
    check!(
        NAME,
        due_for(store, booked2, lapsed).await.is_none(),
        "due with every candidate offered it"
    );
}

/// A claim confirms the hold made for it, fills the entry, queues the texts and makes the time
/// due no more; a second claim of the offer, a lapsed offer, another tenant's id or a hold that
/// is not live are refused and change nothing.
pub async fn claims_fill_once<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "claims_fill_once";
    let t = create_tenant(store, "Claim Clinic").await;
    let other = create_tenant(store, "Other Claim Clinic").await;
    let now = base_time();
    let a = random_phone();
    let booked = confirmed(store, &t, span(0, 60), &random_phone(), now).await;
    store
        .cancel_booking(t.id, booked, ChangeProof::Owner, now, &[], &[])
        .await
        .expect("cancel");
    let ea = store
        .join_waitlist(&entry(&t, &a, DAYS, now), 3)
        .await
        .expect("join")
        .expect("joined");
    let due = due_for(store, booked, now).await.expect("due");
    let offer = offer_of(&due, ea.id, now, 30);
    assert!(
        store
            .record_offer(&offer, &offer_text(&offer, &a, now), now)
            .await
            .expect("offer")
    );

    let mut h = hold(&t, span(0, 60), &a, None, now);
    h.service = due.slot.service.clone();
    let held = store
        .insert_hold(&h, now, CallHolds::Keep)
        .await
        .expect("hold");
    let theirs = store
        .claim_offer(other.id, offer.id, held.id, now, &[])
        .await;
    check!(NAME, theirs.is_err(), "another clinic claimed: {theirs:?}");
    check!(
        NAME,
        status_of(store, t.id, held.id).await == BookingStatus::Held,
        "changed by another clinic"
    );
    let lapsed = now + SignedDuration::from_mins(30);
    let late = store
        .claim_offer(t.id, offer.id, held.id, lapsed, &[])
        .await;
    check!(
        NAME,
        matches!(late, Err(StoreError::WrongState { .. })),
        "a lapsed offer claimed: {late:?}"
    );

    let texts = booking_texts(t.id, held.id, &a, now);
    let booking = store
        .claim_offer(t.id, offer.id, held.id, now, &texts)
        .await
        .expect("claim");
    check!(
        NAME,
        booking.status == BookingStatus::Confirmed && booking.id == held.id,
        "claimed {booking:?}"
    );
    check!(
        NAME,
        count_key(store, t.id, &DedupeKey::confirmation(held.id)).await == 1,
        "confirmation not queued"
    );
    let twice = store
        .claim_offer(t.id, offer.id, held.id, now, &texts)
        .await;
    check!(
        NAME,
        matches!(twice, Err(StoreError::WrongState { .. })),
        "claimed twice: {twice:?}"
    );
    check!(
        NAME,
        store.waitlist(t.id).await.expect("list").is_empty(),
        "a filled entry still waits"
    );
    let fills = store.waitlist_fills(t.id, 10).await.expect("fills");
    check!(
        NAME,
        fills.len() == 1 && fills[0].status == EntryStatus::Filled(held.id),
        "fills {fills:?}"
    );
    check!(
        NAME,
        store
            .waitlist_fills(other.id, 10)
            .await
            .expect("fills")
            .is_empty(),
        "another clinic sees our fills"
    );
    let view = store
        .offer_by_token(&offer.token_hash, lapsed)
        .await
        .expect("read")
        .expect("claimed offers stay readable");
    check!(NAME, view.claimed == Some(held.id), "view {view:?}");
    check!(
        NAME,
        due_for(store, booked, now).await.is_none(),
        "a filled time is due"
    );

    // An entry taken off the list cannot claim its live offer.
    let b = random_phone();
    let booked2 = confirmed(store, &t, span(120, 60), &random_phone(), now).await;
    store
        .cancel_booking(t.id, booked2, ChangeProof::Owner, now, &[], &[])
        .await
        .expect("cancel");
    let eb = store
        .join_waitlist(&entry(&t, &b, DAYS, now), 3)
        .await
        .expect("join")
        .expect("joined");
    let due2 = due_for(store, booked2, now).await.expect("due");
    let offer2 = offer_of(&due2, eb.id, now, 30);
    assert!(
        store
            .record_offer(&offer2, &offer_text(&offer2, &b, now), now)
            .await
            .expect("offer")
    );
    store
        .remove_from_waitlist(t.id, eb.id, now)
        .await
        .expect("remove");
    let mut h2 = hold(&t, span(120, 60), &b, None, now);
    h2.service = due2.slot.service.clone();
    let held2 = store
        .insert_hold(&h2, now, CallHolds::Keep)
        .await
        .expect("hold");
    let removed = store.claim_offer(t.id, offer2.id, held2.id, now, &[]).await;
    check!(
        NAME,
        matches!(removed, Err(StoreError::WrongState { .. })),
        "a removed entry claimed: {removed:?}"
    );
    // The Reports page counts the one claim that became an appointment, in the week it was
    // confirmed, and nothing for another clinic.
    let weeks = crate::reports::ReportWeeks::ending_at(now, &t.config.zone, 1);
    let figures = store.weekly_figures(t.id, &weeks).await.expect("figures");
    check!(
        NAME,
        figures[0].refilled_by_waitlist == 1,
        "refilled by the waitlist: {figures:?}"
    );
    let other = create_tenant(store, "Other Refill Clinic").await;
    let none = store
        .weekly_figures(other.id, &weeks)
        .await
        .expect("figures");
    check!(
        NAME,
        none[0].refilled_by_waitlist == 0,
        "another clinic's refills: {none:?}"
    );
}

/// Many workers offering the same freed time at once: one offer, one text.
pub async fn concurrent_offers_one_text<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "concurrent_offers_one_text";
    let t = create_tenant(store, "Raced Offer Clinic").await;
    let now = base_time();
    let booked = confirmed(store, &t, span(0, 60), &random_phone(), now).await;
    store
        .cancel_booking(t.id, booked, ChangeProof::Owner, now, &[], &[])
        .await
        .expect("cancel");
    let mut entries = Vec::new();
    for _ in 0..5 {
        let p = random_phone();
        let e = store
            .join_waitlist(&entry(&t, &p, DAYS, now), 3)
            .await
            .expect("join")
            .expect("joined");
        entries.push((e, p));
    }
    let due = due_for(store, booked, now).await.expect("due");
    // Ten workers: two for each entry, each with its own token.
    let offers: Vec<(NewOffer, NewMessage)> = (0..10)
        .map(|i| {
            let (e, p) = &entries[i % 5];
            let o = offer_of(&due, e.id, now, 30);
            let m = offer_text(&o, p, now);
            (o, m)
        })
        .collect();
    let results = futures_join_all(offers.iter().map(|(o, m)| store.record_offer(o, m, now))).await;
    let made = results.iter().filter(|r| matches!(r, Ok(true))).count();
    check!(
        NAME,
        made == 1,
        "{made} offers of one freed time: {results:?}"
    );
    let texts = store
        .list_messages(t.id, 1000)
        .await
        .expect("messages")
        .into_iter()
        .filter(|m| m.kind == MessageKind::WaitlistOffer)
        .count();
    check!(NAME, texts == 1, "{texts} offer texts");
}
