//! The Reports page's weekly figures.

use jiff::{SignedDuration, Timestamp};

use crate::attendance::Attendance;
use crate::booking::{CallHolds, Interval};
use crate::calls::{CallReport, CallStart, CapturedLead, FinishedCall};
use crate::ids::{BookingId, CallId, MessageSid};
use crate::otp::ChangeProof;
use crate::outbox::{DedupeKey, DeliveryUpdate, MessageKind, MessageStatus};
use crate::ports::Store;
use crate::reports::{ReportWeeks, WeekFigures, weekly_report};
use crate::tenant::Tenant;
use crate::testing::appointments::appointment;
use crate::testing::calls::sample_score;
use crate::testing::{
    challenge, confirmed, create_tenant, hold, message, message_id, random_call_id, random_phone,
    store_challenge,
};

fn at(s: &str) -> Timestamp {
    s.parse().expect("a valid timestamp")
}

fn slot(start: &str, minutes: i64) -> Interval {
    let start = at(start);
    Interval::new(start, start + SignedDuration::from_mins(minutes)).expect("non-empty")
}

/// What is known of a call in the report's data.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Report {
    /// No end-of-call report yet.
    Pending,
    Cold,
    Hot,
}

/// A call that started at `started`, with its report as `report` says.
async fn call_at<S: Store + ?Sized>(
    store: &S,
    t: &Tenant,
    started: Timestamp,
    report: Report,
) -> CallId {
    let id = random_call_id();
    store
        .record_call_start(&CallStart {
            call_id: id.clone(),
            tenant: t.id,
            caller: Some(random_phone()),
            called: Some(t.config.called_numbers[0].number.clone()),
            started_at: started,
        })
        .await
        .expect("record_call_start");
    if report != Report::Pending {
        let hot = report == Report::Hot;
        let ended = started + SignedDuration::from_mins(4);
        let call_report = CallReport {
            call_id: id.clone(),
            caller: None,
            called: None,
            started_at: Some(started),
            ended_at: Some(ended),
            ended_reason: Some("customer-ended-call".into()),
            summary: None,
            structured: CapturedLead::default(),
            buying_intent: None,
        };
        let finished = FinishedCall {
            report: call_report,
            score: sample_score(if hot { 90 } else { 10 }),
            hot_lead: hot,
            received_at: ended,
        };
        store
            .finish_call(t.id, &finished, &[])
            .await
            .expect("finish_call");
    }
    id
}

/// An appointment held during `call` and confirmed at `confirmed_at`.
async fn booked_during<S: Store + ?Sized>(
    store: &S,
    t: &Tenant,
    call: &CallId,
    slot: Interval,
    confirmed_at: Timestamp,
) -> BookingId {
    let phone = random_phone();
    let h = store
        .insert_hold(
            &hold(t, slot, &phone, Some(call), confirmed_at),
            confirmed_at,
            CallHolds::Keep,
        )
        .await
        .expect("insert_hold");
    let (c, m) = challenge(t.id, h.id, &phone, Some(call), confirmed_at);
    store_challenge(store, &c, &m).await.expect("challenge");
    store
        .confirm_hold(t.id, h.id, c.id, confirmed_at, None, &[])
        .await
        .expect("confirm_hold");
    h.id
}

/// A text due at `due` that ends `outcome` (`None`: still on its way).
async fn text_due<S: Store + ?Sized>(
    store: &S,
    t: &Tenant,
    due: Timestamp,
    outcome: Option<MessageStatus>,
) {
    let id = message_id();
    let mut m = message(
        t.id,
        MessageKind::Confirmation,
        DedupeKey::test(id),
        &random_phone(),
        due,
    );
    m.id = id;
    store.enqueue(&[m]).await.expect("enqueue");
    let Some(outcome) = outcome else { return };
    let claims = store
        .claim_due(due, 10_000, due + SignedDuration::from_mins(1), "reports")
        .await
        .expect("claim_due");
    let claim = claims
        .iter()
        .find(|c| c.message.id == id)
        .expect("the text is claimed");
    let sid = MessageSid::parse(&format!("SM{}", id.as_uuid().simple())).expect("sid");
    let update = match outcome {
        MessageStatus::Failed => DeliveryUpdate::Failed {
            error_code: Some(21211),
            error_message: "invalid number".into(),
        },
        _ => DeliveryUpdate::Accepted {
            sid: sid.clone(),
            status: MessageStatus::Sent,
        },
    };
    store
        .record_delivery(claim, &update, due)
        .await
        .expect("record_delivery");
    if outcome != MessageStatus::Failed {
        store
            .apply_status(t.id, sid.as_str(), outcome, None, due)
            .await
            .expect("apply_status");
    }
    // Whatever else the claim took (other checks' texts due by then) goes back.
    store.release_claims("reports", due).await.expect("release");
}

/// Each figure in the week of the clinic (Monday to Monday in New York, across the start of
/// daylight saving on Sunday 2030-03-10), of this clinic only: a row on either side of the
/// Sunday-to-Monday midnight, and rows that must not count (before the weeks, a call's
/// appointment moved, a hold never confirmed, an appointment not booked on a call, an attended
/// one, texts still on their way).
pub async fn weekly_report_counts_by_clinic_week<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "weekly_report_counts_by_clinic_week";
    let t = create_tenant(store, "Reporting Clinic").await;
    let other = create_tenant(store, "Other Reporting Clinic").await;
    // Wednesday 2030-03-13, noon in New York: the weeks end with the one of Monday 2030-03-11.
    let now = at("2030-03-13T16:00:00Z");
    // Sunday 23:30 (EDT, the first Sunday of daylight saving) and Monday 00:30 local.
    let (sunday_night, monday_night) = (at("2030-03-11T03:30:00Z"), at("2030-03-11T04:30:00Z"));
    // Sunday 2030-02-24 23:30 EST, at the end of the week of 02-18.
    let earlier_sunday = at("2030-02-25T04:30:00Z");

    // Calls: answered, hot or not.
    let c1 = call_at(store, &t, sunday_night, Report::Hot).await;
    let c2 = call_at(store, &t, monday_night, Report::Hot).await;
    call_at(store, &t, at("2030-03-05T15:00:00Z"), Report::Cold).await;
    call_at(store, &t, earlier_sunday, Report::Pending).await;
    call_at(store, &t, at("2029-12-20T15:00:00Z"), Report::Hot).await;

    // Appointments the AI booked, counted when confirmed.
    let a1 = booked_during(
        store,
        &t,
        &c1,
        slot("2030-03-11T03:35:00Z", 10),
        sunday_night,
    )
    .await;
    let a2 = booked_during(
        store,
        &t,
        &c2,
        slot("2030-03-11T04:35:00Z", 10),
        monday_night + SignedDuration::from_mins(2),
    )
    .await;
    // Booked, then cancelled: it was still booked by the AI.
    let a3 = booked_during(
        store,
        &t,
        &c2,
        slot("2030-03-18T15:00:00Z", 30),
        monday_night + SignedDuration::from_mins(3),
    )
    .await;
    store
        .cancel_booking(t.id, a3, ChangeProof::Owner, now, &[], &[])
        .await
        .expect("cancel");
    // Moved: the new row is not another booking.
    let a4 = booked_during(
        store,
        &t,
        &c2,
        slot("2030-03-19T15:00:00Z", 30),
        monday_night + SignedDuration::from_mins(4),
    )
    .await;
    let mut moved = appointment(
        &t,
        a4,
        slot("2030-03-20T15:00:00Z", 30),
        &random_phone(),
        now,
    );
    moved.call_id = Some(c2.clone());
    store
        .reschedule_booking(t.id, a4, ChangeProof::Owner, &moved, now, &[], &[])
        .await
        .expect("reschedule");
    // Held during a call and never confirmed; confirmed without a call.
    store
        .insert_hold(
            &hold(
                &t,
                slot("2030-03-12T15:00:00Z", 30),
                &random_phone(),
                Some(&c2),
                monday_night,
            ),
            monday_night,
            CallHolds::Keep,
        )
        .await
        .expect("insert_hold");
    let walk_in = confirmed(
        store,
        &t,
        slot("2030-03-11T14:00:00Z", 30),
        &random_phone(),
        monday_night,
    )
    .await;

    // No-shows, in the week the appointment was to start.
    for (id, mark) in [
        (a1, Attendance::NoShow),
        (a2, Attendance::NoShow),
        (walk_in, Attendance::Attended),
    ] {
        let marked = store
            .mark_attendance(t.id, id, Some(mark), now)
            .await
            .expect("mark");
        assert!(marked.is_ok(), "[{NAME}] mark refused: {marked:?}");
    }

    // Texts.
    text_due(store, &t, sunday_night, Some(MessageStatus::Delivered)).await;
    text_due(store, &t, monday_night, Some(MessageStatus::Delivered)).await;
    text_due(store, &t, monday_night, Some(MessageStatus::Failed)).await;
    text_due(store, &t, monday_night, Some(MessageStatus::Undelivered)).await;
    text_due(store, &t, earlier_sunday, Some(MessageStatus::Failed)).await;
    text_due(store, &t, monday_night, Some(MessageStatus::Sent)).await;
    text_due(store, &t, monday_night, None).await;

    // The other clinic, in the same weeks: one of everything.
    let theirs = call_at(store, &other, monday_night, Report::Hot).await;
    let their_booking = booked_during(
        store,
        &other,
        &theirs,
        slot("2030-03-11T04:35:00Z", 10),
        monday_night,
    )
    .await;
    store
        .mark_attendance(other.id, their_booking, Some(Attendance::NoShow), now)
        .await
        .expect("mark")
        .expect("their mark");
    text_due(store, &other, monday_night, Some(MessageStatus::Delivered)).await;
    text_due(store, &other, monday_night, Some(MessageStatus::Failed)).await;

    let report = weekly_report(store, &t, now).await.expect("weekly_report");
    let weeks = &report.weeks;
    check!(
        NAME,
        weeks.len() == 12 && report.figures.len() == 12,
        "twelve weeks: {weeks:?}"
    );
    let mondays: Vec<String> = weeks.mondays().iter().map(|d| d.to_string()).collect();
    check!(
        NAME,
        mondays.first().map(String::as_str) == Some("2029-12-24")
            && mondays.last().map(String::as_str) == Some("2030-03-11"),
        "the weeks: {mondays:?}"
    );
    let f = &report.figures;
    let want_last = WeekFigures {
        calls_answered: 1,
        booked_by_ai: 3,
        hot_leads: 1,
        no_shows: 1,
        texts_delivered: 1,
        texts_failed: 2,
        refilled_by_waitlist: 0,
    };
    check!(NAME, f[11] == want_last, "the week of 03-11: {:?}", f[11]);
    let want_before = WeekFigures {
        calls_answered: 2,
        booked_by_ai: 1,
        hot_leads: 1,
        no_shows: 1,
        texts_delivered: 1,
        texts_failed: 0,
        refilled_by_waitlist: 0,
    };
    check!(NAME, f[10] == want_before, "the week of 03-04: {:?}", f[10]);
    let want_earlier = WeekFigures {
        calls_answered: 1,
        texts_failed: 1,
        ..WeekFigures::default()
    };
    check!(NAME, f[8] == want_earlier, "the week of 02-18: {:?}", f[8]);
    for i in [0, 1, 2, 3, 4, 5, 6, 7, 9] {
        check!(
            NAME,
            f[i] == WeekFigures::default(),
            "week {i} ({}) should be empty: {:?}",
            weeks.mondays()[i],
            f[i]
        );
    }

    // The other clinic sees its own rows only.
    let their_weeks = ReportWeeks::ending_at(now, &other.config.zone, 12);
    let theirs = store
        .weekly_figures(other.id, &their_weeks)
        .await
        .expect("weekly_figures");
    let want_theirs = WeekFigures {
        calls_answered: 1,
        booked_by_ai: 1,
        hot_leads: 1,
        no_shows: 1,
        texts_delivered: 1,
        texts_failed: 1,
        refilled_by_waitlist: 0,
    };
    check!(
        NAME,
        theirs[11] == want_theirs && theirs[..11].iter().all(|w| *w == WeekFigures::default()),
        "the other clinic's figures: {theirs:?}"
    );
}
