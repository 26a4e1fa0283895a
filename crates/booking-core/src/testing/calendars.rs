//! Outside calendars: links, busy time replaced per sync, and sync claims. The write queue's
//! checks are in `calendar_writes`.

use jiff::{SignedDuration, Timestamp};

use super::{base_time, create_tenant, futures_join_all, span};
use crate::booking::Interval;
use crate::ids::CalendarId;
use crate::outside_calendar::link::{CalendarCredentials, CalendarLink, CalendarUrl};
use crate::outside_calendar::ports::CalendarSyncStore;
use crate::outside_calendar::sync::{
    CalendarChanges, CalendarProblem, ChangeScope, OutsideResource, SyncHealth, SyncResult,
};
use crate::ports::{Store, StoreError};
use crate::tenant::{Secret, Tenant};

/// A store with every port, the outside calendar's included.
pub trait CalendarTestStore: Store + CalendarSyncStore {}
impl<T: Store + CalendarSyncStore> CalendarTestStore for T {}

/// The outside-calendar checks, each on a fresh store from `make`.
pub async fn run_calendar_checks<S, F, Fut>(make: F)
where
    S: CalendarTestStore,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    calendar_links_round_trip(&make().await).await;
    calendar_busy_replaced_per_sync(&make().await).await;
    calendar_busy_of_several_calendars(&make().await).await;
    calendar_sync_claims_once(&make().await).await;
    super::calendar_writes::calendar_writes_follow_bookings(&make().await).await;
    super::calendar_writes::calendar_write_claimed_once_under_concurrency(&make().await).await;
    super::calendar_writes::calendar_write_retried_never_lost(&make().await).await;
    super::calendar_writes::calendar_relink_makes_waiting_writes_due(&make().await).await;
    super::calendar_writes::calendar_write_changed_in_flight_is_written_again(&make().await).await;
    super::outside_busy::outside_busy_takes_a_hold(&make().await).await;
}

pub(super) fn link_for(t: &Tenant, password: &str) -> CalendarLink {
    CalendarLink {
        tenant: t.id,
        calendar: t.calendar(),
        url: CalendarUrl::parse("https://cal.example.com/dav/ada/work/").expect("valid url"),
        credentials: CalendarCredentials::Password {
            username: "ada".into(),
            password: Secret::new(password),
        },
        zone: t.config.zone.clone(),
    }
}

pub(super) fn resource(href: &str, etag: &str, busy: &[Interval]) -> OutsideResource {
    OutsideResource {
        href: href.into(),
        etag: etag.into(),
        busy: busy.to_vec(),
    }
}

pub(super) fn synced(
    scope: ChangeScope,
    changed: Vec<OutsideResource>,
    removed: &[&str],
    token: &str,
    now: Timestamp,
) -> SyncResult {
    SyncResult::Synced {
        changes: CalendarChanges {
            scope,
            changed,
            removed: removed.iter().map(|s| s.to_string()).collect(),
            token: Some(token.into()),
            expanded_until: now + SignedDuration::from_hours(24 * 120),
        },
        next_sync_at: now + SignedDuration::from_secs(30),
    }
}

fn sorted(mut v: Vec<Interval>) -> Vec<Interval> {
    v.sort();
    v
}

fn day() -> Interval {
    Interval::new(span(-600, 1).start, span(0, 24 * 60).end).expect("non-empty")
}

pub async fn calendar_links_round_trip<S: CalendarTestStore + ?Sized>(store: &S) {
    const N: &str = "calendar_links_round_trip";
    let now = base_time();
    let t = create_tenant(store, "Calendar Clinic").await;
    let other = create_tenant(store, "Other Clinic").await;
    let link = link_for(&t, "app-password-1");
    store.link_calendar(&link, now).await.expect("link");
    assert_eq!(
        store.calendar_link(t.id, t.calendar()).await.expect("read"),
        Some(link.clone()),
        "[{N}] the link reads back with its credentials"
    );
    let status = store
        .calendar_status(t.id, t.calendar())
        .await
        .expect("status")
        .expect("a status");
    assert_eq!(status.health, SyncHealth::Waiting, "[{N}]");
    assert_eq!(status.last_synced_at, None, "[{N}]");
    assert_eq!(status.url, link.url, "[{N}]");
    assert_eq!(status.linked_at, now, "[{N}]");
    assert_eq!(
        status.lag(now + SignedDuration::from_secs(90)),
        SignedDuration::from_secs(90),
        "[{N}] never synced: as old as the link"
    );
    // Another clinic's calendar id reaches nothing.
    assert_eq!(
        store
            .calendar_link(other.id, t.calendar())
            .await
            .expect("read"),
        None,
        "[{N}] another tenant reads no link"
    );
    assert_eq!(
        store
            .calendar_status(other.id, t.calendar())
            .await
            .expect("read"),
        None,
        "[{N}]"
    );
    let mut stranger = link.clone();
    stranger.tenant = crate::testing::random_tenant_id();
    assert_eq!(
        store.link_calendar(&stranger, now).await,
        Err(StoreError::NotFound),
        "[{N}] a link for a tenant that does not exist"
    );
    // Relinking with a new password replaces it.
    let relinked = link_for(&t, "app-password-2");
    store.link_calendar(&relinked, now).await.expect("relink");
    assert_eq!(
        store.calendar_link(t.id, t.calendar()).await.expect("read"),
        Some(relinked),
        "[{N}]"
    );
    assert_eq!(
        store
            .calendar_statuses()
            .await
            .expect("all")
            .iter()
            .filter(|s| s.tenant == t.id)
            .count(),
        1,
        "[{N}] one link per calendar"
    );
    assert!(
        store
            .unlink_calendar(t.id, t.calendar())
            .await
            .expect("unlink"),
        "[{N}]"
    );
    assert!(
        !store
            .unlink_calendar(t.id, t.calendar())
            .await
            .expect("unlink"),
        "[{N}]"
    );
    assert_eq!(
        store.calendar_link(t.id, t.calendar()).await.expect("read"),
        None,
        "[{N}]"
    );
}

pub async fn calendar_busy_replaced_per_sync<S: CalendarTestStore + ?Sized>(store: &S) {
    const N: &str = "calendar_busy_replaced_per_sync";
    let now = base_time();
    let t = create_tenant(store, "Busy Clinic").await;
    let other = create_tenant(store, "Other Busy Clinic").await;
    store
        .link_calendar(&link_for(&t, "pw"), now)
        .await
        .expect("link");
    store
        .link_calendar(&link_for(&other, "pw"), now)
        .await
        .expect("link");
    let lease = now + SignedDuration::from_mins(2);

    let claims = store.claim_due_syncs(now, 100, lease).await.expect("claim");
    let claim = claims
        .iter()
        .find(|c| c.link.tenant == t.id)
        .expect("the new link is due at once")
        .clone();
    assert!(
        claim.since.is_start(),
        "[{N}] the first sync starts from nothing"
    );
    let (a, b, c) = (span(0, 60), span(120, 30), span(300, 60));
    let first = synced(
        ChangeScope::Everything,
        vec![
            resource("/c/a.ics", "\"1\"", &[a]),
            resource("/c/b.ics", "\"1\"", &[b, c]),
        ],
        &[],
        "token-1",
        now,
    );
    assert!(
        store
            .record_sync(&claim, &first, now)
            .await
            .expect("record"),
        "[{N}]"
    );
    assert_eq!(
        sorted(
            store
                .outside_busy(t.id, t.calendar(), day())
                .await
                .expect("busy")
        ),
        vec![a, b, c],
        "[{N}] the first sync's busy time"
    );
    assert!(
        store
            .outside_busy(other.id, other.calendar(), day())
            .await
            .expect("busy")
            .is_empty(),
        "[{N}] another clinic's calendar sees none of it"
    );
    assert!(
        store
            .outside_busy(other.id, t.calendar(), day())
            .await
            .expect("busy")
            .is_empty(),
        "[{N}] nor through this clinic's calendar id"
    );
    let status = store
        .calendar_status(t.id, t.calendar())
        .await
        .expect("s")
        .expect("s");
    assert_eq!(status.health, SyncHealth::Healthy, "[{N}]");
    assert_eq!(status.last_synced_at, Some(now), "[{N}]");

    // Not due again before its time; then due with the token and the etags.
    let later = now + SignedDuration::from_secs(31);
    assert!(
        store
            .claim_due_syncs(now + SignedDuration::from_secs(1), 100, lease)
            .await
            .expect("claim")
            .iter()
            .all(|c| c.link.tenant != t.id),
        "[{N}] not due before next_sync_at"
    );
    let claim = store
        .claim_due_syncs(later, 100, later + SignedDuration::from_mins(2))
        .await
        .expect("claim")
        .into_iter()
        .find(|c| c.link.tenant == t.id)
        .expect("due again");
    assert_eq!(claim.since.token.as_deref(), Some("token-1"), "[{N}]");
    assert_eq!(claim.since.known.len(), 2, "[{N}] {:?}", claim.since.known);
    assert_eq!(
        claim.since.known.get("/c/b.ics").map(String::as_str),
        Some("\"1\""),
        "[{N}]"
    );

    // A patch: b changed (one interval left), a removed.
    let patch = synced(
        ChangeScope::SinceLastSync,
        vec![resource("/c/b.ics", "\"2\"", &[c])],
        &["/c/a.ics"],
        "token-2",
        later,
    );
    assert!(
        store
            .record_sync(&claim, &patch, later)
            .await
            .expect("record"),
        "[{N}]"
    );
    assert_eq!(
        sorted(
            store
                .outside_busy(t.id, t.calendar(), day())
                .await
                .expect("busy")
        ),
        vec![c],
        "[{N}] a patch replaces the changed resource's busy time and drops the removed one"
    );
    // A full sync replaces everything.
    let again = later + SignedDuration::from_secs(31);
    let claim = store
        .claim_due_syncs(again, 100, again + SignedDuration::from_mins(2))
        .await
        .expect("claim")
        .into_iter()
        .find(|c| c.link.tenant == t.id)
        .expect("due again");
    let full = synced(
        ChangeScope::Everything,
        vec![resource("/c/d.ics", "\"1\"", &[a])],
        &[],
        "token-3",
        again,
    );
    assert!(
        store
            .record_sync(&claim, &full, again)
            .await
            .expect("record"),
        "[{N}]"
    );
    assert_eq!(
        store
            .outside_busy(t.id, t.calendar(), day())
            .await
            .expect("busy"),
        vec![a],
        "[{N}] a full sync replaces all"
    );
    // The window filters.
    let outside_window = Interval::new(span(600, 1).start, span(600, 60).end).expect("window");
    assert!(
        store
            .outside_busy(t.id, t.calendar(), outside_window)
            .await
            .expect("busy")
            .is_empty(),
        "[{N}]"
    );
    // New credentials for the same address keep what was synced (a wrong password typed in
    // must not clear the busy time), with the sync due at once and the old claim void.
    let claim = store
        .claim_due_syncs(again, 100, again + SignedDuration::from_mins(2))
        .await
        .expect("claim");
    store
        .link_calendar(&link_for(&t, "pw2"), again)
        .await
        .expect("relink");
    assert_eq!(
        store
            .outside_busy(t.id, t.calendar(), day())
            .await
            .expect("busy"),
        vec![a],
        "[{N}] new credentials for the same calendar keep its busy time"
    );
    for c in claim.iter().filter(|c| c.link.tenant == t.id) {
        assert!(
            !store
                .record_sync(
                    c,
                    &synced(ChangeScope::Everything, vec![], &[], "x", again),
                    again
                )
                .await
                .expect("record"),
            "[{N}] a sync claimed under the old credentials records nothing"
        );
    }
    let status = store
        .calendar_status(t.id, t.calendar())
        .await
        .expect("s")
        .expect("s");
    assert_eq!(status.health, SyncHealth::Waiting, "[{N}]");
    let due = store
        .claim_due_syncs(again, 100, again + SignedDuration::from_mins(2))
        .await
        .expect("claim");
    let relinked = due
        .iter()
        .find(|c| c.link.tenant == t.id)
        .expect("[calendar_busy_replaced_per_sync] due at once with the new credentials");
    assert_eq!(relinked.since.token.as_deref(), Some("token-3"), "[{N}]");
    // Another address starts from nothing.
    let mut moved = link_for(&t, "pw2");
    moved.url = CalendarUrl::parse("https://cal.example.com/dav/ada/other/").expect("url");
    store.link_calendar(&moved, again).await.expect("relink");
    assert!(
        store
            .outside_busy(t.id, t.calendar(), day())
            .await
            .expect("busy")
            .is_empty(),
        "[{N}] a link to another calendar starts without the old one's busy time"
    );
}

/// The busy time of several calendars of one clinic in one read, each interval with its
/// calendar; another clinic's calendars, and unlinked ones, bring none.
pub async fn calendar_busy_of_several_calendars<S: CalendarTestStore + ?Sized>(store: &S) {
    const N: &str = "calendar_busy_of_several_calendars";
    let now = base_time();
    let t = create_tenant(store, "Two Calendars Clinic").await;
    let other = create_tenant(store, "Other Calendars Clinic").await;
    let second = CalendarId::from_uuid(uuid::Uuid::new_v4());
    let unlinked = CalendarId::from_uuid(uuid::Uuid::new_v4());
    let mut second_link = link_for(&t, "pw");
    second_link.calendar = second;
    for link in [link_for(&t, "pw"), second_link, link_for(&other, "pw")] {
        store.link_calendar(&link, now).await.expect("link");
    }
    let (a, b, c) = (span(0, 60), span(120, 30), span(60, 30));
    let claims = store
        .claim_due_syncs(now, 100, now + SignedDuration::from_mins(2))
        .await
        .expect("claim");
    for claim in &claims {
        let busy = if claim.link.tenant == other.id {
            vec![c]
        } else if claim.link.calendar == second {
            vec![b]
        } else {
            vec![a]
        };
        let result = synced(
            ChangeScope::Everything,
            vec![resource("/c/x.ics", "\"1\"", &busy)],
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
    let mut got = store
        .outside_busy_of(t.id, &[t.calendar(), second, unlinked], day())
        .await
        .expect("busy");
    got.sort_by_key(|(_, i)| i.start);
    assert_eq!(got, vec![(t.calendar(), a), (second, b)], "[{N}]");
    let only_second = store
        .outside_busy_of(t.id, &[second], day())
        .await
        .expect("busy");
    assert_eq!(
        only_second,
        vec![(second, b)],
        "[{N}] only the calendars asked for"
    );
    assert!(
        store
            .outside_busy_of(other.id, &[t.calendar(), second], day())
            .await
            .expect("busy")
            .is_empty(),
        "[{N}] another clinic reads none of this clinic's calendars"
    );
    assert!(
        store
            .outside_busy_of(t.id, &[other.calendar()], day())
            .await
            .expect("busy")
            .is_empty(),
        "[{N}] nor this clinic another's"
    );
    let late = Interval::new(span(600, 1).start, span(600, 60).end).expect("window");
    assert!(
        store
            .outside_busy_of(t.id, &[t.calendar(), second], late)
            .await
            .expect("busy")
            .is_empty(),
        "[{N}] the window filters"
    );
    assert!(
        store
            .outside_busy_of(t.id, &[], day())
            .await
            .expect("busy")
            .is_empty(),
        "[{N}]"
    );
}

pub async fn calendar_sync_claims_once<S: CalendarTestStore + ?Sized>(store: &S) {
    const N: &str = "calendar_sync_claims_once";
    let now = base_time();
    let t = create_tenant(store, "Claim Clinic").await;
    store
        .link_calendar(&link_for(&t, "pw"), now)
        .await
        .expect("link");
    let lease = now + SignedDuration::from_mins(2);
    let results = futures_join_all((0..10).map(|_| store.claim_due_syncs(now, 10, lease))).await;
    let mine: usize = results
        .into_iter()
        .map(|r| {
            r.expect("claim")
                .iter()
                .filter(|c| c.link.tenant == t.id)
                .count()
        })
        .sum();
    assert_eq!(mine, 1, "[{N}] ten concurrent claims take the link once");

    // The lease lapses: another worker takes it over; the first claim is then stale.
    let after = lease + SignedDuration::from_secs(1);
    let first_claim_token = {
        let again = store
            .claim_due_syncs(after, 10, after + SignedDuration::from_mins(2))
            .await
            .expect("claim");
        again
            .into_iter()
            .find(|c| c.link.tenant == t.id)
            .expect("taken over after its lease")
    };
    let mut stale = first_claim_token.clone();
    stale.claim_token = uuid::Uuid::new_v4();
    let failed = SyncResult::Failed {
        problem: CalendarProblem::Refused { status: 401 },
        next_sync_at: after + SignedDuration::from_mins(5),
    };
    assert!(
        !store
            .record_sync(&stale, &failed, after)
            .await
            .expect("record"),
        "[{N}] a stale claim records nothing"
    );
    assert!(
        store
            .record_sync(&first_claim_token, &failed, after)
            .await
            .expect("record"),
        "[{N}]"
    );
    let status = store
        .calendar_status(t.id, t.calendar())
        .await
        .expect("s")
        .expect("s");
    assert_eq!(
        status.health,
        SyncHealth::Failing(CalendarProblem::Refused { status: 401 }),
        "[{N}]"
    );
    assert_eq!(status.consecutive_failures, 1, "[{N}]");
    assert_eq!(status.last_synced_at, None, "[{N}]");
    assert!(
        store
            .claim_due_syncs(after + SignedDuration::from_mins(1), 10, lease)
            .await
            .expect("claim")
            .iter()
            .all(|c| c.link.tenant != t.id),
        "[{N}] a failed link waits for its next try"
    );
}
