//! Codes: superseding, failed checks, send limits, proofs of a change.

use crate::booking::CallHolds;
use jiff::SignedDuration;

use crate::booking::BookingStatus;
use crate::ids::{BookingId, MessageSid, TenantId};
use crate::otp::{
    Challenge, ChangeProof, CheckClaim, OtpPolicy, RateWindow, SendLimit, SendRefused,
};
use crate::outbox::{DedupeKey, DeliveryUpdate, MessageKind, MessageStatus};
use crate::phone::PhoneNumber;
use crate::ports::{Store, StoreError, StoreResult, Texting};
use crate::testing::{
    appointment, base_time, booking_id, booking_texts, challenge, confirmed, count_key,
    create_tenant, futures_join_all, hold, join2, message, message_id, random_call_id,
    random_phone, span, status_of, store_challenge,
};

pub async fn challenges_supersede<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Supersede Clinic").await;
    let now = base_time();
    let p = random_phone();
    let h = store
        .insert_hold(&hold(&t, span(0, 60), &p, None, now), now, CallHolds::Keep)
        .await
        .expect("hold");
    let (c1, m1) = challenge(t.id, h.id, &p, None, now);
    let first = store_challenge(store, &c1, &m1).await.expect("first");
    check!(
        "challenges_supersede",
        first.failed_checks == 0 && first.consumed_at.is_none() && first.superseded_at.is_none(),
        "a new challenge: {first:?}"
    );
    check!(
        "challenges_supersede",
        count_key(store, t.id, &DedupeKey::otp(c1.id)).await == 1,
        "the code's text was not queued"
    );
    let t2 = now + SignedDuration::from_mins(1);
    let (c2, m2) = challenge(t.id, h.id, &p, None, t2);
    store_challenge(store, &c2, &m2).await.expect("second");
    let active = store
        .active_challenge(t.id, h.id)
        .await
        .expect("active")
        .expect("one active");
    check!(
        "challenges_supersede",
        active.id == c2.id,
        "the active challenge is not the newest"
    );
    check!(
        "challenges_supersede",
        active.code_hash == c2.code_hash,
        "the hash does not round-trip"
    );
    let missing =
        store_challenge(store, &challenge(t.id, booking_id(), &p, None, now).0, &m1).await;
    check!(
        "challenges_supersede",
        missing.is_err(),
        "a challenge for a missing booking: {missing:?}"
    );
}

pub async fn failed_checks_count<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "failed_checks_count";
    let t = create_tenant(store, "Attempts Clinic").await;
    let now = base_time();
    let p = random_phone();
    let h = store
        .insert_hold(&hold(&t, span(0, 60), &p, None, now), now, CallHolds::Keep)
        .await
        .expect("hold");
    let (c, m) = challenge(t.id, h.id, &p, None, now);
    store_challenge(store, &c, &m).await.expect("challenge");
    for want in 1..=3 {
        let n = store.begin_check(t.id, h.id, now, 5).await.expect("check");
        check!(
            NAME,
            matches!(&n, CheckClaim::Counted(got) if got.id == c.id && got.failed_checks == want),
            "check {want} was counted as {n:?}"
        );
    }
    // Twenty at once: exactly the two checks left are counted, whatever the interleaving.
    let racers = (0..20).map(|_| store.begin_check(t.id, h.id, now, 5));
    let got: Vec<CheckClaim> = futures_join_all(racers)
        .await
        .into_iter()
        .map(|r| r.expect("check"))
        .collect();
    let counted: Vec<u32> = got
        .iter()
        .filter_map(|g| match g {
            CheckClaim::Counted(c) => Some(c.failed_checks),
            _ => None,
        })
        .collect();
    check!(
        NAME,
        counted.len() == 2 && got.iter().filter(|g| **g == CheckClaim::Exhausted).count() == 18,
        "twenty concurrent checks with two left: {got:?}"
    );
    let active = store
        .active_challenge(t.id, h.id)
        .await
        .expect("active")
        .expect("active");
    check!(
        NAME,
        active.failed_checks == 5,
        "stored count {}",
        active.failed_checks
    );
    let missing = store.begin_check(t.id, booking_id(), now, 5).await;
    check!(
        NAME,
        missing == Ok(CheckClaim::Gone),
        "a booking without a code: {missing:?}"
    );
    // An expired code is not checked, nor a consumed or superseded one.
    let h2 = store
        .insert_hold(
            &hold(&t, span(120, 60), &p, None, now),
            now,
            CallHolds::Keep,
        )
        .await
        .expect("hold 2");
    let (c2, m2) = challenge(t.id, h2.id, &p, None, now);
    store_challenge(store, &c2, &m2).await.expect("challenge 2");
    let late = store
        .begin_check(t.id, h2.id, c2.expires_at, 5)
        .await
        .expect("late check");
    check!(
        NAME,
        late == CheckClaim::Expired,
        "an expired code: {late:?}"
    );
    let (c3, m3) = challenge(t.id, h2.id, &p, None, now + SignedDuration::from_secs(1));
    store_challenge(store, &c3, &m3).await.expect("challenge 3");
    // The newer code is the one checked; the superseded one keeps its count.
    let newer = store.begin_check(t.id, h2.id, now, 5).await.expect("newer");
    check!(
        NAME,
        matches!(&newer, CheckClaim::Counted(got) if got.id == c3.id && got.failed_checks == 1),
        "after a newer code: {newer:?}"
    );
    store
        .confirm_hold(t.id, h2.id, c3.id, now, None, &[])
        .await
        .expect("confirm with the newer code");
    let used = store.begin_check(t.id, h2.id, now, 5).await.expect("used");
    check!(NAME, used == CheckClaim::Gone, "a consumed code: {used:?}");
}

/// A number that replied STOP gets no code from that clinic: the store reads the opt-out in the
/// send's turn, stores nothing and queues nothing. Another clinic's opt-out does not count, nor
/// does the booking's own number when the code goes to another, and START lifts it.
pub async fn opted_out_numbers_get_no_code<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "opted_out_numbers_get_no_code";
    let now = base_time();
    let policy = OtpPolicy::default();
    let (a, b) = (
        create_tenant(store, "Stopped Clinic").await,
        create_tenant(store, "Other Clinic").await,
    );
    let (stopped, other) = (random_phone(), random_phone());
    store
        .set_texting(a.id, &stopped, Texting::OptedOut, now)
        .await
        .expect("STOP");
    let held = async |t: &crate::tenant::Tenant, phone: &PhoneNumber, minute: i64| {
        store
            .insert_hold(
                &hold(t, span(minute, 30), phone, None, now),
                now,
                CallHolds::Keep,
            )
            .await
            .expect("hold")
    };
    let send = async |t: TenantId, booking: BookingId, to: &PhoneNumber| {
        let (c, m) = challenge(t, booking, to, None, now);
        (store.create_challenge(&c, &m, &policy).await, c.id)
    };

    let h = held(&a, &stopped, 0).await;
    let (r, refused) = send(a.id, h.id, &stopped).await;
    check!(
        NAME,
        r == Ok(Err(SendRefused::OptedOut)),
        "a code to a number that opted out: {r:?}"
    );
    let active = store.active_challenge(a.id, h.id).await.expect("active");
    check!(
        NAME,
        active.is_none(),
        "a refused code was stored: {active:?}"
    );
    check!(
        NAME,
        count_key(store, a.id, &DedupeKey::otp(refused)).await == 0,
        "a refused code's text was queued"
    );

    // The code goes to another number: that number decides.
    let (r, _) = send(a.id, h.id, &other).await;
    check!(
        NAME,
        matches!(r, Ok(Ok(_))),
        "a code to a number that did not opt out: {r:?}"
    );
    // And the other way round: a booking for another number, the code to the stopped one.
    let h2 = held(&a, &other, 60).await;
    let (r, _) = send(a.id, h2.id, &stopped).await;
    check!(
        NAME,
        r == Ok(Err(SendRefused::OptedOut)),
        "a code to a stopped number for another's booking: {r:?}"
    );

    // Clinic B was never told STOP by that number.
    let hb = held(&b, &stopped, 0).await;
    let (r, _) = send(b.id, hb.id, &stopped).await;
    check!(
        NAME,
        matches!(r, Ok(Ok(_))),
        "another clinic's opt-out refused a code: {r:?}"
    );

    // START: codes again.
    store
        .set_texting(a.id, &stopped, Texting::OptedIn, now)
        .await
        .expect("START");
    let (r, _) = send(a.id, h.id, &stopped).await;
    check!(NAME, matches!(r, Ok(Ok(_))), "a code after START: {r:?}");
}

/// Twenty sends at once never get past a send limit: the store counts and inserts under one
/// lock (a read of the counts followed by a separate insert let 9 of 12 through).
pub async fn concurrent_sends_respect_limits<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "concurrent_sends_respect_limits";
    let now = base_time();
    let policy = OtpPolicy::default();
    let sent = |got: &[StoreResult<Result<Challenge, SendRefused>>]| {
        got.iter().filter(|r| matches!(r, Ok(Ok(_)))).count()
    };

    // Twenty calls, each with its own hold, all texting one number: five codes.
    let t = create_tenant(store, "Per Number Clinic").await;
    let p = random_phone();
    let mut sends = Vec::new();
    for i in 0..20 {
        let call = random_call_id();
        let h = store
            .insert_hold(
                &hold(&t, span(i * 60, 30), &p, Some(&call), now),
                now,
                CallHolds::Keep,
            )
            .await
            .expect("hold");
        sends.push(challenge(t.id, h.id, &p, Some(&call), now));
    }
    let got = futures_join_all(
        sends
            .iter()
            .map(|(c, m)| store.create_challenge(c, m, &policy)),
    )
    .await;
    let per_number = got
        .iter()
        .filter(|r| matches!(r, Ok(Err(SendRefused::Limited(SendLimit::PerNumber)))))
        .count();
    check!(
        NAME,
        sent(&got) == 5 && per_number == 15,
        "twenty sends to one number: {} sent, {per_number} refused",
        sent(&got)
    );
    let counted = store
        .send_counts(t.id, &p, None, now - policy.per_number.window)
        .await
        .expect("counts");
    check!(NAME, counted.to_number == 5, "{counted:?}");

    // One call texting twenty numbers at once: three numbers.
    let t = create_tenant(store, "Per Call Clinic").await;
    let call = random_call_id();
    let mut sends = Vec::new();
    for i in 0..20 {
        let h = store
            .insert_hold(
                &hold(&t, span(i * 60, 30), &p, Some(&call), now),
                now,
                CallHolds::Keep,
            )
            .await
            .expect("hold");
        sends.push(challenge(t.id, h.id, &random_phone(), Some(&call), now));
    }
    let got = futures_join_all(
        sends
            .iter()
            .map(|(c, m)| store.create_challenge(c, m, &policy)),
    )
    .await;
    check!(
        NAME,
        sent(&got) == 3,
        "one call texting twenty numbers at once: {} sent",
        sent(&got)
    );

    // The clinic's budget: twenty calls to twenty numbers with seven codes left.
    let t = create_tenant(store, "Budget Clinic").await;
    let small = OtpPolicy {
        per_tenant: RateWindow {
            max: 7,
            window: SignedDuration::from_hours(1),
        },
        ..OtpPolicy::default()
    };
    let mut sends = Vec::new();
    for i in 0..20 {
        let (call, to) = (random_call_id(), random_phone());
        let h = store
            .insert_hold(
                &hold(&t, span(i * 60, 30), &to, Some(&call), now),
                now,
                CallHolds::Keep,
            )
            .await
            .expect("hold");
        sends.push(challenge(t.id, h.id, &to, Some(&call), now));
    }
    let got = futures_join_all(
        sends
            .iter()
            .map(|(c, m)| store.create_challenge(c, m, &small)),
    )
    .await;
    check!(NAME, sent(&got) == 7, "a budget of 7: {} sent", sent(&got));

    // Under pressure, numbers that already had a code this hour wait and new numbers are served,
    // also when they all come at once.
    let t = create_tenant(store, "Pressure Clinic").await;
    let pressured = OtpPolicy {
        per_tenant: RateWindow {
            max: 12,
            window: SignedDuration::from_hours(1),
        },
        per_tenant_pressure: 4,
        ..OtpPolicy::default()
    };
    let earlier: Vec<PhoneNumber> = (0..4).map(|_| random_phone()).collect();
    let mut slot = 0;
    let mut next_hold = async |to: &PhoneNumber| {
        slot += 1;
        let call = random_call_id();
        let h = store
            .insert_hold(
                &hold(&t, span(slot * 60, 30), to, Some(&call), now),
                now,
                CallHolds::Keep,
            )
            .await
            .expect("hold");
        challenge(t.id, h.id, to, Some(&call), now)
    };
    for to in &earlier {
        let (c, m) = next_hold(to).await;
        let r = store.create_challenge(&c, &m, &pressured).await;
        check!(NAME, matches!(r, Ok(Ok(_))), "a first code: {r:?}");
    }
    let mut repeats = Vec::new();
    for i in 0..10 {
        repeats.push(next_hold(&earlier[i % 4]).await);
    }
    let mut fresh = Vec::new();
    for _ in 0..10 {
        fresh.push(next_hold(&random_phone()).await);
    }
    let (got_repeats, got_fresh) = join2(
        futures_join_all(
            repeats
                .iter()
                .map(|(c, m)| store.create_challenge(c, m, &pressured)),
        ),
        futures_join_all(
            fresh
                .iter()
                .map(|(c, m)| store.create_challenge(c, m, &pressured)),
        ),
    )
    .await;
    check!(
        NAME,
        sent(&got_repeats) == 0
            && got_repeats.iter().all(|r| matches!(
                r,
                Ok(Err(SendRefused::Limited(
                    SendLimit::PerTenantRepeat | SendLimit::PerTenant
                )))
            )),
        "numbers that had a code got more under pressure: {got_repeats:?}"
    );
    check!(
        NAME,
        sent(&got_fresh) == 8,
        "new numbers under pressure: {} of the 8 left sent",
        sent(&got_fresh)
    );
}

/// A code proves one change of its own booking, once, before it expires; `confirm_hold` checks
/// the code's expiry under its lock too.
pub async fn codes_prove_changes_once<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "codes_prove_changes_once";
    let t = create_tenant(store, "Proof Clinic").await;
    let now = base_time();
    let p = random_phone();

    // A code that ran out before the confirm does not confirm, even with the hold still live.
    let h = store
        .insert_hold(&hold(&t, span(0, 30), &p, None, now), now, CallHolds::Keep)
        .await
        .expect("hold");
    let (mut c, m) = challenge(t.id, h.id, &p, None, now);
    c.expires_at = now + SignedDuration::from_mins(1);
    store_challenge(store, &c, &m).await.expect("challenge");
    let late = now + SignedDuration::from_mins(2);
    let r = store
        .confirm_hold(
            t.id,
            h.id,
            c.id,
            late,
            None,
            &booking_texts(t.id, h.id, &p, late),
        )
        .await;
    check!(
        NAME,
        matches!(r, Err(StoreError::WrongState { .. })),
        "an expired code confirmed a live hold: {r:?}"
    );
    check!(
        NAME,
        status_of(store, t.id, h.id).await == BookingStatus::Held,
        "the hold changed"
    );

    let a = confirmed(store, &t, span(60, 30), &p, now).await;
    let b = confirmed(store, &t, span(120, 30), &p, now).await;
    let (ca, ma) = challenge(t.id, a, &p, None, now);
    store_challenge(store, &ca, &ma).await.expect("code for a");
    let (cb, mb) = challenge(t.id, b, &p, None, now);
    store_challenge(store, &cb, &mb).await.expect("code for b");

    // Another booking's code, an expired code: nothing changes.
    let r = store
        .cancel_booking(t.id, a, ChangeProof::Code(cb.id), now, &[], &[])
        .await;
    check!(
        NAME,
        r.is_err(),
        "cancelled with another booking's code: {r:?}"
    );
    let r = store
        .cancel_booking(t.id, a, ChangeProof::Code(ca.id), ca.expires_at, &[], &[])
        .await;
    check!(NAME, r.is_err(), "cancelled with an expired code: {r:?}");
    check!(
        NAME,
        status_of(store, t.id, a).await == BookingStatus::Confirmed,
        "a changed"
    );

    // The right code cancels, once.
    let r = store
        .cancel_booking(t.id, a, ChangeProof::Code(ca.id), now, &[], &[])
        .await;
    check!(NAME, r.is_ok(), "the right code did not cancel: {r:?}");
    let active = store.active_challenge(t.id, a).await.expect("active");
    check!(
        NAME,
        active.is_none(),
        "the code was not consumed: {active:?}"
    );

    // Rescheduling consumes the old booking's code; the used code moves nothing again.
    let moved = appointment(&t, b, span(300, 30), &p, now);
    let r = store
        .reschedule_booking(t.id, b, ChangeProof::Code(cb.id), &moved, now, &[], &[])
        .await;
    check!(NAME, r.is_ok(), "the right code did not reschedule: {r:?}");
    let again = appointment(&t, moved.id, span(400, 30), &p, now);
    let r = store
        .reschedule_booking(
            t.id,
            moved.id,
            ChangeProof::Code(cb.id),
            &again,
            now,
            &[],
            &[],
        )
        .await;
    check!(NAME, r.is_err(), "a used code moved a booking again: {r:?}");
}

pub async fn send_counts_windows<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Counts Clinic").await;
    let now = base_time();
    let (p1, p2) = (random_phone(), random_phone());
    let call = random_call_id();
    let h = store
        .insert_hold(
            &hold(&t, span(0, 60), &p1, Some(&call), now),
            now,
            CallHolds::Keep,
        )
        .await
        .expect("hold");
    let other = store
        .insert_hold(
            &hold(&t, span(120, 60), &p2, None, now),
            now,
            CallHolds::Keep,
        )
        .await
        .expect("other hold");
    let at = |m: i64| now + SignedDuration::from_mins(m);
    for (booking, phone, call, minute) in [
        (h.id, &p1, Some(&call), 0),
        (h.id, &p1, Some(&call), 12),
        (h.id, &p2, Some(&call), 13),
        (other.id, &p1, None, 14),
    ] {
        let (c, m) = challenge(t.id, booking, phone, call, at(minute));
        store_challenge(store, &c, &m).await.expect("challenge");
    }
    let c = store
        .send_counts(t.id, &p1, Some(&call), at(10))
        .await
        .expect("counts");
    check!(
        "send_counts_windows",
        c.to_number == 2 && c.in_call == 3 && c.distinct_numbers_in_call == 2 && c.by_tenant == 3,
        "counts: {c:?}"
    );
    let c = store
        .send_counts(t.id, &p1, None, now)
        .await
        .expect("counts");
    check!(
        "send_counts_windows",
        c.to_number == 3 && c.in_call == 0 && c.distinct_numbers_in_call == 0 && c.by_tenant == 4,
        "counts without a call: {c:?}"
    );
}

/// An OTP text's body (it holds the code) is dropped once it was accepted, failed or
/// suppressed; until then, and for other texts, the body stays (reconciliation needs it).
pub async fn sent_codes_are_not_kept<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "sent_codes_are_not_kept";
    let t = create_tenant(store, "Code Clinic").await;
    let now = base_time();
    let lease = SignedDuration::from_secs(60);
    let outcomes = [
        DeliveryUpdate::Ambiguous {
            next_attempt_at: now,
            error_message: "502".into(),
        },
        DeliveryUpdate::Accepted {
            sid: MessageSid::parse("SM0123456789abcdef0123456789abcdef").expect("sid"),
            status: MessageStatus::Queued,
        },
        DeliveryUpdate::Failed {
            error_code: Some(21211),
            error_message: "bad To".into(),
        },
        DeliveryUpdate::Suppressed {
            reason: "opted out".into(),
        },
    ];
    for (i, outcome) in outcomes.iter().enumerate() {
        for kind in [MessageKind::Otp, MessageKind::Confirmation] {
            let key = DedupeKey::test(message_id());
            let mut m = message(t.id, kind, key.clone(), &random_phone(), now);
            m.body = format!("Your code is 4821{i}9");
            store.enqueue(&[m.clone()]).await.expect("enqueue");
            let claims = store
                .claim_due(now, 10, now + lease, "w")
                .await
                .expect("claim");
            let claim = claims
                .iter()
                .find(|c| c.message.dedupe_key == key)
                .expect("claimed");
            check!(
                NAME,
                claim.message.body == m.body,
                "the claim carries the text to send"
            );
            // Sids are unique: each accepted text gets its own.
            let outcome = match outcome {
                DeliveryUpdate::Accepted { status, .. } => DeliveryUpdate::Accepted {
                    sid: MessageSid::parse(&format!("SM{}", message_id().as_uuid().simple()))
                        .expect("sid"),
                    status: *status,
                },
                other => other.clone(),
            };
            let outcome = &outcome;
            check!(
                NAME,
                store
                    .record_delivery(claim, outcome, now)
                    .await
                    .expect("record"),
                "not recorded"
            );
            let after = store
                .message_by_key(t.id, &key)
                .await
                .expect("by key")
                .expect("exists");
            let dropped =
                kind == MessageKind::Otp && !matches!(outcome, DeliveryUpdate::Ambiguous { .. });
            if dropped {
                check!(
                    NAME,
                    after.body == crate::ports::SENT_CODE_BODY,
                    "a sent code is still stored: {:?} after {outcome:?}",
                    after.body
                );
            } else {
                check!(
                    NAME,
                    after.body == m.body,
                    "{kind:?} after {outcome:?} lost its text"
                );
            }
            // Leave nothing claimable behind for the next round.
            if matches!(outcome, DeliveryUpdate::Ambiguous { .. }) {
                let again = store
                    .claim_due(now, 10, now + lease, "w")
                    .await
                    .expect("claim");
                for c in again {
                    store
                        .record_delivery(
                            &c,
                            &DeliveryUpdate::Suppressed {
                                reason: "done".into(),
                            },
                            now,
                        )
                        .await
                        .expect("record");
                }
            }
        }
    }
}
