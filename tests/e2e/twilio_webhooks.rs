//! Twilio calling us back: signed status callbacks move messages forward only; inbound STOP and
//! START change what the caller receives; unsigned requests are refused.

use std::time::Duration;

use booking_e2e::{TestApp, book};
use fake_twilio::DeliveryOrder;
use serde_json::json;

const CALLER: &str = "+14155550123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_callbacks_move_forward_only() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    // Twilio reports `delivered` before `sent`: the message must stay delivered.
    app.twilio.auto_deliver_order(DeliveryOrder::DeliveredFirst);
    app.twilio.auto_deliver(true);
    let call = app.call(&clinic, CALLER);
    book(&call, "Checkup").await;
    app.outbox_settled().await;
    app.twilio
        .wait_for_callbacks(4, Duration::from_secs(10))
        .await
        .expect("callbacks were posted");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered = app
        .db
        .execute("SELECT 1 FROM outbound_messages WHERE status = 'delivered'")
        .await;
    assert_eq!(
        delivered, 2,
        "code and confirmation delivered, never moved back to sent"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_callbacks_are_refused() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let form = [
        ("MessageSid", "SM00000000000000000000000000000001"),
        ("MessageStatus", "delivered"),
        ("AccountSid", clinic.account_sid.as_str()),
    ];
    for sig in [None, Some("bm90LWEtc2lnbmF0dXJl")] {
        let mut req = app.http.post(app.url("/twilio/status")).form(&form);
        if let Some(s) = sig {
            req = req.header("X-Twilio-Signature", s);
        }
        assert_eq!(req.send().await.unwrap().status().as_u16(), 401);
    }
    app.stop().await;
}

/// Rows of `outbound_messages` matching `condition` (SQL from this file).
async fn rows(app: &TestApp, condition: &str) -> usize {
    app.db
        .execute(&format!(
            "SELECT 1 FROM outbound_messages WHERE {condition}"
        ))
        .await
}

async fn opted_out(app: &TestApp, phone: &str) -> bool {
    app.db
        .execute(&format!(
            "SELECT 1 FROM contacts WHERE phone = '{phone}' AND opted_out_at IS NOT NULL"
        ))
        .await
        == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_then_start() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let inbound = app.url("/twilio/inbound");

    let reply = app
        .twilio
        .send_inbound(&inbound, &clinic.account_sid, CALLER, &clinic.from, "stop")
        .await
        .expect("inbound posted");
    assert_eq!(reply.status, 200);
    app.outbox_settled().await;
    // Twilio answered the STOP and blocked the number: we record it and send nothing (a
    // confirmation would only fail with 21610).
    assert!(opted_out(&app, CALLER).await);
    assert_eq!(app.twilio.messages_to(CALLER).len(), 0);
    assert_eq!(rows(&app, "error_code = 21610").await, 0);
    assert_eq!(rows(&app, "kind = 'inbound_reply'").await, 0);

    // Opted out: a booking stands, but no text reaches the caller.
    let call = app.call(&clinic, CALLER);
    let (_, held) = booking_e2e::hold_first_slot(&call, "Checkup", "Jane").await;
    assert_eq!(held["ok"], json!(true), "{held}");
    let sent = call
        .tool("send_otp", json!({"hold_id": held["hold_id"]}))
        .await;
    app.outbox_settled().await;
    assert_eq!(
        app.twilio.messages_to(CALLER).len(),
        0,
        "nothing to an opted-out number: {sent}"
    );

    let reply = app
        .twilio
        .send_inbound(&inbound, &clinic.account_sid, CALLER, &clinic.from, "START")
        .await
        .expect("inbound posted");
    assert_eq!(reply.status, 200);
    app.outbox_settled().await;
    assert!(!opted_out(&app, CALLER).await);
    assert_eq!(
        app.twilio.messages_to(CALLER).len(),
        0,
        "Twilio confirmed the opt-in; no second reply"
    );

    // Anything else goes to the owner.
    app.twilio
        .send_inbound(
            &inbound,
            &clinic.account_sid,
            CALLER,
            &clinic.from,
            "can I move my appointment?",
        )
        .await
        .expect("inbound posted");
    app.outbox_settled().await;
    for alert in &clinic.alert_numbers {
        let got = app.twilio.messages_to(alert);
        assert_eq!(got.len(), 1, "forwarded to {alert}");
        assert!(
            got[0].body.contains("move my appointment"),
            "{}",
            got[0].body
        );
    }
    app.stop().await;
}

const SERVICE_SID: &str = "MG0123456789abcdef0123456789abcdef";
const SERVICE_NUMBER: &str = "+15557770001";

/// A clinic that sends through a Messaging Service whose pool has `SERVICE_NUMBER`.
async fn service_clinic(app: &TestApp, n: u32, numbers: serde_json::Value) -> booking_e2e::Clinic {
    app.create_clinic_with("Service Dental", n, |body| {
        let twilio = body["twilio"].as_object_mut().expect("twilio");
        twilio.remove("from");
        twilio.insert("messaging_service_sid".into(), json!(SERVICE_SID));
        twilio.insert("messaging_service_numbers".into(), numbers);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messaging_service_clinic_receives_stop_help_and_texts() {
    let app = TestApp::spawn().await;
    let clinic = service_clinic(&app, 2, json!([SERVICE_NUMBER])).await;
    let inbound = app.url("/twilio/inbound");
    let (status, view) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        view["twilio"]["messaging_service_numbers"],
        json!([SERVICE_NUMBER])
    );
    let ms = [("MessagingServiceSid", SERVICE_SID)];

    let stop = app
        .twilio
        .send_inbound_with(
            &inbound,
            &clinic.account_sid,
            CALLER,
            SERVICE_NUMBER,
            "STOP",
            &ms,
        )
        .await
        .expect("posted");
    assert_eq!(stop.status, 200, "{}", stop.body);
    assert!(opted_out(&app, CALLER).await);

    let help = app
        .twilio
        .send_inbound_with(
            &inbound,
            &clinic.account_sid,
            CALLER,
            SERVICE_NUMBER,
            "HELP",
            &ms,
        )
        .await
        .expect("posted");
    assert_eq!(help.status, 200, "{}", help.body);

    let other = "+14155550999";
    let text = app
        .twilio
        .send_inbound_with(
            &inbound,
            &clinic.account_sid,
            other,
            SERVICE_NUMBER,
            "running late",
            &ms,
        )
        .await
        .expect("posted");
    assert_eq!(text.status, 200, "{}", text.body);
    app.outbox_settled().await;
    for alert in &clinic.alert_numbers {
        let got = app.twilio.messages_to(alert);
        assert_eq!(got.len(), 1, "forwarded to {alert}");
        assert!(got[0].body.contains("running late"), "{}", got[0].body);
        assert_eq!(got[0].messaging_service_sid.as_deref(), Some(SERVICE_SID));
    }

    // Signed by another account: refused.
    let stranger = app.create_clinic("Stranger", 3).await;
    let forged = app
        .twilio
        .send_inbound_with(
            &inbound,
            &stranger.account_sid,
            CALLER,
            SERVICE_NUMBER,
            "STOP",
            &ms,
        )
        .await
        .expect("posted");
    assert_eq!(forged.status, 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messaging_service_clinic_is_found_by_its_service_sid_alone() {
    let app = TestApp::spawn().await;
    let clinic = service_clinic(&app, 4, json!([])).await;
    let inbound = app.url("/twilio/inbound");
    let stop = app
        .twilio
        .send_inbound_with(
            &inbound,
            &clinic.account_sid,
            CALLER,
            "+15557779999",
            "STOP",
            &[("MessagingServiceSid", SERVICE_SID)],
        )
        .await
        .expect("posted");
    assert_eq!(stop.status, 200, "{}", stop.body);
    assert!(opted_out(&app, CALLER).await);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advanced_opt_out_keywords_are_honoured_first() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Clinique", 5).await;
    let inbound = app.url("/twilio/inbound");
    for (body, kind) in [("ALTO", "STOP"), ("ARRET", "STOP")] {
        let r = app
            .twilio
            .send_inbound_with(
                &inbound,
                &clinic.account_sid,
                CALLER,
                &clinic.from,
                body,
                &[("OptOutType", kind)],
            )
            .await
            .expect("posted");
        assert_eq!(r.status, 200);
    }
    app.outbox_settled().await;
    assert!(opted_out(&app, CALLER).await);
    for alert in &clinic.alert_numbers {
        assert!(
            app.twilio.messages_to(alert).is_empty(),
            "ALTO is not forwarded to the owner"
        );
    }
    assert!(app.twilio.messages_to(CALLER).is_empty(), "no auto-reply");
    assert_eq!(rows(&app, "true").await, 0, "nothing queued at all");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_callback_before_the_sid_is_recorded_is_applied() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 6).await;
    // Twilio posts `delivered` for the code text before answering the send.
    app.twilio
        .push_fault(fake_twilio::Fault::CallbackBeforeAnswer("delivered".into()));
    let call = app.call(&clinic, CALLER);
    let (_, held) = booking_e2e::hold_first_slot(&call, "Checkup", "Jane").await;
    let sent = call
        .tool("send_otp", json!({"hold_id": held["hold_id"]}))
        .await;
    assert_eq!(sent["ok"], json!(true), "{sent}");
    app.outbox_settled().await;
    let callbacks = app
        .twilio
        .wait_for_callbacks(1, Duration::from_secs(10))
        .await
        .expect("the early callback was posted");
    assert_eq!(callbacks[0].response_status, Some(200));
    assert_eq!(
        rows(&app, "kind = 'otp' AND status = 'delivered'").await,
        1,
        "the early delivered callback was kept and applied"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_twilio_still_queues_is_reconciled_not_resent() {
    let app = TestApp::spawn_with(|env| {
        for (k, v) in [
            ("SMS_RECHECK_MS", "200"),
            ("SMS_RETRY_BASE_MS", "100"),
            ("SMS_RETRY_CAP_MS", "500"),
        ] {
            env.insert(k.to_owned(), v.to_owned());
        }
    })
    .await;
    let clinic = app.create_clinic("Smile Dental", 7).await;
    // Twilio records the code text and answers 500; it stays queued there (no date_sent).
    app.twilio
        .push_fault(fake_twilio::Fault::Status500AfterRecording);
    let call = app.call(&clinic, CALLER);
    let (_, held) = booking_e2e::hold_first_slot(&call, "Checkup", "Jane").await;
    call.tool("send_otp", json!({"hold_id": held["hold_id"]}))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while rows(
        &app,
        "kind = 'otp' AND status = 'queued' AND twilio_sid IS NOT NULL",
    )
    .await
        != 1
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ambiguous send was never reconciled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.twilio.messages_to(CALLER).len(),
        1,
        "the queued text was adopted, not sent again"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_texts_get_one_auto_reply() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 8).await;
    let inbound = app.url("/twilio/inbound");
    let posts = (0..20).map(|i| {
        app.twilio.send_inbound(
            &inbound,
            &clinic.account_sid,
            CALLER,
            &clinic.from,
            &format!("auto-responder text {i}"),
        )
    });
    for r in futures_util::future::join_all(posts).await {
        assert_eq!(r.expect("posted").status, 200);
    }
    app.outbox_settled().await;
    assert_eq!(rows(&app, "kind = 'inbound_reply'").await, 1);
    assert_eq!(app.twilio.messages_to(CALLER).len(), 1);
    for alert in &clinic.alert_numbers {
        // Three texts and one note that the sender's texts are paused.
        assert_eq!(app.twilio.messages_to(alert).len(), 4, "to {alert}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clinics_never_text_each_other_in_a_loop() {
    let app = TestApp::spawn().await;
    let a = app.create_clinic("Clinic A", 9).await;
    let b = app.create_clinic("Clinic B", 10).await;
    let inbound = app.url("/twilio/inbound");
    // B's number texts A (B's auto-reply, say): A neither answers nor forwards it.
    let r = app
        .twilio
        .send_inbound(
            &inbound,
            &a.account_sid,
            &b.from,
            &a.from,
            "thanks, we passed it on",
        )
        .await
        .expect("posted");
    assert_eq!(r.status, 200);
    app.outbox_settled().await;
    assert_eq!(rows(&app, "true").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partially_delivered_is_final() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 11).await;
    let call = app.call(&clinic, CALLER);
    let (_, held) = booking_e2e::hold_first_slot(&call, "Checkup", "Jane").await;
    call.tool("send_otp", json!({"hold_id": held["hold_id"]}))
        .await;
    app.outbox_settled().await;
    let sid = app.twilio.messages_to(CALLER)[0].sid.clone();
    for status in ["sent", "partially_delivered", "sent"] {
        let reply = app
            .twilio
            .deliver(&sid, status, None)
            .await
            .expect("callback posted");
        assert_eq!(reply.status, 200);
    }
    assert_eq!(
        rows(
            &app,
            &format!("twilio_sid = '{sid}' AND status = 'undelivered'")
        )
        .await,
        1
    );
    app.stop().await;
}
