//! Opt-outs and inbound counts: [`ContactStore`] in memory.

use crate::ports::Texting;
use async_trait::async_trait;
use jiff::Timestamp;

use crate::ids::TenantId;
use crate::memory::{Contact, MemoryStore};
use crate::phone::PhoneNumber;
use crate::ports::{ContactStore, InboundCount, InboundCounter, InboundPurpose, StoreResult};

#[async_trait]
impl ContactStore for MemoryStore {
    async fn count_inbound_text(
        &self,
        tenant: TenantId,
        purpose: InboundPurpose,
        counter: InboundCounter<'_>,
        window: jiff::SignedDuration,
        now: Timestamp,
    ) -> StoreResult<InboundCount> {
        let mut s = self.lock();
        s.tenant_exists(tenant)?;
        let sender = match counter {
            InboundCounter::Sender(p) => Some(p.clone()),
            InboundCounter::Clinic => None,
        };
        let entry = s
            .inbound_counts
            .entry((tenant, purpose, sender))
            .or_insert((now, 0));
        if entry.0 + window <= now {
            *entry = (now, 0);
        }
        entry.1 += 1;
        Ok(InboundCount {
            count: entry.1,
            window_started_at: entry.0,
        })
    }

    async fn is_opted_out(&self, tenant: TenantId, phone: &PhoneNumber) -> StoreResult<bool> {
        Ok(self
            .lock()
            .contacts
            .get(&(tenant, phone.clone()))
            .is_some_and(|c| c.opted_out))
    }

    async fn set_texting(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        texting: Texting,
        _at: Timestamp,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        s.tenant_exists(tenant)?;
        s.contacts
            .entry((tenant, phone.clone()))
            .or_insert(Contact {
                opted_out: texting == Texting::OptedOut,
            })
            .opted_out = texting == Texting::OptedOut;
        Ok(())
    }
}
