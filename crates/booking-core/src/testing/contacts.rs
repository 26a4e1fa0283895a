//! Opt-outs and inbound counts.

use crate::ports::Texting;
use jiff::SignedDuration;

use crate::ports::{InboundCounter, InboundPurpose, Store};
use crate::testing::{base_time, create_tenant, random_phone};

pub async fn opt_out_round_trip<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Opt Out Clinic").await;
    let now = base_time();
    let p = random_phone();
    check!(
        "opt_out_round_trip",
        !store.is_opted_out(t.id, &p).await.expect("read"),
        "opted out by default"
    );
    store
        .set_texting(t.id, &p, Texting::OptedOut, now)
        .await
        .expect("stop");
    check!(
        "opt_out_round_trip",
        store.is_opted_out(t.id, &p).await.expect("read"),
        "STOP not kept"
    );
    store
        .set_texting(t.id, &p, Texting::OptedOut, now)
        .await
        .expect("stop again");
    store
        .set_texting(t.id, &p, Texting::OptedIn, now)
        .await
        .expect("start");
    check!(
        "opt_out_round_trip",
        !store.is_opted_out(t.id, &p).await.expect("read"),
        "START not kept"
    );
}

/// Of twenty concurrent counts, each gets its own number; a window ends `window` after it began.
pub async fn inbound_counts_hold_under_concurrency<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "inbound_counts_hold_under_concurrency";
    let t = create_tenant(store, "Counting Clinic").await;
    let now = base_time();
    let sender = random_phone();
    let window = SignedDuration::from_hours(24);
    let counts = futures_util::future::join_all((0..20).map(|_| {
        store.count_inbound_text(
            t.id,
            InboundPurpose::AutoReply,
            InboundCounter::Sender(&sender),
            window,
            now,
        )
    }))
    .await;
    let mut counts: Vec<u32> = counts
        .into_iter()
        .map(|c| c.expect("count").count)
        .collect();
    counts.sort_unstable();
    check!(
        NAME,
        counts == (1..=20).collect::<Vec<_>>(),
        "counts: {counts:?}"
    );
    // Another purpose, the clinic as a whole, another tenant: counted apart.
    let other = store
        .count_inbound_text(
            t.id,
            InboundPurpose::Forward,
            InboundCounter::Sender(&sender),
            window,
            now,
        )
        .await
        .expect("count");
    check!(NAME, other.count == 1, "forward count: {other:?}");
    let clinic = store
        .count_inbound_text(
            t.id,
            InboundPurpose::AutoReply,
            InboundCounter::Clinic,
            window,
            now,
        )
        .await
        .expect("count");
    check!(NAME, clinic.count == 1, "clinic count: {clinic:?}");
    let u = create_tenant(store, "Other Counting Clinic").await;
    let theirs = store
        .count_inbound_text(
            u.id,
            InboundPurpose::AutoReply,
            InboundCounter::Sender(&sender),
            window,
            now,
        )
        .await
        .expect("count");
    check!(
        NAME,
        theirs.count == 1,
        "another tenant's count: {theirs:?}"
    );
    // Still inside the window, then a new one.
    let later = now + window - SignedDuration::from_secs(1);
    let c = store
        .count_inbound_text(
            t.id,
            InboundPurpose::AutoReply,
            InboundCounter::Sender(&sender),
            window,
            later,
        )
        .await
        .expect("count");
    check!(
        NAME,
        c.count == 21 && c.window_started_at == now,
        "inside the window: {c:?}"
    );
    let next = now + window;
    let c = store
        .count_inbound_text(
            t.id,
            InboundPurpose::AutoReply,
            InboundCounter::Sender(&sender),
            window,
            next,
        )
        .await
        .expect("count");
    check!(
        NAME,
        c.count == 1 && c.window_started_at == next,
        "a new window: {c:?}"
    );
}
