//! Texts to callers about their code and their appointments.

use jiff::Timestamp;

use super::length::{Field, clinic_field, fit, plain, provider_field, service_field};
use super::time::local_time;
use crate::provider::ProviderName;
use crate::tenant::{ClinicName, ClinicZone, ServiceName};

/// The clinic, the service and, when there is one to name, the provider: the fields an
/// appointment text shortens to fit.
fn appointment_fields(
    clinic: &ClinicName,
    service: &ServiceName,
    provider: Option<&ProviderName>,
) -> Vec<Field> {
    let mut fields = vec![clinic_field(clinic), service_field(service)];
    fields.extend(provider_field(provider));
    fields
}

/// " with Dr. Lee", or nothing when no provider is named.
fn with(f: &[String]) -> String {
    f.get(2).map(|p| format!(" with {p}")).unwrap_or_default()
}

/// How to change or cancel the appointment: its link when it has one, else a call.
fn change_line(link: Option<&str>) -> String {
    match link {
        Some(url) => format!("To change or cancel it: {url}"),
        None => "To change or cancel it, call us.".to_owned(),
    }
}

/// How long a code stays valid, as the OTP text says (the default of `OtpPolicy::validity`).
pub const OTP_VALIDITY_MINUTES: u32 = 10;

/// The opt-out sentence A2P 10DLC wants in texts to callers.
pub const OPT_OUT_LINE: &str = "Reply STOP to opt out.";

/// The code, how long it is valid, and not to share it. The code is never shortened.
pub fn otp_text(clinic: &ClinicName, code: &str) -> String {
    let code = plain(code);
    fit(vec![clinic_field(clinic)], |f| {
        format!(
            "{}: your code is {code}. It is valid for {OTP_VALIDITY_MINUTES} minutes. Don't share it with anyone. \
             {OPT_OUT_LINE}",
            f[0]
        )
    })
}

/// `provider`: who the appointment is with, named when the clinic has several providers;
/// `link`: the patient's link to the appointment ([`crate::patient_link`]), never shortened.
pub fn confirmation_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    provider: Option<&ProviderName>,
    start: Timestamp,
    link: Option<&str>,
) -> String {
    let when = local_time(zone, start);
    let change = change_line(link);
    fit(appointment_fields(clinic, service, provider), |f| {
        format!(
            "{}: your {} appointment{} is confirmed for {when}. {change} {OPT_OUT_LINE}",
            f[0],
            f[1],
            with(f)
        )
    })
}

/// `provider`, `link`: as for [`confirmation_text`]. A reply of "C" to it asks to cancel
/// (`service::inbound`).
pub fn reminder_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    provider: Option<&ProviderName>,
    start: Timestamp,
    link: Option<&str>,
) -> String {
    let when = local_time(zone, start);
    let change = change_line(link);
    fit(appointment_fields(clinic, service, provider), |f| {
        format!(
            "Reminder from {}: your {} appointment{} is on {when}. {change} {OPT_OUT_LINE}",
            f[0],
            f[1],
            with(f)
        )
    })
}

pub fn cancellation_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    start: Timestamp,
) -> String {
    let when = local_time(zone, start);
    fit(vec![clinic_field(clinic), service_field(service)], |f| {
        format!(
            "{}: your {} appointment on {when} is cancelled. Call us to book a new time. {OPT_OUT_LINE}",
            f[0], f[1]
        )
    })
}

/// Sent instead of a confirmation when an appointment moved.
pub fn rescheduled_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    provider: Option<&ProviderName>,
    old_start: Timestamp,
    new_start: Timestamp,
    link: Option<&str>,
) -> String {
    let (old, new) = (local_time(zone, old_start), local_time(zone, new_start));
    let change = change_line(link);
    fit(appointment_fields(clinic, service, provider), |f| {
        format!(
            "{}: your {} appointment{} has moved to {new} (it was {old}). {change} {OPT_OUT_LINE}",
            f[0],
            f[1],
            with(f)
        )
    })
}

/// The word that confirms a cancellation asked for by replying to a reminder. Not one of
/// Twilio's keywords (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT, START, YES,
/// UNSTOP, HELP, INFO), so that Twilio neither answers nor blocks it.
pub const CANCEL_CONFIRM_WORD: &str = "RELEASE";

/// How long the confirmation word is awaited, as the text says.
pub const CANCEL_CONFIRM_MINUTES: u32 = 30;

/// The answer to "C" in reply to a reminder: the one word that cancels.
pub fn cancel_confirm_ask_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    start: Timestamp,
) -> String {
    let when = local_time(zone, start);
    fit(vec![clinic_field(clinic), service_field(service)], |f| {
        format!(
            "{}: to cancel your {} appointment on {when}, reply {CANCEL_CONFIRM_WORD} within \
             {CANCEL_CONFIRM_MINUTES} minutes. Anything else keeps it. {OPT_OUT_LINE}",
            f[0], f[1]
        )
    })
}

/// A freed time offered to someone on the waitlist, with the link that claims it and how long
/// the offer lasts. The link is never shortened.
pub fn waitlist_offer_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    start: Timestamp,
    link: &str,
    minutes: i64,
) -> String {
    let when = local_time(zone, start);
    let link = plain(link);
    fit(vec![clinic_field(clinic), service_field(service)], |f| {
        format!(
            "{}: a {} time opened up, {when}. Claim it within {minutes} min: {link} {OPT_OUT_LINE}",
            f[0], f[1]
        )
    })
}
