//! The store's last word on a hold covers the provider's own calendar too: a hold over the
//! calendar's synced outside busy time is refused as taken, whether or not the service read it
//! first.

use jiff::SignedDuration;

use super::calendars::{CalendarTestStore, link_for, resource, synced};
use super::{base_time, create_tenant, hold, random_phone, span};
use crate::booking::CallHolds;
use crate::outside_calendar::sync::ChangeScope;
use crate::ports::StoreError;

pub async fn outside_busy_takes_a_hold<S: CalendarTestStore + ?Sized>(store: &S) {
    const N: &str = "outside_busy_takes_a_hold";
    let now = base_time();
    let t = create_tenant(store, "Front Desk Clinic").await;
    let other = create_tenant(store, "Other Front Desk Clinic").await;
    for link in [link_for(&t, "pw"), link_for(&other, "pw")] {
        store.link_calendar(&link, now).await.expect("link");
    }
    let claims = store
        .claim_due_syncs(now, 10, now + SignedDuration::from_mins(2))
        .await
        .expect("claim");
    for claim in &claims {
        // This clinic's front desk typed 10:00-11:00; the other clinic's 12:00-13:00.
        let busy = if claim.link.tenant == t.id {
            span(0, 60)
        } else {
            span(120, 60)
        };
        let result = synced(
            ChangeScope::Everything,
            vec![resource("/c/walk-in.ics", "\"1\"", &[busy])],
            &[],
            "t",
            now,
        );
        assert!(
            store
                .record_sync(claim, &result, now)
                .await
                .expect("record"),
            "[{N}]"
        );
    }

    let over = store
        .insert_hold(
            &hold(&t, span(30, 60), &random_phone(), None, now),
            now,
            CallHolds::Keep,
        )
        .await;
    assert_eq!(
        over.map(|b| b.id),
        Err(StoreError::SlotTaken),
        "[{N}] a hold over the front desk's event"
    );
    let after = store
        .insert_hold(
            &hold(&t, span(60, 30), &random_phone(), None, now),
            now,
            CallHolds::Keep,
        )
        .await;
    assert!(after.is_ok(), "[{N}] the time just after it: {after:?}");
    // The other clinic's event on its own calendar takes nothing of this clinic's.
    let beside = store
        .insert_hold(
            &hold(&t, span(120, 60), &random_phone(), None, now),
            now,
            CallHolds::Keep,
        )
        .await;
    assert!(beside.is_ok(), "[{N}] another clinic's event: {beside:?}");
}
