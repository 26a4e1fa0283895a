//! Leads, calls and scoring.

use super::*;

fn report(call: &CallId, caller: &PhoneNumber, seconds: i64) -> CallReport {
    CallReport {
        call_id: call.clone(),
        caller: Some(caller.clone()),
        called: None,
        started_at: Some(base_time()),
        ended_at: Some(base_time() + SignedDuration::from_secs(seconds)),
        ended_reason: Some("customer-ended-call".into()),
        summary: Some("Called about whitening.".into()),
        structured: CapturedLead::default(),
        buying_intent: None,
    }
}

async fn start_call(h: &Harness, c: &Caller) {
    h.service
        .record_call_start(&CallStart {
            call_id: c.ctx.call_id.clone().unwrap(),
            tenant: h.tenant.id,
            caller: Some(c.phone.clone()),
            called: None,
            started_at: base_time(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_quick_call_that_booked_is_a_hot_lead_alerted_once_per_number() {
    let h = harness().await;
    let c = h.caller();
    start_call(&h, &c).await;
    h.book(&c, &tue(10, 0)).await;
    let call = c.ctx.call_id.clone().unwrap();
    let out = h
        .service
        .end_of_call(&h.tenant, report(&call, &c.phone, 75))
        .await
        .unwrap();
    assert!(out.recorded && out.hot_lead, "{out:?}");
    assert_eq!(out.alerts_queued, 2);
    let expected = scoring::score(
        &LeadSignals {
            booked: true,
            service_value_cents: Some(40_000),
            duration_seconds: Some(75),
            ..LeadSignals::default()
        },
        &ScoreWeights::default(),
    );
    assert_eq!(out.score.as_ref(), Some(&expected));
    for alert in &h.tenant.config.alert_numbers {
        let m = h.by_key(&DedupeKey::hot_lead(&call, alert)).await.unwrap();
        assert_eq!((m.kind, &m.to), (MessageKind::HotLead, alert));
        assert!(m.body.contains("Ada Lovelace"), "{}", m.body);
    }
    let before = h.messages().await;
    let again = h
        .service
        .end_of_call(&h.tenant, report(&call, &c.phone, 500))
        .await
        .unwrap();
    assert!(
        !again.recorded && again.hot_lead && again.alerts_queued == 0,
        "{again:?}"
    );
    assert_eq!(again.score, out.score);
    assert_eq!(h.messages().await, before);
}

#[tokio::test]
async fn a_call_without_signals_is_not_a_hot_lead() {
    let h = harness().await;
    let c = h.caller();
    let call = c.ctx.call_id.clone().unwrap();
    // No start recorded: the report alone is enough.
    let out = h
        .service
        .end_of_call(&h.tenant, report(&call, &c.phone, 40))
        .await
        .unwrap();
    assert!(
        out.recorded && !out.hot_lead && out.alerts_queued == 0,
        "{out:?}"
    );
    assert!(h.messages().await.is_empty());
    let rec = h.store.call(h.tenant.id, &call).await.unwrap().unwrap();
    assert_eq!(rec.score, out.score);
}

#[tokio::test]
async fn lead_signals_come_from_capture_lead_the_report_and_history() {
    let h = harness().await;
    let c = h.caller();
    // An earlier call from the same number.
    h.service
        .record_call_start(&CallStart {
            call_id: random_call_id(),
            tenant: h.tenant.id,
            caller: Some(c.phone.clone()),
            called: None,
            started_at: base_time() - SignedDuration::from_hours(30),
        })
        .await
        .unwrap();
    start_call(&h, &c).await;
    let lead = CapturedLead {
        caller_name: Some("  Grace Hopper ".into()),
        service_interest: Some("implant consultation".into()),
        wants_callback: Some(true),
        notes: None,
    };
    let out = h.service.capture_lead(&c.ctx, &lead).await.unwrap();
    assert!(
        matches!(
            out,
            LeadOutcome::Captured {
                wants_callback: true
            }
        ),
        "{out:?}"
    );
    let call = c.ctx.call_id.clone().unwrap();
    let mut r = report(&call, &c.phone, 400);
    r.buying_intent = Some(true);
    r.structured.caller_name = Some("G. Hopper".into());
    let out = h.service.end_of_call(&h.tenant, r).await.unwrap();
    let expected = scoring::score(
        &LeadSignals {
            booked: false,
            service_value_cents: Some(150_000),
            duration_seconds: Some(400),
            wants_callback: true,
            buying_intent: true,
            repeat_caller: true,
        },
        &ScoreWeights::default(),
    );
    assert_eq!(out.score, Some(expected.clone()));
    assert_eq!(out.hot_lead, expected.total >= 70);
    if out.hot_lead {
        let alert = &h.tenant.config.alert_numbers[0];
        let m = h.by_key(&DedupeKey::hot_lead(&call, alert)).await.unwrap();
        assert!(m.body.contains("Grace Hopper"), "{}", m.body);
    }
    let rec = h.store.call(h.tenant.id, &call).await.unwrap().unwrap();
    assert_eq!(rec.lead.caller_name.as_deref(), Some("Grace Hopper"));
}

#[tokio::test]
async fn capture_lead_needs_a_call_and_status_updates_need_a_known_call() {
    let h = harness().await;
    let mut ctx = h.caller().ctx;
    let call = ctx.call_id.clone().unwrap();
    assert!(
        !h.service
            .record_call_status(&h.tenant, &call, "in-progress")
            .await
            .unwrap()
    );
    h.service
        .capture_lead(&ctx, &CapturedLead::default())
        .await
        .unwrap();
    assert!(
        h.service
            .record_call_status(&h.tenant, &call, "in-progress")
            .await
            .unwrap()
    );
    ctx.call_id = None;
    let out = h
        .service
        .capture_lead(&ctx, &CapturedLead::default())
        .await
        .unwrap();
    assert!(!out.ok());
}
