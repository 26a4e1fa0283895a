//! The outbox dispatcher: one [`Dispatcher::step`] claims the due messages and delivers each through
//! the owning tenant's SMS account. The api runs it in a loop (sleeping when a step found nothing);
//! several instances may run at once, since the store hands each row to one claimer.
//!
//! A message is never sent twice on purpose: a claim that ended without a recorded outcome (the
//! worker died mid-send, or the gateway's answer was ambiguous) is reconciled with
//! [`crate::ports::SmsGateway::find_sent`] before any new send.
//!
//! What happens to each claimed message, in order:
//! 1. an OTP text older than [`DispatchConfig::otp_stale_after`] is failed (the code is dead);
//! 2. no SMS account: deferred by [`DispatchConfig::no_account_retry`], and failed once delivery
//!    has been tried for [`DispatchConfig::give_up_after`]; the row says why either way;
//! 3. a recipient who opted out, for kinds that honour it: suppressed;
//! 4. reconcile when needed: a message found at the gateway is adopted, not resent;
//! 5. the per-sender rate limit: deferred until a token is free;
//! 6. send, and classify: accepted; retry-safe → backoff with jitter, failed after
//!    [`DispatchConfig::max_attempts`]; ambiguous → reconcile after the same backoff (never
//!    sooner than [`DispatchConfig::ambiguous_recheck`]); 20003 → the tenant's SMS is
//!    marked as needing attention (the store stops handing out its messages) and the message is
//!    deferred; other permanent errors → failed with Twilio's code and message.

mod config;
mod decide;
mod dispatcher;
mod limiter;
mod report;
#[cfg(all(test, feature = "testing"))]
mod tests;

pub use config::{CREDENTIALS_REFUSED, DispatchConfig};
pub use dispatcher::Dispatcher;
pub use report::DispatchReport;
