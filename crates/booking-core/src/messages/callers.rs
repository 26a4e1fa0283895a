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

/// `provider`: who the appointment is with, named when the clinic has several providers.
pub fn confirmation_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    provider: Option<&ProviderName>,
    start: Timestamp,
) -> String {
    let when = local_time(zone, start);
    fit(appointment_fields(clinic, service, provider), |f| {
        format!(
            "{}: your {} appointment{} is confirmed for {when}. To change or cancel it, call us. {OPT_OUT_LINE}",
            f[0],
            f[1],
            with(f)
        )
    })
}

/// `provider`: as for [`confirmation_text`].
pub fn reminder_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    provider: Option<&ProviderName>,
    start: Timestamp,
) -> String {
    let when = local_time(zone, start);
    fit(appointment_fields(clinic, service, provider), |f| {
        format!(
            "Reminder from {}: your {} appointment{} is on {when}. To change or cancel it, call us. {OPT_OUT_LINE}",
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
) -> String {
    let (old, new) = (local_time(zone, old_start), local_time(zone, new_start));
    fit(appointment_fields(clinic, service, provider), |f| {
        format!(
            "{}: your {} appointment{} has moved to {new} (it was {old}). To change or cancel it, call us. \
             {OPT_OUT_LINE}",
            f[0],
            f[1],
            with(f)
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
