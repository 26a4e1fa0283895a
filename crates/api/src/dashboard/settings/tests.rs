use std::collections::HashMap;

use booking_core::PhoneNumber;
use booking_core::tenant::{SmsAccount, SmsSender};

use super::fields::{input_from, parse_overrides, parse_ranges, parse_services};
use super::pages::safe_next;

#[test]
fn hours_text_round_trips() {
    assert_eq!(
        parse_ranges("09:00-12:00, 13:00 - 17:00"),
        vec![
            ["09:00".to_owned(), "12:00".to_owned()],
            ["13:00".to_owned(), "17:00".to_owned()]
        ]
    );
    assert!(parse_ranges("closed").is_empty());
    assert!(parse_ranges("  ").is_empty());
    let o = parse_overrides("2030-12-25 closed Christmas Day\n2030-12-24 09:00-12:00 short");
    assert_eq!(o[0].date, "2030-12-25");
    assert!(o[0].hours.is_empty());
    assert_eq!(o[0].note.as_deref(), Some("Christmas Day"));
    assert_eq!(o[1].hours.len(), 1);
    assert_eq!(o[1].note.as_deref(), Some("short"));
}

#[test]
fn services_text_parses() {
    let s = parse_services("Teeth Whitening, 60, $450\nCheckup, 30").unwrap();
    assert_eq!(s[0].value_cents, Some(45_000));
    assert_eq!(s[1].duration_minutes, 30);
    assert!(parse_services("Checkup").is_err());
    assert!(parse_services("Checkup, 30, lots").is_err());
}

#[test]
fn booking_rules_come_as_whole_numbers() {
    let form = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let input = input_from(
        &form(&[
            ("buffer_before_minutes", "10"),
            ("buffer_after_minutes", " 5 "),
            ("min_notice_minutes", "600"),
            ("slot_interval_minutes", "45"),
            ("booking_horizon_days", "30"),
        ]),
        None,
    )
    .unwrap();
    assert_eq!(input.buffer_before_minutes, Some(10));
    assert_eq!(input.buffer_after_minutes, Some(5));
    assert_eq!(input.min_notice_minutes, Some(600));
    assert_eq!(input.slot_interval_minutes, Some(45));
    assert_eq!(input.booking_horizon_days, Some(30));

    let errors = input_from(
        &form(&[
            ("min_notice_minutes", "two hours"),
            ("slot_interval_minutes", "-5"),
        ]),
        None,
    )
    .unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("minimum notice must be a whole number"),
        "{errors:?}"
    );
    assert!(errors[1].contains("\"-5\""), "{errors:?}");

    // Another form leaves the rules as they are.
    let input = input_from(&form(&[("name", "Smile Dental")]), None).unwrap();
    assert_eq!(input.min_notice_minutes, None);
    assert_eq!(input.slot_interval_minutes, None);
}

#[test]
fn only_dashboard_paths_are_followed() {
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(safe_next(s("/app/setup/2").as_ref()), Some("/app/setup/2"));
    assert_eq!(safe_next(s("https://evil.example/app/").as_ref()), None);
    assert_eq!(safe_next(s("//evil.example").as_ref()), None);
    assert_eq!(safe_next(s("/app/\\evil").as_ref()), None);
    assert_eq!(safe_next(None), None);
}

#[test]
fn an_empty_secret_keeps_the_stored_one() {
    let current = SmsAccount {
        account_sid: format!("AC{}", "a".repeat(32)),
        auth_token: booking_core::tenant::Secret::new("stored-token-123"),
        api_key: None,
        sender: SmsSender::From(PhoneNumber::parse("+15550001111").unwrap()),
        keyword_replies: Default::default(),
    };
    let form: HashMap<String, String> = [
        ("twilio_account_sid", current.account_sid.as_str()),
        ("twilio_auth_token", ""),
        ("twilio_from", "+15550002222"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let input = input_from(&form, Some(&current)).unwrap();
    let t = input.twilio.unwrap().unwrap();
    assert_eq!(t.auth_token, "stored-token-123");
    assert_eq!(t.from.as_deref(), Some("+15550002222"));
    assert!(input.name.is_none(), "only the fields the form carries");
}
