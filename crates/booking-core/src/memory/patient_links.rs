//! Patients' links: [`PatientLinkStore`] in memory.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::accounts::TokenHash;
use crate::ids::{BookingId, TenantId};
use crate::memory::MemoryStore;
use crate::patient_link::{ActionKey, NewPatientLink, PatientLink, PatientLinkStore};
use crate::ports::{StoreError, StoreResult};

#[async_trait]
impl PatientLinkStore for MemoryStore {
    async fn insert_link(&self, link: &NewPatientLink) -> StoreResult<()> {
        // The booking need not exist yet: a move stores the new appointment's link just before
        // the appointment itself (the port's contract; PostgreSQL has no foreign key on it).
        let mut s = self.lock();
        if s.patient_links.contains_key(&link.hash.0) {
            return Err(StoreError::Duplicate("link".into()));
        }
        s.patient_links.insert(link.hash.0, (link.clone(), None));
        Ok(())
    }

    async fn link_by_hash(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<PatientLink>> {
        Ok(self
            .lock()
            .patient_links
            .get(&hash.0)
            .filter(|(l, revoked)| revoked.is_none() && l.expires_at > now)
            .map(|(l, _)| PatientLink {
                tenant: l.tenant,
                booking: l.booking,
                expires_at: l.expires_at,
            }))
    }

    async fn revoke_links(
        &self,
        tenant: TenantId,
        booking: BookingId,
        now: Timestamp,
    ) -> StoreResult<()> {
        for (l, revoked) in self.lock().patient_links.values_mut() {
            if l.tenant == tenant && l.booking == booking && revoked.is_none() {
                *revoked = Some(now);
            }
        }
        Ok(())
    }

    async fn count_link_action(
        &self,
        key: &ActionKey,
        window: SignedDuration,
        now: Timestamp,
    ) -> StoreResult<u32> {
        let mut s = self.lock();
        let entry = s
            .link_actions
            .entry(key.as_str().to_owned())
            .or_insert((now, 0));
        if entry.0 + window <= now {
            *entry = (now, 0);
        }
        entry.1 += 1;
        Ok(entry.1)
    }
}
