//! What happens to one claimed message (the steps listed in the module doc, in order).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use jiff::SignedDuration;

use super::config::CREDENTIALS_REFUSED;
use super::dispatcher::{Dispatcher, lock};
use super::limiter::sender_key;
use super::report::Counted;
use crate::ids::TenantId;
use crate::outbox::{ClaimedMessage, DeliveryUpdate, MessageKind};
use crate::ports::{SendOutcome, SmsRequest};
use crate::service::{ServiceError, ServiceResult};
use crate::tenant::{SmsAccount, SmsHealth};

impl Dispatcher {
    pub(super) async fn decide(
        &self,
        claim: &ClaimedMessage,
        accounts: &HashMap<TenantId, Option<SmsAccount>>,
        paused: &Mutex<HashSet<TenantId>>,
    ) -> ServiceResult<(DeliveryUpdate, Counted)> {
        let m = &claim.message;
        let now = self.clock.now();
        let cfg = &self.config;
        if lock(paused).contains(&m.tenant) {
            return Ok((
                DeliveryUpdate::Deferred {
                    until: now + cfg.paused_recheck,
                    reason: "the clinic's SMS credentials were refused (20003); waiting for the owner to update them".into(),
                },
                Counted::Deferred,
            ));
        }
        if m.kind == MessageKind::Otp
            && now - m.created_at > cfg.otp_stale_after
            && !claim.needs_reconcile
        {
            return Ok((
                DeliveryUpdate::Failed {
                    error_code: None,
                    error_message: "the code expired before it could be sent".into(),
                },
                Counted::Failed,
            ));
        }
        let account = accounts.get(&m.tenant).ok_or_else(|| {
            ServiceError::Unavailable("the clinic's SMS account could not be read".into())
        })?;
        let Some(account) = account else {
            let reason = "no SMS account is configured for the clinic";
            // Deferrals move `due_at`; the first claim is when delivery was first tried.
            let trying_for = now - m.first_attempt_at.unwrap_or(m.due_at);
            if trying_for > cfg.give_up_after {
                return Ok((
                    DeliveryUpdate::Failed {
                        error_code: None,
                        error_message: format!("{reason}; gave up"),
                    },
                    Counted::Failed,
                ));
            }
            return Ok((
                DeliveryUpdate::Deferred {
                    until: now + cfg.no_account_retry,
                    reason: reason.into(),
                },
                Counted::Deferred,
            ));
        };
        if m.kind.honours_opt_out() && self.store.is_opted_out(m.tenant, &m.to).await? {
            return Ok((
                DeliveryUpdate::Suppressed {
                    reason: "the recipient opted out of texts (replied STOP)".into(),
                },
                Counted::Suppressed,
            ));
        }
        if claim.needs_reconcile {
            // Since the first attempt, with a margin for the two clocks.
            let since = m.first_attempt_at.unwrap_or(m.created_at) - SignedDuration::from_mins(2);
            match self.gateway.find_sent(account, &m.to, since, &m.body).await {
                Ok(Some(found)) => {
                    return Ok((
                        DeliveryUpdate::Accepted {
                            sid: found.sid,
                            status: found.status,
                        },
                        Counted::Reconciled,
                    ));
                }
                Ok(None) => {}
                Err(e) => {
                    // Without knowing whether it went out, never resend.
                    if m.attempts + 1 >= cfg.max_attempts {
                        return Ok((
                            DeliveryUpdate::Failed {
                                error_code: None,
                                error_message: format!(
                                    "could not check whether it was sent, gave up: {e}"
                                ),
                            },
                            Counted::Failed,
                        ));
                    }
                    return Ok((
                        DeliveryUpdate::Ambiguous {
                            next_attempt_at: now
                                + self.backoff(m.attempts + 1).max(cfg.ambiguous_recheck),
                            error_message: format!("could not check whether it was sent: {e}"),
                        },
                        Counted::Ambiguous,
                    ));
                }
            }
        }
        if m.attempts >= cfg.max_attempts {
            return Ok((
                DeliveryUpdate::Failed {
                    error_code: m.error_code,
                    error_message: format!(
                        "gave up after {} attempts: {}",
                        m.attempts,
                        m.error_message.as_deref().unwrap_or("no answer")
                    ),
                },
                Counted::Failed,
            ));
        }
        let wait = {
            let mut limiter = lock(&self.limiter);
            limiter.try_take(&sender_key(account), now)
        };
        if let Err(wait) = wait {
            return Ok((
                DeliveryUpdate::Deferred {
                    until: now + wait,
                    reason: "sender rate limit".into(),
                },
                Counted::RateLimited,
            ));
        }

        let request = SmsRequest {
            to: m.to.clone(),
            body: m.body.clone(),
        };
        let outcome = self.gateway.send(account, &request).await;
        let now = self.clock.now();
        let attempts = m.attempts + 1;
        Ok(match outcome {
            SendOutcome::Accepted { sid, status } => {
                (DeliveryUpdate::Accepted { sid, status }, Counted::Sent)
            }
            SendOutcome::RetrySafe {
                code,
                message,
                retry_after,
            } => {
                if attempts >= cfg.max_attempts {
                    (
                        DeliveryUpdate::Failed {
                            error_code: code,
                            error_message: format!("gave up after {attempts} attempts: {message}"),
                        },
                        Counted::Failed,
                    )
                } else {
                    let mut delay = self.backoff(attempts);
                    if let Some(after) = retry_after {
                        delay = delay.max(after);
                    }
                    (
                        DeliveryUpdate::Retry {
                            next_attempt_at: now + delay,
                            error_code: code,
                            error_message: message,
                        },
                        Counted::Retried,
                    )
                }
            }
            // Backed off like a retry (a Twilio in trouble answers this way for a while), and
            // never sooner than the recheck.
            SendOutcome::Ambiguous { message } => (
                DeliveryUpdate::Ambiguous {
                    next_attempt_at: now + self.backoff(attempts).max(cfg.ambiguous_recheck),
                    error_message: message,
                },
                Counted::Ambiguous,
            ),
            SendOutcome::Permanent {
                code: Some(CREDENTIALS_REFUSED),
                message,
            } => {
                self.store
                    .set_sms_health(
                        m.tenant,
                        &SmsHealth::NeedsAttention {
                            code: CREDENTIALS_REFUSED,
                            message: message.clone(),
                        },
                    )
                    .await?;
                lock(paused).insert(m.tenant);
                (
                    DeliveryUpdate::Deferred {
                        until: now + cfg.paused_recheck,
                        reason: format!(
                            "the clinic's SMS credentials were refused ({CREDENTIALS_REFUSED}): {message}"
                        ),
                    },
                    Counted::Deferred,
                )
            }
            SendOutcome::Permanent { code, message } => (
                DeliveryUpdate::Failed {
                    error_code: code,
                    error_message: message,
                },
                Counted::Failed,
            ),
        })
    }
}
