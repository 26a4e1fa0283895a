//! The REST side over real HTTP: sending, authentication, validation, faults, listing.

mod common;

use std::time::{Duration, Instant};

use common::*;
use fake_twilio::{Credential, FakeTwilio, Fault};

fn strict_fake() -> FakeTwilio {
    let fake = FakeTwilio::start();
    fake.register_account(ACCOUNT, TOKEN);
    fake.register_account(OTHER_ACCOUNT, OTHER_TOKEN);
    fake.register_api_key(ACCOUNT, KEY, KEY_SECRET);
    fake
}

fn is_sid(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn send_with_auth_token_answers_like_twilio_and_records_everything() {
    let fake = strict_fake();
    let cb = "http://127.0.0.1:9/twilio/status";
    let reply = send(
        fake.addr(),
        ACCOUNT,
        Some((ACCOUNT, TOKEN)),
        &[
            ("To", "+15551230001"),
            ("From", FROM),
            ("Body", "Hello from Smile Dental"),
            ("StatusCallback", cb),
        ],
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let json = reply.json();
    let sid = json["sid"].as_str().unwrap();
    assert!(is_sid(sid, "SM"), "{sid}");
    assert_eq!(json["status"], "queued");
    assert_eq!(json["to"], "+15551230001");
    assert_eq!(json["from"], FROM);
    assert_eq!(json["body"], "Hello from Smile Dental");
    assert_eq!(json["account_sid"], ACCOUNT);
    assert!(json["messaging_service_sid"].is_null());
    assert!(json["error_code"].is_null());
    assert!(json["date_sent"].is_null());
    assert_eq!(json["num_segments"], "1");
    assert_eq!(json["direction"], "outbound-api");
    assert_eq!(json["api_version"], "2010-04-01");
    assert_eq!(
        json["uri"],
        format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json")
    );
    let created =
        jiff::fmt::rfc2822::parse(json["date_created"].as_str().unwrap()).expect("RFC 2822");
    let age = jiff::Timestamp::now().as_second() - created.timestamp().as_second();
    assert!((0..5).contains(&age), "date_created is {age} s old");
    assert!(json["date_created"].as_str().unwrap().ends_with("+0000"));

    let recorded = fake.messages();
    assert_eq!(recorded.len(), 1);
    let m = &recorded[0];
    assert_eq!(m.sid, sid);
    assert_eq!(m.account_sid, ACCOUNT);
    assert_eq!(m.credential, Credential::AuthToken);
    assert_eq!(m.status_callback.as_deref(), Some(cb));
    assert_eq!(m.param("StatusCallback"), Some(cb));
    assert_eq!(m.params.len(), 4);
    assert_eq!(m.date_created.as_second(), created.timestamp().as_second());
    assert_eq!(fake.message(sid).unwrap().body, "Hello from Smile Dental");
}

#[test]
fn send_with_api_key_records_the_key() {
    let fake = strict_fake();
    let reply = send(
        fake.addr(),
        ACCOUNT,
        Some((KEY, KEY_SECRET)),
        &[("To", "+15551230001"), ("From", FROM), ("Body", "hi")],
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        fake.messages()[0].credential,
        Credential::ApiKey {
            key_sid: KEY.to_owned()
        }
    );
}

#[test]
fn wrong_or_missing_credentials_get_401_20003() {
    let fake = strict_fake();
    let params = [("To", "+15551230001"), ("From", FROM), ("Body", "hi")];
    type Case<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);
    let cases: [Case; 7] = [
        ("wrong token", ACCOUNT, Some((ACCOUNT, "nope"))),
        ("wrong key secret", ACCOUNT, Some((KEY, "nope"))),
        (
            "key of another account",
            OTHER_ACCOUNT,
            Some((KEY, KEY_SECRET)),
        ),
        (
            "another account's sid and token",
            ACCOUNT,
            Some((OTHER_ACCOUNT, OTHER_TOKEN)),
        ),
        (
            "unregistered account",
            "AC11111111111111111111111111111111",
            Some(("AC11111111111111111111111111111111", "x")),
        ),
        (
            "username neither AC nor SK",
            ACCOUNT,
            Some(("someone", TOKEN)),
        ),
        ("no Authorization", ACCOUNT, None),
    ];
    for (what, account, auth) in cases {
        let reply = send(fake.addr(), account, auth, &params);
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        let json = reply.json();
        assert_eq!(json["code"], 20003, "{what}");
        assert_eq!(json["status"], 401, "{what}");
        assert!(json["more_info"].as_str().unwrap().ends_with("/20003"));
        assert!(reply.header("www-authenticate").is_some(), "{what}");
    }
    assert!(fake.messages().is_empty());
    assert_eq!(fake.send_attempts(), 7);
    // The other account's own credentials do work for it.
    let reply = send(
        fake.addr(),
        OTHER_ACCOUNT,
        Some((OTHER_ACCOUNT, OTHER_TOKEN)),
        &params,
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}

#[test]
fn unregistered_fake_takes_any_password_but_still_checks_the_username() {
    let fake = FakeTwilio::start();
    let params = [("To", "+15551230001"), ("From", FROM), ("Body", "hi")];
    assert_eq!(
        send(fake.addr(), ACCOUNT, Some((ACCOUNT, "anything")), &params).status,
        201
    );
    assert_eq!(
        send(fake.addr(), ACCOUNT, Some((KEY, "whatever")), &params).status,
        201
    );
    assert_eq!(
        send(fake.addr(), ACCOUNT, Some((OTHER_ACCOUNT, "x")), &params).status,
        401
    );
    assert_eq!(send(fake.addr(), ACCOUNT, None, &params).status, 401);
    assert_eq!(fake.messages().len(), 2);
}

#[test]
fn validation_errors_use_twilio_codes_and_record_nothing() {
    let fake = strict_fake();
    fake.opt_out("+15559990000");
    let long = "a".repeat(1601);
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u32);
    let cases: Vec<Case> = vec![
        ("no To", vec![("From", FROM), ("Body", "hi")], 21604),
        (
            "empty To",
            vec![("To", ""), ("From", FROM), ("Body", "hi")],
            21604,
        ),
        (
            "no Body",
            vec![("To", "+15551230001"), ("From", FROM)],
            21602,
        ),
        (
            "To not E.164",
            vec![("To", "5551230001"), ("From", FROM), ("Body", "hi")],
            21211,
        ),
        (
            "To with spaces",
            vec![("To", "+1 555 123 0001"), ("From", FROM), ("Body", "hi")],
            21211,
        ),
        (
            "no From nor service",
            vec![("To", "+15551230001"), ("Body", "hi")],
            21603,
        ),
        (
            "bad From",
            vec![("To", "+15551230001"), ("From", "555-1234"), ("Body", "hi")],
            21212,
        ),
        (
            "bad service sid",
            vec![
                ("To", "+15551230001"),
                ("MessagingServiceSid", "MG1"),
                ("Body", "hi"),
            ],
            21701,
        ),
        (
            "body over 1600",
            vec![
                ("To", "+15551230001"),
                ("From", FROM),
                ("Body", long.as_str()),
            ],
            21617,
        ),
        (
            "bad StatusCallback",
            vec![
                ("To", "+15551230001"),
                ("From", FROM),
                ("Body", "hi"),
                ("StatusCallback", "nope"),
            ],
            21609,
        ),
        (
            "opted out",
            vec![("To", "+15559990000"), ("From", FROM), ("Body", "hi")],
            21610,
        ),
    ];
    for (what, params, code) in &cases {
        let reply = send(fake.addr(), ACCOUNT, Some((ACCOUNT, TOKEN)), params);
        assert_eq!(reply.status, 400, "{what}: {}", reply.body);
        let json = reply.json();
        assert_eq!(json["code"], *code, "{what}: {}", reply.body);
        assert_eq!(json["status"], 400);
        assert!(!json["message"].as_str().unwrap().is_empty());
    }
    assert!(fake.messages().is_empty());

    // The limits themselves are fine, and opting back in works.
    let exactly = "a".repeat(1600);
    send_ok(fake.addr(), "+15551230001", &exactly);
    assert_eq!(fake.messages()[0].num_segments, 11);
    fake.opt_in("+15559990000");
    send_ok(fake.addr(), "+15559990000", "back");
}

#[test]
fn messaging_service_send_is_accepted_without_from() {
    let fake = strict_fake();
    let service = "MG0123456789abcdef0123456789abcdef";
    let reply = send(
        fake.addr(),
        ACCOUNT,
        Some((ACCOUNT, TOKEN)),
        &[
            ("To", "+15551230001"),
            ("MessagingServiceSid", service),
            ("Body", "Café ☕"),
        ],
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let json = reply.json();
    assert_eq!(json["status"], "accepted");
    assert!(json["from"].is_null());
    assert_eq!(json["messaging_service_sid"], service);
    assert_eq!(
        fake.messages()[0].messaging_service_sid.as_deref(),
        Some(service)
    );
}

// ----- faults -----

#[test]
fn status_500_after_recording_is_ambiguous() {
    let fake = strict_fake();
    fake.push_fault(Fault::Status500AfterRecording);
    let reply = send(
        fake.addr(),
        ACCOUNT,
        Some((ACCOUNT, TOKEN)),
        &[("To", "+15551230001"), ("From", FROM), ("Body", "hi")],
    );
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["code"], 20500);
    assert_eq!(fake.messages().len(), 1, "the message was recorded");
    // The fault was used up.
    send_ok(fake.addr(), "+15551230001", "again");
    assert_eq!(fake.messages().len(), 2);
}

#[test]
fn status_500_after_recording_still_validates() {
    let fake = strict_fake();
    fake.push_fault(Fault::Status500AfterRecording);
    let reply = send(
        fake.addr(),
        ACCOUNT,
        Some((ACCOUNT, "wrong")),
        &[("To", "+15551230001"), ("From", FROM), ("Body", "hi")],
    );
    assert_eq!(reply.status, 401);
    assert!(fake.messages().is_empty());
}

#[test]
fn status_500_records_nothing() {
    let fake = strict_fake();
    fake.push_fault(Fault::Status500);
    let reply = send(
        fake.addr(),
        ACCOUNT,
        Some((ACCOUNT, TOKEN)),
        &[("To", "+15551230001"), ("From", FROM), ("Body", "hi")],
    );
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["code"], 20500);
    assert!(fake.messages().is_empty());
}

#[test]
fn status_429_with_twilio_code_and_retry_after() {
    let fake = strict_fake();
    fake.push_fault(Fault::Status429 {
        twilio_code: true,
        retry_after: Some(7),
    });
    fake.push_fault(Fault::Status429 {
        twilio_code: false,
        retry_after: None,
    });
    let params = [("To", "+15551230001"), ("From", FROM), ("Body", "hi")];
    let first = send(fake.addr(), ACCOUNT, Some((ACCOUNT, TOKEN)), &params);
    assert_eq!(first.status, 429);
    assert_eq!(first.json()["code"], 20429);
    assert_eq!(first.header("retry-after"), Some("7"));
    let second = send(fake.addr(), ACCOUNT, Some((ACCOUNT, TOKEN)), &params);
    assert_eq!(second.status, 429);
    assert_eq!(second.body, "Too Many Requests");
    assert_eq!(second.header("retry-after"), None);
    assert!(fake.messages().is_empty());
    assert_eq!(fake.pending_faults(), 0);
}

#[test]
fn delay_records_first_then_answers_late() {
    let fake = strict_fake();
    let path = format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json");
    let body = form(&[("To", "+15551230001"), ("From", FROM), ("Body", "slow")]);
    let auth = basic(ACCOUNT, TOKEN);

    // A client that gives up before the answer: the message is at Twilio all the same.
    fake.push_fault(Fault::Delay(Duration::from_millis(800)));
    let started = Instant::now();
    let timed_out = request(
        fake.addr(),
        "POST",
        &path,
        Some(&auth),
        Some(&body),
        Duration::from_millis(200),
    );
    assert!(
        timed_out.is_err(),
        "the client should have timed out: {timed_out:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(700));
    assert_eq!(fake.messages().len(), 1);

    // A patient client gets the 201, late.
    fake.push_fault(Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    let reply = request(
        fake.addr(),
        "POST",
        &path,
        Some(&auth),
        Some(&body),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(reply.status, 201);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(fake.messages().len(), 2);

    // A delayed answer does not hold up other requests on the fake's single thread.
    fake.push_fault(Fault::Delay(Duration::from_millis(1200)));
    let addr = fake.addr();
    let slow = std::thread::spawn(move || {
        request(
            addr,
            "POST",
            &path,
            Some(&auth),
            Some(&body),
            Duration::from_secs(10),
        )
    });
    fake.wait_for_messages_blocking(3, Duration::from_secs(5))
        .unwrap();
    let started = Instant::now();
    send_ok(fake.addr(), "+15551230002", "fast");
    assert!(started.elapsed() < Duration::from_millis(600));
    assert_eq!(slow.join().unwrap().unwrap().status, 201);
}

#[test]
fn error_fault_answers_what_it_is_told() {
    let fake = strict_fake();
    fake.push_fault(Fault::Error {
        status: 400,
        code: 21408,
        message: "Permission to send an SMS has not been enabled for the region".into(),
    });
    let reply = send(
        fake.addr(),
        ACCOUNT,
        Some((ACCOUNT, TOKEN)),
        &[("To", "+15551230001"), ("From", FROM), ("Body", "hi")],
    );
    assert_eq!(reply.status, 400);
    let json = reply.json();
    assert_eq!(json["code"], 21408);
    assert_eq!(json["status"], 400);
    assert_eq!(
        json["message"],
        "Permission to send an SMS has not been enabled for the region"
    );
    assert!(fake.messages().is_empty());
}

#[test]
fn close_connection_faults() {
    let fake = strict_fake();
    let path = format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json");
    let body = form(&[("To", "+15551230001"), ("From", FROM), ("Body", "hi")]);
    let auth = basic(ACCOUNT, TOKEN);

    fake.push_fault(Fault::CloseConnection);
    let closed = request(
        fake.addr(),
        "POST",
        &path,
        Some(&auth),
        Some(&body),
        Duration::from_secs(5),
    );
    assert!(closed.is_err(), "no answer expected: {closed:?}");
    assert!(fake.messages().is_empty());

    fake.push_fault(Fault::CloseConnectionAfterRecording);
    let closed = request(
        fake.addr(),
        "POST",
        &path,
        Some(&auth),
        Some(&body),
        Duration::from_secs(5),
    );
    assert!(closed.is_err(), "no answer expected: {closed:?}");
    assert_eq!(fake.messages().len(), 1);

    // The server is fine afterwards.
    send_ok(fake.addr(), "+15551230001", "fine");
}

#[test]
fn faults_queue_in_order_and_fail_all_lasts_until_recover() {
    let fake = strict_fake();
    let params = [("To", "+15551230001"), ("From", FROM), ("Body", "hi")];
    let status = || send(fake.addr(), ACCOUNT, Some((ACCOUNT, TOKEN)), &params).status;

    fake.push_fault(Fault::Status500);
    fake.push_fault(Fault::too_many_requests());
    assert_eq!(status(), 500);
    assert_eq!(status(), 429);
    assert_eq!(status(), 201);

    fake.fail_all(Fault::Status500);
    for _ in 0..3 {
        assert_eq!(status(), 500);
    }
    // Listing is never faulted.
    assert_eq!(
        get(
            fake.addr(),
            &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json"),
            (ACCOUNT, TOKEN)
        )
        .status,
        200
    );
    fake.recover();
    assert_eq!(status(), 201);
    assert_eq!(fake.messages().len(), 2);
    assert_eq!(fake.send_attempts(), 7);
}

// ----- reading back -----

#[test]
fn list_pages_newest_first_and_filters() {
    let fake = strict_fake();
    for i in 0..5 {
        send_ok(fake.addr(), "+15551230001", &format!("a{i}"));
    }
    for i in 0..2 {
        send_ok(fake.addr(), "+15551230002", &format!("b{i}"));
    }
    // Another account's message is never listed for this one.
    let other = send(
        fake.addr(),
        OTHER_ACCOUNT,
        Some((OTHER_ACCOUNT, OTHER_TOKEN)),
        &[("To", "+15551230001"), ("From", FROM), ("Body", "other")],
    );
    assert_eq!(other.status, 201);

    let base = format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json");
    // Everything, two at a time, following next_page_uri.
    let mut uri = format!("{base}?PageSize=2");
    let mut bodies = Vec::new();
    let mut pages = 0;
    loop {
        let reply = get(fake.addr(), &uri, (ACCOUNT, TOKEN));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let json = reply.json();
        assert_eq!(json["page_size"], 2);
        assert_eq!(json["page"], pages);
        for m in json["messages"].as_array().unwrap() {
            bodies.push(m["body"].as_str().unwrap().to_owned());
        }
        pages += 1;
        match json["next_page_uri"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/2010-04-01/"));
                uri = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(bodies, ["b1", "b0", "a4", "a3", "a2", "a1", "a0"]);

    // Filters.
    let to = get(
        fake.addr(),
        &format!("{base}?To=%2B15551230002"),
        (ACCOUNT, TOKEN),
    )
    .json();
    let to_bodies: Vec<&str> = to["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(to_bodies, ["b1", "b0"]);
    assert!(to["next_page_uri"].is_null());
    let from = get(
        fake.addr(),
        &format!("{base}?From=%2B15550009999"),
        (ACCOUNT, TOKEN),
    )
    .json();
    assert!(from["messages"].as_array().unwrap().is_empty());

    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let tomorrow = today.tomorrow().unwrap();
    let yesterday = today.yesterday().unwrap();
    let count = |query: String| {
        let reply = get(fake.addr(), &format!("{base}?{query}"), (ACCOUNT, TOKEN));
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        reply.json()["messages"].as_array().unwrap().len()
    };
    // As at Twilio, a message not sent yet has no `date_sent`: any DateSent filter leaves it
    // out.
    assert_eq!(count(format!("DateSent%3E={today}")), 0);
    assert_eq!(count(format!("DateSent%3C={tomorrow}")), 0);
    for m in fake.messages() {
        // Without a StatusCallback the status changes and nothing is posted.
        let _ = fake.deliver(&m.sid, "sent", None).wait();
    }
    // `DateSent>=X` percent-encoded as clients send it (`DateSent%3E=X`).
    assert_eq!(count(format!("DateSent%3E={today}")), 7);
    assert_eq!(count(format!("DateSent%3E={tomorrow}")), 0);
    assert_eq!(count(format!("DateSent%3C={yesterday}")), 0);
    assert_eq!(count(format!("DateSent%3C={today}")), 7);
    assert_eq!(count(format!("DateSent={today}")), 7);
    assert_eq!(count(format!("DateSent={yesterday}")), 0);
    assert_eq!(count(format!("To=%2B15551230001&DateSent%3E={today}")), 5);
    let an_hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let in_an_hour = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    assert_eq!(count(format!("DateSent%3E={an_hour_ago}")), 7);
    assert_eq!(count(format!("DateSent%3E={in_an_hour}")), 0);

    // Bad paging and auth.
    assert_eq!(
        get(fake.addr(), &format!("{base}?PageSize=0"), (ACCOUNT, TOKEN)).status,
        400
    );
    assert_eq!(
        get(
            fake.addr(),
            &format!("{base}?DateSent%3E=soon"),
            (ACCOUNT, TOKEN)
        )
        .status,
        400
    );
    let unauthorized = get(fake.addr(), &base, (ACCOUNT, "wrong"));
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.json()["code"], 20003);
}

#[test]
fn paging_with_page_token_is_stable_while_messages_arrive() {
    let fake = strict_fake();
    for i in 0..4 {
        send_ok(fake.addr(), "+15551230001", &format!("m{i}"));
    }
    let base = format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json");
    let first = get(fake.addr(), &format!("{base}?PageSize=2"), (ACCOUNT, TOKEN)).json();
    let next = first["next_page_uri"].as_str().unwrap().to_owned();
    assert!(next.contains("PageToken=PASM"), "{next}");
    // A new message lands between the two pages.
    send_ok(fake.addr(), "+15551230001", "m4");
    let second = get(fake.addr(), &next, (ACCOUNT, TOKEN)).json();
    let bodies: Vec<&str> = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["m1", "m0"]);
    assert!(second["next_page_uri"].is_null());
}

#[test]
fn fetch_one_message() {
    let fake = strict_fake();
    let sid = send_ok(fake.addr(), "+15551230001", "hello").json()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = get(
        fake.addr(),
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json"),
        (ACCOUNT, TOKEN),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["sid"], sid.as_str());
    assert_eq!(reply.json()["body"], "hello");

    let missing = get(
        fake.addr(),
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/SM00000000000000000000000000000000.json"),
        (ACCOUNT, TOKEN),
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], 20404);
    // Another account cannot see it.
    let foreign = get(
        fake.addr(),
        &format!("/2010-04-01/Accounts/{OTHER_ACCOUNT}/Messages/{sid}.json"),
        (OTHER_ACCOUNT, OTHER_TOKEN),
    );
    assert_eq!(foreign.status, 404);
    let wrong = get(
        fake.addr(),
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json"),
        (ACCOUNT, "nope"),
    );
    assert_eq!(wrong.status, 401);
}

#[test]
fn unknown_paths_and_methods() {
    let fake = FakeTwilio::start();
    let reply = get(
        fake.addr(),
        "/2010-04-01/Accounts/AC1/Calls.json",
        (ACCOUNT, TOKEN),
    );
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["code"], 20404);
    let reply = request(
        fake.addr(),
        "DELETE",
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json"),
        None,
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(reply.status, 405);
}

#[test]
fn inspection_counters_and_clear() {
    let fake = strict_fake();
    send_ok(fake.addr(), "+15551230001", "one");
    send_ok(fake.addr(), "+15551230002", "two");
    send_ok(fake.addr(), "+15551230001", "three");
    let _ = get(
        fake.addr(),
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json"),
        (ACCOUNT, TOKEN),
    );
    let to_one: Vec<String> = fake
        .messages_to("+15551230001")
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(to_one, ["one", "three"]);
    assert_eq!(fake.message_count(), 3);
    assert_eq!(fake.requests_count(), 4);
    assert_eq!(fake.send_attempts(), 3);

    fake.push_fault(Fault::Status500);
    fake.clear();
    assert!(fake.messages().is_empty());
    assert_eq!(fake.requests_count(), 0);
    assert_eq!(fake.pending_faults(), 0);
    // Registration survives a clear.
    assert_eq!(
        send(
            fake.addr(),
            ACCOUNT,
            Some((ACCOUNT, "wrong")),
            &[("To", "+15551230001"), ("From", FROM), ("Body", "x")]
        )
        .status,
        401
    );
    send_ok(fake.addr(), "+15551230001", "after");
}

#[test]
fn wait_for_messages_blocking_sees_sends_from_other_threads_and_times_out() {
    let fake = strict_fake();
    let addr = fake.addr();
    let sender = std::thread::spawn(move || {
        for i in 0..3 {
            std::thread::sleep(Duration::from_millis(30));
            send_ok(addr, "+15551230001", &format!("n{i}"));
        }
    });
    let got = fake
        .wait_for_messages_blocking(3, Duration::from_secs(10))
        .unwrap();
    assert_eq!(got.len(), 3);
    sender.join().unwrap();
    let err = fake
        .wait_for_messages_blocking(4, Duration::from_millis(50))
        .unwrap_err();
    assert!(
        matches!(
            err,
            fake_twilio::FakeError::Timeout {
                wanted: 4,
                got: 3,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn stops_on_drop() {
    let fake = FakeTwilio::start();
    let addr = fake.addr();
    send_ok(addr, "+15551230001", "x");
    drop(fake);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the port should be closed"
    );
}

#[test]
fn start_on_a_taken_port_is_an_error() {
    let fake = FakeTwilio::start();
    let err = FakeTwilio::start_on(fake.addr()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
}

#[test]
fn keep_alive_connection_serves_many_requests() {
    use std::io::{BufRead, BufReader, Read, Write};
    let fake = strict_fake();
    let stream = std::net::TcpStream::connect(fake.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let auth = basic(ACCOUNT, TOKEN);
    for i in 0..20 {
        let body = form(&[
            ("To", "+15551230001"),
            ("From", FROM),
            ("Body", &format!("k{i}")),
        ]);
        write!(
            writer,
            "POST /2010-04-01/Accounts/{ACCOUNT}/Messages.json HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 201"), "{status}");
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
    }
    assert_eq!(fake.message_count(), 20);
}

#[test]
fn jsonl_log_has_one_line_per_message() {
    let path = std::env::temp_dir().join(format!(
        "fake-twilio-{}-{}.jsonl",
        std::process::id(),
        rand_suffix()
    ));
    let fake = FakeTwilio::builder().with_jsonl(&path).start().unwrap();
    send_ok(fake.addr(), "+15551230001", "line one");
    send_ok(fake.addr(), "+15551230002", "line two\nwith a newline");
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["to"], "+15551230001");
    assert_eq!(lines[1]["body"], "line two\nwith a newline");
    assert_eq!(lines[1]["sent"], false);
    assert_eq!(lines[0]["credential"], "auth_token");
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}
