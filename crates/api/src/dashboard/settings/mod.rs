//! Settings: the clinic, its numbers, hours, services, booking rules, prompt and Twilio account,
//! each a form that posts the fields it shows. Every form is checked by the same rules as the
//! operator API (`tenant_dto`); the Twilio secrets are write-only (an empty field keeps the stored
//! one). A save goes through the store every part of the api uses, which drops what it kept of the
//! clinic (`crate::cached_tenants`), so the next tool call of a call in progress already sees it.

mod fields;
mod pages;
mod provider_forms;
mod sections;
mod test_sms;
#[cfg(test)]
mod tests;

pub(super) use sections::{
    hours_fields, numbers_form, services_fields, test_sms_form, twilio_form,
};

pub(crate) use pages::refused;
pub use pages::{page, save};
pub(crate) use provider_forms::Draft;
pub use test_sms::test_sms;
