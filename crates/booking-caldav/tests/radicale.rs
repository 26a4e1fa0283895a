//! The CalDAV adapter against a real CalDAV server: a private Radicale per test (local-caldav),
//! on a loopback port, with htpasswd users. The events are iCalendar fixtures written for these
//! tests (tests/fixtures), put on the server as another calendar app would.

use std::collections::BTreeSet;
use std::sync::Arc;

use booking_caldav::{CalDav, CalDavConfig, SyncTokens};
use booking_core::booking::Interval;
use booking_core::memory::MemoryStore;
use booking_core::outside_calendar::{
    CalendarCredentials, CalendarLink, CalendarProblem, CalendarSyncConfig, CalendarSyncStore,
    CalendarUrl, CalendarWorker, ChangeScope, OurEvent, OurEventUid, OutsideCalendar, SyncHealth,
    SyncPoint,
};
use booking_core::ports::{BookingStore as _, Clock};
use booking_core::tenant::{ClinicZone, Secret};
use booking_core::testing::{self, ManualClock};
use http_body_util::BodyExt as _;
use jiff::{SignedDuration, Timestamp};
use local_caldav::{Radicale, User};

const USER: &str = "frontdesk";
const PASSWORD: &str = "app-password-7";

fn radicale() -> Radicale {
    Radicale::start(&[
        User {
            name: USER,
            password: PASSWORD,
            calendars: &[("work", "Front desk"), ("personal", "Dr. Lee personal")],
        },
        User {
            name: "other-clinic",
            password: "their-password",
            calendars: &[("work", "Other clinic")],
        },
    ])
    .expect("a private Radicale starts (apt-get install radicale)")
}

fn credentials(password: &str) -> CalendarCredentials {
    CalendarCredentials::Password {
        username: USER.into(),
        password: Secret::new(password),
    }
}

fn link_to(server: &Radicale, calendar: &str, password: &str) -> CalendarLink {
    let tenant = testing::random_tenant_id();
    CalendarLink {
        tenant,
        calendar: booking_core::CalendarId::default_for(tenant),
        url: CalendarUrl::parse(&format!("{}{USER}/{calendar}/", server.url())).unwrap(),
        credentials: credentials(password),
        zone: ClinicZone::parse("America/New_York").unwrap(),
    }
}

fn horizon() -> Interval {
    Interval::new(
        "2030-03-01T00:00:00Z".parse().unwrap(),
        "2030-05-01T00:00:00Z".parse().unwrap(),
    )
    .unwrap()
}

fn utc(a: &str, b: &str) -> Interval {
    Interval::new(a.parse().unwrap(), b.parse().unwrap()).unwrap()
}

/// A plain HTTP request to the server, as another calendar app would make it.
async fn http(method: &str, url: &str, body: &str) -> u16 {
    use base64::Engine as _;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<String>();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header("Authorization", format!("Basic {auth}"))
        .header("Content-Type", "text/calendar; charset=utf-8")
        .body(body.to_owned())
        .unwrap();
    let response = client.request(request).await.expect("the server answers");
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    status
}

async fn put_fixture(server: &Radicale, calendar: &str, name: &str, text: &str) -> String {
    let url = format!("{}{USER}/{calendar}/{name}", server.url());
    let status = http("PUT", &url, text).await;
    assert!((200..300).contains(&status), "PUT {name}: {status}");
    format!("/{USER}/{calendar}/{name}")
}

fn all_busy(changes: &booking_core::outside_calendar::CalendarChanges) -> Vec<Interval> {
    let mut busy: Vec<Interval> = changes
        .changed
        .iter()
        .flat_map(|r| r.busy.iter().copied())
        .collect();
    busy.sort();
    busy
}

fn caldav(tokens: SyncTokens) -> CalDav {
    CalDav::new(CalDavConfig {
        sync_tokens: tokens,
        ..CalDavConfig::default()
    })
}

#[tokio::test]
async fn discovery_finds_the_users_calendars_from_the_server_address() {
    let server = radicale();
    let found = CalDav::default()
        .find_calendars(
            &CalendarUrl::parse(&server.url()).unwrap(),
            &credentials(PASSWORD),
        )
        .await
        .expect("discovery");
    let found: BTreeSet<(String, Option<String>)> = found
        .into_iter()
        .map(|c| (c.url.as_str().to_owned(), c.name))
        .collect();
    let expected: BTreeSet<(String, Option<String>)> = [
        (
            format!("{}{USER}/work/", server.url()),
            Some("Front desk".to_owned()),
        ),
        (
            format!("{}{USER}/personal/", server.url()),
            Some("Dr. Lee personal".to_owned()),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        found, expected,
        "this user's calendars, and not the other user's"
    );
}

#[tokio::test]
async fn every_kind_of_event_becomes_busy_time() {
    let server = radicale();
    for (name, text) in [
        ("walk-in.ics", include_str!("fixtures/walk-in.ics")),
        ("lunch.ics", include_str!("fixtures/lunch-transparent.ics")),
        ("holiday.ics", include_str!("fixtures/holiday.ics")),
        (
            "staff-meeting.ics",
            include_str!("fixtures/staff-meeting.ics"),
        ),
        ("cancelled.ics", include_str!("fixtures/cancelled.ics")),
        ("outlook.ics", include_str!("fixtures/outlook-zone.ics")),
    ] {
        put_fixture(&server, "work", name, text).await;
    }
    for tokens in [SyncTokens::WhenOffered, SyncTokens::Never] {
        let link = link_to(&server, "work", PASSWORD);
        let changes = caldav(tokens)
            .changes(&link, &SyncPoint::start(), horizon())
            .await
            .expect("sync");
        assert_eq!(changes.scope, ChangeScope::Everything, "{tokens:?}");
        assert_eq!(
            changes.changed.len(),
            6,
            "{tokens:?}: every resource is listed"
        );
        assert_eq!(
            all_busy(&changes),
            [
                // The staff meeting, 09:00 Berlin time (CET), 18 March.
                utc("2030-03-18T08:00:00Z", "2030-03-18T09:00:00Z"),
                // The walk-in, 09:55 New York time.
                utc("2030-03-18T13:55:00Z", "2030-03-18T14:45:00Z"),
                // The all-day holiday, the clinic's whole day.
                utc("2030-03-19T04:00:00Z", "2030-03-20T04:00:00Z"),
                // The supplier visit, written with a Windows zone name.
                utc("2030-03-20T15:00:00Z", "2030-03-20T16:30:00Z"),
                // 25 March excluded; 1 April moved to 11:00 Berlin (now summer time), short.
                utc("2030-04-01T09:00:00Z", "2030-04-01T09:30:00Z"),
                // 8 April, 09:00 Berlin summer time.
                utc("2030-04-08T07:00:00Z", "2030-04-08T08:00:00Z"),
            ],
            "{tokens:?}: opaque events only, all-day, recurring with its exception and override"
        );
        assert_eq!(
            changes.token.is_some(),
            tokens == SyncTokens::WhenOffered,
            "Radicale offers sync tokens"
        );
    }
}

/// Add, change, delete: each picked up by the next sync, with a sync token and by ETags.
#[tokio::test]
async fn incremental_sync_picks_up_add_change_and_delete() {
    let server = radicale();
    for tokens in [SyncTokens::WhenOffered, SyncTokens::Never] {
        let calendar = match tokens {
            SyncTokens::WhenOffered => "work",
            SyncTokens::Never => "personal",
        };
        let caldav = caldav(tokens);
        let link = link_to(&server, calendar, PASSWORD);
        put_fixture(
            &server,
            calendar,
            "holiday.ics",
            include_str!("fixtures/holiday.ics"),
        )
        .await;
        let first = caldav
            .changes(&link, &SyncPoint::start(), horizon())
            .await
            .expect("first sync");
        let point = |changes: &booking_core::outside_calendar::CalendarChanges,
                     before: &SyncPoint| {
            let mut known = before.known.clone();
            if changes.scope == ChangeScope::Everything {
                known.clear();
            }
            for r in &changes.removed {
                known.remove(r);
            }
            for r in &changes.changed {
                known.insert(r.href.clone(), r.etag.clone());
            }
            SyncPoint {
                token: changes.token.clone(),
                known,
            }
        };
        let p1 = point(&first, &SyncPoint::start());
        assert_eq!(p1.known.len(), 1, "{tokens:?}");

        // Nothing changed: nothing to fetch.
        let quiet = caldav.changes(&link, &p1, horizon()).await.expect("sync");
        assert_eq!(quiet.scope, ChangeScope::SinceLastSync, "{tokens:?}");
        assert!(
            quiet.changed.is_empty() && quiet.removed.is_empty(),
            "{tokens:?}: {quiet:?}"
        );

        // Added.
        let walk_in = put_fixture(
            &server,
            calendar,
            "walk-in.ics",
            include_str!("fixtures/walk-in.ics"),
        )
        .await;
        let added = caldav.changes(&link, &p1, horizon()).await.expect("sync");
        assert_eq!(
            added
                .changed
                .iter()
                .map(|r| r.href.as_str())
                .collect::<Vec<_>>(),
            [walk_in.as_str()],
            "{tokens:?}: only the new event is read"
        );
        assert_eq!(
            all_busy(&added),
            [utc("2030-03-18T13:55:00Z", "2030-03-18T14:45:00Z")],
            "{tokens:?}"
        );
        let p2 = point(&added, &p1);

        // Changed: the walk-in moved an hour later.
        let moved = include_str!("fixtures/walk-in.ics")
            .replace("20300318T095500", "20300318T105500")
            .replace("20300318T104500", "20300318T114500");
        put_fixture(&server, calendar, "walk-in.ics", &moved).await;
        let changed = caldav.changes(&link, &p2, horizon()).await.expect("sync");
        assert_eq!(
            all_busy(&changed),
            [utc("2030-03-18T14:55:00Z", "2030-03-18T15:45:00Z")],
            "{tokens:?}"
        );
        let p3 = point(&changed, &p2);

        // Deleted.
        let status = http(
            "DELETE",
            &format!("{}{}", server.url().trim_end_matches('/'), walk_in),
            "",
        )
        .await;
        assert!((200..300).contains(&status), "DELETE: {status}");
        let deleted = caldav.changes(&link, &p3, horizon()).await.expect("sync");
        assert_eq!(deleted.removed, [walk_in], "{tokens:?}");
        assert!(deleted.changed.is_empty(), "{tokens:?}");
    }
}

fn appointment(booking: booking_core::BookingId, start: &str) -> OurEvent {
    let start: Timestamp = start.parse().unwrap();
    OurEvent::new(
        booking,
        Interval::new(start, start + SignedDuration::from_mins(60)).unwrap(),
        "Teeth Whitening",
        "Ada Lovelace",
        "2030-03-01T12:00:00Z".parse().unwrap(),
    )
}

/// Written, written again (one event, not two), moved, removed; read back through a sync it is
/// recognised by its UID and blocks nothing as outside busy time.
#[tokio::test]
async fn our_events_round_trip_by_uid() {
    let server = radicale();
    let caldav = CalDav::default();
    let link = link_to(&server, "work", PASSWORD);
    let booking = booking_core::BookingId::from_uuid(uuid::Uuid::new_v4());
    let event = appointment(booking, "2030-03-18T15:00:00Z");
    caldav.write_event(&link, &event).await.expect("write");
    caldav
        .write_event(&link, &event)
        .await
        .expect("the same write again");
    let changes = caldav
        .changes(&link, &SyncPoint::start(), horizon())
        .await
        .expect("sync");
    assert_eq!(
        changes.changed.len(),
        1,
        "a repeated write leaves one event"
    );
    assert!(
        changes.changed[0].busy.is_empty(),
        "our own event is not outside busy time"
    );
    let stored = std::fs::read_dir(server.storage().join(USER).join("work"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".ics"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        booking_caldav::ical::uids(&stored[0]),
        [OurEventUid::for_booking(booking).to_string()]
    );
    assert!(stored[0].contains("Ada Lovelace") && stored[0].contains(&booking.to_string()));
    assert!(
        stored[0].contains("DTSTART:20300318T150000Z"),
        "{}",
        stored[0]
    );

    // Moved: the same resource now says the new time.
    let moved = appointment(booking, "2030-03-19T15:00:00Z");
    caldav.write_event(&link, &moved).await.expect("move");
    let after = std::fs::read_dir(server.storage().join(USER).join("work"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".ics"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(after.len(), 1, "moved, not copied");
    assert!(
        after[0].contains("DTSTART:20300319T150000Z"),
        "{}",
        after[0]
    );

    caldav
        .remove_event(&link, &event.uid)
        .await
        .expect("remove");
    caldav
        .remove_event(&link, &event.uid)
        .await
        .expect("removing it again is fine");
    let gone = caldav
        .changes(&link, &SyncPoint::start(), horizon())
        .await
        .expect("sync");
    assert!(gone.changed.is_empty(), "{gone:?}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_in_words() {
    let server = radicale();
    let caldav = CalDav::default();
    let link = link_to(&server, "work", "not-the-password");
    let err = caldav
        .changes(&link, &SyncPoint::start(), horizon())
        .await
        .expect_err("refused");
    assert_eq!(err, CalendarProblem::Refused { status: 401 });
    assert!(
        err.owner_words().contains("password"),
        "{}",
        err.owner_words()
    );
    let err = caldav
        .find_calendars(
            &CalendarUrl::parse(&server.url()).unwrap(),
            &credentials("not-the-password"),
        )
        .await
        .expect_err("refused");
    assert!(matches!(err, CalendarProblem::Refused { .. }), "{err:?}");
    let err = caldav
        .write_event(
            &link,
            &appointment(
                booking_core::BookingId::from_uuid(uuid::Uuid::new_v4()),
                "2030-03-18T15:00:00Z",
            ),
        )
        .await
        .expect_err("refused");
    assert!(matches!(err, CalendarProblem::Refused { .. }), "{err:?}");
    // Another user's calendar with this user's password: refused too (not found or forbidden).
    let mut theirs = link_to(&server, "work", PASSWORD);
    theirs.url = CalendarUrl::parse(&format!("{}other-clinic/work/", server.url())).unwrap();
    let err = caldav
        .changes(&theirs, &SyncPoint::start(), horizon())
        .await
        .expect_err("not this user's calendar");
    assert!(
        matches!(
            err,
            CalendarProblem::Refused { .. } | CalendarProblem::NotFound
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_missing_calendar_is_not_found() {
    let server = radicale();
    let err = CalDav::default()
        .changes(
            &link_to(&server, "no-such-calendar", PASSWORD),
            &SyncPoint::start(),
            horizon(),
        )
        .await
        .expect_err("missing");
    assert_eq!(err, CalendarProblem::NotFound, "{err:?}");
}

/// The server goes away with a confirmed appointment still to write: the sync and the write
/// fail as unreachable (health says so, in words), the write stays queued, and once the server
/// is back the event is written, once.
#[tokio::test]
async fn a_server_that_goes_away_gets_the_write_when_it_returns() {
    let mut server = radicale();
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(testing::base_time()));
    let tenant = testing::create_tenant(store.as_ref(), "Calendar Clinic").await;
    let booked = testing::confirmed(
        store.as_ref(),
        &tenant,
        testing::span(0, 60),
        &testing::random_phone(),
        clock.now(),
    )
    .await;
    let mut link = link_to(&server, "work", PASSWORD);
    link.tenant = tenant.id;
    link.calendar = tenant.calendar();
    store.link_calendar(&link, clock.now()).await.unwrap();
    let worker = CalendarWorker::new(
        store.clone(),
        Arc::new(CalDav::new(CalDavConfig {
            request_timeout: std::time::Duration::from_secs(5),
            ..CalDavConfig::default()
        })),
        clock.clone(),
        CalendarSyncConfig::default(),
    );

    server.stop();
    let report = worker.step().await.unwrap();
    assert_eq!(report.sync_failures, ["unreachable"], "{report:?}");
    assert_eq!(report.write_failures, ["unreachable"], "{report:?}");
    let status = store
        .calendar_status(tenant.id, tenant.calendar())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            status.health,
            SyncHealth::Failing(CalendarProblem::Unreachable { .. })
        ),
        "{:?}",
        status.health
    );
    assert!(status.health.owner_words().contains("cannot reach"));
    let writes = store
        .calendar_writes(tenant.id, tenant.calendar())
        .await
        .unwrap();
    assert_eq!(writes.len(), 1);
    assert!(
        !writes[0].is_done() && writes[0].attempts == 1,
        "{:?}",
        writes[0]
    );

    // Still down a while later: retried, still kept.
    clock.advance(SignedDuration::from_mins(10));
    let report = worker.step().await.unwrap();
    assert_eq!(report.write_failures, ["unreachable"], "{report:?}");

    server.start_again().expect("the server comes back");
    clock.advance(SignedDuration::from_mins(10));
    let report = worker.step().await.unwrap();
    assert_eq!(report.written, 1, "{report:?}");
    assert_eq!(report.synced, 1, "{report:?}");
    assert!(
        store
            .calendar_writes(tenant.id, tenant.calendar())
            .await
            .unwrap()[0]
            .is_done()
    );
    let status = store
        .calendar_status(tenant.id, tenant.calendar())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.health, SyncHealth::Healthy);
    assert_eq!(status.last_synced_at, Some(clock.now()));

    // Later steps write nothing again; the server holds the event once.
    clock.advance(SignedDuration::from_mins(10));
    let report = worker.step().await.unwrap();
    assert_eq!(report.written, 0, "{report:?}");
    let files: Vec<String> = std::fs::read_dir(server.storage().join(USER).join("work"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".ics"))
        .collect();
    assert_eq!(files, [OurEventUid::for_booking(booked).file_name()]);
    // And our own event, synced back, blocks nothing as outside busy time.
    assert!(
        store
            .outside_busy(tenant.id, tenant.calendar(), testing::span(-60, 240))
            .await
            .unwrap()
            .is_empty()
    );

    // Cancelled: the event goes.
    store
        .cancel_booking(
            tenant.id,
            booked,
            booking_core::otp::ChangeProof::Owner,
            clock.now(),
            &[],
            &[],
        )
        .await
        .unwrap();
    let report = worker.step().await.unwrap();
    assert_eq!(report.written, 1, "{report:?}");
    let files = std::fs::read_dir(server.storage().join(USER).join("work"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".ics"))
        .count();
    assert_eq!(files, 0, "the cancelled appointment's event is removed");
}

/// An event typed into the calendar blocks that time after one step of the worker.
#[tokio::test]
async fn an_event_typed_into_the_calendar_is_busy_after_one_sync() {
    let server = radicale();
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(testing::base_time()));
    let tenant = testing::create_tenant(store.as_ref(), "Calendar Clinic").await;
    let mut link = link_to(&server, "work", PASSWORD);
    link.tenant = tenant.id;
    link.calendar = tenant.calendar();
    store.link_calendar(&link, clock.now()).await.unwrap();
    let worker = CalendarWorker::new(
        store.clone(),
        Arc::new(CalDav::default()),
        clock.clone(),
        CalendarSyncConfig::default(),
    );
    worker.step().await.unwrap();
    let window = Interval::new(
        "2030-03-01T00:00:00Z".parse().unwrap(),
        "2030-05-01T00:00:00Z".parse().unwrap(),
    )
    .unwrap();
    assert!(
        store
            .outside_busy(tenant.id, tenant.calendar(), window)
            .await
            .unwrap()
            .is_empty()
    );
    put_fixture(
        &server,
        "work",
        "walk-in.ics",
        include_str!("fixtures/walk-in.ics"),
    )
    .await;
    // Not due yet: the next sync comes within half the staleness bound.
    clock.advance(SignedDuration::from_secs(31));
    let report = worker.step().await.unwrap();
    assert_eq!(report.synced, 1, "{report:?}");
    assert_eq!(
        store
            .outside_busy(tenant.id, tenant.calendar(), window)
            .await
            .unwrap(),
        [utc("2030-03-18T13:55:00Z", "2030-03-18T14:45:00Z")]
    );
    // Another clinic's calendar sees none of it.
    let other = testing::create_tenant(store.as_ref(), "Other Clinic").await;
    assert!(
        store
            .outside_busy(other.id, tenant.calendar(), window)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .outside_busy(other.id, other.calendar(), window)
            .await
            .unwrap()
            .is_empty()
    );
}
