//! The outside calendars' write queue: derived from the bookings, claimed once under
//! concurrency, retried with backoff, never lost, never written twice.

use std::collections::HashSet;

use jiff::SignedDuration;

use super::calendars::{CalendarTestStore, link_for};
use super::{base_time, confirmed, create_tenant, futures_join_all, random_phone, span};
use crate::ids::CalendarId;
use crate::otp::ChangeProof;
use crate::outside_calendar::link::OurEventUid;
use crate::outside_calendar::sync::CalendarProblem;
use crate::outside_calendar::writes::WriteOutcome;

pub async fn calendar_writes_follow_bookings<S: CalendarTestStore + ?Sized>(store: &S) {
    const N: &str = "calendar_writes_follow_bookings";
    let now = base_time();
    let t = create_tenant(store, "Write Clinic").await;
    let unlinked = create_tenant(store, "Unlinked Clinic").await;
    let phone = random_phone();
    let booked = confirmed(store, &t, span(0, 60), &phone, now).await;
    confirmed(store, &unlinked, span(0, 60), &random_phone(), now).await;
    // Nothing is queued for a calendar without a link.
    store.queue_booking_writes(now).await.expect("queue");
    assert!(
        store
            .calendar_writes(t.id, t.calendar())
            .await
            .expect("writes")
            .is_empty(),
        "[{N}] no link, no writes"
    );
    store
        .link_calendar(&link_for(&t, "pw"), now)
        .await
        .expect("link");
    assert!(
        store.queue_booking_writes(now).await.expect("queue") >= 1,
        "[{N}]"
    );
    assert_eq!(
        store.queue_booking_writes(now).await.expect("queue"),
        0,
        "[{N}] idempotent"
    );
    assert!(
        store
            .calendar_writes(unlinked.id, unlinked.calendar())
            .await
            .expect("writes")
            .is_empty(),
        "[{N}] the unlinked clinic has none"
    );
    let writes = store
        .calendar_writes(t.id, t.calendar())
        .await
        .expect("writes");
    assert_eq!(writes.len(), 1, "[{N}]");
    let w = &writes[0];
    assert_eq!(w.booking, booked, "[{N}]");
    assert_eq!(w.uid, OurEventUid::for_booking(booked), "[{N}]");
    let event = w.wanted.as_ref().expect("wanted in the calendar");
    assert_eq!(event.slot, span(0, 60), "[{N}]");
    assert!(
        event.summary.contains("Ada Lovelace"),
        "[{N}] {}",
        event.summary
    );
    assert!(!w.is_done(), "[{N}]");

    let lease = now + SignedDuration::from_mins(2);
    let claims = store
        .claim_calendar_writes(now, 10, lease, "w1")
        .await
        .expect("claim");
    let claim = claims
        .into_iter()
        .find(|c| c.write.booking == booked)
        .expect("due at once");
    assert_eq!(
        claim.link.tenant, t.id,
        "[{N}] the claim carries its own link"
    );
    assert!(
        store
            .record_calendar_write(&claim, &WriteOutcome::Written, now)
            .await
            .expect("r"),
        "[{N}]"
    );
    let w = store
        .calendar_writes(t.id, t.calendar())
        .await
        .expect("writes")
        .remove(0);
    assert!(w.is_done(), "[{N}] written");
    assert!(
        store
            .claim_calendar_writes(now, 10, lease, "w1")
            .await
            .expect("claim")
            .iter()
            .all(|c| c.write.booking != booked),
        "[{N}] a done write is not claimed again"
    );

    // Cancelled: the event must go.
    store
        .cancel_booking(t.id, booked, ChangeProof::Owner, now, &[], &[])
        .await
        .expect("cancel");
    assert_eq!(
        store.queue_booking_writes(now).await.expect("queue"),
        1,
        "[{N}]"
    );
    let w = store
        .calendar_writes(t.id, t.calendar())
        .await
        .expect("writes")
        .remove(0);
    assert_eq!(
        w.wanted, None,
        "[{N}] a cancelled booking wants its event gone"
    );
    assert_eq!(w.version, 2, "[{N}]");
    assert!(!w.is_done(), "[{N}]");
    let claim = store
        .claim_calendar_writes(now, 10, lease, "w1")
        .await
        .expect("claim")
        .into_iter()
        .find(|c| c.write.booking == booked)
        .expect("due");
    assert_eq!(claim.write.wanted, None, "[{N}]");
    assert!(
        store
            .record_calendar_write(&claim, &WriteOutcome::Written, now)
            .await
            .expect("r"),
        "[{N}]"
    );
    assert!(
        store.calendar_writes(t.id, t.calendar()).await.expect("w")[0].is_done(),
        "[{N}]"
    );
}

pub async fn calendar_write_claimed_once_under_concurrency<S: CalendarTestStore + ?Sized>(
    store: &S,
) {
    const N: &str = "calendar_write_claimed_once_under_concurrency";
    let now = base_time();
    let t = create_tenant(store, "Race Clinic").await;
    for i in 0..5 {
        confirmed(store, &t, span(i * 90, 60), &random_phone(), now).await;
    }
    store
        .link_calendar(&link_for(&t, "pw"), now)
        .await
        .expect("link");
    // Twenty workers queue and claim at once.
    let queued = futures_join_all((0..20).map(|_| store.queue_booking_writes(now))).await;
    let queued: u32 = queued.into_iter().map(|r| r.expect("queue")).sum();
    assert_eq!(
        queued, 5,
        "[{N}] each booking queued once, whatever the concurrency"
    );
    let lease = now + SignedDuration::from_mins(2);
    let workers: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
    let claims = futures_join_all(
        workers
            .iter()
            .map(|w| store.claim_calendar_writes(now, 2, lease, w)),
    )
    .await;
    let mut seen = HashSet::new();
    let mut total = 0;
    for c in claims {
        for claim in c
            .expect("claim")
            .into_iter()
            .filter(|c| c.write.tenant == t.id)
        {
            total += 1;
            assert!(
                seen.insert(claim.write.booking),
                "[{N}] a write went to two workers"
            );
        }
    }
    assert_eq!(total, 5, "[{N}] every write claimed exactly once");
}

/// New credentials for a calendar make its waiting writes due at once: an appointment made
/// while the password was wrong is written as soon as the right one is entered, not at the end
/// of its backoff.
pub async fn calendar_relink_makes_waiting_writes_due<S: CalendarTestStore + ?Sized>(store: &S) {
    const N: &str = "calendar_relink_makes_waiting_writes_due";
    let now = base_time();
    let t = create_tenant(store, "Relink Clinic").await;
    let other = create_tenant(store, "Other Relink Clinic").await;
    let booked = confirmed(store, &t, span(0, 60), &random_phone(), now).await;
    let theirs = confirmed(store, &other, span(0, 60), &random_phone(), now).await;
    for c in [&t, &other] {
        store
            .link_calendar(&link_for(c, "wrong"), now)
            .await
            .expect("link");
    }
    store.queue_booking_writes(now).await.expect("queue");
    let claims = store
        .claim_calendar_writes(now, 10, now + SignedDuration::from_mins(2), "w")
        .await
        .expect("claim");
    assert_eq!(claims.len(), 2, "[{N}]");
    let much_later = now + SignedDuration::from_mins(5);
    for claim in &claims {
        let refused = WriteOutcome::Retry {
            problem: CalendarProblem::Refused { status: 401 },
            next_attempt_at: much_later,
        };
        assert!(
            store
                .record_calendar_write(claim, &refused, now)
                .await
                .expect("r"),
            "[{N}]"
        );
    }
    let fixed = now + SignedDuration::from_secs(10);
    store
        .link_calendar(&link_for(&t, "right"), fixed)
        .await
        .expect("relink");
    let due: Vec<_> = store
        .claim_calendar_writes(fixed, 10, fixed + SignedDuration::from_mins(2), "w")
        .await
        .expect("claim")
        .into_iter()
        .map(|c| c.write.booking)
        .collect();
    assert_eq!(
        due,
        vec![booked],
        "[{N}] due at once with the new credentials; another clinic's write waits"
    );
    assert_ne!(booked, theirs);
}

pub async fn calendar_write_retried_never_lost<S: CalendarTestStore + ?Sized>(store: &S) {
    const N: &str = "calendar_write_retried_never_lost";
    let now = base_time();
    let t = create_tenant(store, "Retry Clinic").await;
    let booked = confirmed(store, &t, span(0, 60), &random_phone(), now).await;
    store
        .link_calendar(&link_for(&t, "pw"), now)
        .await
        .expect("link");
    store.queue_booking_writes(now).await.expect("queue");
    let mut at = now;
    for attempt in 1..=3u32 {
        let claim = store
            .claim_calendar_writes(at, 10, at + SignedDuration::from_mins(2), "w")
            .await
            .expect("claim")
            .into_iter()
            .find(|c| c.write.booking == booked)
            .unwrap_or_else(|| panic!("[{N}] due again for attempt {attempt}"));
        assert_eq!(claim.write.attempts, attempt - 1, "[{N}]");
        let next = at + SignedDuration::from_secs(5 * i64::from(attempt));
        let retry = WriteOutcome::Retry {
            problem: CalendarProblem::Unreachable {
                detail: "connection refused".into(),
            },
            next_attempt_at: next,
        };
        assert!(
            store
                .record_calendar_write(&claim, &retry, at)
                .await
                .expect("r"),
            "[{N}]"
        );
        assert!(
            store
                .claim_calendar_writes(next - SignedDuration::from_secs(1), 10, next, "w")
                .await
                .expect("claim")
                .iter()
                .all(|c| c.write.booking != booked),
            "[{N}] not due before its backoff ends"
        );
        at = next;
    }
    let w = store
        .calendar_writes(t.id, t.calendar())
        .await
        .expect("w")
        .remove(0);
    assert_eq!(w.attempts, 3, "[{N}]");
    assert!(
        matches!(w.last_problem, Some(CalendarProblem::Unreachable { .. })),
        "[{N}] the problem is kept for the owner"
    );
    // A worker that dies with its claim: the lease runs out and the write is claimed again.
    let claim = store
        .claim_calendar_writes(at, 10, at + SignedDuration::from_mins(2), "dies")
        .await
        .expect("claim")
        .into_iter()
        .find(|c| c.write.booking == booked)
        .expect("due");
    let after_lease = at + SignedDuration::from_mins(3);
    let taken_over = store
        .claim_calendar_writes(
            after_lease,
            10,
            after_lease + SignedDuration::from_mins(2),
            "w2",
        )
        .await
        .expect("claim")
        .into_iter()
        .find(|c| c.write.booking == booked)
        .expect("[calendar_write_retried_never_lost] a lapsed claim is taken over");
    assert!(
        !store
            .record_calendar_write(&claim, &WriteOutcome::Written, after_lease)
            .await
            .expect("r"),
        "[{N}] the dead worker's late outcome is ignored"
    );
    assert!(
        store
            .record_calendar_write(&taken_over, &WriteOutcome::Written, after_lease)
            .await
            .expect("r"),
        "[{N}]"
    );
    let w = store
        .calendar_writes(t.id, t.calendar())
        .await
        .expect("w")
        .remove(0);
    assert!(
        w.is_done() && w.attempts == 0 && w.last_problem.is_none(),
        "[{N}] {w:?}"
    );
}

pub async fn calendar_write_changed_in_flight_is_written_again<S: CalendarTestStore + ?Sized>(
    store: &S,
) {
    const N: &str = "calendar_write_changed_in_flight_is_written_again";
    let now = base_time();
    let t = create_tenant(store, "Flight Clinic").await;
    let booked = confirmed(store, &t, span(0, 60), &random_phone(), now).await;
    store
        .link_calendar(&link_for(&t, "pw"), now)
        .await
        .expect("link");
    store.queue_booking_writes(now).await.expect("queue");
    let claim = store
        .claim_calendar_writes(now, 10, now + SignedDuration::from_mins(2), "w")
        .await
        .expect("claim")
        .into_iter()
        .find(|c| c.write.booking == booked)
        .expect("due");
    // Cancelled while the write of the event is in flight.
    store
        .cancel_booking(t.id, booked, ChangeProof::Owner, now, &[], &[])
        .await
        .expect("cancel");
    store.queue_booking_writes(now).await.expect("queue");
    assert!(
        store
            .record_calendar_write(&claim, &WriteOutcome::Written, now)
            .await
            .expect("r"),
        "[{N}]"
    );
    let w = store
        .calendar_writes(t.id, t.calendar())
        .await
        .expect("w")
        .remove(0);
    assert_eq!(w.written_version, Some(1), "[{N}]");
    assert!(!w.is_done(), "[{N}] the removal is still to do");
    let claim = store
        .claim_calendar_writes(now, 10, now + SignedDuration::from_mins(2), "w")
        .await
        .expect("claim")
        .into_iter()
        .find(|c| c.write.booking == booked)
        .expect("the removal is due");
    assert_eq!(claim.write.wanted, None, "[{N}]");
    assert_eq!(claim.write.version, 2, "[{N}]");
    // Unlinking drops writes not yet done; a calendar id of another clinic claims nothing.
    let other = create_tenant(store, "Other Flight Clinic").await;
    assert!(
        store
            .calendar_writes(other.id, CalendarId::default_for(t.id))
            .await
            .expect("w")
            .is_empty(),
        "[{N}] another tenant sees no writes"
    );
}
