//! Fixtures shared by this crate's integration tests.
#![allow(dead_code)]

use booking_core::booking::{HOLD_TTL, Interval, NewHold};
use booking_core::otp::{CodeHash, NewChallenge};
use booking_core::outbox::{DedupeKey, MessageKind, NewMessage};
use booking_core::ports::Store;
use booking_core::tenant::{
    BookingRules, CalledNumber, ClinicName, ClinicZone, DateOverride, DayHours, HotLeadThreshold,
    OpenRange, Secret, Service, ServiceName, SmsAccount, SmsSender, SystemPrompt, Tenant,
    TenantConfig, WeeklyHours,
};
use booking_core::{BookingId, CallId, ChallengeId, MessageId, PhoneNumber, TenantId, VoiceLineId};
use jiff::civil::Weekday;
use jiff::{SignedDuration, Timestamp};

pub fn uuid() -> uuid::Uuid {
    uuid::Uuid::new_v4()
}

/// Monday 2030-03-04 14:00 UTC.
pub fn base() -> Timestamp {
    "2030-03-04T14:00:00Z".parse().unwrap()
}

pub fn at(minutes_after_base: i64) -> Timestamp {
    base() + SignedDuration::from_mins(minutes_after_base)
}

/// `[base + from, base + from + minutes)`, a day after [`base`].
pub fn span(from: i64, minutes: i64) -> Interval {
    let start = base() + SignedDuration::from_hours(24) + SignedDuration::from_mins(from);
    Interval::new(start, start + SignedDuration::from_mins(minutes)).unwrap()
}

pub fn phone() -> PhoneNumber {
    let n = u64::from_le_bytes(uuid().as_bytes()[..8].try_into().unwrap()) % 10_000_000;
    PhoneNumber::parse(&format!("+1555{n:07}")).unwrap()
}

pub fn call_id() -> CallId {
    CallId::parse(&format!("call-{}", uuid())).unwrap()
}

pub fn config(name: &str) -> TenantConfig {
    let mut week = WeeklyHours::default();
    week.set(
        Weekday::Monday,
        DayHours::new(vec![OpenRange::parse("09:00", "17:00").unwrap()]).unwrap(),
    );
    week.set(
        Weekday::Tuesday,
        DayHours::new(vec![
            OpenRange::parse("09:00", "12:00").unwrap(),
            OpenRange::parse("13:00", "17:30").unwrap(),
        ])
        .unwrap(),
    );
    week.set(
        Weekday::Saturday,
        DayHours::new(vec![OpenRange::parse("20:00", "24:00").unwrap()]).unwrap(),
    );
    TenantConfig {
        name: ClinicName::parse(name).unwrap(),
        zone: ClinicZone::parse("America/New_York").unwrap(),
        called_numbers: vec![
            CalledNumber {
                number: phone(),
                vapi_phone_number_id: Some(VoiceLineId::parse(&uuid().to_string()).unwrap()),
            },
            CalledNumber {
                number: phone(),
                vapi_phone_number_id: None,
            },
        ],
        vapi_assistant_ids: vec![
            booking_core::AssistantId::parse(&uuid().to_string()).unwrap(),
            booking_core::AssistantId::parse(&uuid().to_string()).unwrap(),
        ],
        alert_numbers: vec![phone(), phone()],
        hot_lead_threshold: HotLeadThreshold::new(65).unwrap(),
        services: vec![
            Service::new(ServiceName::parse("Checkup").unwrap(), 30, Some(10_000)).unwrap(),
            Service::new(ServiceName::parse("Teeth Whitening").unwrap(), 60, None).unwrap(),
        ],
        weekly_hours: week,
        date_overrides: vec![
            DateOverride {
                date: jiff::civil::date(2030, 12, 25),
                hours: DayHours::closed(),
                note: Some("Christmas".into()),
            },
            DateOverride {
                date: jiff::civil::date(2030, 12, 24),
                hours: DayHours::new(vec![OpenRange::parse("09:00", "12:00").unwrap()]).unwrap(),
                note: None,
            },
        ],
        rules: BookingRules::new(10, 5, 120, 15, 90).unwrap(),
        system_prompt: SystemPrompt::parse(
            "You are Voxanne, the friendly receptionist.\nBe brief.",
        )
        .unwrap(),
        otp_allowed_countries: Vec::new(),
        providers: Vec::new(),
    }
}

pub fn sms_account(token: &str) -> SmsAccount {
    SmsAccount {
        account_sid: format!("AC{}", uuid().simple()),
        auth_token: Secret::new(token),
        api_key: Some((
            format!("SK{}", uuid().simple()),
            Secret::new(format!("{token}-api-secret")),
        )),
        sender: SmsSender::From(phone()),
        keyword_replies: Default::default(),
    }
}

pub async fn tenant<S: Store + ?Sized>(store: &S, name: &str) -> Tenant {
    store
        .create_tenant(
            TenantId::from_uuid(uuid()),
            &config(name),
            Some(&sms_account("token")),
        )
        .await
        .expect("create_tenant")
}

/// A hold whose slot is `slot` and whose blocked time is `blocked`, made at `now`.
pub fn hold_with(
    tenant: &Tenant,
    slot: Interval,
    blocked: Interval,
    call: Option<&CallId>,
    now: Timestamp,
) -> NewHold {
    NewHold {
        id: BookingId::from_uuid(uuid()),
        tenant: tenant.id,
        calendar: tenant.calendar(),
        limits: Vec::new(),
        service: tenant.config.services[1].name.clone(),
        slot,
        blocked,
        caller_name: "Ada Lovelace".into(),
        caller_phone: phone(),
        call_id: call.cloned(),
        created_at: now,
        hold_expires_at: now + HOLD_TTL,
    }
}

pub fn hold(tenant: &Tenant, slot: Interval, now: Timestamp) -> NewHold {
    hold_with(tenant, slot, slot, None, now)
}

pub fn message(tenant: TenantId, kind: MessageKind, key: DedupeKey, due: Timestamp) -> NewMessage {
    NewMessage {
        id: MessageId::from_uuid(uuid()),
        tenant,
        kind,
        dedupe_key: key,
        to: phone(),
        body: format!("{} text", kind.as_str()),
        due_at: due,
        booking: None,
        call_id: None,
        created_at: due,
    }
}

pub fn test_message(tenant: TenantId, due: Timestamp) -> NewMessage {
    message(
        tenant,
        MessageKind::Test,
        DedupeKey::test(MessageId::from_uuid(uuid())),
        due,
    )
}

/// The confirmation and reminder a confirmed booking queues.
pub fn booking_texts(tenant: TenantId, booking: BookingId, now: Timestamp) -> Vec<NewMessage> {
    let mut c = message(
        tenant,
        MessageKind::Confirmation,
        DedupeKey::confirmation(booking),
        now,
    );
    c.booking = Some(booking);
    let mut r = message(
        tenant,
        MessageKind::Reminder,
        DedupeKey::reminder(booking),
        now + SignedDuration::from_hours(20),
    );
    r.booking = Some(booking);
    vec![c, r]
}

/// A challenge for a booking and its text.
pub fn challenge(
    tenant: TenantId,
    booking: BookingId,
    to: &PhoneNumber,
    now: Timestamp,
) -> (NewChallenge, NewMessage) {
    let id = ChallengeId::from_uuid(uuid());
    let c = NewChallenge {
        id,
        tenant,
        booking,
        call_id: None,
        phone: to.clone(),
        code_hash: CodeHash([9; 32]),
        created_at: now,
        expires_at: now + SignedDuration::from_mins(10),
    };
    let mut m = message(tenant, MessageKind::Otp, DedupeKey::otp(id), now);
    m.booking = Some(booking);
    (c, m)
}
