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
    let opted_out_reply = app.twilio.messages_to(CALLER);
    assert_eq!(opted_out_reply.len(), 1, "one confirmation of the opt-out");

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
        1,
        "nothing more to an opted-out number: {sent}"
    );

    let reply = app
        .twilio
        .send_inbound(&inbound, &clinic.account_sid, CALLER, &clinic.from, "START")
        .await
        .expect("inbound posted");
    assert_eq!(reply.status, 200);
    app.outbox_settled().await;
    assert_eq!(
        app.twilio.messages_to(CALLER).len(),
        2,
        "the opt-in is confirmed"
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
