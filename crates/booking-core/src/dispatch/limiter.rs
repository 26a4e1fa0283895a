//! The per-sender rate limit: a token bucket per sending number or Messaging Service.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};

use crate::tenant::{SmsAccount, SmsSender};

/// A token bucket per sender, driven by the clock it is given.
#[derive(Debug)]
pub(super) struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: HashMap<String, (f64, Timestamp)>,
}

impl RateLimiter {
    pub(super) fn new(rate: f64, burst: u32) -> Self {
        Self {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for `key`, or says how long until one is free.
    pub(super) fn try_take(&mut self, key: &str, now: Timestamp) -> Result<(), SignedDuration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let (tokens, at) = self
            .buckets
            .entry(key.to_owned())
            .or_insert((self.burst, now));
        let elapsed = (now - *at).as_secs_f64().max(0.0);
        *tokens = (*tokens + elapsed * self.rate).min(self.burst);
        *at = now.max(*at);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / self.rate;
            Err(SignedDuration::from_secs_f64(wait.max(0.001)))
        }
    }
}

pub(super) fn sender_key(account: &SmsAccount) -> String {
    match &account.sender {
        SmsSender::From(n) => n.as_str().to_owned(),
        SmsSender::MessagingService { sid, .. } => sid.clone(),
    }
}
