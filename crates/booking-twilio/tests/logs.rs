//! What the gateway writes to the logs: masked numbers, never a body, a token or a key secret.

mod fake_twilio;

use std::io::Write;
use std::sync::{Arc, Mutex};

use booking_core::ports::{SendOutcome, SmsGateway, SmsRequest};
use fake_twilio::*;
use jiff::Timestamp;
use wiremock::ResponseTemplate;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn logs_hold_no_secret_no_full_number_and_no_body() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // The test runs on one thread: everything below logs into `captured`.
    let _guard = tracing::subscriber::set_default(subscriber);

    let otp = "Smile Dental: your code is 739164. Reply STOP to opt out.";
    let request = SmsRequest {
        to: patient(),
        body: otp.into(),
    };

    // Accepted, with an auth token.
    let fake = FakeTwilio::start().await;
    let outcome = fake.client().send(&token_account(), &request).await;
    assert!(
        matches!(outcome, SendOutcome::Accepted { .. }),
        "{outcome:?}"
    );
    // With an API key, through a messaging service.
    let outcome = fake.client().send(&key_account(), &request).await;
    assert!(
        matches!(outcome, SendOutcome::Accepted { .. }),
        "{outcome:?}"
    );
    // Reconciliation.
    let found = fake
        .client()
        .find_sent(
            &token_account(),
            &patient(),
            Timestamp::now() - jiff::SignedDuration::from_mins(1),
            otp,
        )
        .await;
    assert!(matches!(found, Ok(Some(_))), "{found:?}");

    // A refusal whose Twilio message quotes the number.
    let refusing = FakeTwilio::start_answering(Some(ResponseTemplate::new(400).set_body_json(
        twilio_error(
            21211,
            400,
            "The 'To' number +15558675310 is not a valid phone number.",
        ),
    )))
    .await;
    let outcome = refusing.client().send(&token_account(), &request).await;
    assert!(
        matches!(
            outcome,
            SendOutcome::Permanent {
                code: Some(21211),
                ..
            }
        ),
        "{outcome:?}"
    );
    // Too long.
    let long = SmsRequest {
        to: patient(),
        body: format!("{otp}{}", "x".repeat(1600)),
    };
    let outcome = fake.client().send(&token_account(), &long).await;
    assert!(
        matches!(outcome, SendOutcome::Permanent { .. }),
        "{outcome:?}"
    );

    let logs = captured.text();
    // The logs did record the work, with the number masked.
    assert!(logs.contains("+*******5310"), "{logs}");
    assert!(logs.contains("Twilio accepted the SMS"), "{logs}");
    assert!(logs.contains("reconciliation found the SMS"), "{logs}");
    assert!(logs.contains("21211"), "{logs}");
    for secret in [
        PATIENT,
        "5558675310",
        SENDER,
        "5017250604",
        "739164",
        "your code is",
        AUTH_TOKEN,
        API_KEY_SECRET,
        ACCOUNT_SID,
    ] {
        assert!(!logs.contains(secret), "logs contain {secret:?}:\n{logs}");
    }
}
