//! The dispatcher and its step: claim what is due, read the tenants' accounts, deliver one lane per
//! recipient in order, record each outcome.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};
use jiff::SignedDuration;

use super::config::DispatchConfig;
use super::limiter::RateLimiter;
use super::report::{Counted, DispatchReport, LaneError};
use crate::ids::TenantId;
use crate::outbox::ClaimedMessage;
use crate::ports::{Clock, Random, SmsGateway, Store};
use crate::service::{ServiceError, ServiceResult};
use crate::tenant::SmsAccount;

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Delivers the outbox. Cheap to share (`Arc` it); one step at a time per instance is expected,
/// though concurrent steps are safe.
pub struct Dispatcher {
    pub(super) store: Arc<dyn Store>,
    pub(super) gateway: Arc<dyn SmsGateway>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) random: Arc<dyn Random>,
    pub(super) config: DispatchConfig,
    pub(super) limiter: Mutex<RateLimiter>,
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
            full_batch: claims.len() as u32 >= self.config.batch,
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
}
