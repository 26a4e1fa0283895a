//! The outbox: dedupe, claims, leases, delivery outcomes and statuses.

use jiff::{SignedDuration, Timestamp};

use crate::ids::{MessageId, MessageSid, TenantId};
use crate::outbox::{
    DedupeKey, DeliveryUpdate, MessageKind, MessageStatus, NewMessage, StatusApplied,
};
use crate::phone::PhoneNumber;
use crate::ports::{SmsAccountChange, Store};
use crate::tenant::SmsHealth;
use crate::testing::{
    base_time, count_key, create_tenant, join2, message, message_id, random_phone, sms_account,
};

pub async fn dedupe_per_tenant<S: Store + ?Sized>(store: &S) {
    let a = create_tenant(store, "Dedupe A").await;
    let b = create_tenant(store, "Dedupe B").await;
    let now = base_time();
    let p = random_phone();
    let key = DedupeKey::test(message_id());
    let n = store
        .enqueue(&[message(a.id, MessageKind::Test, key.clone(), &p, now)])
        .await
        .expect("enqueue");
    check!("dedupe_per_tenant", n == 1, "first enqueue: {n}");
    let n = store
        .enqueue(&[
            message(a.id, MessageKind::Test, key.clone(), &p, now),
            message(
                a.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            ),
        ])
        .await
        .expect("enqueue");
    check!(
        "dedupe_per_tenant",
        n == 1,
        "a repeated key was queued again ({n} new)"
    );
    let n = store
        .enqueue(&[message(b.id, MessageKind::Test, key.clone(), &p, now)])
        .await
        .expect("enqueue");
    check!(
        "dedupe_per_tenant",
        n == 1,
        "another tenant's key blocked this tenant's ({n} new)"
    );
    check!(
        "dedupe_per_tenant",
        count_key(store, a.id, &key).await == 1,
        "duplicate rows"
    );
    let m = store
        .message_by_key(a.id, &key)
        .await
        .expect("by key")
        .expect("message");
    let by_id = store.message(a.id, m.id).await.expect("by id");
    check!(
        "dedupe_per_tenant",
        by_id.as_ref() == Some(&m),
        "message() differs from message_by_key()"
    );
}

pub async fn claim_lease_and_stale_token<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Lease Clinic").await;
    let now = base_time();
    let lease = SignedDuration::from_secs(60);
    let p = random_phone();
    store
        .enqueue(&[message(
            t.id,
            MessageKind::Test,
            DedupeKey::test(message_id()),
            &p,
            now,
        )])
        .await
        .expect("enqueue");
    let first = store
        .claim_due(now, 10, now + lease, "w1")
        .await
        .expect("claim");
    check!(
        "claim_lease_and_stale_token",
        first.len() == 1,
        "claimed {}",
        first.len()
    );
    let first = &first[0];
    check!(
        "claim_lease_and_stale_token",
        !first.needs_reconcile
            && first.message.status == MessageStatus::Sending
            && first.lease_until == now + lease,
        "a first claim: {first:?}"
    );
    check!(
        "claim_lease_and_stale_token",
        first.message.first_attempt_at == Some(now),
        "first_attempt_at: {:?}",
        first.message.first_attempt_at
    );
    let during = store
        .claim_due(
            now + SignedDuration::from_secs(30),
            10,
            now + lease * 2,
            "w2",
        )
        .await
        .expect("claim");
    check!(
        "claim_lease_and_stale_token",
        during.is_empty(),
        "a leased message was claimed again"
    );
    let after = now + lease + SignedDuration::from_secs(1);
    let second = store
        .claim_due(after, 10, after + lease, "w2")
        .await
        .expect("claim");
    check!(
        "claim_lease_and_stale_token",
        second.len() == 1,
        "a lapsed lease was not reclaimed"
    );
    let second = &second[0];
    check!(
        "claim_lease_and_stale_token",
        second.needs_reconcile && second.claim_token != first.claim_token,
        "a reclaim after a lapsed lease: {second:?}"
    );
    check!(
        "claim_lease_and_stale_token",
        second.message.first_attempt_at == Some(now),
        "first_attempt_at moved: {:?}",
        second.message.first_attempt_at
    );
    let sid = MessageSid::parse("SMlease0001").expect("sid");
    let accepted = DeliveryUpdate::Accepted {
        sid,
        status: MessageStatus::Queued,
    };
    let stale = store
        .record_delivery(first, &accepted, after)
        .await
        .expect("record");
    check!(
        "claim_lease_and_stale_token",
        !stale,
        "a stale claim recorded an outcome"
    );
    let m = store
        .message(t.id, first.message.id)
        .await
        .expect("message")
        .expect("exists");
    check!(
        "claim_lease_and_stale_token",
        m.status == MessageStatus::Sending && m.twilio_sid.is_none(),
        "a stale claim changed the row: {m:?}"
    );
    let ok = store
        .record_delivery(second, &accepted, after)
        .await
        .expect("record");
    check!(
        "claim_lease_and_stale_token",
        ok,
        "the current claim could not record"
    );
    let m = store
        .message(t.id, first.message.id)
        .await
        .expect("message")
        .expect("exists");
    check!(
        "claim_lease_and_stale_token",
        m.status == MessageStatus::Queued
            && m.twilio_sid.as_ref().map(|s| s.as_str()) == Some("SMlease0001")
            && m.attempts == 1,
        "after acceptance: {m:?}"
    );
    let twice = store
        .record_delivery(second, &accepted, after)
        .await
        .expect("record");
    check!(
        "claim_lease_and_stale_token",
        !twice,
        "a finished claim recorded twice"
    );
    let none = store
        .claim_due(after + lease * 10, 10, after + lease * 11, "w3")
        .await
        .expect("claim");
    check!(
        "claim_lease_and_stale_token",
        none.is_empty(),
        "an accepted message was claimed again"
    );
}

/// Texts due at the same instant (a use-case queues its texts in one transaction) are claimed
/// in the order they were queued, a few at a time as a small limit makes it: the worker sends
/// one recipient's texts in claim order.
pub async fn claim_takes_one_instant_in_queue_order<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Order Clinic").await;
    let now = base_time();
    let to = random_phone();
    let queued: Vec<NewMessage> = (0..7)
        .map(|_| {
            message(
                t.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &to,
                now,
            )
        })
        .collect();
    store.enqueue(&queued).await.expect("enqueue");
    let lease = now + SignedDuration::from_secs(60);
    let mut claimed = Vec::new();
    for _ in 0..4 {
        let batch = store.claim_due(now, 2, lease, "w").await.expect("claim");
        claimed.extend(batch.into_iter().map(|c| c.message.id));
    }
    let expected: Vec<MessageId> = queued.iter().map(|m| m.id).collect();
    check!(
        "claim_takes_one_instant_in_queue_order",
        claimed == expected,
        "claimed {claimed:?}, queued {expected:?}"
    );
}

pub async fn claim_skips_future_and_paused<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Due Clinic").await;
    let paused = create_tenant(store, "Paused Clinic").await;
    let now = base_time();
    let p = random_phone();
    let future = now + SignedDuration::from_hours(1);
    store
        .enqueue(&[
            message(
                t.id,
                MessageKind::Reminder,
                DedupeKey::test(message_id()),
                &p,
                future,
            ),
            message(
                t.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            ),
            message(
                t.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now - SignedDuration::from_secs(5),
            ),
            message(
                paused.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            ),
        ])
        .await
        .expect("enqueue");
    store
        .set_sms_health(
            paused.id,
            &SmsHealth::NeedsAttention {
                code: 20003,
                message: "Authenticate".into(),
            },
        )
        .await
        .expect("pause");
    let lease = now + SignedDuration::from_secs(60);
    let one = store.claim_due(now, 1, lease, "w").await.expect("claim");
    check!(
        "claim_skips_future_and_paused",
        one.len() == 1 && one[0].message.due_at == now - SignedDuration::from_secs(5),
        "the limit, or the oldest-due first: {one:?}"
    );
    let rest = store.claim_due(now, 10, lease, "w").await.expect("claim");
    check!(
        "claim_skips_future_and_paused",
        rest.len() == 1 && rest[0].message.tenant == t.id && rest[0].message.due_at == now,
        "claimed a future or a paused tenant's message: {rest:?}"
    );
    let later = store
        .claim_due(future, 10, future + SignedDuration::from_secs(60), "w")
        .await
        .expect("claim");
    check!(
        "claim_skips_future_and_paused",
        later
            .iter()
            .any(|c| c.message.kind == MessageKind::Reminder)
            && later.iter().all(|c| c.message.tenant == t.id),
        "the reminder at its due time: {later:?}"
    );
    let config = paused.config.clone();
    store
        .update_tenant(paused.id, &config, SmsAccountChange::Set(sms_account()))
        .await
        .expect("new credentials");
    let resumed = store
        .claim_due(future, 10, future + SignedDuration::from_secs(60), "w")
        .await
        .expect("claim");
    check!(
        "claim_skips_future_and_paused",
        resumed.len() == 1 && resumed[0].message.tenant == paused.id,
        "new credentials did not resume sending: {resumed:?}"
    );
}

pub async fn concurrent_claims_disjoint<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Workers Clinic").await;
    let now = base_time();
    let p = random_phone();
    let msgs: Vec<NewMessage> = (0..10)
        .map(|_| {
            message(
                t.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            )
        })
        .collect();
    store.enqueue(&msgs).await.expect("enqueue");
    let lease = now + SignedDuration::from_secs(60);
    let (a, b) = join2(
        store.claim_due(now, 6, lease, "a"),
        store.claim_due(now, 6, lease, "b"),
    )
    .await;
    let (a, b) = (a.expect("a"), b.expect("b"));
    let mut ids: Vec<MessageId> = a.iter().chain(&b).map(|c| c.message.id).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    check!(
        "concurrent_claims_disjoint",
        ids.len() == total && total == 10,
        "two workers claimed {total} rows, {} distinct",
        ids.len()
    );
}

pub async fn delivery_outcomes<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Outcomes Clinic").await;
    let now = base_time();
    let lease = SignedDuration::from_secs(60);
    let p = random_phone();
    let key = DedupeKey::test(message_id());
    store
        .enqueue(&[message(t.id, MessageKind::Test, key.clone(), &p, now)])
        .await
        .expect("enqueue");
    let claim_one = |at: Timestamp| async move {
        let mut c = store
            .claim_due(at, 10, at + lease, "w")
            .await
            .expect("claim");
        check!("delivery_outcomes", c.len() <= 1, "claimed {}", c.len());
        c.pop()
    };
    let get = || async {
        store
            .message_by_key(t.id, &key)
            .await
            .expect("by key")
            .expect("exists")
    };

    // Retry: pending again at the time given, one attempt counted.
    let c = claim_one(now).await.expect("claimed");
    let next = now + SignedDuration::from_mins(1);
    let r = DeliveryUpdate::Retry {
        next_attempt_at: next,
        error_code: Some(20429),
        error_message: "Too Many Requests".into(),
    };
    check!(
        "delivery_outcomes",
        store.record_delivery(&c, &r, now).await.expect("record"),
        "retry not recorded"
    );
    let m = get().await;
    check!(
        "delivery_outcomes",
        m.status == MessageStatus::Pending
            && m.attempts == 1
            && m.error_code == Some(20429)
            && m.error_message.is_some(),
        "after retry: {m:?}"
    );
    check!(
        "delivery_outcomes",
        claim_one(now).await.is_none(),
        "claimed before its retry time"
    );

    // Ambiguous: the next claim must reconcile.
    let c = claim_one(next).await.expect("claimed at retry time");
    check!(
        "delivery_outcomes",
        !c.needs_reconcile,
        "a retry-safe failure needs reconciling"
    );
    let later = next + SignedDuration::from_mins(1);
    let amb = DeliveryUpdate::Ambiguous {
        next_attempt_at: later,
        error_message: "502".into(),
    };
    check!(
        "delivery_outcomes",
        store.record_delivery(&c, &amb, next).await.expect("record"),
        "ambiguous not recorded"
    );
    let m = get().await;
    check!(
        "delivery_outcomes",
        m.status == MessageStatus::Ambiguous && m.attempts == 2,
        "after ambiguous: {m:?}"
    );
    check!(
        "delivery_outcomes",
        claim_one(next).await.is_none(),
        "claimed before its recheck time"
    );

    // Deferred while it needs reconciling: it still needs it afterwards; no attempt counted.
    let c = claim_one(later).await.expect("claimed at recheck time");
    check!(
        "delivery_outcomes",
        c.needs_reconcile,
        "an ambiguous message claimed without needs_reconcile"
    );
    let until = later + SignedDuration::from_mins(5);
    let d = DeliveryUpdate::Deferred {
        until,
        reason: "sender rate limit".into(),
    };
    check!(
        "delivery_outcomes",
        store.record_delivery(&c, &d, later).await.expect("record"),
        "deferral not recorded"
    );
    let m = get().await;
    check!(
        "delivery_outcomes",
        m.attempts == 2,
        "a deferral counted as an attempt: {m:?}"
    );
    check!(
        "delivery_outcomes",
        claim_one(later).await.is_none(),
        "claimed before its deferral ended"
    );
    let c = claim_one(until).await.expect("claimed after deferral");
    check!(
        "delivery_outcomes",
        c.needs_reconcile,
        "a deferral forgot the message needs reconciling"
    );

    // Failed: terminal, never claimed again.
    let f = DeliveryUpdate::Failed {
        error_code: Some(21211),
        error_message: "Invalid 'To' Phone Number".into(),
    };
    check!(
        "delivery_outcomes",
        store.record_delivery(&c, &f, until).await.expect("record"),
        "failure not recorded"
    );
    let m = get().await;
    check!(
        "delivery_outcomes",
        m.status == MessageStatus::Failed && m.error_code == Some(21211) && m.attempts == 3,
        "after failure: {m:?}"
    );
    check!(
        "delivery_outcomes",
        claim_one(until + SignedDuration::from_hours(1))
            .await
            .is_none(),
        "a failed message was claimed"
    );

    // Suppressed: terminal, with the reason.
    let k2 = DedupeKey::test(message_id());
    store
        .enqueue(&[message(
            t.id,
            MessageKind::Confirmation,
            k2.clone(),
            &p,
            now,
        )])
        .await
        .expect("enqueue");
    let at = until + SignedDuration::from_hours(2);
    let c = claim_one(at).await.expect("claimed");
    let s = DeliveryUpdate::Suppressed {
        reason: "opted out".into(),
    };
    check!(
        "delivery_outcomes",
        store.record_delivery(&c, &s, at).await.expect("record"),
        "suppression not recorded"
    );
    let m = store
        .message_by_key(t.id, &k2)
        .await
        .expect("by key")
        .expect("exists");
    check!(
        "delivery_outcomes",
        m.status == MessageStatus::Suppressed && m.attempts == 0 && m.error_message.is_some(),
        "after suppression: {m:?}"
    );
}

pub async fn release_claims_gives_back<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Shutdown Clinic").await;
    let now = base_time();
    let p = random_phone();
    store
        .enqueue(&[
            message(
                t.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            ),
            message(
                t.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            ),
        ])
        .await
        .expect("enqueue");
    let lease = now + SignedDuration::from_mins(5);
    let mine = store.claim_due(now, 1, lease, "mine").await.expect("claim");
    let theirs = store
        .claim_due(now, 1, lease, "theirs")
        .await
        .expect("claim");
    check!(
        "release_claims_gives_back",
        mine.len() == 1 && theirs.len() == 1,
        "claims"
    );
    let n = store.release_claims("mine", now).await.expect("release");
    check!("release_claims_gives_back", n == 1, "released {n}");
    let again = store
        .claim_due(now, 10, lease, "other")
        .await
        .expect("claim");
    check!(
        "release_claims_gives_back",
        again.len() == 1 && again[0].message.id == mine[0].message.id,
        "the released message was not claimable at once: {again:?}"
    );
}

/// Queues a test text to `to`, claims it and records Twilio's acceptance of it as `sid`
/// (status `queued`); returns its dedupe key.
async fn queued_at_twilio<S: Store + ?Sized>(
    store: &S,
    tenant: TenantId,
    to: &PhoneNumber,
    sid: &str,
    now: Timestamp,
) -> DedupeKey {
    let key = DedupeKey::test(message_id());
    store
        .enqueue(&[message(tenant, MessageKind::Test, key.clone(), to, now)])
        .await
        .expect("enqueue");
    let c = store
        .claim_due(now, 1, now + SignedDuration::from_secs(60), "w")
        .await
        .expect("claim")
        .pop()
        .expect("claimed");
    store
        .record_delivery(
            &c,
            &DeliveryUpdate::Accepted {
                sid: MessageSid::parse(sid).expect("sid"),
                status: MessageStatus::Queued,
            },
            now,
        )
        .await
        .expect("record");
    key
}

pub async fn status_moves_forward_only<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Callback Clinic").await;
    let now = base_time();
    let p = random_phone();
    let sid = "SMforward0001";
    let key = queued_at_twilio(store, t.id, &p, sid, now).await;
    let apply = |s: MessageStatus, code: Option<u32>| store.apply_status(t.id, sid, s, code, now);
    check!(
        "status_moves_forward_only",
        apply(MessageStatus::Delivered, None).await.expect("apply") == StatusApplied::Updated,
        "delivered"
    );
    check!(
        "status_moves_forward_only",
        apply(MessageStatus::Sent, None).await.expect("apply") == StatusApplied::Ignored,
        "sent after delivered"
    );
    check!(
        "status_moves_forward_only",
        apply(MessageStatus::Undelivered, Some(30003))
            .await
            .expect("apply")
            == StatusApplied::Ignored,
        "out of a terminal status"
    );
    let m = store
        .message_by_key(t.id, &key)
        .await
        .expect("by key")
        .expect("exists");
    check!(
        "status_moves_forward_only",
        m.status == MessageStatus::Delivered,
        "status moved back: {:?}",
        m.status
    );
    let unknown = store
        .apply_status(t.id, "SMunknown0000", MessageStatus::Sent, None, now)
        .await
        .expect("apply");
    check!(
        "status_moves_forward_only",
        unknown == StatusApplied::Kept,
        "an unknown sid: {unknown:?}"
    );

    // Sent then (late) queued: ignored; then undelivered with its code.
    let sid2 = "SMforward0002";
    let key2 = queued_at_twilio(store, t.id, &p, sid2, now).await;
    let apply2 = |s: MessageStatus, code: Option<u32>| store.apply_status(t.id, sid2, s, code, now);
    check!(
        "status_moves_forward_only",
        apply2(MessageStatus::Sent, None).await.expect("apply") == StatusApplied::Updated,
        "sent"
    );
    check!(
        "status_moves_forward_only",
        apply2(MessageStatus::Queued, None).await.expect("apply") == StatusApplied::Ignored,
        "queued after sent"
    );
    check!(
        "status_moves_forward_only",
        apply2(MessageStatus::Undelivered, Some(30005))
            .await
            .expect("apply")
            == StatusApplied::Updated,
        "undelivered"
    );
    let m = store
        .message_by_key(t.id, &key2)
        .await
        .expect("by key")
        .expect("exists");
    check!(
        "status_moves_forward_only",
        m.status == MessageStatus::Undelivered && m.error_code == Some(30005),
        "after undelivered: {m:?}"
    );
}

/// A status callback for a sid not recorded yet is kept, and applied (forward only) when the
/// send's outcome records that sid.
pub async fn early_status_applied_when_sid_recorded<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "early_status_applied_when_sid_recorded";
    let t = create_tenant(store, "Early Clinic").await;
    let now = base_time();
    let key = DedupeKey::test(message_id());
    store
        .enqueue(&[message(
            t.id,
            MessageKind::Test,
            key.clone(),
            &random_phone(),
            now,
        )])
        .await
        .expect("enqueue");
    let claim = store
        .claim_due(now, 10, now + SignedDuration::from_secs(60), "w")
        .await
        .expect("claim")
        .pop()
        .expect("claimed");
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    for status in [MessageStatus::Sent, MessageStatus::Delivered] {
        let applied = store
            .apply_status(t.id, &sid, status, None, now)
            .await
            .expect("apply");
        check!(
            NAME,
            applied == StatusApplied::Kept,
            "before the sid: {applied:?}"
        );
    }
    let recorded = store
        .record_delivery(
            &claim,
            &DeliveryUpdate::Accepted {
                sid: MessageSid::parse(&sid).expect("sid"),
                status: MessageStatus::Queued,
            },
            now,
        )
        .await
        .expect("record");
    check!(NAME, recorded, "the outcome was not recorded");
    let m = store
        .message_by_key(t.id, &key)
        .await
        .expect("by key")
        .expect("exists");
    check!(
        NAME,
        m.status == MessageStatus::Delivered,
        "after the sid landed: {:?}",
        m.status
    );
    // Applied once: a later stale `sent` does not move it back.
    let applied = store
        .apply_status(t.id, &sid, MessageStatus::Sent, None, now)
        .await
        .expect("apply");
    check!(
        NAME,
        applied == StatusApplied::Ignored,
        "stale sent: {applied:?}"
    );
}
