//! The outbox dispatcher: one [`Dispatcher::step`] claims the due messages and delivers each through
//! the owning tenant's SMS account. The api runs it in a loop (sleeping when a step found nothing);
//! several instances may run at once, since the store hands each row to one claimer.
//!
//! A message is never sent twice on purpose: a claim that ended without a recorded outcome (the
//! worker died mid-send, or the gateway's answer was ambiguous) is reconciled with
//! [`SmsGateway::find_sent`] before any new send.
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

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::ids::TenantId;
use crate::outbox::{ClaimedMessage, DeliveryUpdate, MessageKind};
use crate::ports::{Clock, Random, SendOutcome, SmsGateway, SmsRequest, Store};
use crate::service::{ServiceError, ServiceResult};
use crate::tenant::{SmsAccount, SmsHealth, SmsSender};

/// Twilio's "authentication failed" code: the tenant's credentials are wrong.
pub const TWILIO_BAD_CREDENTIALS: u32 = 20003;

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

/// What one step did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DispatchReport {
    pub claimed: u32,
    /// Accepted by the gateway on a send.
    pub sent: u32,
    /// Found at the gateway by reconciliation: adopted, not resent.
    pub reconciled: u32,
    pub retried: u32,
    pub ambiguous: u32,
    pub failed: u32,
    pub suppressed: u32,
    /// Put back: no account, credentials refused, rate limit.
    pub deferred: u32,
    /// Of `deferred`, put back by the rate limit.
    pub rate_limited: u32,
    /// Outcomes the store refused because the claim had moved on (the lease lapsed).
    pub lost_claims: u32,
    /// Messages whose outcome could not be recorded (store errors); their lease will lapse and
    /// they will be reconciled.
    pub errors: u32,
}

impl DispatchReport {
    /// Nothing was due: the loop may sleep.
    pub fn is_idle(&self) -> bool {
        self.claimed == 0
    }
}

/// Why a claimed message has no recorded outcome.
enum LaneError {
    /// The store refused the outcome: the claim had moved on (the lease lapsed).
    LostClaim,
    /// The store failed; the lease will lapse and the message will be reconciled.
    Store,
}

impl DispatchReport {
    fn count(&mut self, outcome: Result<Counted, LaneError>) {
        match outcome {
            Ok(Counted::Sent) => self.sent += 1,
            Ok(Counted::Reconciled) => self.reconciled += 1,
            Ok(Counted::Retried) => self.retried += 1,
            Ok(Counted::Ambiguous) => self.ambiguous += 1,
            Ok(Counted::Failed) => self.failed += 1,
            Ok(Counted::Suppressed) => self.suppressed += 1,
            Ok(Counted::Deferred) => self.deferred += 1,
            Ok(Counted::RateLimited) => {
                self.deferred += 1;
                self.rate_limited += 1;
            }
            Err(LaneError::LostClaim) => self.lost_claims += 1,
            Err(LaneError::Store) => self.errors += 1,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

enum Counted {
    Sent,
    Reconciled,
    Retried,
    Ambiguous,
    Failed,
    Suppressed,
    Deferred,
    RateLimited,
}

/// A token bucket per sender, driven by the clock it is given.
#[derive(Debug)]
struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: HashMap<String, (f64, Timestamp)>,
}

impl RateLimiter {
    fn new(rate: f64, burst: u32) -> Self {
        Self {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for `key`, or says how long until one is free.
    fn try_take(&mut self, key: &str, now: Timestamp) -> Result<(), SignedDuration> {
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

fn sender_key(account: &SmsAccount) -> String {
    match &account.sender {
        SmsSender::From(n) => n.as_str().to_owned(),
        SmsSender::MessagingService { sid, .. } => sid.clone(),
    }
}

/// Delivers the outbox. Cheap to share (`Arc` it); one step at a time per instance is expected,
/// though concurrent steps are safe.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    gateway: Arc<dyn SmsGateway>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    config: DispatchConfig,
    limiter: Mutex<RateLimiter>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        gateway: Arc<dyn SmsGateway>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        config: DispatchConfig,
    ) -> Self {
        let limiter = Mutex::new(RateLimiter::new(
            config.per_sender_per_second,
            config.per_sender_burst,
        ));
        Self {
            store,
            gateway,
            clock,
            random,
            config,
            limiter,
        }
    }

    pub fn config(&self) -> &DispatchConfig {
        &self.config
    }

    /// Claims what is due and delivers it. `Err` only when nothing could be claimed (the store is
    /// down); a failure on one message is counted in `errors` and the others go on.
    pub async fn step(&self) -> ServiceResult<DispatchReport> {
        let now = self.clock.now();
        let claims = self
            .store
            .claim_due(
                now,
                self.config.batch,
                now + self.config.lease,
                &self.config.worker,
            )
            .await
            .map_err(ServiceError::from)?;
        let mut report = DispatchReport {
            claimed: claims.len() as u32,
            ..DispatchReport::default()
        };
        let accounts = self.accounts_of(&claims).await;
        let paused = Mutex::new(HashSet::new());
        // One lane per recipient, in claim (due) order.
        // (Indices rather than references: a future over borrowed items trips up the `Send`
        // check of the task that runs the step.)
        let mut lanes: Vec<Vec<usize>> = Vec::new();
        let mut lane_of: HashMap<(TenantId, &str), usize> = HashMap::new();
        for (n, claim) in claims.iter().enumerate() {
            let key = (claim.message.tenant, claim.message.to.as_str());
            let i = *lane_of.entry(key).or_insert_with(|| {
                lanes.push(Vec::new());
                lanes.len() - 1
            });
            lanes[i].push(n);
        }
        let mut lanes = stream::iter(lanes)
            .map(|lane| self.deliver_lane(lane, &claims, &accounts, &paused))
            .buffer_unordered(self.config.concurrency.max(1) as usize);
        while let Some(lane) = lanes.next().await {
            for counted in lane {
                report.count(counted);
            }
        }
        Ok(report)
    }

    /// The SMS account of every tenant with a claimed message; a tenant whose account could not
    /// be read is left out (its messages count as errors and are reconciled after the lease).
    async fn accounts_of(
        &self,
        claims: &[ClaimedMessage],
    ) -> HashMap<TenantId, Option<SmsAccount>> {
        let mut accounts = HashMap::new();
        for claim in claims {
            let tenant = claim.message.tenant;
            if accounts.contains_key(&tenant) {
                continue;
            }
            if let Ok(account) = self.store.sms_account(tenant).await {
                accounts.insert(tenant, account);
            }
        }
        accounts
    }

    /// Delivers one recipient's messages in order and records each outcome.
    async fn deliver_lane(
        &self,
        lane: Vec<usize>,
        claims: &[ClaimedMessage],
        accounts: &HashMap<TenantId, Option<SmsAccount>>,
        paused: &Mutex<HashSet<TenantId>>,
    ) -> Vec<Result<Counted, LaneError>> {
        let mut done = Vec::with_capacity(lane.len());
        for claim in lane.into_iter().map(|i| &claims[i]) {
            let (update, counted) = match self.decide(claim, accounts, paused).await {
                Ok(d) => d,
                Err(_) => {
                    done.push(Err(LaneError::Store));
                    continue;
                }
            };
            done.push(
                match self
                    .store
                    .record_delivery(claim, &update, self.clock.now())
                    .await
                {
                    Ok(true) => Ok(counted),
                    Ok(false) => Err(LaneError::LostClaim),
                    Err(_) => Err(LaneError::Store),
                },
            );
        }
        done
    }

    /// Gives back this worker's claims (on shutdown).
    pub async fn release(&self) -> ServiceResult<u32> {
        Ok(self
            .store
            .release_claims(&self.config.worker, self.clock.now())
            .await?)
    }

    /// The retry delay after `attempts` attempts: base × 2^(attempts−1), capped, then a uniform
    /// pick between half of it and all of it.
    pub fn backoff(&self, attempts: u32) -> SignedDuration {
        let exp = attempts.saturating_sub(1).min(30);
        let full = self
            .config
            .backoff_base
            .checked_mul(1i32 << exp)
            .unwrap_or(self.config.backoff_cap)
            .min(self.config.backoff_cap);
        let ms = full.as_millis().max(0) as u64;
        let half = ms / 2;
        let jitter = self.random.below(ms - half + 1);
        SignedDuration::from_millis((half + jitter) as i64)
    }

    async fn decide(
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
                code: Some(TWILIO_BAD_CREDENTIALS),
                message,
            } => {
                self.store
                    .set_sms_health(
                        m.tenant,
                        &SmsHealth::NeedsAttention {
                            code: TWILIO_BAD_CREDENTIALS,
                            message: message.clone(),
                        },
                    )
                    .await?;
                lock(paused).insert(m.tenant);
                (
                    DeliveryUpdate::Deferred {
                        until: now + cfg.paused_recheck,
                        reason: format!(
                            "the clinic's SMS credentials were refused ({TWILIO_BAD_CREDENTIALS}): {message}"
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

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::sync::Arc;

    use jiff::{SignedDuration, Timestamp};
    use mockall::predicate::always;

    use super::*;
    use crate::ids::{MessageId, MessageSid};
    use crate::memory::MemoryStore;
    use crate::outbox::{DedupeKey, MessageKind, MessageStatus, OutboundMessage};
    use crate::phone::PhoneNumber;
    use crate::ports::{ContactStore, MockSmsGateway, OutboxStore, SentSms, TenantStore};
    use crate::tenant::Tenant;
    use crate::testing::{
        ManualClock, SeededRandom, base_time, create_tenant, message, random_phone,
    };

    struct Harness {
        store: Arc<MemoryStore>,
        clock: Arc<ManualClock>,
        tenant: Tenant,
    }

    async fn harness() -> Harness {
        let store = Arc::new(MemoryStore::new());
        let tenant = create_tenant(store.as_ref(), "Smile Dental").await;
        Harness {
            store,
            clock: Arc::new(ManualClock::new(base_time())),
            tenant,
        }
    }

    fn config() -> DispatchConfig {
        DispatchConfig {
            worker: "test-worker".into(),
            per_sender_per_second: 0.0,
            ..DispatchConfig::default()
        }
    }

    impl Harness {
        fn dispatcher(&self, gateway: MockSmsGateway, config: DispatchConfig) -> Dispatcher {
            Dispatcher::new(
                self.store.clone(),
                Arc::new(gateway),
                self.clock.clone(),
                Arc::new(SeededRandom::new(1)),
                config,
            )
        }

        async fn queue(&self, kind: MessageKind, to: &PhoneNumber) -> MessageId {
            let m = message(
                self.tenant.id,
                kind,
                DedupeKey::test(MessageId::from_random_bytes(rand_bytes())),
                to,
                self.clock.now(),
            );
            self.store.enqueue(std::slice::from_ref(&m)).await.unwrap();
            m.id
        }

        async fn get(&self, id: MessageId) -> OutboundMessage {
            self.store
                .message(self.tenant.id, id)
                .await
                .unwrap()
                .unwrap()
        }
    }

    fn rand_bytes() -> [u8; 16] {
        *uuid::Uuid::new_v4().as_bytes()
    }

    fn accepted(sid: &str) -> SendOutcome {
        SendOutcome::Accepted {
            sid: MessageSid::parse(sid).unwrap(),
            status: MessageStatus::Queued,
        }
    }

    #[tokio::test]
    async fn sends_a_due_message_once_to_its_recipient() {
        let h = harness().await;
        let to = random_phone();
        let id = h.queue(MessageKind::Confirmation, &to).await;
        let mut gw = MockSmsGateway::new();
        let expected = to.clone();
        let account = h.store.sms_account(h.tenant.id).await.unwrap().unwrap();
        gw.expect_send()
            .withf(move |a, r| *a == account && r.to == expected && r.body == "confirmation text")
            .times(1)
            .returning(|_, _| accepted("SM0001"));
        gw.expect_find_sent().never();
        let d = h.dispatcher(gw, config());
        let report = d.step().await.unwrap();
        assert_eq!((report.claimed, report.sent), (1, 1), "{report:?}");
        let m = h.get(id).await;
        assert_eq!(m.status, MessageStatus::Queued);
        assert_eq!(m.twilio_sid.unwrap().as_str(), "SM0001");
        assert_eq!(m.attempts, 1);
        h.clock.advance(SignedDuration::from_hours(1));
        let report = d.step().await.unwrap();
        assert!(report.is_idle(), "{report:?}");
    }

    #[tokio::test]
    async fn a_lost_claim_is_reconciled_and_not_sent_again() {
        let h = harness().await;
        let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
        // Another worker claimed it, (maybe) sent it, and died.
        let now = h.clock.now();
        h.store
            .claim_due(now, 10, now + SignedDuration::from_secs(60), "dead")
            .await
            .unwrap();
        h.clock.advance(SignedDuration::from_secs(61));
        let mut gw = MockSmsGateway::new();
        gw.expect_find_sent()
            .withf(move |_, _, since, body| *since <= now && body == "confirmation text")
            .times(1)
            .returning(|_, _, _, _| {
                Ok(Some(SentSms {
                    sid: MessageSid::parse("SMfound").unwrap(),
                    status: MessageStatus::Sent,
                }))
            });
        gw.expect_send().never();
        let report = h.dispatcher(gw, config()).step().await.unwrap();
        assert_eq!(report.reconciled, 1, "{report:?}");
        let m = h.get(id).await;
        assert_eq!(
            (m.status, m.twilio_sid.unwrap().as_str()),
            (MessageStatus::Sent, "SMfound")
        );
    }

    #[tokio::test]
    async fn a_lost_claim_not_found_at_the_gateway_is_sent() {
        let h = harness().await;
        let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
        let now = h.clock.now();
        h.store
            .claim_due(now, 10, now + SignedDuration::from_secs(60), "dead")
            .await
            .unwrap();
        h.clock.advance(SignedDuration::from_secs(61));
        let mut gw = MockSmsGateway::new();
        let mut seq = mockall::Sequence::new();
        gw.expect_find_sent()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(None));
        gw.expect_send()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| accepted("SMnew"));
        let report = h.dispatcher(gw, config()).step().await.unwrap();
        assert_eq!(report.sent, 1, "{report:?}");
        assert_eq!(h.get(id).await.twilio_sid.unwrap().as_str(), "SMnew");
    }

    #[tokio::test]
    async fn an_ambiguous_send_is_reconciled_before_any_resend() {
        let h = harness().await;
        let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
        let mut gw = MockSmsGateway::new();
        gw.expect_send()
            .times(1)
            .returning(|_, _| SendOutcome::Ambiguous {
                message: "502 Bad Gateway".into(),
            });
        gw.expect_find_sent().times(1).returning(|_, _, _, _| {
            Ok(Some(SentSms {
                sid: MessageSid::parse("SMwas").unwrap(),
                status: MessageStatus::Queued,
            }))
        });
        let d = h.dispatcher(gw, config());
        let report = d.step().await.unwrap();
        assert_eq!(report.ambiguous, 1, "{report:?}");
        let m = h.get(id).await;
        assert_eq!(m.status, MessageStatus::Ambiguous);
        assert_eq!(m.error_message.as_deref(), Some("502 Bad Gateway"));
        assert!(
            d.step().await.unwrap().is_idle(),
            "rechecked before its time"
        );
        h.clock.advance(config().ambiguous_recheck);
        let report = d.step().await.unwrap();
        assert_eq!(report.reconciled, 1, "{report:?}");
        assert_eq!(h.get(id).await.twilio_sid.unwrap().as_str(), "SMwas");
    }

    #[tokio::test]
    async fn ambiguous_sends_back_off_like_retries() {
        let h = harness().await;
        let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
        let mut gw = MockSmsGateway::new();
        gw.expect_send().returning(|_, _| SendOutcome::Ambiguous {
            message: "500 Internal Server Error".into(),
        });
        gw.expect_find_sent().returning(|_, _, _, _| Ok(None));
        let cfg = DispatchConfig {
            backoff_base: SignedDuration::from_mins(2),
            ambiguous_recheck: SignedDuration::from_secs(10),
            ..config()
        };
        let d = h.dispatcher(gw, cfg);
        // Backoff after n attempts: half to all of 2 min × 2^(n−1).
        for (attempt, at_least) in [(1, 60), (2, 120), (3, 240)] {
            let now = h.clock.now();
            let report = d.step().await.unwrap();
            assert_eq!(report.ambiguous, 1, "attempt {attempt}: {report:?}");
            let m = h.get(id).await;
            assert_eq!(m.attempts, attempt);
            let wait = m.due_at - now;
            assert!(
                wait >= SignedDuration::from_secs(at_least),
                "attempt {attempt}: rechecked after {wait:?}"
            );
            h.clock.advance(wait);
        }
    }

    #[tokio::test]
    async fn a_failed_lookup_never_resends() {
        let h = harness().await;
        let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
        let now = h.clock.now();
        h.store
            .claim_due(now, 10, now + SignedDuration::from_secs(60), "dead")
            .await
            .unwrap();
        h.clock.advance(SignedDuration::from_secs(61));
        let mut gw = MockSmsGateway::new();
        gw.expect_find_sent()
            .times(1)
            .returning(|_, _, _, _| Err("timeout".into()));
        gw.expect_send().never();
        let report = h.dispatcher(gw, config()).step().await.unwrap();
        assert_eq!(report.ambiguous, 1, "{report:?}");
        let m = h.get(id).await;
        assert_eq!(m.status, MessageStatus::Ambiguous);
        assert!(m.error_message.unwrap().contains("timeout"));
    }

    #[tokio::test]
    async fn retry_safe_failures_back_off_then_fail() {
        let h = harness().await;
        let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
        let mut gw = MockSmsGateway::new();
        gw.expect_send()
            .times(3)
            .returning(|_, _| SendOutcome::RetrySafe {
                code: Some(20429),
                message: "Too Many Requests".into(),
                retry_after: None,
            });
        gw.expect_find_sent().never();
        let cfg = DispatchConfig {
            max_attempts: 3,
            ..config()
        };
        let d = h.dispatcher(gw, cfg.clone());
        for attempt in 1..=2u32 {
            let before = h.clock.now();
            let report = d.step().await.unwrap();
            assert_eq!(report.retried, 1, "{report:?}");
            let m = h.get(id).await;
            assert_eq!(
                (m.status, m.attempts, m.error_code),
                (MessageStatus::Pending, attempt, Some(20429))
            );
            let full = cfg.backoff_base * (1 << (attempt - 1));
            let wait = m.due_at - before;
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempt}: waited {wait:?} of {full:?}"
            );
            assert!(
                d.step().await.unwrap().is_idle(),
                "retried before its backoff"
            );
            h.clock.set(m.due_at);
        }
        let report = d.step().await.unwrap();
        assert_eq!(report.failed, 1, "{report:?}");
        let m = h.get(id).await;
        assert_eq!(
            (m.status, m.error_code),
            (MessageStatus::Failed, Some(20429))
        );
        assert!(
            m.error_message
                .unwrap()
                .contains("gave up after 3 attempts")
        );
    }

    #[tokio::test]
    async fn retry_after_is_honoured() {
        let h = harness().await;
        let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
        let mut gw = MockSmsGateway::new();
        gw.expect_send()
            .times(1)
            .returning(|_, _| SendOutcome::RetrySafe {
                code: Some(429),
                message: "slow down".into(),
                retry_after: Some(SignedDuration::from_mins(10)),
            });
        h.dispatcher(gw, config()).step().await.unwrap();
        assert_eq!(
            h.get(id).await.due_at,
            base_time() + SignedDuration::from_mins(10)
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let store = Arc::new(MemoryStore::new());
        let d = Dispatcher::new(
            store,
            Arc::new(MockSmsGateway::new()),
            Arc::new(ManualClock::new(base_time())),
            Arc::new(SeededRandom::new(3)),
            config(),
        );
        let cfg = config();
        let mut seen_below_full = false;
        for attempts in 1..=20u32 {
            let full = (cfg.backoff_base * (1i32 << (attempts - 1).min(20))).min(cfg.backoff_cap);
            for _ in 0..20 {
                let b = d.backoff(attempts);
                assert!(
                    b >= full / 2 && b <= full,
                    "{attempts}: {b:?} not within [{:?}, {full:?}]",
                    full / 2
                );
                seen_below_full |= b < full;
            }
        }
        assert!(seen_below_full, "no jitter");
        assert!(d.backoff(40) <= cfg.backoff_cap);
    }

    #[tokio::test]
    async fn refused_credentials_pause_the_tenant_without_spinning() {
        let h = harness().await;
        let first = h.queue(MessageKind::Confirmation, &random_phone()).await;
        let second = h.queue(MessageKind::Reminder, &random_phone()).await;
        let mut gw = MockSmsGateway::new();
        gw.expect_send()
            .times(1)
            .returning(|_, _| SendOutcome::Permanent {
                code: Some(20003),
                message: "Authenticate".into(),
            });
        let d = h.dispatcher(gw, config());
        let report = d.step().await.unwrap();
        assert_eq!((report.claimed, report.deferred), (2, 2), "{report:?}");
        let t = h.store.tenant(h.tenant.id).await.unwrap().unwrap();
        assert_eq!(
            t.sms_health,
            SmsHealth::NeedsAttention {
                code: 20003,
                message: "Authenticate".into()
            }
        );
        for id in [first, second] {
            let m = h.get(id).await;
            assert_eq!(m.status, MessageStatus::Pending);
            assert!(m.error_message.unwrap().contains("20003"));
        }
        // Nothing of that tenant is claimed until the credentials change.
        h.clock.advance(SignedDuration::from_hours(1));
        assert!(d.step().await.unwrap().is_idle());
    }

    #[tokio::test]
    async fn other_permanent_errors_fail_with_twilios_code() {
        let h = harness().await;
        let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
        let mut gw = MockSmsGateway::new();
        gw.expect_send()
            .times(1)
            .returning(|_, _| SendOutcome::Permanent {
                code: Some(21211),
                message: "Invalid 'To' Phone Number".into(),
            });
        let d = h.dispatcher(gw, config());
        assert_eq!(d.step().await.unwrap().failed, 1);
        let m = h.get(id).await;
        assert_eq!(
            (m.status, m.error_code),
            (MessageStatus::Failed, Some(21211))
        );
        assert_eq!(
            m.error_message.as_deref(),
            Some("Invalid 'To' Phone Number")
        );
        h.clock.advance(SignedDuration::from_hours(24));
        assert!(d.step().await.unwrap().is_idle());
    }

    #[tokio::test]
    async fn opted_out_callers_get_nothing_but_the_clinic_still_gets_alerts() {
        let h = harness().await;
        let caller = random_phone();
        h.store
            .set_opted_out(h.tenant.id, &caller, true, base_time())
            .await
            .unwrap();
        let to_caller = h.queue(MessageKind::Reminder, &caller).await;
        let alert = h.queue(MessageKind::HotLead, &caller).await;
        let mut gw = MockSmsGateway::new();
        gw.expect_send()
            .withf(|_, r| r.body == "hot_lead text")
            .times(1)
            .returning(|_, _| accepted("SMalert"));
        let report = h.dispatcher(gw, config()).step().await.unwrap();
        assert_eq!((report.suppressed, report.sent), (1, 1), "{report:?}");
        let m = h.get(to_caller).await;
        assert_eq!(m.status, MessageStatus::Suppressed);
        assert!(m.error_message.unwrap().contains("opted out"));
        assert_eq!(h.get(alert).await.status, MessageStatus::Queued);
    }

    #[tokio::test]
    async fn without_an_account_messages_wait_then_fail_and_say_why() {
        let store = Arc::new(MemoryStore::new());
        let tenant = store
            .create_tenant(
                crate::testing::random_tenant_id(),
                &crate::testing::tenant_config("No SMS"),
                None,
            )
            .await
            .unwrap();
        let h = Harness {
            store,
            clock: Arc::new(ManualClock::new(base_time())),
            tenant,
        };
        let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
        let mut gw = MockSmsGateway::new();
        gw.expect_send().never();
        let d = h.dispatcher(gw, config());
        assert_eq!(d.step().await.unwrap().deferred, 1);
        let m = h.get(id).await;
        assert_eq!(m.status, MessageStatus::Pending);
        assert_eq!(m.due_at, base_time() + config().no_account_retry);
        assert!(m.error_message.unwrap().contains("no SMS account"));
        h.clock
            .advance(config().give_up_after + SignedDuration::from_mins(1));
        assert_eq!(d.step().await.unwrap().failed, 1);
        let m = h.get(id).await;
        assert_eq!(m.status, MessageStatus::Failed);
        assert!(m.error_message.unwrap().contains("no SMS account"));
    }

    #[tokio::test]
    async fn a_stale_code_is_not_sent() {
        let h = harness().await;
        let id = h.queue(MessageKind::Otp, &random_phone()).await;
        h.clock.advance(SignedDuration::from_mins(11));
        let mut gw = MockSmsGateway::new();
        gw.expect_send().never();
        assert_eq!(h.dispatcher(gw, config()).step().await.unwrap().failed, 1);
        assert_eq!(h.get(id).await.status, MessageStatus::Failed);
    }

    #[tokio::test]
    async fn the_rate_limit_spaces_a_senders_messages() {
        let h = harness().await;
        let ids = [
            h.queue(MessageKind::Confirmation, &random_phone()).await,
            h.queue(MessageKind::Confirmation, &random_phone()).await,
            h.queue(MessageKind::Confirmation, &random_phone()).await,
        ];
        let mut gw = MockSmsGateway::new();
        gw.expect_send()
            .with(always(), always())
            .times(2)
            .returning(|_, _| accepted("SMrate"));
        let d = h.dispatcher(
            gw,
            DispatchConfig {
                per_sender_per_second: 1.0,
                per_sender_burst: 1,
                ..config()
            },
        );
        let report = d.step().await.unwrap();
        assert_eq!((report.sent, report.rate_limited), (1, 2), "{report:?}");
        let waiting: Vec<_> = {
            let mut v = Vec::new();
            for id in ids {
                v.push(h.get(id).await);
            }
            v.into_iter()
                .filter(|m| m.status == MessageStatus::Pending)
                .collect()
        };
        assert_eq!(waiting.len(), 2);
        assert!(
            waiting.iter().all(|m| m.due_at > base_time()
                && m.due_at <= base_time() + SignedDuration::from_secs(1))
        );
        assert!(waiting.iter().all(|m| m.attempts == 0));
        h.clock.advance(SignedDuration::from_secs(1));
        let report = d.step().await.unwrap();
        assert_eq!((report.sent, report.rate_limited), (1, 1), "{report:?}");
    }

    #[test]
    fn token_bucket_refills_with_the_clock() {
        let t0: Timestamp = base_time();
        let mut l = RateLimiter::new(2.0, 2);
        assert!(l.try_take("a", t0).is_ok());
        assert!(l.try_take("a", t0).is_ok());
        let wait = l.try_take("a", t0).unwrap_err();
        assert_eq!(wait, SignedDuration::from_millis(500));
        assert!(
            l.try_take("b", t0).is_ok(),
            "senders have their own buckets"
        );
        assert!(
            l.try_take("a", t0 + SignedDuration::from_millis(500))
                .is_ok()
        );
        assert!(
            l.try_take("a", t0 + SignedDuration::from_millis(500))
                .is_err()
        );
        let mut off = RateLimiter::new(0.0, 1);
        for _ in 0..100 {
            assert!(off.try_take("a", t0).is_ok());
        }
    }

    /// A gateway that counts the sends in flight at once and keeps the order it got them in.
    #[derive(Default)]
    struct Recording {
        in_flight: std::sync::atomic::AtomicUsize,
        most_at_once: std::sync::atomic::AtomicUsize,
        sent: Mutex<Vec<(String, String)>>,
    }

    #[async_trait::async_trait]
    impl SmsGateway for Recording {
        async fn send(&self, _: &SmsAccount, request: &SmsRequest) -> SendOutcome {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.in_flight.fetch_add(1, SeqCst) + 1;
            self.most_at_once.fetch_max(now, SeqCst);
            // Give the other lanes their turn while this send is "on the wire".
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            let n = {
                let mut sent = lock(&self.sent);
                sent.push((request.to.as_str().to_owned(), request.body.clone()));
                sent.len()
            };
            self.in_flight.fetch_sub(1, SeqCst);
            accepted(&format!("SM{n:032}"))
        }

        async fn find_sent(
            &self,
            _: &SmsAccount,
            _: &PhoneNumber,
            _: Timestamp,
            _: &str,
        ) -> Result<Option<SentSms>, String> {
            Ok(None)
        }
    }

    impl Harness {
        fn dispatcher_with(&self, gateway: Arc<Recording>, config: DispatchConfig) -> Dispatcher {
            Dispatcher::new(
                self.store.clone(),
                gateway,
                self.clock.clone(),
                Arc::new(SeededRandom::new(1)),
                config,
            )
        }

        async fn queue_body(&self, to: &PhoneNumber, body: &str) {
            let mut m = message(
                self.tenant.id,
                MessageKind::Confirmation,
                DedupeKey::test(MessageId::from_random_bytes(rand_bytes())),
                to,
                self.clock.now(),
            );
            m.body = body.into();
            self.store.enqueue(std::slice::from_ref(&m)).await.unwrap();
        }
    }

    #[tokio::test]
    async fn different_recipients_are_sent_at_once_each_recipients_texts_in_order() {
        let h = harness().await;
        let people: Vec<PhoneNumber> = (0..6).map(|_| random_phone()).collect();
        for round in 0..3 {
            for (i, to) in people.iter().enumerate() {
                h.queue_body(to, &format!("person {i} text {round}")).await;
            }
            h.clock.advance(SignedDuration::from_secs(1));
        }
        let gateway = Arc::new(Recording::default());
        let d = h.dispatcher_with(
            gateway.clone(),
            DispatchConfig {
                concurrency: 4,
                ..config()
            },
        );
        let report = d.step().await.unwrap();
        assert_eq!((report.claimed, report.sent), (18, 18), "{report:?}");
        assert_eq!(
            gateway
                .most_at_once
                .load(std::sync::atomic::Ordering::SeqCst),
            4,
            "four recipients at a time"
        );
        let sent = lock(&gateway.sent).clone();
        assert_eq!(sent.len(), 18);
        for (i, to) in people.iter().enumerate() {
            let theirs: Vec<&str> = sent
                .iter()
                .filter(|(n, _)| n == to.as_str())
                .map(|(_, b)| b.as_str())
                .collect();
            let expected: Vec<String> = (0..3).map(|r| format!("person {i} text {r}")).collect();
            assert_eq!(
                theirs, expected,
                "each recipient's texts in the order queued"
            );
        }
        assert!(d.step().await.unwrap().is_idle());
    }

    #[tokio::test]
    async fn one_recipients_texts_are_never_sent_at_once() {
        let h = harness().await;
        let to = random_phone();
        for i in 0..5 {
            h.queue_body(&to, &format!("text {i}")).await;
            h.clock.advance(SignedDuration::from_secs(1));
        }
        let gateway = Arc::new(Recording::default());
        let d = h.dispatcher_with(gateway.clone(), config());
        let report = d.step().await.unwrap();
        assert_eq!(report.sent, 5, "{report:?}");
        assert_eq!(
            gateway
                .most_at_once
                .load(std::sync::atomic::Ordering::SeqCst),
            1
        );
        let bodies: Vec<String> = lock(&gateway.sent).iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(bodies, ["text 0", "text 1", "text 2", "text 3", "text 4"]);
    }

    #[tokio::test]
    async fn release_gives_back_the_workers_claims() {
        let h = harness().await;
        h.queue(MessageKind::Confirmation, &random_phone()).await;
        let now = h.clock.now();
        h.store
            .claim_due(now, 10, now + SignedDuration::from_mins(5), "test-worker")
            .await
            .unwrap();
        let d = h.dispatcher(MockSmsGateway::new(), config());
        assert_eq!(d.release().await.unwrap(), 1);
        let mut gw = MockSmsGateway::new();
        gw.expect_send()
            .times(1)
            .returning(|_, _| accepted("SMback"));
        assert_eq!(h.dispatcher(gw, config()).step().await.unwrap().sent, 1);
    }
}
