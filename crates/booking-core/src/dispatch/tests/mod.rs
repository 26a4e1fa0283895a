mod lanes;
mod refusals;
mod sends;

use std::sync::Mutex;

use super::dispatcher::lock;
use super::limiter::RateLimiter;
use crate::ports::{Clock, SendOutcome, SmsGateway, SmsRequest};
use crate::tenant::{SmsAccount, SmsHealth};

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
use crate::testing::{ManualClock, SeededRandom, base_time, create_tenant, message, random_phone};

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
