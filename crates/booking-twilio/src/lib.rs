//! Twilio for the booking backend: the [`SmsGateway`](booking_core::ports::SmsGateway) adapter
//! that sends each clinic's texts through its own Twilio account, and the pieces the api's Twilio
//! webhooks need (signature validation, form parsing). See DESIGN.md §4 for Twilio's contract.
//!
//! - [`TwilioClient`]: `POST Messages.json` with the tenant's credentials; every outcome is one of
//!   [`SendOutcome`](booking_core::ports::SendOutcome)'s classes (accepted, safe to retry,
//!   ambiguous, permanent). There is no idempotency key at Twilio, so an ambiguous send is
//!   reconciled with [`TwilioClient::find_sent_sms`] before anything is resent.
//! - [`signature`]: `X-Twilio-Signature` validation, form and JSON (`bodySHA256`) variants.
//! - [`webhook::MessageWebhook`]: the fields of status callbacks and inbound messages.
//!
//! Logs carry masked phone numbers only, never a body, a token or a key secret.

pub mod classify;
mod client;
pub mod signature;
pub mod webhook;

pub use client::{
    ConfigError, DEFAULT_API_BASE, MAX_BODY_CHARS, STATUS_CALLBACK_PATH, TwilioClient, TwilioConfig,
};
pub use signature::{
    SIGNATURE_HEADER, SignatureError, compute_signature, validate_form_signature,
    validate_json_signature, validate_request,
};
pub use webhook::{MessageWebhook, WebhookError};
