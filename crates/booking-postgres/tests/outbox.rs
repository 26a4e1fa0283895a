//! The outbox under several workers: claims never overlap, a crashed worker's lease lapses and
//! the row is claimed again, and a stale claim cannot record an outcome.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use booking_core::MessageSid;
use booking_core::outbox::{DeliveryUpdate, MessageStatus, StatusApplied};
use booking_core::ports::{OutboxStore, TenantStore};
use booking_core::tenant::SmsHealth;
use booking_postgres::PgStore;
use booking_postgres::testing::TestDb;
use common::*;
use jiff::SignedDuration;
use tokio::sync::Barrier;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_claiming_at_once_never_get_the_same_row() {
    const MESSAGES: usize = 300;
    const WORKERS: usize = 8;
    let db = TestDb::new().await;
    let store = db.store();
    let a = tenant(&store, "Busy Dental").await;
    let b = tenant(&store, "Other Dental").await;
    let now = at(0);
    let messages: Vec<_> = (0..MESSAGES)
        .map(|i| test_message(if i % 2 == 0 { a.id } else { b.id }, now))
        .collect();
    assert_eq!(store.enqueue(&messages).await.unwrap() as usize, MESSAGES);

    let start = Arc::new(Barrier::new(WORKERS));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let mut config = db.config();
            config.pool_size = 1;
            let worker = PgStore::new(config).unwrap();
            let start = start.clone();
            tokio::spawn(async move {
                let name = format!("worker-{w}");
                let mut mine = Vec::new();
                start.wait().await;
                loop {
                    let claimed = worker
                        .claim_due(now, 7, now + SignedDuration::from_secs(60), &name)
                        .await
                        .unwrap();
                    if claimed.is_empty() {
                        break;
                    }
                    mine.extend(claimed.into_iter().map(|c| c.message.id));
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut busy_workers = 0;
    for w in workers {
        let mine = w.await.unwrap();
        busy_workers += usize::from(!mine.is_empty());
        all.extend(mine);
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "a row went to two workers");
    assert_eq!(all.len(), MESSAGES, "every due row was claimed");
    assert!(
        busy_workers > 1,
        "the work was shared ({busy_workers} workers claimed rows)"
    );
}

#[tokio::test]
async fn a_lapsed_lease_is_claimed_again_and_the_stale_claim_cannot_record() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Lease Dental").await;
    let now = at(0);
    let lease = SignedDuration::from_secs(30);
    store.enqueue(&[test_message(t.id, now)]).await.unwrap();

    let first = store
        .claim_due(now, 10, now + lease, "crashed")
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let first = first.into_iter().next().unwrap();
    assert!(!first.needs_reconcile);
    assert_eq!(first.message.status, MessageStatus::Sending);

    // The worker dies. Within its lease nobody else gets the row.
    let within = now + SignedDuration::from_secs(29);
    assert!(
        store
            .claim_due(within, 10, within + lease, "other")
            .await
            .unwrap()
            .is_empty()
    );
    // After it, the row comes back, marked for reconciliation (it may have been sent).
    let after = now + lease;
    let second = store
        .claim_due(after, 10, after + lease, "other")
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    let second = second.into_iter().next().unwrap();
    assert_eq!(second.message.id, first.message.id);
    assert!(second.needs_reconcile);
    assert_ne!(second.claim_token, first.claim_token);
    assert_eq!(
        second.message.first_attempt_at,
        Some(now),
        "the first attempt time stays"
    );

    // The dead worker's claim comes back to life: its outcome is refused and changes nothing.
    let accepted = DeliveryUpdate::Accepted {
        sid: MessageSid::parse("SMstale000000000000000000000000001").unwrap(),
        status: MessageStatus::Queued,
    };
    assert!(
        !store
            .record_delivery(&first, &accepted, after)
            .await
            .unwrap()
    );
    let row = store
        .message(t.id, first.message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status, row.twilio_sid.clone(), row.attempts),
        (MessageStatus::Sending, None, 0)
    );

    // The live claim records.
    assert!(
        store
            .record_delivery(&second, &accepted, after)
            .await
            .unwrap()
    );
    let row = store
        .message(t.id, first.message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, MessageStatus::Queued);
    assert_eq!(row.attempts, 1);
    // Once recorded, the same claim cannot record again.
    assert!(
        !store
            .record_delivery(&second, &accepted, after)
            .await
            .unwrap()
    );
    // Twilio's callbacks move it forward only.
    let sid = "SMstale000000000000000000000000001";
    assert_eq!(
        store
            .apply_status(t.id, sid, MessageStatus::Delivered, None, after)
            .await
            .unwrap(),
        StatusApplied::Updated
    );
    assert_eq!(
        store
            .apply_status(t.id, sid, MessageStatus::Sent, None, after)
            .await
            .unwrap(),
        StatusApplied::Ignored
    );
}

#[tokio::test]
async fn a_tenant_whose_credentials_were_refused_is_skipped_until_they_change() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Paused Dental").await;
    let now = at(0);
    store.enqueue(&[test_message(t.id, now)]).await.unwrap();
    store
        .set_sms_health(
            t.id,
            &SmsHealth::NeedsAttention {
                code: 20003,
                message: "Authenticate".into(),
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_due(now, 10, at(1), "w")
            .await
            .unwrap()
            .is_empty()
    );
    store
        .update_tenant(
            t.id,
            &t.config,
            booking_core::ports::SmsAccountChange::Set(sms_account("new-token")),
        )
        .await
        .unwrap();
    assert_eq!(store.claim_due(now, 10, at(1), "w").await.unwrap().len(), 1);
}

#[tokio::test]
async fn shutting_down_gives_back_claims_and_keeps_reconciliation_marks() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Shutdown Dental").await;
    let now = at(0);
    store
        .enqueue(&[test_message(t.id, now), test_message(t.id, now)])
        .await
        .unwrap();
    let claims = store.claim_due(now, 1, at(1), "w1").await.unwrap();
    // w2 takes the other one, dies; w1 takes it over after the lease.
    store.claim_due(now, 1, at(1), "w2").await.unwrap();
    let retaken = store.claim_due(at(1), 10, at(2), "w1").await.unwrap();
    assert_eq!(retaken.len(), 2, "both leases lapsed");
    assert_eq!(store.release_claims("w1", at(1)).await.unwrap(), 2);
    let first = store
        .message(t.id, claims[0].message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.status,
        MessageStatus::Ambiguous,
        "a re-claimed row may be at Twilio"
    );
    assert_eq!(store.release_claims("w1", at(1)).await.unwrap(), 0);
}
