//! The SMS gateway against a fake Twilio over real HTTP on 127.0.0.1.

mod fake_twilio;

use std::time::Duration;

use booking_core::outbox::MessageStatus;
use booking_core::ports::{SendOutcome, SmsGateway, SmsRequest};
use booking_twilio::{MAX_BODY_CHARS, TwilioClient, TwilioConfig};
use fake_twilio::*;
use jiff::{SignedDuration, Timestamp};
use tokio::io::AsyncReadExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BODY: &str =
    "Smile Dental: your appointment is confirmed for Tue Mar 3, 9:00 AM. Reply STOP to opt out.";

fn request(body: &str) -> SmsRequest {
    SmsRequest {
        to: patient(),
        body: body.to_owned(),
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn sends_with_the_auth_token_and_twilios_form_fields() {
    let fake = FakeTwilio::start().await;
    let gateway: &dyn SmsGateway = &fake.client();

    let outcome = gateway.send(&token_account(), &request(BODY)).await;

    let stored = fake.store.messages();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        outcome,
        SendOutcome::Accepted {
            sid: booking_core::MessageSid::parse(&stored[0].sid).unwrap(),
            status: MessageStatus::Queued,
        }
    );
    let requests = fake.requests().await;
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(r.url.path(), messages_path());
    assert_eq!(r.url.query(), None);
    assert_eq!(
        header(r, "authorization"),
        Some(basic(ACCOUNT_SID, AUTH_TOKEN).as_str())
    );
    assert_eq!(
        header(r, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        form(r),
        pairs(&[
            ("To", PATIENT),
            ("From", SENDER),
            ("Body", BODY),
            ("StatusCallback", CALLBACK)
        ])
    );
    // '+' must travel percent-encoded, or Twilio reads a space.
    let raw = String::from_utf8(r.body.clone()).unwrap();
    assert!(
        raw.starts_with("To=%2B15558675310&From=%2B15017250604&Body="),
        "{raw}"
    );
}

#[tokio::test]
async fn prefers_the_api_key_and_sends_through_the_messaging_service() {
    let fake = FakeTwilio::start().await;
    let client = TwilioClient::new(TwilioConfig {
        status_callback_url: None,
        ..config(&fake.server.uri())
    })
    .unwrap();

    let outcome = client.send(&key_account(), &request(BODY)).await;

    assert!(
        matches!(
            outcome,
            SendOutcome::Accepted {
                status: MessageStatus::Queued,
                ..
            }
        ),
        "{outcome:?}"
    );
    let requests = fake.requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        header(&requests[0], "authorization"),
        Some(basic(API_KEY_SID, API_KEY_SECRET).as_str())
    );
    // No From, no StatusCallback when none is configured.
    assert_eq!(
        form(&requests[0]),
        pairs(&[
            ("To", PATIENT),
            ("MessagingServiceSid", SERVICE_SID),
            ("Body", BODY)
        ])
    );
}

#[tokio::test]
async fn wrong_credentials_are_permanent_20003() {
    let fake = FakeTwilio::start().await;
    let mut account = token_account();
    account.auth_token = booking_core::tenant::Secret::new("not-the-token");

    let outcome = fake.client().send(&account, &request(BODY)).await;

    assert_eq!(
        outcome,
        SendOutcome::Permanent {
            code: Some(20003),
            message: "Twilio error 20003 (HTTP 401): Authenticate".into()
        }
    );
    assert!(fake.store.messages().is_empty());
}

/// A fake that answers every send with one canned response.
async fn answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

async fn outcome_of(template: ResponseTemplate) -> SendOutcome {
    let server = answering(template).await;
    let outcome = client(&server.uri())
        .send(&token_account(), &request(BODY))
        .await;
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    outcome
}

#[tokio::test]
async fn rate_limits_are_safe_to_retry_and_honour_retry_after() {
    let outcome = outcome_of(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "3")
            .set_body_json(twilio_error(20429, 429, "Too Many Requests")),
    )
    .await;
    assert_eq!(
        outcome,
        SendOutcome::RetrySafe {
            code: Some(20429),
            message: "Twilio error 20429 (HTTP 429): Too Many Requests".into(),
            retry_after: Some(SignedDuration::from_secs(3)),
        }
    );

    // A 429 with no body and no Retry-After.
    let outcome = outcome_of(ResponseTemplate::new(429)).await;
    assert!(
        matches!(
            outcome,
            SendOutcome::RetrySafe {
                retry_after: None,
                ..
            }
        ),
        "{outcome:?}"
    );

    // Twilio's 20429 code under another status.
    let outcome = outcome_of(ResponseTemplate::new(400).set_body_json(twilio_error(
        20429,
        400,
        "Too Many Requests",
    )))
    .await;
    assert!(
        matches!(
            outcome,
            SendOutcome::RetrySafe {
                code: Some(20429),
                ..
            }
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn refusals_are_permanent_and_keep_twilios_code_and_message() {
    let cases = [
        (401, 20003, "Authenticate", "Authenticate"),
        (
            400,
            21211,
            "The 'To' number +15558675310 is not a valid phone number.",
            "The 'To' number +*******5310 is not a valid phone number.",
        ),
        (
            400,
            21408,
            "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +15558675310.",
            "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +*******5310.",
        ),
        (
            400,
            21610,
            "Attempt to send to unsubscribed recipient",
            "Attempt to send to unsubscribed recipient",
        ),
        (
            400,
            21614,
            "'To' number is not a valid mobile number",
            "'To' number is not a valid mobile number",
        ),
        (
            400,
            21606,
            "The 'From' phone number provided is not a valid message-capable Twilio phone number.",
            "The 'From' phone number provided is not a valid message-capable Twilio phone number.",
        ),
        (
            404,
            20404,
            "The requested resource was not found",
            "The requested resource was not found",
        ),
    ];
    for (status, code, twilio_message, kept) in cases {
        let outcome = outcome_of(ResponseTemplate::new(status).set_body_json(twilio_error(
            code,
            status,
            twilio_message,
        )))
        .await;
        assert_eq!(
            outcome,
            SendOutcome::Permanent {
                code: Some(code),
                message: format!("Twilio error {code} (HTTP {status}): {kept}"),
            }
        );
    }
}

#[tokio::test]
async fn a_non_json_error_body_is_handled() {
    let outcome = outcome_of(
        ResponseTemplate::new(400)
            .insert_header("content-type", "text/html")
            .set_body_string("<html><body>400 Bad Request</body></html>"),
    )
    .await;
    assert_eq!(
        outcome,
        SendOutcome::Permanent {
            code: None,
            message: "Twilio answered HTTP 400 with a body that is not Twilio's JSON: <html><body>400 Bad Request</body></html>"
                .into()
        }
    );

    let outcome = outcome_of(ResponseTemplate::new(502).set_body_string("Bad Gateway")).await;
    assert_eq!(
        outcome,
        SendOutcome::Ambiguous {
            message: "Twilio answered HTTP 502 with a body that is not Twilio's JSON: Bad Gateway"
                .into()
        }
    );
}

#[tokio::test]
async fn server_errors_are_ambiguous() {
    let outcome = outcome_of(ResponseTemplate::new(500).set_body_json(twilio_error(
        20500,
        500,
        "Internal Server Error",
    )))
    .await;
    assert_eq!(
        outcome,
        SendOutcome::Ambiguous {
            message: "Twilio error 20500 (HTTP 500): Internal Server Error".into()
        }
    );
    let outcome = outcome_of(ResponseTemplate::new(503).set_body_json(twilio_error(
        20503,
        503,
        "Service Unavailable",
    )))
    .await;
    assert_eq!(
        outcome,
        SendOutcome::Ambiguous {
            message: "Twilio error 20503 (HTTP 503): Service Unavailable".into()
        }
    );
}

#[tokio::test]
async fn a_timeout_after_the_request_was_sent_is_ambiguous() {
    let server = answering(
        ResponseTemplate::new(201)
            .set_body_json(serde_json::json!({"sid": "SMlate", "status": "queued"}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    let client = TwilioClient::new(TwilioConfig {
        connect_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_millis(300),
        ..config(&server.uri())
    })
    .unwrap();

    let outcome = client.send(&token_account(), &request(BODY)).await;

    assert!(
        matches!(&outcome, SendOutcome::Ambiguous { message } if message.contains("did not answer in time")),
        "{outcome:?}"
    );
    // The request did reach the fake: that is why it is ambiguous.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_connection_reset_after_the_request_was_sent_is_ambiguous() {
    // A server that reads the request and hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        drop(socket);
        String::from_utf8_lossy(&seen).into_owned()
    });

    let outcome = client(&base).send(&token_account(), &request(BODY)).await;

    let seen = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    assert!(
        seen.starts_with(&format!("POST {} HTTP/1.1", messages_path())),
        "{seen}"
    );
    assert!(
        matches!(&outcome, SendOutcome::Ambiguous { message } if message.contains("after the request was sent")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn connection_refused_is_safe_to_retry() {
    // A port that was just free: nothing listens on it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let outcome = client(&format!("http://127.0.0.1:{port}"))
        .send(&token_account(), &request(BODY))
        .await;
    assert!(
        matches!(&outcome, SendOutcome::RetrySafe { code: None, retry_after: None, message } if message.contains("nothing was sent")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_connect_timeout_is_safe_to_retry() {
    // A listener that never accepts, with its accept queue filled: further connection attempts
    // get no answer and time out before any byte of a request is written.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => fillers.push(stream),
            Err(_) => break,
        }
    }
    assert!(fillers.len() < 8, "the accept queue never filled up");
    let client = TwilioClient::new(TwilioConfig {
        connect_timeout: Duration::from_millis(300),
        ..config(&format!("http://{addr}"))
    })
    .unwrap();

    let outcome = client.send(&token_account(), &request(BODY)).await;

    assert!(
        matches!(&outcome, SendOutcome::RetrySafe { code: None, message, .. } if message.contains("nothing was sent")),
        "{outcome:?}"
    );
    drop(listener);
}

#[tokio::test]
async fn a_rate_limited_send_retried_once_is_sent_once() {
    let fake = FakeTwilio::start().await;
    // The first send is refused before Twilio records anything; later ones reach the store.
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(twilio_error(20429, 429, "Too Many Requests")),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let gateway = fake.client();

    // The caller's policy: retry a retry-safe outcome, once.
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let outcome = gateway.send(&token_account(), &request(BODY)).await;
        let done = !matches!(outcome, SendOutcome::RetrySafe { .. });
        outcomes.push(outcome);
        if done {
            break;
        }
    }

    assert_eq!(outcomes.len(), 2);
    assert!(
        matches!(outcomes[0], SendOutcome::RetrySafe { code: Some(20429), retry_after: Some(d), .. } if d == SignedDuration::from_secs(1))
    );
    let stored = fake.store.messages();
    assert_eq!(stored.len(), 1, "exactly one message at Twilio");
    assert!(
        matches!(&outcomes[1], SendOutcome::Accepted { sid, .. } if sid.as_str() == stored[0].sid),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(fake.requests().await.len(), 2);
}

#[tokio::test]
async fn a_500_after_twilio_recorded_the_message_is_reconciled_not_resent() {
    let fake = FakeTwilio::start_answering(Some(
        ResponseTemplate::new(500).set_body_json(twilio_error(20500, 500, "Internal Server Error")),
    ))
    .await;
    let gateway: &dyn SmsGateway = &fake.client();
    let first_attempt = Timestamp::now();

    let outcome = gateway.send(&token_account(), &request(BODY)).await;
    assert!(
        matches!(outcome, SendOutcome::Ambiguous { .. }),
        "{outcome:?}"
    );

    // Reconcile before any resend.
    let found = gateway
        .find_sent(&token_account(), &patient(), first_attempt, BODY)
        .await
        .unwrap()
        .expect("the message Twilio recorded");

    let stored = fake.store.messages();
    assert_eq!(stored.len(), 1, "exactly one message at the fake");
    assert_eq!(found.sid.as_str(), stored[0].sid);
    assert_eq!(found.status, MessageStatus::Queued);

    let requests = fake.requests().await;
    assert_eq!(requests.len(), 2);
    let list = &requests[1];
    assert_eq!(list.method.as_str(), "GET");
    assert_eq!(list.url.path(), messages_path());
    assert_eq!(
        header(list, "authorization"),
        Some(basic(ACCOUNT_SID, AUTH_TOKEN).as_str())
    );
    let query: Vec<(String, String)> = list.url.query_pairs().into_owned().collect();
    // No `DateSent` filter: Twilio fills `date_sent` only once a message went out, so it would
    // hide a message Twilio still queues.
    assert_eq!(
        query,
        pairs(&[("To", PATIENT), ("From", SENDER), ("PageSize", "50")])
    );
}

fn stored(
    body: &str,
    to: &str,
    from: Option<&str>,
    service: Option<&str>,
    at: Timestamp,
) -> StoredMessage {
    StoredMessage {
        sid: String::new(),
        to: to.into(),
        from: from.map(Into::into),
        messaging_service_sid: service.map(Into::into),
        body: body.into(),
        status: "delivered".into(),
        date_created: at,
    }
}

#[tokio::test]
async fn reconciliation_adopts_only_an_exact_match_since_the_first_attempt() {
    let fake = FakeTwilio::start().await;
    let now = Timestamp::now();
    let since = now - SignedDuration::from_mins(5);
    // Same body, before `since` (an earlier identical text): not this one.
    fake.store.add(stored(
        BODY,
        PATIENT,
        Some(SENDER),
        None,
        since - SignedDuration::from_mins(10),
    ));
    // Different body, same number and sender.
    fake.store.add(stored(
        "Smile Dental: other text",
        PATIENT,
        Some(SENDER),
        None,
        now,
    ));
    // Same body to another number.
    fake.store
        .add(stored(BODY, "+15558675399", Some(SENDER), None, now));
    let client = fake.client();

    assert_eq!(
        client
            .find_sent(&token_account(), &patient(), since, BODY)
            .await,
        Ok(None)
    );

    let wanted = fake
        .store
        .add(stored(BODY, PATIENT, Some(SENDER), None, now));
    let found = client
        .find_sent(&token_account(), &patient(), since, BODY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.sid.as_str(), wanted.sid);
    assert_eq!(found.status, MessageStatus::Delivered);
}

#[tokio::test]
async fn reconciliation_pages_through_a_bounded_number_of_pages() {
    let fake = FakeTwilio::start().await;
    let now = Timestamp::now();
    let since = now - SignedDuration::from_mins(30);
    // The wanted message is the oldest: on the third page of 50.
    let wanted = fake.store.add(stored(
        BODY,
        PATIENT,
        Some(SENDER),
        None,
        since + SignedDuration::from_secs(1),
    ));
    for i in 0..120 {
        fake.store.add(stored(
            &format!("Smile Dental: text {i}"),
            PATIENT,
            Some(SENDER),
            None,
            since + SignedDuration::from_secs(10 + i),
        ));
    }

    let found = fake
        .client()
        .find_sent(&token_account(), &patient(), since, BODY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.sid.as_str(), wanted.sid);
    let pages = fake.requests().await;
    assert_eq!(pages.len(), 3);
    assert_eq!(
        pages[1]
            .url
            .query_pairs()
            .find(|(k, _)| k == "Page")
            .unwrap()
            .1,
        "1"
    );
    assert_eq!(
        pages[2]
            .url
            .query_pairs()
            .find(|(k, _)| k == "Page")
            .unwrap()
            .1,
        "2"
    );

    // With fewer pages allowed, the search ends unfinished: that is an error, not "not sent".
    let bounded = TwilioClient::new(TwilioConfig {
        max_reconcile_pages: 2,
        ..config(&fake.server.uri())
    })
    .unwrap();
    let result = bounded
        .find_sent(&token_account(), &patient(), since, BODY)
        .await;
    assert!(
        matches!(&result, Err(e) if e.contains("not all were searched")),
        "{result:?}"
    );
}

#[tokio::test]
async fn reconciliation_for_a_messaging_service_filters_by_service() {
    let fake = FakeTwilio::start().await;
    let now = Timestamp::now();
    let since = now - SignedDuration::from_mins(1);
    // Same body and number, sent through another service of the account.
    fake.store.add(stored(
        BODY,
        PATIENT,
        Some("+15017250605"),
        Some("MG99999999999999999999999999999999"),
        now,
    ));
    let client = fake.client();
    assert_eq!(
        client
            .find_sent(&key_account(), &patient(), since, BODY)
            .await,
        Ok(None)
    );

    let wanted = fake.store.add(stored(
        BODY,
        PATIENT,
        Some("+15017250606"),
        Some(SERVICE_SID),
        now,
    ));
    let found = client
        .find_sent(&key_account(), &patient(), since, BODY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.sid.as_str(), wanted.sid);

    let requests = fake.requests().await;
    for r in &requests {
        assert_eq!(
            header(r, "authorization"),
            Some(basic(API_KEY_SID, API_KEY_SECRET).as_str())
        );
        assert!(r.url.query_pairs().all(|(k, _)| k != "From"), "{}", r.url);
    }
}

#[tokio::test]
async fn reconciliation_reports_why_it_could_not_ask() {
    let fake = FakeTwilio::start().await;
    let mut account = token_account();
    account.auth_token = booking_core::tenant::Secret::new("wrong");
    let result = fake
        .client()
        .find_sent(&account, &patient(), Timestamp::now(), BODY)
        .await;
    assert_eq!(
        result,
        Err("Twilio error 20003 (HTTP 401): Authenticate".into())
    );

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let result = client(&format!("http://127.0.0.1:{port}"))
        .find_sent(&token_account(), &patient(), Timestamp::now(), BODY)
        .await;
    let err = result.unwrap_err();
    assert!(err.starts_with("listing messages failed"), "{err}");
    // The URL (with the patient's number in its query) is not in the message.
    assert!(
        !err.contains("8675310") && !err.contains("127.0.0.1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_body_over_1600_characters_is_refused_without_a_request() {
    let fake = FakeTwilio::start().await;
    let client = fake.client();
    // Characters, not bytes: 1,601 'é' is 3,202 bytes.
    let long = "é".repeat(MAX_BODY_CHARS + 1);

    let outcome = client.send(&token_account(), &request(&long)).await;

    assert_eq!(
        outcome,
        SendOutcome::Permanent {
            code: Some(21617),
            message: "the text is 1601 characters long; Twilio accepts at most 1600".into()
        }
    );
    assert_eq!(fake.requests().await.len(), 0);

    // Exactly at the limit goes out.
    let at_limit = "é".repeat(MAX_BODY_CHARS);
    let outcome = client.send(&token_account(), &request(&at_limit)).await;
    assert!(
        matches!(outcome, SendOutcome::Accepted { .. }),
        "{outcome:?}"
    );
    assert_eq!(fake.requests().await.len(), 1);
}

#[tokio::test]
async fn an_empty_body_is_refused_without_a_request() {
    let fake = FakeTwilio::start().await;
    let outcome = fake.client().send(&token_account(), &request("  ")).await;
    assert!(
        matches!(
            outcome,
            SendOutcome::Permanent {
                code: Some(21602),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(fake.requests().await.len(), 0);
}

#[tokio::test]
async fn a_malformed_account_sid_is_refused_without_a_request() {
    let fake = FakeTwilio::start().await;
    let mut account = token_account();
    account.account_sid = "AC../../other".into();
    let outcome = fake.client().send(&account, &request(BODY)).await;
    assert!(
        matches!(outcome, SendOutcome::Permanent { code: None, .. }),
        "{outcome:?}"
    );
    assert_eq!(fake.requests().await.len(), 0);
}

#[test]
fn the_default_https_client_builds() {
    // Uses the system's CA store through rustls with the ring provider.
    let client = TwilioClient::new(TwilioConfig::default()).unwrap();
    assert_eq!(client.api_base(), "https://api.twilio.com");
}
