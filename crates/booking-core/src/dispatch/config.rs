//! How the dispatcher paces itself: leases, retries, backoff, rate limit.

use jiff::SignedDuration;

/// The gateway's code for refused credentials (Twilio's 20003, "authentication failed"): the
/// tenant's credentials are wrong.
pub const CREDENTIALS_REFUSED: u32 = 20003;

#[derive(Clone, Debug, PartialEq)]
pub struct DispatchConfig {
    /// This worker's name in claims (unique per process: host and pid, say).
    pub worker: String,
    /// Messages claimed per step.
    pub batch: u32,
    /// Recipients served at once within a step: each recipient's messages go out one after
    /// another, in the order they were queued; different recipients' in parallel.
    pub concurrency: u32,
    /// How long a claim is exclusive; after it a claim counts as lost and is reconciled.
    pub lease: SignedDuration,
    /// Gateway attempts (sends and ambiguous outcomes) before a message is failed.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt up to `backoff_cap`, with jitter (half to all of it).
    pub backoff_base: SignedDuration,
    pub backoff_cap: SignedDuration,
    /// The soonest an ambiguous send is reconciled (later as the backoff grows).
    pub ambiguous_recheck: SignedDuration,
    /// Messages per second per sender (number or messaging service); 0 or less: no limit.
    pub per_sender_per_second: f64,
    /// Messages a sender may send at once after being idle.
    pub per_sender_burst: u32,
    /// How long a message waits when the tenant has no SMS account.
    pub no_account_retry: SignedDuration,
    /// A message still without an account to send it this long after its first claim is failed.
    pub give_up_after: SignedDuration,
    /// An OTP text this long after it was queued is failed instead of sent (the code is no longer
    /// valid).
    pub otp_stale_after: SignedDuration,
    /// When a message deferred because its tenant's credentials were refused is due again (it is
    /// only claimed once the credentials change).
    pub paused_recheck: SignedDuration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            worker: "worker".into(),
            batch: 64,
            concurrency: 16,
            lease: SignedDuration::from_secs(60),
            max_attempts: 6,
            backoff_base: SignedDuration::from_secs(30),
            backoff_cap: SignedDuration::from_mins(30),
            ambiguous_recheck: SignedDuration::from_secs(60),
            per_sender_per_second: 1.0,
            per_sender_burst: 3,
            no_account_retry: SignedDuration::from_mins(15),
            give_up_after: SignedDuration::from_hours(24),
            otp_stale_after: SignedDuration::from_mins(10),
            paused_recheck: SignedDuration::from_secs(60),
        }
    }
}
