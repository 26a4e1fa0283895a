//! The words the voice model hears: every use-case outcome of booking-core said as the one-line
//! JSON tool result of DESIGN.md §3, `{"ok": …, "message": "<a sentence>", "outcome": …, …}`.
//!
//! booking-core answers in plain data (instants, ids, a refusal enum per use-case); this module
//! is the only place that turns them into the sentences and the RFC 3339 times (with the
//! clinic's offset) the model reads. A refusal is `ok: false` with `outcome: "refused"` and its
//! sentence in both `reason` and `message`.

use booking_core::PhoneNumber;
use booking_core::availability::Unbookable;
use booking_core::booking::HOLD_TTL;
use booking_core::otp::SendLimit;
use booking_core::outbox::MessageStatus;
use booking_core::provider::ProviderName;
use booking_core::service::{
    AgainstTheRules, AppointmentSummary, AvailabilityOutcome, AvailabilityRefusal, CancelOutcome,
    CancelRefusal, CodeNotSent, CodeProblem, CodeTexted, ConfirmationSmsOutcome,
    ConfirmationSmsRefusal, LeadOutcome, LeadRefusal, NotTexted, RescheduleOutcome,
    RescheduleRefusal, ReserveOutcome, ReserveRefusal, SendOtpOutcome, SendOtpRefusal,
    UnknownService, VerifyOutcome, VerifyRefusal,
};
use booking_core::service::{FreeStart, ProviderProblem};
use booking_core::service::{JoinOutcome, JoinWaitlistRefusal};
use booking_core::start::StartProblem;
use booking_core::tenant::ClinicZone;
use jiff::Timestamp;
use serde::Serialize;

use crate::catalogue::ToolName;
use crate::reply::ToolResult;

mod appointments;
mod waitlist;

/// An outcome said to the voice model, for a clinic in `zone`.
pub trait Speak {
    fn speak(&self, zone: &ClinicZone) -> ToolResult;
}

/// A start time offered to the caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlotOffer {
    /// RFC 3339 with the clinic's offset: "2026-11-26T14:00:00-05:00".
    pub start: String,
    /// "Thursday November 26 at 2:00 PM"
    pub spoken: String,
    /// Who is free at that start (a slot from `check_availability`); absent elsewhere.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<String>,
    #[serde(skip)]
    day: String,
    #[serde(skip)]
    time: String,
}

impl SlotOffer {
    pub fn new(zone: &ClinicZone, at: Timestamp) -> Self {
        let z = at.to_zoned_datetime(zone.tz().clone());
        let day = z.strftime("%A %B %-d").to_string();
        let time = z.strftime("%-I:%M %p").to_string();
        Self {
            start: z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            spoken: format!("{day} at {time}"),
            providers: Vec::new(),
            day,
            time,
        }
    }
}

fn offers(zone: &ClinicZone, at: &[Timestamp]) -> Vec<SlotOffer> {
    at.iter().map(|t| SlotOffer::new(zone, *t)).collect()
}

/// Free starts with who is free at each.
fn free_offers(zone: &ClinicZone, free: &[FreeStart]) -> Vec<SlotOffer> {
    free.iter()
        .map(|f| SlotOffer {
            providers: f.providers.iter().map(|p| p.to_string()).collect(),
            ..SlotOffer::new(zone, f.start)
        })
        .collect()
}

fn provider_problem(p: &ProviderProblem) -> String {
    let names = |v: &[ProviderName]| {
        let v: Vec<&str> = v.iter().map(ProviderName::as_str).collect();
        join_or(&v, "and")
    };
    match p {
        ProviderProblem::Unknown { asked, known } => format!(
            "No one called {asked:?} works here; the people who take appointments are {}. Ask who the caller means, or omit provider for anyone free.",
            names(known)
        ),
        ProviderProblem::Several(who) => format!(
            "Several people match that name: {}. Ask which one the caller means and pass their full name as provider.",
            names(who)
        ),
        ProviderProblem::DoesNotPerform {
            provider,
            service,
            who_does,
        } if who_does.is_empty() => format!(
            "{provider} does not do {service}, and no one here does at the moment; offer to take a message with capture_lead."
        ),
        ProviderProblem::DoesNotPerform {
            provider,
            service,
            who_does,
        } => format!(
            "{provider} does not do {service}; {} does. Offer them instead, or omit provider for anyone free.",
            names(who_does)
        ),
    }
}

/// "Thursday November 26 at 9:00 AM or 2:00 PM, and Friday November 27 at 10:00 AM"
fn speak_offers(offers: &[SlotOffer]) -> String {
    let mut days: Vec<(&str, Vec<&str>)> = Vec::new();
    for o in offers {
        match days.last_mut() {
            Some((d, times)) if *d == o.day => times.push(&o.time),
            _ => days.push((&o.day, vec![&o.time])),
        }
    }
    let parts: Vec<String> = days
        .iter()
        .map(|(d, times)| format!("{d} at {}", join_or(times, "or")))
        .collect();
    join_or(&parts, "and")
}

fn join_or<S: AsRef<str>>(items: &[S], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} {word} {}", init.join(", "), last.as_ref())
        }
    }
}

fn tries(n: u32) -> &'static str {
    if n == 1 { "try" } else { "tries" }
}

/// `ok: true`, the sentence, and which outcome it is.
fn done(outcome: &str, message: String) -> ToolResult {
    ToolResult::ok(message).field("outcome", outcome)
}

/// `ok: false`, the sentence, and which outcome it is.
fn not_done(outcome: &str, message: String) -> ToolResult {
    ToolResult::refused(message).field("outcome", outcome)
}

/// A refusal: its sentence as `reason` and `message`, and the close free times when there are.
fn refused(reason: String, alternatives: &[SlotOffer]) -> ToolResult {
    let message = if alternatives.is_empty() {
        reason.clone()
    } else {
        format!("{reason} Close free times: {}.", speak_offers(alternatives))
    };
    let r = not_done("refused", message).field("reason", reason);
    if alternatives.is_empty() {
        r
    } else {
        r.field("alternatives", alternatives)
    }
}

fn unknown_service(u: &UnknownService) -> String {
    if u.offered.is_empty() {
        return "The clinic has no services set up for booking; offer to take a message with capture_lead.".into();
    }
    format!(
        "The clinic does not offer {:?}; its services are {}.",
        u.asked,
        join_or(&u.offered, "and")
    )
}

fn unbookable(u: &Unbookable) -> String {
    let why = match u {
        Unbookable::InPast => "that time has already passed".to_owned(),
        Unbookable::TooSoon { minutes } => {
            if minutes % 60 == 0 {
                format!("appointments need {} hours' notice", minutes / 60)
            } else {
                format!("appointments need {minutes} minutes' notice")
            }
        }
        Unbookable::BeyondHorizon { days } => {
            format!("appointments can be booked at most {days} days ahead")
        }
        Unbookable::Closed => {
            "the clinic is closed then, or the appointment would run past closing".to_owned()
        }
        Unbookable::OffGrid { minutes } => format!("appointments start every {minutes} minutes"),
        Unbookable::RepeatedTime => "the clocks go back that night, so that time comes twice, \
             and only the first one (before the clocks change) can be booked"
            .to_owned(),
    };
    format!("That time cannot be booked: {why}.")
}

fn against_the_rules(zone: &ClinicZone, a: &AgainstTheRules) -> ToolResult {
    refused(unbookable(&a.why), &offers(zone, &a.alternatives))
}

fn no_such_start(p: &StartProblem) -> String {
    match p {
        StartProblem::Skipped(dt) => format!(
            "{} does not exist on that day because the clocks change; pick another time.",
            dt.strftime("%-I:%M %p")
        ),
        StartProblem::OutOfRange => {
            "That start is out of range; pick a time from check_availability.".to_owned()
        }
    }
}

fn send_limit(limit: SendLimit) -> String {
    match limit {
        SendLimit::PerNumber => "Too many codes were sent to that number recently; ask the caller to wait ten minutes, or offer to take a message with capture_lead.",
        SendLimit::PerCall => "No more codes can be sent during this call; offer to take a message with capture_lead so the clinic can confirm the booking.",
        SendLimit::NumbersPerCall => "Codes have been sent to too many different numbers during this call; send it to a number already used, or take a message with capture_lead.",
        SendLimit::PerTenant => "The clinic cannot send more codes right now; offer to take a message with capture_lead so the clinic can call back.",
        SendLimit::PerTenantRepeat => "The clinic is sending many codes right now and this number already had one within the hour; ask the caller to use the code already texted, or offer to take a message with capture_lead so the clinic can call back.",
    }
    .to_owned()
}

fn not_texted(n: &NotTexted) -> String {
    match n {
        NotTexted::ClinicCannotText => "The clinic cannot send text messages right now, so this cannot be confirmed by code; offer to take a message with capture_lead so the clinic calls back.".into(),
        NotTexted::CountryNotAllowed { countries } if countries.is_empty() => "The clinic does not text codes to that number; offer to take a message with capture_lead so the clinic calls back.".into(),
        NotTexted::CountryNotAllowed { countries } => format!(
            "The clinic texts codes only to mobile numbers in {}; ask for a mobile number from there, or offer to take a message with capture_lead.",
            join_or(countries, "or")
        ),
        NotTexted::OptedOut => "That number has opted out of the clinic's texts (it replied STOP); ask for another mobile number, or the caller can text START to opt back in.".into(),
    }
}

fn code_not_sent(c: &CodeNotSent) -> String {
    match c {
        CodeNotSent::NotTexted(n) => not_texted(n),
        CodeNotSent::Limited(l) => send_limit(*l),
    }
}

fn wrong_length(digits: u8) -> String {
    format!("The code has {digits} digits; ask the caller to read it again.")
}

impl Speak for AvailabilityOutcome {
    fn speak(&self, zone: &ClinicZone) -> ToolResult {
        match self {
            Self::Available {
                service,
                slots,
                requested_day_full,
            } => {
                let slots = free_offers(zone, slots);
                let list = speak_offers(&slots);
                let message = if *requested_day_full {
                    format!(
                        "Nothing is free for {service} on that day; the nearest free times are {list}. To hold one, call reserve_slot with its start."
                    )
                } else {
                    format!(
                        "Free times for {service}: {list}. To hold one, call reserve_slot with its start."
                    )
                };
                done("available", message)
                    .field("service", service)
                    .field("slots", slots)
                    .field("requested_day_full", requested_day_full)
            }
            Self::NoneAvailable { service } => not_done(
                "none_available",
                format!(
                    "There are no free times for {service} in the coming days; offer to take a message with capture_lead so the clinic can call back."
                ),
            )
            .field("service", service),
            Self::Refused(why) => refused(
                match why {
                    AvailabilityRefusal::UnknownService(u) => unknown_service(u),
                    AvailabilityRefusal::DayPassed { day, today } => {
                        format!("{day} has already passed; today is {today} at the clinic.")
                    }
                    AvailabilityRefusal::BeyondHorizon { horizon_days, last } => format!(
                        "Appointments can be booked at most {horizon_days} days ahead, up to {last}."
                    ),
                    AvailabilityRefusal::Provider(p) => provider_problem(p),
                },
                &[],
            ),
        }
    }
}

impl Speak for ReserveOutcome {
    fn speak(&self, zone: &ClinicZone) -> ToolResult {
        match self {
            Self::Held {
                hold_id,
                start,
                expires_at,
                service,
                provider,
            } => {
                let offer = SlotOffer::new(zone, *start);
                done(
                    "held",
                    format!(
                        "{} for {service} with {provider} is held for the next {} minutes. Now call send_otp with the hold_id to text the caller a code.",
                        offer.spoken,
                        HOLD_TTL.as_mins()
                    ),
                )
                .field("provider", provider.as_str())
                .field("hold_id", hold_id)
                .field("expires_at", SlotOffer::new(zone, *expires_at).start)
                .field("start", offer.start)
                .field("spoken", offer.spoken)
                .field("service", service)
            }
            Self::Taken { alternatives } => {
                let alternatives = offers(zone, alternatives);
                let message = if alternatives.is_empty() {
                    "That time was just taken and nothing close to it is free; ask check_availability for another day.".into()
                } else {
                    format!(
                        "That time was just taken. Close free times: {}.",
                        speak_offers(&alternatives)
                    )
                };
                not_done("taken", message).field("alternatives", alternatives)
            }
            Self::Refused(why) => match why {
                ReserveRefusal::UnknownService(u) => refused(unknown_service(u), &[]),
                ReserveRefusal::NoCallerName => refused(
                    "I need the caller's name to hold a time; ask for it and call reserve_slot again.".into(),
                    &[],
                ),
                ReserveRefusal::HiddenNumber => refused(
                    "The caller's number is hidden; ask for a mobile number in international format (+1…) and pass it as phone.".into(),
                    &[],
                ),
                ReserveRefusal::NoSuchStart(p) => refused(no_such_start(p), &[]),
                ReserveRefusal::AgainstTheRules(a) => against_the_rules(zone, a),
                ReserveRefusal::Provider(p) => refused(provider_problem(p), &[]),
            },
        }
    }
}

/// "Thursday November 26"
impl Speak for SendOtpOutcome {
    fn speak(&self, zone: &ClinicZone) -> ToolResult {
        match self {
            Self::Sent {
                hold_id,
                sent_to,
                expires_at,
            } => done(
                "sent",
                format!(
                    "I texted a code to the number ending in {}. Ask the caller to read it out, then call verify_otp with it.",
                    sent_to.last_four()
                ),
            )
            .field("hold_id", hold_id)
            .field("sent_to", sent_to.masked())
            .field("expires_at", SlotOffer::new(zone, *expires_at).start),
            Self::AlreadyConfirmed { appointment_id } => done(
                "already_confirmed",
                "This appointment is already confirmed; no code is needed.".into(),
            )
            .field("appointment_id", appointment_id),
            Self::Limited { limit } => not_done("limited", send_limit(*limit)).field("limit", limit),
            Self::Refused(why) => refused(
                match why {
                    SendOtpRefusal::UnknownHold => "I could not find that hold; use the hold_id that reserve_slot returned, or reserve the time again.".into(),
                    SendOtpRefusal::HoldExpired => "That hold has run out; call reserve_slot again for the time the caller wants.".into(),
                    SendOtpRefusal::NotTexted(n) => not_texted(n),
                },
                &[],
            ),
        }
    }
}

impl Speak for VerifyOutcome {
    fn speak(&self, zone: &ClinicZone) -> ToolResult {
        match self {
            Self::Confirmed {
                appointment_id,
                status,
                start,
                service,
            } => {
                let offer = SlotOffer::new(zone, *start);
                done(
                    "confirmed",
                    format!(
                        "The appointment for {service} on {} is confirmed; a confirmation text is on its way.",
                        offer.spoken
                    ),
                )
                .field("appointment_id", appointment_id)
                .field("status", status)
                .field("start", offer.start)
                .field("spoken", offer.spoken)
                .field("service", service)
            }
            Self::WrongCode { attempts_left: 0 } => not_done(
                "wrong_code",
                "That code is wrong and it was the last try; call send_otp to text a new code."
                    .into(),
            )
            .field("attempts_left", 0),
            Self::WrongCode { attempts_left } => not_done(
                "wrong_code",
                format!(
                    "That code is wrong; ask the caller to read it again ({attempts_left} {} left).",
                    tries(*attempts_left)
                ),
            )
            .field("attempts_left", attempts_left),
            Self::TooManyAttempts => not_done(
                "too_many_attempts",
                "That code had too many wrong tries; call send_otp to text a new code.".into(),
            ),
            Self::CodeExpired => not_done(
                "code_expired",
                "That code has expired; call send_otp to text a new one.".into(),
            ),
            Self::NoCode => not_done(
                "no_code",
                "No code is waiting for this hold; call send_otp to text one.".into(),
            ),
            Self::Refused(why) => refused(
                match why {
                    VerifyRefusal::UnknownHold => {
                        "I could not find that hold; use the hold_id that reserve_slot returned."
                            .into()
                    }
                    VerifyRefusal::HoldExpired => "That hold has run out and the time is no longer kept; call reserve_slot again.".into(),
                    VerifyRefusal::WrongLength { digits } => wrong_length(*digits),
                },
                &[],
            ),
        }
    }
}

impl Speak for ConfirmationSmsOutcome {
    fn speak(&self, _zone: &ClinicZone) -> ToolResult {
        match self {
            Self::Status {
                appointment_id,
                sms_status,
            } => {
                let message = match sms_status {
                    MessageStatus::Pending | MessageStatus::Sending | MessageStatus::Ambiguous => {
                        "The confirmation text is on its way; there is no need to send it again."
                    }
                    MessageStatus::Queued | MessageStatus::Sent => {
                        "The confirmation text has been sent."
                    }
                    MessageStatus::Delivered => "The confirmation text was delivered.",
                    MessageStatus::Suppressed => {
                        "This number has opted out of texts, so no confirmation text was sent; the appointment still stands."
                    }
                    MessageStatus::Undelivered
                    | MessageStatus::Failed
                    | MessageStatus::Withdrawn => {
                        "The confirmation text could not be delivered, but the appointment still stands; the clinic will follow up."
                    }
                };
                done("status", message.into())
                    .field("appointment_id", appointment_id)
                    .field("sms_status", sms_status)
            }
            Self::Refused(why) => refused(
                match why {
                    ConfirmationSmsRefusal::UnknownAppointment => "I could not find that appointment; use the appointment_id that verify_otp returned.",
                    ConfirmationSmsRefusal::OnlyHeld => "That time is only held, not booked yet; confirm it with send_otp and verify_otp first.",
                    ConfirmationSmsRefusal::NotBooked => "That appointment is not booked (it was cancelled, or the hold ran out).",
                    ConfirmationSmsRefusal::NoTextOnRecord => "No confirmation text is on record for that appointment; the appointment still stands and the clinic will follow up.",
                }
                .into(),
                &[],
            ),
        }
    }
}

impl Speak for LeadOutcome {
    fn speak(&self, _zone: &ClinicZone) -> ToolResult {
        match self {
            Self::Captured {
                wants_callback: true,
            } => done(
                "captured",
                "Noted; the clinic will call the caller back.".into(),
            ),
            Self::Captured {
                wants_callback: false,
            } => done("captured", "Noted; the clinic will see this.".into()),
            Self::Refused(LeadRefusal::NoCall) => {
                refused("There is no call to attach this to.".into(), &[])
            }
        }
    }
}

#[derive(Serialize)]
struct SpokenAppointment {
    appointment_id: booking_core::BookingId,
    service: String,
    start: String,
    spoken: String,
}

#[cfg(test)]
mod tests {
    use booking_core::BookingId;
    use booking_core::availability::Unbookable;
    use booking_core::booking::BookingStatus;
    use serde_json::{Value, json};

    use super::*;

    fn ny() -> ClinicZone {
        ClinicZone::parse("America/New_York").unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// The one line Vapi gets, read back; `message` is one line and `ok` matches.
    fn free(at: &str, who: &[&str]) -> FreeStart {
        FreeStart {
            start: ts(at),
            providers: who
                .iter()
                .map(|n| ProviderName::parse(n).unwrap())
                .collect(),
        }
    }

    fn said(outcome: &dyn Speak) -> Value {
        let line = outcome.speak(&ny()).to_line();
        assert!(!line.as_str().contains('\n'), "{line}");
        serde_json::from_str(line.as_str()).unwrap()
    }

    #[test]
    fn offered_times_are_read_on_the_clinics_clock() {
        let out = AvailabilityOutcome::Available {
            service: "Checkup".into(),
            slots: vec![
                free("2030-03-04T16:00:00Z", &["Dr. Lee", "Maria"]),
                free("2030-03-04T19:00:00Z", &["Maria"]),
                free("2030-03-05T15:00:00Z", &["Dr. Lee"]),
            ],
            requested_day_full: false,
        };
        let v = said(&out);
        assert_eq!(v["ok"], json!(true));
        assert_eq!(v["outcome"], json!("available"));
        assert_eq!(v["slots"][0]["start"], json!("2030-03-04T11:00:00-05:00"));
        assert_eq!(v["slots"][0]["providers"], json!(["Dr. Lee", "Maria"]));
        assert_eq!(v["slots"][1]["providers"], json!(["Maria"]));
        assert_eq!(v["slots"][0]["spoken"], json!("Monday March 4 at 11:00 AM"));
        assert_eq!(
            v["message"],
            json!(
                "Free times for Checkup: Monday March 4 at 11:00 AM or 2:00 PM and Tuesday March 5 at 10:00 AM. To hold one, call reserve_slot with its start."
            )
        );
        let full = AvailabilityOutcome::Available {
            service: "Checkup".into(),
            slots: vec![free("2030-03-11T14:00:00Z", &["Dr. Lee"])],
            requested_day_full: true,
        };
        assert!(
            said(&full)["message"]
                .as_str()
                .unwrap()
                .starts_with("Nothing is free")
        );
        let none = said(&AvailabilityOutcome::NoneAvailable {
            service: "Checkup".into(),
        });
        assert_eq!(none["ok"], json!(false));
        assert!(none["message"].as_str().unwrap().contains("capture_lead"));
    }

    #[test]
    fn a_refusal_says_its_reason_as_the_message() {
        let unknown = said(&AvailabilityOutcome::Refused(
            AvailabilityRefusal::UnknownService(UnknownService {
                asked: "Haircut".into(),
                offered: vec!["Checkup".into(), "Teeth Whitening".into()],
            }),
        ));
        assert_eq!(unknown["ok"], json!(false));
        assert_eq!(unknown["outcome"], json!("refused"));
        assert_eq!(
            unknown["reason"],
            json!(
                "The clinic does not offer \"Haircut\"; its services are Checkup and Teeth Whitening."
            )
        );
        assert_eq!(unknown["reason"], unknown["message"]);
        assert!(unknown.get("alternatives").is_none());

        let closed = said(&ReserveOutcome::Refused(ReserveRefusal::AgainstTheRules(
            AgainstTheRules {
                why: Unbookable::TooSoon { minutes: 120 },
                alternatives: vec![ts("2030-03-04T16:00:00Z")],
            },
        )));
        assert_eq!(
            closed["reason"],
            json!("That time cannot be booked: appointments need 2 hours' notice.")
        );
        assert_eq!(
            closed["message"],
            json!(
                "That time cannot be booked: appointments need 2 hours' notice. Close free times: Monday March 4 at 11:00 AM."
            )
        );
        assert_eq!(
            closed["alternatives"][0]["start"],
            json!("2030-03-04T11:00:00-05:00")
        );
        let skipped = said(&ReserveOutcome::Refused(ReserveRefusal::NoSuchStart(
            StartProblem::Skipped("2030-03-10T02:30".parse().unwrap()),
        )));
        assert_eq!(
            skipped["message"],
            json!(
                "2:30 AM does not exist on that day because the clocks change; pick another time."
            )
        );
    }

    #[test]
    fn a_hold_and_a_code_are_said_with_their_ids_and_times() {
        let id = BookingId::from_random_bytes([7; 16]);
        let held = said(&ReserveOutcome::Held {
            hold_id: id,
            start: ts("2030-03-05T15:00:00Z"),
            expires_at: ts("2030-03-04T14:10:00Z"),
            service: "Teeth Whitening".into(),
            provider: ProviderName::parse("Dr. Lee").unwrap(),
        });
        assert_eq!(held["outcome"], json!("held"));
        assert_eq!(held["provider"], json!("Dr. Lee"));
        assert!(held["message"].as_str().unwrap().contains("with Dr. Lee"));
        assert_eq!(held["hold_id"], json!(id.to_string()));
        assert_eq!(held["expires_at"], json!("2030-03-04T09:10:00-05:00"));
        assert_eq!(held["spoken"], json!("Tuesday March 5 at 10:00 AM"));
        assert!(held["message"].as_str().unwrap().contains("10 minutes"));

        let phone = PhoneNumber::parse("+19254207621").unwrap();
        let sent = said(&SendOtpOutcome::Sent {
            hold_id: id,
            sent_to: phone.clone(),
            expires_at: ts("2030-03-04T14:10:00Z"),
        });
        assert_eq!(sent["sent_to"], json!(phone.masked()));
        assert!(sent["message"].as_str().unwrap().contains("ending in 7621"));
        assert!(!sent.to_string().contains("9254207621"), "{sent}");

        let wrong = said(&VerifyOutcome::WrongCode { attempts_left: 1 });
        assert_eq!(wrong["attempts_left"], json!(1));
        assert!(wrong["message"].as_str().unwrap().contains("(1 try left)"));
        let length = said(&VerifyOutcome::Refused(VerifyRefusal::WrongLength {
            digits: 6,
        }));
        assert_eq!(
            length["message"],
            json!("The code has 6 digits; ask the caller to read it again.")
        );
        let confirmed = said(&VerifyOutcome::Confirmed {
            appointment_id: id,
            status: BookingStatus::Confirmed,
            start: ts("2030-03-05T15:00:00Z"),
            service: "Checkup".into(),
        });
        assert_eq!(confirmed["status"], json!("confirmed"));
        assert_eq!(confirmed["ok"], json!(true));
    }

    #[test]
    fn a_phone_change_names_its_own_tool() {
        let id = BookingId::from_random_bytes([7; 16]);
        let texted = CodeTexted {
            appointment_id: id,
            sent_to: PhoneNumber::parse("+19254207621").unwrap(),
        };
        let cancel = said(&CancelOutcome::NeedsCode(texted.clone()));
        assert_eq!(cancel["outcome"], json!("needs_code"));
        assert_eq!(cancel["needs_code"], json!(true));
        assert!(
            cancel["message"]
                .as_str()
                .unwrap()
                .contains("call cancel_appointment again")
        );
        let moved = said(&RescheduleOutcome::CodeRefused(CodeProblem::Wrong {
            attempts_left: 2,
        }));
        assert_eq!(moved["attempts_left"], json!(2));
        assert!(
            moved["message"]
                .as_str()
                .unwrap()
                .contains("then call reschedule_appointment again with it")
        );
        let gone = said(&CancelOutcome::CodeRefused(CodeProblem::Gone));
        assert!(gone.get("attempts_left").is_none());
        let limited = said(&RescheduleOutcome::Refused(RescheduleRefusal::CodeNotSent(
            CodeNotSent::Limited(SendLimit::PerNumber),
        )));
        assert!(
            limited["message"]
                .as_str()
                .unwrap()
                .starts_with("Too many codes")
        );
    }

    #[test]
    fn the_waitlist_is_said_with_its_days_and_every_refusal_is_a_sentence() {
        let day = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
        let joined = said(&JoinOutcome::Joined {
            entry: booking_core::WaitlistEntryId::from_uuid(uuid::Uuid::from_u128(7)),
            service: "Teeth Whitening".into(),
            from: day("2026-11-26"),
            to: day("2026-11-27"),
            provider: Some(ProviderName::parse("Dr. Lee").unwrap()),
            part_of_day: Some(booking_core::waitlist::PartOfDay::Morning),
        });
        assert_eq!(joined["ok"], json!(true));
        assert_eq!(joined["from_date"], json!("2026-11-26"));
        assert_eq!(joined["provider"], json!("Dr. Lee"));
        let m = joined["message"].as_str().unwrap();
        assert!(
            m.contains("Thursday November 26")
                && m.contains("with Dr. Lee")
                && m.contains("morning"),
            "{m}"
        );
        for why in [
            JoinWaitlistRefusal::NoCallerName,
            JoinWaitlistRefusal::HiddenNumber,
            JoinWaitlistRefusal::DaysOutOfOrder,
            JoinWaitlistRefusal::DaysPast {
                today: day("2026-11-26"),
            },
            JoinWaitlistRefusal::BeyondHorizon {
                last: day("2027-01-25"),
            },
            JoinWaitlistRefusal::AlreadyWaiting,
            JoinWaitlistRefusal::TooManyEntries { max: 3 },
        ] {
            let r = said(&JoinOutcome::Refused(why.clone()));
            assert_eq!(r["ok"], json!(false), "{why:?}");
            assert!(r["message"].as_str().unwrap().len() > 20, "{why:?}: {r}");
        }
    }
}
