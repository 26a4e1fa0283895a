//! Calls: start, status, the end-of-call report and the lead.

use jiff::SignedDuration;

use crate::calls::{
    CallReport, CallStart, CapturedLead, FinishOutcome, FinishedCall, LeadScore, ScoreReason,
};
use crate::ids::CallId;
use crate::outbox::{DedupeKey, MessageKind};
use crate::ports::Store;
use crate::testing::{base_time, create_tenant, message, message_id, random_call_id, random_phone};

pub(super) fn sample_score(total: u32) -> LeadScore {
    LeadScore {
        total,
        reasons: vec![ScoreReason {
            points: total,
            reason: "booked".into(),
        }],
        no_shows: 0,
    }
}

pub async fn calls_and_finish_once<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Calls Clinic").await;
    let now = base_time();
    let p = random_phone();
    let call = random_call_id();
    let start = CallStart {
        call_id: call.clone(),
        tenant: t.id,
        caller: Some(p.clone()),
        called: Some(t.config.called_numbers[0].number.clone()),
        started_at: now,
    };
    store.record_call_start(&start).await.expect("start");
    let mut again = start.clone();
    again.started_at = now + SignedDuration::from_mins(1);
    store.record_call_start(&again).await.expect("start again");
    let rec = store
        .call(t.id, &call)
        .await
        .expect("call")
        .expect("recorded");
    check!(
        "calls_and_finish_once",
        rec.started_at == Some(now) && rec.caller.as_ref() == Some(&p),
        "first start must stay: {rec:?}"
    );

    store
        .record_call_status(t.id, &call, "in-progress", now)
        .await
        .expect("status");
    let lead = CapturedLead {
        caller_name: Some("Grace".into()),
        service_interest: Some("Teeth Whitening".into()),
        wants_callback: None,
        notes: None,
    };
    store
        .record_lead(t.id, &call, &lead, now)
        .await
        .expect("lead");
    let more = CapturedLead {
        caller_name: None,
        service_interest: Some("Implant Consultation".into()),
        wants_callback: Some(true),
        notes: Some("prefers mornings".into()),
    };
    store
        .record_lead(t.id, &call, &more, now)
        .await
        .expect("lead");
    let rec = store
        .call(t.id, &call)
        .await
        .expect("call")
        .expect("recorded");
    check!(
        "calls_and_finish_once",
        rec.last_status.as_deref() == Some("in-progress"),
        "status: {:?}",
        rec.last_status
    );
    check!(
        "calls_and_finish_once",
        rec.lead.caller_name.as_deref() == Some("Grace")
            && rec.lead.service_interest.as_deref() == Some("Implant Consultation")
            && rec.lead.wants_callback == Some(true)
            && rec.lead.notes.as_deref() == Some("prefers mornings"),
        "merged lead: {:?}",
        rec.lead
    );

    // An earlier call from the same number, and one from another number.
    for (phone, minutes_before) in [(&p, 60), (&random_phone(), 30)] {
        store
            .record_call_start(&CallStart {
                call_id: random_call_id(),
                tenant: t.id,
                caller: Some(phone.clone()),
                called: None,
                started_at: now - SignedDuration::from_mins(minutes_before),
            })
            .await
            .expect("earlier call");
    }
    let prior = store.prior_calls_from(t.id, &p, now).await.expect("prior");
    check!(
        "calls_and_finish_once",
        prior == 1,
        "prior calls from the number: {prior}"
    );

    let report = CallReport {
        call_id: call.clone(),
        caller: Some(p.clone()),
        called: None,
        started_at: Some(now),
        ended_at: Some(now + SignedDuration::from_secs(95)),
        ended_reason: Some("customer-ended-call".into()),
        summary: Some("Booked a whitening.".into()),
        structured: CapturedLead::default(),
        buying_intent: Some(true),
    };
    let alert = t.config.alert_numbers[0].clone();
    let alerts = vec![message(
        t.id,
        MessageKind::HotLead,
        DedupeKey::hot_lead(&call, &alert),
        &alert,
        now,
    )];
    let done = now + SignedDuration::from_mins(2);
    // The caller's no-shows are kept with the score.
    let scored = LeadScore {
        no_shows: 2,
        ..sample_score(85)
    };
    let finished = FinishedCall {
        report: report.clone(),
        score: scored.clone(),
        hot_lead: true,
        received_at: done,
    };
    let first = store
        .finish_call(t.id, &finished, &alerts)
        .await
        .expect("finish");
    check!(
        "calls_and_finish_once",
        first == FinishOutcome::Recorded,
        "first report: {first:?}"
    );
    let second_alerts = vec![message(
        t.id,
        MessageKind::HotLead,
        DedupeKey::test(message_id()),
        &alert,
        done,
    )];
    let repeat = FinishedCall {
        score: sample_score(10),
        hot_lead: false,
        ..finished.clone()
    };
    let second = store
        .finish_call(t.id, &repeat, &second_alerts)
        .await
        .expect("finish again");
    check!(
        "calls_and_finish_once",
        second == FinishOutcome::AlreadyRecorded,
        "second report: {second:?}"
    );
    let rec = store
        .call(t.id, &call)
        .await
        .expect("call")
        .expect("recorded");
    check!(
        "calls_and_finish_once",
        rec.score == Some(scored) && rec.hot_lead && rec.report_received_at == Some(done),
        "the repeat changed the call: {rec:?}"
    );
    check!(
        "calls_and_finish_once",
        rec.duration_seconds == Some(95) && rec.summary.as_deref() == Some("Booked a whitening."),
        "the report was not stored: {rec:?}"
    );
    let msgs = store.list_messages(t.id, 100).await.expect("messages");
    check!(
        "calls_and_finish_once",
        msgs.len() == 1 && msgs[0].dedupe_key == DedupeKey::hot_lead(&call, &alert),
        "alerts queued: {msgs:?}"
    );
    let listed = store.list_calls(t.id, 10).await.expect("list calls");
    check!(
        "calls_and_finish_once",
        listed.len() == 3 && listed[0].call_id == call,
        "list_calls newest first: {:?}",
        listed.iter().map(|c| &c.call_id).collect::<Vec<_>>()
    );
    check!(
        "calls_and_finish_once",
        store.list_calls(t.id, 2).await.expect("list").len() == 2,
        "limit ignored"
    );
}

/// A call row made from an earlier message (a status update without the called number, stamped
/// with that message's time) takes the report's called number and start; a report that is the
/// first message of a call makes a complete row.
pub async fn report_fills_the_call_row<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Report Clinic").await;
    let now = base_time();
    let called = t.config.called_numbers[0].number.clone();
    let started = now - SignedDuration::from_mins(5);
    let report = |call: &CallId| CallReport {
        call_id: call.clone(),
        caller: Some(random_phone()),
        called: Some(called.clone()),
        started_at: Some(started),
        ended_at: Some(now),
        ended_reason: Some("customer-ended-call".into()),
        summary: None,
        structured: CapturedLead::default(),
        buying_intent: None,
    };
    let finish = |call: &CallId| FinishedCall {
        report: report(call),
        score: sample_score(10),
        hot_lead: false,
        received_at: now,
    };

    let early = random_call_id();
    store
        .record_call_start(&CallStart {
            call_id: early.clone(),
            tenant: t.id,
            caller: None,
            called: None,
            started_at: now,
        })
        .await
        .expect("start");
    store
        .finish_call(t.id, &finish(&early), &[])
        .await
        .expect("finish");
    let rec = store
        .call(t.id, &early)
        .await
        .expect("call")
        .expect("recorded");
    check!(
        "report_fills_the_call_row",
        rec.called.as_ref() == Some(&called)
            && rec.started_at == Some(started)
            && rec.duration_seconds == Some(300),
        "the row kept the earlier message's gaps: {rec:?}"
    );

    let first = random_call_id();
    store
        .finish_call(t.id, &finish(&first), &[])
        .await
        .expect("finish");
    let rec = store
        .call(t.id, &first)
        .await
        .expect("call")
        .expect("recorded");
    check!(
        "report_fills_the_call_row",
        rec.called.as_ref() == Some(&called) && rec.started_at == Some(started),
        "a report-only call row is incomplete: {rec:?}"
    );
}
