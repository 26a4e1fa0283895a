//! The fake calling the application: signed status callbacks and inbound SMS, and using the
//! fake from async code and as a binary.

mod common;

use std::time::Duration;

use common::*;
use fake_twilio::{DeliveryOrder, FakeError, FakeTwilio, twilio_signature};

fn strict_fake() -> FakeTwilio {
    let fake = FakeTwilio::start();
    fake.register_account(ACCOUNT, TOKEN);
    fake.register_api_key(ACCOUNT, KEY, KEY_SECRET);
    fake
}

fn send_with_callback(fake: &FakeTwilio, auth: (&str, &str), callback: &str) -> String {
    let reply = send(
        fake.addr(),
        ACCOUNT,
        Some(auth),
        &[
            ("To", "+15551230001"),
            ("From", FROM),
            ("Body", "Your visit is confirmed"),
            ("StatusCallback", callback),
        ],
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()["sid"].as_str().unwrap().to_owned()
}

/// Checks the received request carries a valid signature for `url`, computed independently.
fn assert_signed(received: &Received, token: &str, url: &str) {
    let expected = independent_signature(token, url, &received.params);
    assert_eq!(
        received.header("X-Twilio-Signature"),
        Some(expected.as_str())
    );
}

#[test]
fn the_independent_checker_agrees_with_twilios_published_vector() {
    let params: Vec<(String, String)> = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(
        independent_signature("12345", url, &params),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    assert_eq!(
        twilio_signature("12345", url, &params),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
}

#[test]
fn deliver_posts_a_signed_status_callback_and_updates_the_message() {
    let fake = strict_fake();
    let app = Receiver::start(200, "text/plain", "");
    let url = app.url("/twilio/status?tenant=7");
    // Sent with the API key: the callback is still signed with the account's auth token.
    let sid = send_with_callback(&fake, (KEY, KEY_SECRET), &url);

    let reply = fake.deliver(&sid, "delivered", None).wait().unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.url, url);

    let got = app.wait_for(1);
    let cb = &got[0];
    assert_eq!(cb.method, "POST");
    assert_eq!(cb.path, "/twilio/status?tenant=7");
    assert!(
        cb.header("content-type")
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    assert_eq!(cb.param("MessageSid"), Some(sid.as_str()));
    assert_eq!(cb.param("SmsSid"), Some(sid.as_str()));
    assert_eq!(cb.param("MessageStatus"), Some("delivered"));
    assert_eq!(cb.param("SmsStatus"), Some("delivered"));
    assert_eq!(cb.param("AccountSid"), Some(ACCOUNT));
    assert_eq!(cb.param("From"), Some(FROM));
    assert_eq!(cb.param("To"), Some("+15551230001"));
    assert_eq!(cb.param("ApiVersion"), Some("2010-04-01"));
    assert_eq!(cb.param("ErrorCode"), None);
    assert_signed(cb, TOKEN, &url);
    // A different token would not validate.
    assert_ne!(
        cb.header("X-Twilio-Signature"),
        Some(independent_signature(KEY_SECRET, &url, &cb.params).as_str())
    );

    let m = fake.message(&sid).unwrap();
    assert_eq!(m.status, "delivered");
    assert!(m.date_sent.is_some());
    let records = fake.callbacks();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].response_status, Some(200));
    assert_eq!(records[0].status, "delivered");

    // The API shows the new status too.
    let fetched = get(
        fake.addr(),
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json"),
        (ACCOUNT, TOKEN),
    )
    .json();
    assert_eq!(fetched["status"], "delivered");
    assert!(fetched["date_sent"].is_string());
}

#[test]
fn failed_delivery_carries_the_error_code() {
    let fake = strict_fake();
    let app = Receiver::start(204, "text/plain", "");
    let url = app.url("/twilio/status");
    let sid = send_with_callback(&fake, (ACCOUNT, TOKEN), &url);
    let reply = fake
        .deliver(&sid, "undelivered", Some(30006))
        .wait()
        .unwrap();
    assert_eq!(reply.status, 204);
    let cb = &app.wait_for(1)[0];
    assert_eq!(cb.param("MessageStatus"), Some("undelivered"));
    assert_eq!(cb.param("ErrorCode"), Some("30006"));
    assert_signed(cb, TOKEN, &url);
    let m = fake.message(&sid).unwrap();
    assert_eq!(m.error_code, Some(30006));
    assert_eq!(fake.callbacks()[0].error_code, Some(30006));
}

#[test]
fn stale_callback_leaves_the_stored_status() {
    let fake = strict_fake();
    let app = Receiver::start(200, "text/plain", "");
    let sid = send_with_callback(&fake, (ACCOUNT, TOKEN), &app.url("/s"));
    fake.deliver(&sid, "delivered", None).wait().unwrap();
    fake.deliver_stale(&sid, "sent", None).wait().unwrap();
    let got = app.wait_for(2);
    assert_eq!(got[1].param("MessageStatus"), Some("sent"));
    assert_eq!(fake.message(&sid).unwrap().status, "delivered");
}

#[test]
fn auto_deliver_in_order() {
    let fake = strict_fake();
    fake.auto_deliver(true);
    let app = Receiver::start(200, "text/plain", "");
    let url = app.url("/twilio/status");
    let sid = send_with_callback(&fake, (ACCOUNT, TOKEN), &url);
    let records = fake
        .wait_for_callbacks_blocking(2, Duration::from_secs(10))
        .unwrap();
    let statuses: Vec<&str> = records.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["sent", "delivered"]);
    let got = app.wait_for(2);
    assert_eq!(got[0].param("MessageStatus"), Some("sent"));
    assert_eq!(got[1].param("MessageStatus"), Some("delivered"));
    for cb in &got {
        assert_signed(cb, TOKEN, &url);
    }
    assert_eq!(fake.message(&sid).unwrap().status, "delivered");
}

#[test]
fn auto_deliver_out_of_order_keeps_delivered() {
    let fake = FakeTwilio::builder()
        .with_auto_deliver(true)
        .with_delivery_order(DeliveryOrder::DeliveredFirst)
        .with_auto_deliver_delay(Duration::from_millis(5))
        .start()
        .unwrap();
    // Nothing registered: the token the message was sent with signs its callbacks.
    let app = Receiver::start(200, "text/plain", "");
    let url = app.url("/twilio/status");
    let sid = send_with_callback(&fake, (ACCOUNT, "seen-token"), &url);
    let got = app.wait_for(2);
    assert_eq!(got[0].param("MessageStatus"), Some("delivered"));
    assert_eq!(got[1].param("MessageStatus"), Some("sent"));
    assert_signed(&got[0], "seen-token", &url);
    fake.wait_for_callbacks_blocking(2, Duration::from_secs(5))
        .unwrap();
    assert_eq!(fake.message(&sid).unwrap().status, "delivered");
}

#[test]
fn auto_deliver_skips_messages_without_callback_and_records_unreachable_apps() {
    let fake = strict_fake();
    fake.auto_deliver(true);
    send_ok(fake.addr(), "+15551230001", "no callback");
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/twilio/status", closed.local_addr().unwrap());
    drop(closed);
    send_with_callback(&fake, (ACCOUNT, TOKEN), &dead);
    let records = fake
        .wait_for_callbacks_blocking(2, Duration::from_secs(10))
        .unwrap();
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|r| r.response_status.is_none() && r.error.is_some())
    );
    assert!(records.iter().all(|r| r.url == dead));
}

#[test]
fn deliver_errors() {
    let fake = FakeTwilio::start();
    let err = fake.deliver("SMnope", "sent", None).wait().unwrap_err();
    assert_eq!(err, FakeError::UnknownMessage("SMnope".into()));

    let sid = send_ok(fake.addr(), "+15551230001", "no callback").json()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let err = fake.deliver(&sid, "sent", None).wait().unwrap_err();
    assert_eq!(err, FakeError::NoStatusCallback(sid.clone()));
    // The status still moved, as it would at Twilio.
    assert_eq!(fake.message(&sid).unwrap().status, "sent");

    // Sent with an API key and no account registered: no token to sign with.
    let reply = send(
        fake.addr(),
        OTHER_ACCOUNT,
        Some((KEY, "x")),
        &[
            ("To", "+15551230001"),
            ("From", FROM),
            ("Body", "hi"),
            ("StatusCallback", "http://127.0.0.1:9/cb"),
        ],
    );
    let sid = reply.json()["sid"].as_str().unwrap().to_owned();
    let err = fake.deliver(&sid, "sent", None).wait().unwrap_err();
    assert_eq!(err, FakeError::NoAuthToken(OTHER_ACCOUNT.into()));

    let err = fake
        .send_inbound(
            "http://127.0.0.1:9/sms",
            OTHER_ACCOUNT,
            "+1555",
            "+1666",
            "hi",
        )
        .wait()
        .unwrap_err();
    assert_eq!(err, FakeError::NoAuthToken(OTHER_ACCOUNT.into()));
}

#[test]
fn send_inbound_posts_a_signed_inbound_sms() {
    let fake = strict_fake();
    let twiml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";
    let app = Receiver::start(200, "text/xml", twiml);
    let url = app.url("/twilio/inbound");
    let reply = fake
        .send_inbound(&url, ACCOUNT, "+15551230001", FROM, "STOP")
        .wait()
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, twiml);
    assert_eq!(reply.content_type.as_deref(), Some("text/xml"));

    let got = app.wait_for(1);
    let sms = &got[0];
    assert_eq!(sms.path, "/twilio/inbound");
    assert_eq!(sms.param("Body"), Some("STOP"));
    assert_eq!(sms.param("From"), Some("+15551230001"));
    assert_eq!(sms.param("To"), Some(FROM));
    assert_eq!(sms.param("AccountSid"), Some(ACCOUNT));
    assert_eq!(sms.param("NumMedia"), Some("0"));
    assert_eq!(sms.param("SmsStatus"), Some("received"));
    let sid = sms.param("MessageSid").unwrap();
    assert!(sid.starts_with("SM") && sid.len() == 34);
    assert_eq!(sms.param("SmsSid"), Some(sid));
    assert_signed(sms, TOKEN, &url);
    // An inbound message is not an outbound send.
    assert!(fake.messages().is_empty());
}

#[test]
fn post_signed_with_a_wrong_token_is_signed_with_that_token() {
    let fake = strict_fake();
    let app = Receiver::start(403, "text/plain", "bad signature");
    let url = app.url("/twilio/inbound");
    let reply = fake
        .post_signed(&url, "not-the-token", vec![("Body".into(), "hi".into())])
        .wait()
        .unwrap();
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body, "bad signature");
    let got = app.wait_for(1);
    assert_signed(&got[0], "not-the-token", &url);
}

#[test]
fn route_webhooks_signs_the_public_url_and_posts_locally() {
    let app = Receiver::start(200, "text/plain", "");
    let fake = FakeTwilio::builder()
        .route_webhooks("https://clinic.example", format!("http://{}", app.addr))
        .start()
        .unwrap();
    fake.register_account(ACCOUNT, TOKEN);
    let public = "https://clinic.example/twilio/status";
    let sid = send_with_callback(&fake, (ACCOUNT, TOKEN), public);
    let reply = fake.deliver(&sid, "sent", None).wait().unwrap();
    assert_eq!(reply.url, public);
    let got = app.wait_for(1);
    assert_eq!(got[0].path, "/twilio/status");
    assert_signed(&got[0], TOKEN, public);

    // Without a route an https URL is refused, not silently sent elsewhere.
    let err = fake
        .post_signed("https://elsewhere.example/x", TOKEN, vec![])
        .wait()
        .unwrap_err();
    assert!(matches!(err, FakeError::Http(_)), "{err:?}");
}

#[test]
fn slow_app_times_out() {
    // Accepts connections but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/slow", listener.local_addr().unwrap());
    let fake = FakeTwilio::builder()
        .with_callback_timeout(Duration::from_millis(200))
        .start()
        .unwrap();
    let err = fake.post_signed(&url, TOKEN, vec![]).wait().unwrap_err();
    assert!(
        matches!(&err, FakeError::Http(m) if m.contains("no answer")),
        "{err:?}"
    );
    drop(listener);
}

// ----- async use: the fake needs no particular runtime -----

#[tokio::test(flavor = "current_thread")]
async fn usable_from_a_current_thread_tokio_test() {
    let fake = strict_fake();
    let addr = fake.addr();
    let app = Receiver::start(200, "text/plain", "");
    let url = app.url("/cb");
    // Sends happen on another thread while this runtime awaits.
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        send(
            addr,
            ACCOUNT,
            Some((ACCOUNT, TOKEN)),
            &[
                ("To", "+15551230001"),
                ("From", FROM),
                ("Body", "async"),
                ("StatusCallback", &url),
            ],
        )
    });
    let got = fake
        .wait_for_messages(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(got[0].body, "async");
    assert_eq!(sender.join().unwrap().status, 201);
    let reply = fake.deliver(&got[0].sid, "sent", None).await.unwrap();
    assert_eq!(reply.status, 200);
    let err = fake
        .wait_for_messages(2, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        FakeError::Timeout {
            wanted: 2,
            got: 1,
            ..
        }
    ));
    // Dropping inside a runtime is fine.
    drop(fake);
}

#[actix_rt::test]
async fn usable_from_an_actix_test() {
    let fake = strict_fake();
    let addr = fake.addr();
    let sender = std::thread::spawn(move || send_ok(addr, "+15551230001", "actix"));
    let got = fake
        .wait_for_messages(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(got[0].body, "actix");
    sender.join().unwrap();
    let callbacks = fake.wait_for_callbacks(1, Duration::from_millis(30)).await;
    assert!(callbacks.is_err(), "no callback was ever posted");
}

#[test]
fn multi_thread_runtime_option_serves_too() {
    let fake = FakeTwilio::builder()
        .with_worker_threads(2)
        .start()
        .unwrap();
    let addr = fake.addr();
    let senders: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..25 {
                    send_ok(addr, "+15551230001", &format!("{t}-{i}"));
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    assert_eq!(fake.message_count(), 100);
    let mut sids: Vec<String> = fake.messages().into_iter().map(|m| m.sid).collect();
    sids.sort();
    sids.dedup();
    assert_eq!(sids.len(), 100, "sids are unique");
}

// ----- the binary -----

#[test]
fn binary_prints_a_labelled_block_per_message() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fake-twilio"))
        .args(["--port", "0", "--account", &format!("{ACCOUNT}:{TOKEN}")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let banner = lines.next().unwrap().unwrap();
    assert!(banner.contains("NOT sent"), "{banner}");
    let base = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the banner names the address");
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();

    send_ok(
        addr,
        "+15551230001",
        "Hi Ana, see you Tuesday 9:00.\nReply STOP to opt out",
    );
    let wrong = send(
        addr,
        ACCOUNT,
        Some((ACCOUNT, "wrong")),
        &[("To", "+15551230001"), ("From", FROM), ("Body", "x")],
    );
    assert_eq!(wrong.status, 401, "--account makes auth strict");

    let block: Vec<String> = (0..4).map(|_| lines.next().unwrap().unwrap()).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        block[0]
            .starts_with("── local Twilio stand-in: NOT SENT ── to +15551230001 from +15550001111"),
        "{block:?}"
    );
    assert_eq!(block[1], "Hi Ana, see you Tuesday 9:00.");
    assert_eq!(block[2], "Reply STOP to opt out");
    assert!(block[3].contains("1 segment"), "{block:?}");
}

#[test]
fn binary_rejects_bad_arguments() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fake-twilio"))
        .args(["--port", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad port"));
}
